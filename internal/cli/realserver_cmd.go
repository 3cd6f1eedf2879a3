package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/lvsd/lvsd/internal/realserver"
	"github.com/lvsd/lvsd/internal/sysctl"
)

// exitFailed is realserver's only failure status: the documented statuses are 0 / 1,
// usage errors included.
const exitFailed = 1

func runRealserver(env Env, args []string) int {
	fs := newFlags(env, "realserver")
	vipFlag := fs.String("vip", "", "the virtual `ADDR`s the director forwards, comma separated (IPv4 and IPv6)")
	methodFlag := fs.String("method", "dr", "how the director forwards: dr (direct routing) or tun (IPIP / IPv6 tunnel)")
	state := fs.String("state", realserver.DefaultStatePath, "state file `PATH`: up records there what it changed, down restores it")
	var action string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if ok, code := parse(env, fs, args); !ok {
		if code == exitOK {
			return exitOK
		}
		return exitFailed
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "lvsd realserver: "+format+"\n", a...)
		return exitFailed
	}
	if action != "up" && action != "down" {
		if action == "" {
			return fail("say up or down (lvsd realserver -h)")
		}
		return fail("unknown action %q: want up or down", action)
	}
	method, err := realserver.ParseMethod(*methodFlag)
	if err != nil {
		return fail("%v", err)
	}
	vips, err := realserver.ParseVIPs(*vipFlag)
	if err != nil {
		return fail("%v", err)
	}
	req := realserver.Request{Method: method, VIPs: vips}

	rec, err := realserver.LoadRecord(*state)
	if err != nil {
		return fail("%v; remove it if it is damaged (down then sets the kernel defaults)", err)
	}
	k, err := realserver.NewKernel(sysctl.Root)
	if err != nil {
		return fail("%s", withHint(err))
	}
	defer k.Close()

	if action == "up" {
		return realserverUp(env, k, req, rec, *state, fail)
	}
	return realserverDown(env, k, req, rec, *state, fail)
}

func realserverUp(env Env, k *realserver.Kernel, req realserver.Request, rec *realserver.Record, state string, fail func(string, ...any) int) int {
	var prev realserver.Record
	if rec != nil {
		prev = *rec
	}
	applied, next, err := realserver.Up(k, req, prev)
	printChanges(env, applied, req, err == nil)
	code := exitOK
	if err != nil {
		code = fail("up: %s", withHint(err))
	}
	// The record is kept even when up had nothing to do: down then knows
	// that the VIPs and sysctls were there before and leaves them. A run
	// that failed before changing anything has nothing to add.
	if err == nil || len(applied) > 0 {
		if err := realserver.SaveRecord(state, next); err != nil {
			code = fail("up: %s; down will not know what to restore", withHint(err))
		}
	}
	return code
}

func realserverDown(env Env, k *realserver.Kernel, req realserver.Request, rec *realserver.Record, state string, fail func(string, ...any) int) int {
	if rec == nil {
		fmt.Fprintf(env.Stdout, "note: no state file %s: removing the VIPs that are there\n", state)
	}
	applied, notes, next, err := realserver.Down(k, req, rec)
	for _, n := range notes {
		fmt.Fprintln(env.Stdout, "note: "+n)
	}
	printChanges(env, applied, req, err == nil)
	code := exitOK
	if err != nil {
		code = fail("down: %s", withHint(err))
	}
	if next.Empty() {
		err = realserver.RemoveRecord(state)
	} else {
		err = realserver.SaveRecord(state, next)
	}
	if err != nil {
		code = fail("down: %s", withHint(err))
	}
	return code
}

// printChanges prints the changes made, one a line, or that there was
// nothing to do (only when the run succeeded: a failed first step is not
// "nothing to do").
func printChanges(env Env, applied []realserver.Change, req realserver.Request, ok bool) {
	for _, c := range applied {
		fmt.Fprintln(env.Stdout, c)
	}
	if len(applied) == 0 && ok {
		s := make([]string, len(req.VIPs))
		for i, v := range req.VIPs {
			s[i] = netip.PrefixFrom(v, v.BitLen()).String() + " on " + req.Device(v)
		}
		fmt.Fprintf(env.Stdout, "nothing to do (%s, method %s)\n", strings.Join(s, ", "), req.Method)
	}
}

// withHint adds what to do to the errors a user can fix.
func withHint(err error) string {
	if errors.Is(err, os.ErrPermission) {
		return err.Error() + "; run as root (needs CAP_NET_ADMIN)"
	}
	return err.Error()
}
