package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/command"
	"github.com/lvsd/lvsd/vrrp"
)

// notifyDeadline bounds every wait of the notify tests for an event; it is
// never slept through.
const notifyDeadline = 10 * time.Second

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestNotifier returns the notifier of an instance VI_1 of a daemon that
// has only what notify commands need, and the daemon's log.
func newTestNotifier(t *testing.T, timeout time.Duration) (*notifier, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	d := &Daemon{log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), sd: &recordingNotifier{}, sched: healthcheck.NewScheduler(nil)}
	d.notifyCtx, d.stopNotify = context.WithCancel(context.Background())
	t.Cleanup(func() {
		d.stopNotify()
		waitNotifies(t, d)
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	})
	return &notifier{d: d, name: "VI_1", timeout: timeout}, log
}

// waitNotifies waits, within notifyDeadline, for every notify command of d
// to be over.
func waitNotifies(t *testing.T, d *Daemon) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		d.notifyWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(notifyDeadline):
		t.Fatalf("notify commands still running after %v", notifyDeadline)
	}
}

// A notify command that prints hundreds of megabytes costs the daemon a
// few KiB: the output is read and thrown away past what the log keeps.
func TestNotifyOutputIsCapped(t *testing.T) {
	const size = 200_000_000
	n, log := newTestNotifier(t, time.Minute)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n.runCommand([]string{"head", "-c", strconv.Itoa(size), "/dev/zero"})
	waitNotifies(t, n.d)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("the daemon allocated %d bytes for %d bytes of output, want at most 8 MiB", alloc, size)
	}
	// What is kept is logged, each NUL escaped as \x00.
	if l, want := len(log.String()), 4*command.DefaultOutputLimit+1<<10; l > want {
		t.Errorf("the log holds %d bytes, want at most %d", l, want)
	}
}

// Notify commands run concurrently: two that hang do not delay a third.
func TestNotifyCommandsRunConcurrently(t *testing.T) {
	dir := t.TempDir()
	pids, marker := filepath.Join(dir, "pids"), filepath.Join(dir, "marker")
	if err := unix.Mkfifo(marker, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opened read-write, the FIFO does not wait for a writer, and it
	// takes a read deadline.
	fifo, err := os.OpenFile(marker, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()

	n, _ := newTestNotifier(t, time.Minute)
	hang := []string{"sh", "-c", `echo $$ >> "$0"; exec sleep 300`, pids}
	n.runCommand(hang)
	n.runCommand(hang)
	// The third writes the marker once both others are running.
	n.runCommand([]string{"sh", "-c", `while [ "$(cat "$0" 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.01; done; echo master > "$1"`, pids, marker})

	_ = fifo.SetReadDeadline(time.Now().Add(notifyDeadline))
	buf := make([]byte, 64)
	if k, err := fifo.Read(buf); err != nil || string(buf[:k]) != "master\n" {
		t.Fatalf("the third notify command did not write its marker while the first two hung: read %q, %v", buf[:k], err)
	}
	hung := readPidLines(t, pids)
	for _, pid := range hung {
		if err := unix.Kill(pid, 0); err != nil {
			t.Errorf("hung command %d is gone before the stop: %v", pid, err)
		}
	}
	// The daemon's stop kills them.
	n.d.stopNotify()
	waitNotifies(t, n.d)
	for _, pid := range hung {
		if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
			t.Errorf("hung command %d outlived the stop: kill(pid, 0) = %v", pid, err)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// At its timeout a notify command is killed with everything it started,
// a child that left for a session of its own included, and that is done
// when the command's goroutine ends.
func TestNotifyTimeoutKillsTheTree(t *testing.T) {
	for _, tc := range []struct{ name, start string }{
		{"setsid", `setsid sh -c 'echo $$ > "$0"; exec sleep 300' "$0" &`},
		{"double fork", `(setsid sh -c 'echo $$ > "$0"; exec sleep 300' "$0" &)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			// Long enough for the command to detach its child first.
			n, _ := newTestNotifier(t, time.Second)
			n.runCommand([]string{"sh", "-c", tc.start + `
while [ ! -s "$0" ]; do sleep 0.01; done
sleep 300`, pidFile})
			waitNotifies(t, n.d)
			pids := readPidLines(t, pidFile)
			if len(pids) != 1 {
				t.Fatalf("the command recorded %v, want one PID", pids)
			}
			if err := unix.Kill(pids[0], 0); !errors.Is(err, unix.ESRCH) {
				t.Errorf("the detached sleep (%d) outlived the timeout: kill(pid, 0) = %v", pids[0], err)
				_ = unix.Kill(pids[0], syscall.SIGKILL)
			}
		})
	}
}

func readPidLines(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the command did not record its PID: %v", err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad PID %q in %s", f, path)
		}
		pids = append(pids, pid)
	}
	return pids
}

// The notify command gets keepalived's four arguments after its own:
// TYPE NAME STATE PRIORITY, with STOP for a stopping instance and priority
// 0 for a group; the per-state command runs beside it.
func TestNotifyCommandArguments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group bool
		to    vrrp.State
		prio  uint8
		want  string
	}{
		{"instance master", false, vrrp.Master, 130, "INSTANCE VI_1 MASTER 130"},
		{"instance stop", false, vrrp.Init, 100, "INSTANCE VI_1 STOP 100"},
		{"group fault", true, vrrp.Fault, 0, "GROUP VI_1 FAULT 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, state := filepath.Join(dir, "args"), filepath.Join(dir, "state")
			n, _ := newTestNotifier(t, time.Minute)
			n.group = tc.group
			write := []string{"sh", "-c", `echo "$@" > "$0"`}
			n.setCommands(config.Notify{
				Command: append(slices.Clone(write), out, "--flag"),
				Master:  append(slices.Clone(write), state, "master"),
				Fault:   append(slices.Clone(write), state, "fault"),
				Stop:    append(slices.Clone(write), state, "stop"),
			})
			n.Notify("VI_1", tc.to, tc.prio)
			waitNotifies(t, n.d)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(string(b)), "--flag "+tc.want; got != want {
				t.Errorf("notify command got %q, want %q", got, want)
			}
			b, err = os.ReadFile(state)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(string(b)), strings.ToLower(strings.Fields(tc.want)[2]); got != want {
				t.Errorf("per-state command got %q, want %q", got, want)
			}
		})
	}
}
