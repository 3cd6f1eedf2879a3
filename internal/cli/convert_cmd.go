package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/lvsd/lvsd/internal/convert"
	"github.com/lvsd/lvsd/internal/keepalived"
)

// runConvert turns keepalived.conf files, one per director, into one
// cluster file (SPEC §8). Exit 0 when everything converted (warnings
// aside), 1 when something could not be, 2 on a usage error.
func runConvert(env Env, args []string) int {
	fs := newFlags(env, "convert")
	out := fs.String("o", "-", "write the cluster file to `OUT` (- for standard output)")
	partial := fs.Bool("partial", false, "write what converted even when something did not (exit status still 1)")
	names := fs.String("names", "", "node names, one per file in order, comma-separated (default: router_id, else the file name)")
	// The files are positional; flags may come before or after them.
	files, ok, code := parsePositional(env, fs, args)
	if !ok {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "lvsd convert: no keepalived.conf given")
		fs.Usage()
		return exitStart
	}
	var opt convert.Options
	if *names != "" {
		opt.Names = strings.Split(*names, ",")
	}

	var parsed []*keepalived.File
	var readDiags []keepalived.Diag
	for _, f := range files {
		kf, diags := keepalived.Load(f, keepalived.OSFS{})
		parsed = append(parsed, kf)
		readDiags = append(readDiags, diags...)
	}
	var res convert.Result
	if !keepalived.HasErrors(readDiags) {
		res = convert.Convert(parsed, opt)
	}
	diags := append(readDiags, res.Diags...)
	for _, d := range diags {
		fmt.Fprintln(env.Stderr, d.String())
	}
	failed := keepalived.HasErrors(diags)
	if failed && (!*partial || res.HCL == nil) {
		fmt.Fprintf(env.Stderr, "lvsd convert: not converted; nothing written (--partial writes the rest)\n")
		return exitConfig
	}
	if *out == "-" || *out == "" {
		if _, err := env.Stdout.Write(res.HCL); err != nil {
			fmt.Fprintf(env.Stderr, "lvsd convert: %v\n", err)
			return exitStart
		}
	} else if err := os.WriteFile(*out, res.HCL, 0o644); err != nil {
		fmt.Fprintf(env.Stderr, "lvsd convert: %v\n", err)
		return exitStart
	}
	if failed {
		return exitConfig
	}
	return exitOK
}

// parsePositional parses flags placed anywhere among the positional
// arguments and returns those; -h prints the usage.
func parsePositional(env Env, fs *flag.FlagSet, args []string) ([]string, bool, int) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return nil, false, exitOK
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false, exitStart
		}
		if fs.NArg() == 0 {
			return pos, true, exitOK
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
