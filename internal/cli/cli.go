// Package cli implements lvsd's command line. cmd/lvsd only calls Main, so
// every command can be run and tested in-process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit statuses shared by the commands.
const (
	exitOK     = 0
	exitConfig = 1 // invalid config, or the daemon could not be reached
	exitStart  = 2 // other start-up failures, usage errors
)

// Env is what a command may see of the process: streams, environment and
// host name, passed in so tests control them.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Hostname       func() (string, error)
}

// OSEnv is the Env of the real process.
func OSEnv() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Hostname: os.Hostname}
}

type command struct {
	summary string
	usage   string // argument synopsis
	example string
	run     func(env Env, args []string) int
}

// commands is filled in init: the run functions refer back to it for
// their usage text, which a plain initializer would make a cycle.
var commands map[string]command

func init() {
	commands = map[string]command{
		"run": {
			summary: "run the daemon in the foreground (systemd Type=notify): VRRP, health checks, IPVS",
			usage:   "run -c FILE [--node NAME] [--socket PATH] [--log-format text|json]",
			example: "lvsd run -c /etc/lvsd/web.hcl --node director-a",
			run:     runRun,
		},
		"validate": {
			summary: "check a cluster file for every declared node (or one)",
			usage:   "validate -c FILE [--node NAME]",
			example: "lvsd validate -c /etc/lvsd/web.hcl",
			run:     runValidate,
		},
		"plan": {
			summary: "print the IPVS rules (ipvsadm-save -n syntax) and VRRP instances this node would run",
			usage:   "plan -c FILE [--node NAME]",
			example: "lvsd plan -c /etc/lvsd/web.hcl --node director-a",
			run:     runPlan,
		},
		"status": {
			summary: "show the running daemon's VRRP states, real servers and counters",
			usage:   "status [--json] [--socket PATH]",
			example: "lvsd status --json",
			run:     runStatus,
		},
		"reload": {
			summary: "make the running daemon reload its config; prints why if it is rejected",
			usage:   "reload [--socket PATH]",
			example: "lvsd reload",
			run:     runReload,
		},
		"realserver": {
			summary: "prepare (up) or undo (down) this host as a DR/TUN real server: VIPs on lo or tunl0, ARP sysctls",
			usage:   "realserver up|down --vip ADDR[,ADDR] [--method dr|tun] [--state PATH]",
			example: "lvsd realserver up --vip 192.0.2.100,2001:db8::100 --method dr",
			run:     runRealserver,
		},
		"convert": {
			summary: "turn keepalived.conf files (one per director) into one lvsd cluster file",
			usage:   "convert [-o OUT] [--partial] [--names a,b] KEEPALIVED_CONF...",
			example: "lvsd convert -o /etc/lvsd/web.hcl --names director-a,director-b lb1/keepalived.conf lb2/keepalived.conf",
			run:     runConvert,
		},
		"digest": {
			summary: "print the MD5 of a URL's body, for the digest of an http/https check's url (keepalived's genhash)",
			usage:   "digest [--host NAME] [--skip-verify] [--timeout DURATION] URL",
			example: "lvsd digest --host www.example.com http://10.10.10.12:8080/healthz",
			run:     runDigest,
		},
		"version": {
			summary: "print version, commit and Go version",
			usage:   "version",
			example: "lvsd version",
			run:     runVersion,
		},
	}
}

// Main runs the command named by args[0] and returns the exit status.
func Main(env Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return exitStart
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				commandUsage(env.Stdout, args[1], c)
				return exitOK
			}
		}
		usage(env.Stdout)
		return exitOK
	case "-v", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "lvsd: unknown command %q\n\n", name)
		usage(env.Stderr)
		return exitStart
	}
	return c.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "lvsd: highly available Linux Virtual Server directors (VRRP + IPVS + health checks)")
	fmt.Fprintln(w, "\nUsage: lvsd COMMAND [flags]   (lvsd COMMAND -h for details)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nExample:\n  lvsd validate -c examples/dr-pair/lvsd.hcl && lvsd plan -c examples/dr-pair/lvsd.hcl --node director-a")
}

func commandUsage(w io.Writer, name string, c command) {
	fmt.Fprintf(w, "Usage: lvsd %s\n\n%s\n\nExample:\n  %s\n", c.usage, c.summary, c.example)
}

// newFlags returns a FlagSet whose -h prints the command's usage and example.
func newFlags(env Env, name string) *flag.FlagSet {
	c := commands[name]
	fs := flag.NewFlagSet("lvsd "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		out := fs.Output()
		commandUsage(out, name, c)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags; it reports whether the command should go on, and the
// exit status when it should not (0 after -h).
func parse(env Env, fs *flag.FlagSet, args []string) (bool, int) {
	fs.SetOutput(env.Stderr)
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return false, exitOK
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, exitOK
		}
		return false, exitStart
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s: unexpected arguments: %s\n", fs.Name(), strings.Join(fs.Args(), " "))
		return false, exitStart
	}
	return true, exitOK
}

// configFlags adds -c/--config and --node, defaulting from LVSD_CONFIG and LVSD_NODE.
func configFlags(env Env, fs *flag.FlagSet) (file, node *string) {
	file = new(string)
	node = new(string)
	fs.StringVar(file, "c", env.Getenv("LVSD_CONFIG"), "cluster `FILE` (env LVSD_CONFIG)")
	fs.StringVar(file, "config", env.Getenv("LVSD_CONFIG"), "same as -c")
	fs.StringVar(node, "node", env.Getenv("LVSD_NODE"), "this director's node `NAME` (env LVSD_NODE)")
	return file, node
}
