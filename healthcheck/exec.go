package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/command"
)

// maxOutput bounds how much of a command's combined output is kept for the
// Result message; the rest is read and thrown away so the command never
// blocks on a full pipe.
const maxOutput = 4 << 10

// maxMessage bounds the output quoted in a Result message.
const maxMessage = 200

// ExecParams describe an external check command.
type ExecParams struct {
	// Argv is the command and its arguments, run without a shell. The
	// placeholders {{ip}} and {{port}} are replaced, in every argument, by
	// the target's address (IPv6 without brackets) and port.
	Argv []string
	// Target fills the placeholders.
	Target netip.AddrPort
	// Timeout bounds the command; 0 leaves only the caller's context.
	Timeout time.Duration
	// DynamicWeight makes exit status 2..255 a pass that sets the real
	// server's weight to the status minus 2 (0..253), as keepalived's
	// misc_dynamic; exit 0 is a pass with the configured weight.
	DynamicWeight bool
}

type execChecker struct {
	p    ExecParams
	argv []string
}

// NewExec returns a Checker that runs a command, as keepalived's MISC_CHECK
// does; exit status 0 is healthy, anything else (or not exiting within the
// timeout) is not, but for 2..255 with DynamicWeight.
//
// The command runs under package command's supervisor. When it ends, or
// when the timeout strikes, everything it started is killed with SIGKILL,
// processes that left its session (setsid) or double-forked included, so a
// script that left a child behind (curl, sleep, a stuck ssh) cannot pile
// up processes check after check. (Notify commands differ: what they
// leave in the background when they exit by themselves is left alone.)
func NewExec(p ExecParams) Checker {
	return &execChecker{p: p, argv: ExpandArgv(p.Argv, p.Target)}
}

// ExpandArgv replaces {{ip}} and {{port}} in every element of argv.
func ExpandArgv(argv []string, target netip.AddrPort) []string {
	r := strings.NewReplacer(
		"{{ip}}", target.Addr().String(),
		"{{port}}", strconv.Itoa(int(target.Port())),
	)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// String describes the check completely, so it can serve in a Job key.
func (c *execChecker) String() string {
	return fmt.Sprintf("exec %q timeout=%v dynamic_weight=%t", c.argv, c.p.Timeout, c.p.DynamicWeight)
}

func (c *execChecker) Check(ctx context.Context) Result {
	start := time.Now()
	if len(c.argv) == 0 || c.argv[0] == "" {
		return fail(start, "no command")
	}
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()

	r := command.Run(ctx, c.argv, command.Options{Timeout: budget, OutputLimit: maxOutput})
	msg := summary(r.Output)
	var exitErr *command.ExitError
	switch {
	case r.Err == nil:
		return pass(start, joinMsg("exit status 0", msg))
	case r.TimedOut, ctx.Err() != nil:
		err := ctx.Err()
		if err == nil {
			err = context.DeadlineExceeded
		}
		status := describeError(ctx, budget, err)
		if errors.Is(r.Err, command.ErrUnkillable) {
			// The kernel has not let a process die yet (uninterruptible
			// sleep, say on a hung NFS mount); it is left to init so that
			// this check still ends on time.
			status += ", and the command did not die on SIGKILL"
		}
		return fail(start, joinMsg(status, msg))
	case errors.As(r.Err, &exitErr) && c.p.DynamicWeight && exitErr.Code >= 2 && exitErr.Code <= 255:
		res := pass(start, joinMsg(fmt.Sprintf("%s: weight %d", exitErr.Error(), exitErr.Code-2), msg))
		res.Weighted, res.Weight = true, exitErr.Code-2
		return res
	case errors.As(r.Err, &exitErr):
		return fail(start, joinMsg(exitErr.Error(), msg))
	}
	return fail(start, joinMsg(r.Err.Error(), msg))
}

func joinMsg(status, output string) string {
	if output == "" {
		return status
	}
	return status + ": " + output
}

// summary returns the output's first non-empty line, shortened for a
// status line.
func summary(out []byte) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > maxMessage {
			line = strings.ToValidUTF8(line[:maxMessage], "") + "…"
		}
		return line
	}
	return ""
}
