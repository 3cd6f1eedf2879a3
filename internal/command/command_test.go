package command

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// deadline bounds every wait of these tests for an event; it is never
// slept through.
const deadline = 10 * time.Second

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		opts     Options
		wantCode int
		wantErr  string // regular expression; "" for a nil Err
		wantOut  string
		timedOut bool
	}{
		{
			name:    "exit 0 with output",
			argv:    []string{"sh", "-c", "echo out; echo err >&2"},
			wantOut: "out\nerr\n",
		},
		{
			name:     "exit status",
			argv:     []string{"sh", "-c", "echo no; exit 3"},
			wantCode: 3,
			wantErr:  "^exit status 3$",
			wantOut:  "no\n",
		},
		{
			name:     "killed by a signal",
			argv:     []string{"sh", "-c", "kill -TERM $$"},
			wantCode: -1,
			wantErr:  "^signal: terminated$",
		},
		{
			name: "no shell between argv and the command",
			argv: []string{"echo", "$HOME;", "false"},
			// The output is capped.
			opts:    Options{OutputLimit: 8},
			wantOut: "$HOME; f",
		},
		{
			name:    "environment",
			argv:    []string{"sh", "-c", `echo "$A"`},
			opts:    Options{Env: []string{"A=b"}},
			wantOut: "b\n",
		},
		{
			name:     "command not found",
			argv:     []string{"/nonexistent/command"},
			wantCode: -1,
			wantErr:  "^starting /nonexistent/command: .*no such file",
		},
		{
			name:     "not executable",
			argv:     []string{"/dev/null"},
			wantCode: -1,
			wantErr:  "^starting /dev/null: .*permission denied",
		},
		{
			name:     "empty argv",
			wantCode: -1,
			wantErr:  "^no command$",
		},
		{
			name:     "timeout",
			argv:     []string{"sh", "-c", "echo started; exec sleep 300"},
			opts:     Options{Timeout: time.Second},
			wantCode: -1,
			wantErr:  "^timed out after 1s$",
			wantOut:  "started\n",
			timedOut: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Run(t.Context(), tc.argv, tc.opts)
			if r.ExitCode != tc.wantCode || r.TimedOut != tc.timedOut || string(r.Output) != tc.wantOut {
				t.Errorf("Run = {ExitCode: %d, TimedOut: %t, Output: %q}, want {%d, %t, %q}",
					r.ExitCode, r.TimedOut, r.Output, tc.wantCode, tc.timedOut, tc.wantOut)
			}
			switch {
			case tc.wantErr == "" && r.Err != nil:
				t.Errorf("Err = %v, want nil", r.Err)
			case tc.wantErr != "" && (r.Err == nil || !regexp.MustCompile(tc.wantErr).MatchString(r.Err.Error())):
				t.Errorf("Err = %v, want one matching %q", r.Err, tc.wantErr)
			}
			if tc.timedOut && !errors.Is(r.Err, ErrTimedOut) {
				t.Errorf("Err = %v, want ErrTimedOut", r.Err)
			}
			if limit := tc.opts.Timeout + killGrace + pipeGrace; tc.opts.Timeout > 0 && r.Duration > limit {
				t.Errorf("Run took %v, want at most %v", r.Duration, limit)
			}
		})
	}
}

// A command that prints far more than is kept costs a fixed buffer, and
// is read to its end rather than blocked on a full pipe.
func TestRunOutputIsCapped(t *testing.T) {
	const size = 200_000_000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := Run(t.Context(), []string{"head", "-c", strconv.Itoa(size), "/dev/zero"}, Options{Timeout: deadline})
	runtime.ReadMemStats(&after)
	if r.Err != nil {
		t.Fatalf("Run: %v", r.Err)
	}
	if len(r.Output) != DefaultOutputLimit {
		t.Errorf("kept %d bytes of output, want %d", len(r.Output), DefaultOutputLimit)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Run allocated %d bytes for %d bytes of output, want at most 4 MiB", alloc, size)
	}
}

// detach writes a shell script's lines that start sleep 300 out of the
// command's session and process group, and wait until it has written its
// PID to "$1", so the kill under test can only come after the escape.
// The double fork also leaves sleep without its parent.
func detach(doubleFork bool) string {
	start := `setsid sh -c 'echo $$ > "$0"; exec sleep 300' "$1" &`
	if doubleFork {
		start = "(" + start + ")"
	}
	return start + `
while [ ! -s "$1" ]; do sleep 0.01; done
`
}

// The whole tree dies at the timeout, at a cancel and, without
// KeepBackground, when the command exits; and it is dead and reaped when
// Run returns, so the test looks at once.
func TestRunKillsTheTree(t *testing.T) {
	// Long enough for the command to detach its child first, even under
	// the race detector on a busy machine.
	const timeout = time.Second
	for _, doubleFork := range []bool{false, true} {
		for _, end := range []string{"timeout", "cancel", "exit"} {
			name := end
			if doubleFork {
				name += " double fork"
			} else {
				name += " setsid"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				pidFile := filepath.Join(t.TempDir(), "pid")
				script := detach(doubleFork)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				opts := Options{Timeout: deadline}
				switch end {
				case "timeout":
					opts.Timeout = timeout
					script += "sleep 300\n"
				case "cancel":
					// Cancelled once the detached sleep is there.
					script += "exec sleep 300\n"
					go func() {
						waitFile(pidFile)
						cancel()
					}()
				case "exit":
					script += "exit 0\n"
				}
				r := Run(ctx, []string{"sh", "-c", script, "sh", pidFile}, opts)
				pid := readPid(t, pidFile)
				if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
					t.Errorf("the detached sleep (%d) is still there after Run returned: kill(pid, 0) = %v", pid, err)
					_ = unix.Kill(pid, unix.SIGKILL)
				}
				switch end {
				case "timeout":
					if limit := timeout + killGrace + pipeGrace; !r.TimedOut || r.Duration > limit {
						t.Errorf("Run = {TimedOut: %t, Duration: %v, Err: %v}, want a timeout within %v", r.TimedOut, r.Duration, r.Err, limit)
					}
				case "cancel":
					if !errors.Is(r.Err, context.Canceled) {
						t.Errorf("Err = %v, want context.Canceled", r.Err)
					}
				case "exit":
					if r.Err != nil {
						t.Errorf("Err = %v, want nil", r.Err)
					}
				}
			})
		}
	}
}

// waitFile waits, within deadline, until path is not empty.
func waitFile(path string) {
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
	}
}

// With KeepBackground, what a command started in the background outlives
// it, as with keepalived's notify scripts; and Run still returns although
// that process holds the output pipe.
func TestRunKeepBackground(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	for _, doubleFork := range []bool{false, true} {
		r := Run(t.Context(), []string{"sh", "-c", detach(doubleFork) + "echo done", "sh", pidFile},
			Options{Timeout: deadline, KeepBackground: true})
		pid := readPid(t, pidFile)
		if err := unix.Kill(pid, 0); err != nil {
			t.Errorf("double fork %t: the background sleep (%d) is gone: kill(pid, 0) = %v", doubleFork, pid, err)
		}
		_ = unix.Kill(pid, unix.SIGKILL)
		if r.Err != nil || string(r.Output) != "done\n" || r.Duration > deadline {
			t.Errorf("double fork %t: Run = {Err: %v, Output: %q, Duration: %v}, want {nil, \"done\\n\", < %v}", doubleFork, r.Err, r.Output, r.Duration, deadline)
		}
		os.Remove(pidFile)
	}
}

// helperEnv makes the test binary stand in for the daemon: it runs its
// arguments as a command, with no timeout (see TestMain).
const helperEnv = "LVSD_COMMAND_TEST_DAEMON"

func helperDaemon() int {
	r := Run(context.Background(), os.Args[1:], Options{})
	if r.Err != nil {
		return 1
	}
	return 0
}

// When the daemon dies (here SIGKILLed) its supervisors get SIGTERM
// (Pdeathsig) and take the commands' trees with them.
func TestRunDiesWithTheDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile, supFile := filepath.Join(dir, "pid"), filepath.Join(dir, "supervisor")
	script := `echo $PPID > "$2"` + "\n" + detach(false) + "exec sleep 300\n"
	daemon := exec.Command(os.Args[0], "sh", "-c", script, "sh", pidFile, supFile)
	daemon.Env = append(os.Environ(), helperEnv+"=1")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(pidFile)
	supervisor := readPid(t, supFile)
	pid := readPid(t, pidFile)
	// A pidfd learns of the supervisor's exit although it is not our
	// child.
	pidfd, err := unix.PidfdOpen(supervisor, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", supervisor, err)
	}
	defer unix.Close(pidfd)

	if err := daemon.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = daemon.Wait()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(deadline/time.Millisecond)); n != 1 {
		t.Fatalf("the supervisor did not exit within %v of the daemon's death: %v", deadline, err)
	}
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("the detached sleep (%d) outlived its supervisor: kill(pid, 0) = %v", pid, err)
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the command did not record its PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("bad PID %q in %s", b, path)
	}
	return pid
}

func TestParentOf(t *testing.T) {
	tests := []struct {
		stat string
		want int
		ok   bool
	}{
		{"123 (sleep) S 45 123 45 0 -1", 45, true},
		{"123 (a) b (c) R 7 123", 7, true},
		{"123 (sleep", 0, false},
		{"123 (sleep) S", 0, false},
	}
	for _, tc := range tests {
		got, ok := parentOf([]byte(tc.stat))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parentOf(%q) = %d, %t; want %d, %t", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseReport(t *testing.T) {
	stopped := context.Canceled
	tests := []struct {
		report  string
		stopped error
		code    int
		timeout bool
		err     string
	}{
		{"exit 0\n", nil, 0, false, ""},
		{"exit 2\n", nil, 2, false, "exit status 2"},
		{"signal 9\n", nil, -1, false, "signal: killed"},
		{"signal 11 core\n", nil, -1, false, "signal: segmentation fault (core dumped)"},
		{"timeout\n", nil, -1, true, "timed out after 1s"},
		{"stopped\n", stopped, -1, false, "context canceled"},
		{"stopped\n", nil, -1, false, "stopped by SIGTERM to its supervisor"},
		{"error starting x: boom\n", nil, -1, false, "starting x: boom"},
		{"exit x\n", nil, -1, false, `unreadable report from the supervisor: "exit x\n"`},
	}
	for _, tc := range tests {
		code, timedOut, err := parseReport(tc.report, tc.stopped, time.Second)
		var got string
		if err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff([]any{tc.code, tc.timeout, tc.err}, []any{code, timedOut, got}); diff != "" {
			t.Errorf("parseReport(%q) (-want +got):\n%s", tc.report, diff)
		}
	}
}

// BenchmarkRun compares a command run directly with os/exec and the same
// command run under the supervisor. Besides the time per run it reports
// the CPU time of the processes started (child-cpu-ms/op), which a busy
// machine does not inflate.
func BenchmarkRun(b *testing.B) {
	bench := func(b *testing.B, run func() error) {
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
		for b.Loop() {
			if err := run(); err != nil {
				b.Fatal(err)
			}
		}
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "child-cpu-ms/op")
	}
	b.Run("direct", func(b *testing.B) {
		bench(b, func() error {
			cmd := exec.Command("/bin/true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			return cmd.Run()
		})
	})
	b.Run("supervised", func(b *testing.B) {
		bench(b, func() error {
			return Run(b.Context(), []string{"/bin/true"}, Options{}).Err
		})
	})
}
