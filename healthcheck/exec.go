package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxOutput bounds how much of a command's combined output is kept for the
// Result message; the rest is read and thrown away so the command never
// blocks on a full pipe.
const maxOutput = 4 << 10

// maxMessage bounds the output quoted in a Result message.
const maxMessage = 200

// pipeGrace is how long Wait keeps reading a command's output after its
// whole process group has been killed. It only matters when a descendant
// escaped the group (setsid) while holding the pipe open.
const pipeGrace = 100 * time.Millisecond

// killGrace is how long a timed-out check waits for its SIGKILLed command
// to die before giving up on it.
const killGrace = 100 * time.Millisecond

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
}

type execChecker struct {
	p    ExecParams
	argv []string
}

// NewExec returns a Checker that runs a command, as keepalived's MISC_CHECK
// does; exit status 0 is healthy, anything else (or not exiting within the
// timeout) is not.
//
// The command runs in a process group of its own. When it ends, or when the
// timeout strikes, the whole group is killed with SIGKILL, so a script that
// left a child behind (curl, sleep, a stuck ssh) cannot pile up processes
// check after check.
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
	return fmt.Sprintf("exec %q timeout=%v", c.argv, c.p.Timeout)
}

func (c *execChecker) Check(ctx context.Context) Result {
	start := time.Now()
	if len(c.argv) == 0 || c.argv[0] == "" {
		return fail(start, "no command")
	}
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()

	var out limitedBuffer
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = pipeGrace
	if err := cmd.Start(); err != nil {
		return fail(start, fmt.Sprintf("starting %s: %v", c.argv[0], err))
	}
	pid := cmd.Process.Pid

	// Learn that the leader exited without reaping it: while it is an
	// unreaped zombie its PID, which is also the group's ID, cannot be
	// reused, so killing the group below can never hit a stranger.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()

	timedOut := false
	select {
	case <-exited:
	case <-ctx.Done():
		timedOut = true
	}
	// Kill whatever is left of the group: everything on a timeout, and any
	// background children the command left behind on a normal exit.
	_ = unix.Kill(-pid, unix.SIGKILL)
	if timedOut {
		grace := time.NewTimer(killGrace)
		defer grace.Stop()
		select {
		case <-exited:
		case <-grace.C:
			// The kernel has not let the process die yet (uninterruptible
			// sleep, say on a hung NFS mount). Reap it in the background
			// so that this check still ends on time; this goroutine is the
			// only thing a check can leave behind, and only until the
			// kernel lets go.
			go func() {
				<-exited
				_ = cmd.Wait()
			}()
			return fail(start, describeError(ctx, budget, ctx.Err())+", and the command did not die on SIGKILL")
		}
	}
	err := cmd.Wait()

	msg := out.summary()
	switch {
	case timedOut:
		return fail(start, joinMsg(describeError(ctx, budget, ctx.Err()), msg))
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return pass(start, joinMsg("exit status 0", msg))
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return fail(start, joinMsg(exitErr.Error(), msg))
	}
	return fail(start, joinMsg(err.Error(), msg))
}

func joinMsg(status, output string) string {
	if output == "" {
		return status
	}
	return status + ": " + output
}

// limitedBuffer keeps the first maxOutput bytes written to it and accepts,
// without keeping, everything after.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// summary returns the output's first non-empty line, shortened for a
// status line.
func (b *limitedBuffer) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.SplitSeq(string(b.buf), "\n") {
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
