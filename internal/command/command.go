// Package command runs the external commands of lvsd, notify commands and
// exec health checks, so that none of them can hurt the daemon:
//
//   - the command's combined output is read as it comes and only its first
//     bytes are kept (Options.OutputLimit), so a command that prints
//     gigabytes costs the daemon a fixed buffer and never blocks on a full
//     pipe;
//   - every command runs on its own, with its own timeout, and Run returns
//     when its command is over: a hung command delays nothing but its own
//     caller;
//   - at the timeout, or when the caller's context ends, the command's whole
//     tree is killed, descendants that called setsid(2) or double-forked
//     included, and Run returns only once all of it is dead and reaped.
//
// Process groups and sessions cannot give the last property: a descendant
// that calls setsid leaves both. cgroups can, but need a delegated subtree,
// which a service that holds only CAP_NET_ADMIN and CAP_NET_RAW does not
// have, and a PID namespace needs CAP_SYS_ADMIN. So every command runs under
// a supervisor, which is lvsd itself executed again (/proc/self/exe with
// the hidden first argument "__supervise"; see SuperviseIfAsked). The
// supervisor makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so
// every orphan of the command's tree, however it detached, is reparented to
// it rather than to init. On a kill it SIGKILLs every process whose parent
// it is, reaps, and repeats (the children of a killed process are
// reparented to it in turn) until wait4 reports that it has no child left.
//
// The supervisor costs an exec of lvsd per command, mostly the Go
// runtime's and lvsd's start-up: about 5 ms of CPU on the shared 2-core lab
// machine against 0.7 ms for the command alone (BenchmarkRun), and one
// more process while the command runs. One long-lived supervisor for all
// commands would save that, but could not tell whose tree an orphan that
// called setsid belongs to; running the supervisor from an init function,
// before most of lvsd's packages are initialised, saved under 1 ms of the
// 5 and is not worth the surprise.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultOutputLimit is how much of a command's output Run keeps when
// Options.OutputLimit is 0: enough for a log line or a status message.
const DefaultOutputLimit = 4 << 10

// killGrace is how long the supervisor is given to kill and reap the
// command's tree, after its timeout or after being told to stop, before it
// is SIGKILLed itself. It takes milliseconds; only a process the kernel
// will not let die (stuck in uninterruptible sleep, say on a hung NFS
// mount) makes it take that long, and killing the supervisor then leaves
// the tree to init, so Run keeps its promise to return. The bound is
// generous because SIGKILLing a supervisor that was merely slow to be
// scheduled (a busy director) would leave the tree alive.
const killGrace = 2 * time.Second

// pipeGrace is how long Run keeps reading the output once the supervisor
// has exited. It only matters when a process left in the background holds
// the output pipe open (Options.KeepBackground): Run then stops reading
// after this long, and that process's writes to it fail.
const pipeGrace = 100 * time.Millisecond

// Errors of Result.Err besides *ExitError.
var (
	ErrNoCommand = errors.New("no command")
	ErrTimedOut  = errors.New("timed out")
	// ErrUnkillable is joined to the cause when the command's tree did not
	// all die within killGrace of a SIGKILL.
	ErrUnkillable = errors.New("the command did not die on SIGKILL")
	// errNoSupervisor means the binary never called SuperviseIfAsked, so
	// executing it again would not start a supervisor.
	errNoSupervisor = errors.New("command: SuperviseIfAsked was not called at the start of main (or TestMain)")
)

// Options of one Run.
type Options struct {
	// Timeout bounds the command; 0 leaves only the context.
	Timeout time.Duration
	// OutputLimit is how many bytes of the combined stdout and stderr are
	// kept; 0 means DefaultOutputLimit. The rest is read and discarded.
	OutputLimit int
	// Env is the command's environment; nil means the daemon's.
	Env []string
	// KeepBackground leaves alone, when the command exits by itself, the
	// processes it started in the background, as keepalived does for
	// notify scripts (which may start a service that way). Without it,
	// whatever the command left running is killed when it exits, so that a
	// command run every few seconds (a health check) cannot pile up
	// processes. At a timeout or a cancel the whole tree is killed either
	// way.
	KeepBackground bool
}

// Result is what became of one command.
type Result struct {
	// ExitCode is the command's exit status, or -1 if it did not exit by
	// itself (killed by a signal, timed out, stopped, never started).
	ExitCode int
	// Output is the start of the combined stdout and stderr, at most
	// Options.OutputLimit bytes.
	Output []byte
	// TimedOut is set when Options.Timeout ran out.
	TimedOut bool
	// Err is nil when the command exited with status 0. Otherwise it is an
	// *ExitError, or wraps ErrTimedOut, the context's error, ErrNoCommand,
	// ErrUnkillable, or why the command could not start.
	Err error
	// Duration is how long Run took.
	Duration time.Duration
}

// ExitError is a command that ended by itself, but not with status 0.
type ExitError struct {
	Code   int            // exit status; -1 when killed by a signal
	Signal syscall.Signal // the signal that killed it, if any
	Core   bool           // it dumped core
}

// Error reads as os.ProcessState's String does: "exit status 3",
// "signal: killed".
func (e *ExitError) Error() string {
	if e.Signal == 0 {
		return "exit status " + strconv.Itoa(e.Code)
	}
	s := "signal: " + e.Signal.String()
	if e.Core {
		s += " (core dumped)"
	}
	return s
}

// Run runs argv, without a shell, under a supervisor, and returns once the
// command is over: exited, or killed with its whole tree at the timeout or
// when ctx ends. Run never blocks much past the timeout or ctx (killGrace
// and pipeGrace at most), whatever the command does.
func Run(ctx context.Context, argv []string, opts Options) Result {
	start := time.Now()
	r := run(ctx, argv, opts)
	r.Duration = time.Since(start)
	return r
}

func run(ctx context.Context, argv []string, opts Options) Result {
	failed := func(err error) Result { return Result{ExitCode: -1, Err: err} }
	if len(argv) == 0 || argv[0] == "" {
		return failed(ErrNoCommand)
	}
	if !hooked.Load() {
		return failed(errNoSupervisor)
	}
	if err := ctx.Err(); err != nil {
		return failed(err)
	}
	// Resolved here, as exec.Command does, so a missing command costs no
	// supervisor and reads as it always has.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return failed(fmt.Errorf("starting %s: %w", argv[0], err))
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return failed(fmt.Errorf("starting %s: %w", argv[0], err))
	}
	defer reportR.Close()

	out := &capped{limit: opts.OutputLimit}
	if out.limit == 0 {
		out.limit = DefaultOutputLimit
	}
	// The supervisor is given the moment its timeout runs out rather than
	// the timeout, so that its own start-up counts: CLOCK_MONOTONIC is
	// the same in every process.
	timeout := max(opts.Timeout, 0)
	var expiry time.Duration
	if timeout > 0 {
		expiry = monotonicNow() + timeout
	}
	mode := modeKill
	if opts.KeepBackground {
		mode = modeKeep
	}
	cmd := &exec.Cmd{
		// The running binary, even if its file was replaced or removed
		// since (an upgrade under a running daemon).
		Path:       "/proc/self/exe",
		Args:       append([]string{os.Args[0], supervisorArg, strconv.FormatInt(int64(expiry), 10), mode, path}, argv...),
		Env:        opts.Env,
		Stdout:     out,
		Stderr:     out, // the same writer: one pipe, one goroutine
		ExtraFiles: []*os.File{reportW},
		SysProcAttr: &syscall.SysProcAttr{
			// Out of the daemon's process group, so a Ctrl-C meant for a
			// foreground lvsd does not kill the supervisor and orphan the
			// command.
			Setpgid: true,
			// If the daemon dies, the supervisor kills the command's
			// tree and exits, just as when the daemon cancels it.
			Pdeathsig: syscall.SIGTERM,
		},
		WaitDelay: pipeGrace,
	}
	// Pdeathsig fires when the thread that forked the supervisor exits, not
	// the process. Go ends a thread only when a goroutine exits while
	// locked to it; holding this one until the supervisor is gone means
	// no other goroutine can be given this thread and end it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Start()
	reportW.Close()
	if err != nil {
		return failed(fmt.Errorf("starting %s: starting its supervisor: %w", argv[0], err))
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var backstop <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout + killGrace)
		defer t.Stop()
		backstop = t.C
	}
	var (
		stopped error // ctx's error, when it ended first
		killed  bool  // the supervisor was SIGKILLed
		waitErr error
	)
	killSupervisor := func() error {
		killed = true
		_ = cmd.Process.Kill()
		return <-waited
	}
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		stopped = ctx.Err()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(killGrace)
		select {
		case waitErr = <-waited:
		case <-t.C:
			waitErr = killSupervisor()
		}
		t.Stop()
	case <-backstop:
		waitErr = killSupervisor()
	}

	report, _ := io.ReadAll(io.LimitReader(reportR, 4<<10))
	r := Result{ExitCode: -1, Output: out.buf}
	switch {
	case len(report) > 0:
		// The supervisor finished its work, even if it was killed on its
		// way out.
		r.ExitCode, r.TimedOut, r.Err = parseReport(string(report), stopped, timeout)
	case killed:
		// The supervisor was killed before its report: the tree did not
		// all die.
		cause := stopped
		if cause == nil {
			r.TimedOut = true
			cause = fmt.Errorf("%w after %v", ErrTimedOut, timeout)
		}
		r.Err = fmt.Errorf("%w, and %w", cause, ErrUnkillable)
	case stopped != nil:
		// Stopped before the supervisor could take SIGTERM in hand, so
		// before the command started.
		r.Err = stopped
	default:
		r.Err = fmt.Errorf("the supervisor of %s ended without a report: %v", argv[0], waitErr)
	}
	return r
}

// parseReport turns the supervisor's one line (see supervise) into a
// Result's fields.
func parseReport(report string, stopped error, timeout time.Duration) (code int, timedOut bool, err error) {
	word, arg, _ := strings.Cut(strings.TrimSuffix(report, "\n"), " ")
	switch word {
	case reportExit:
		n, err := strconv.Atoi(arg)
		if err != nil {
			break
		}
		if n == 0 {
			return 0, false, nil
		}
		return n, false, &ExitError{Code: n}
	case reportSignal:
		num, core := strings.CutSuffix(arg, " core")
		n, err := strconv.Atoi(num)
		if err != nil {
			break
		}
		return -1, false, &ExitError{Code: -1, Signal: syscall.Signal(n), Core: core}
	case reportTimeout:
		return -1, true, fmt.Errorf("%w after %v", ErrTimedOut, timeout)
	case reportStopped:
		if stopped == nil {
			// Someone else sent the supervisor SIGTERM.
			return -1, false, errors.New("stopped by SIGTERM to its supervisor")
		}
		return -1, false, stopped
	case reportError:
		return -1, false, errors.New(arg)
	}
	return -1, false, fmt.Errorf("unreadable report from the supervisor: %q", report)
}

// capped keeps the first limit bytes written to it and accepts, without
// keeping, everything after. os/exec calls Write from one goroutine at a
// time since Stdout and Stderr are the same capped, and Run reads buf only
// after Wait.
type capped struct {
	limit int
	buf   []byte
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// hooked is set by SuperviseIfAsked in a process that is not a supervisor.
// Without it Run refuses: executing a binary that does not recognise the
// supervisor's argument would run that binary instead (a test binary would
// run its tests again, recursively).
var hooked atomic.Bool

// monotonicNow reads CLOCK_MONOTONIC, which the supervisor reads too.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
