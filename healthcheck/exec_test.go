package healthcheck

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestExecCheck(t *testing.T) {
	target := netip.MustParseAddrPort("127.0.0.5:8080")
	tests := []struct {
		name    string
		argv    []string
		timeout time.Duration // 0: longTimeout
		wantOK  bool
		wantMsg string // regular expression
	}{
		{
			name:    "exit 0",
			argv:    []string{"sh", "-c", "echo all fine; exit 0"},
			wantOK:  true,
			wantMsg: "^exit status 0: all fine$",
		},
		{
			name:    "exit 0 without output",
			argv:    []string{"true"},
			wantOK:  true,
			wantMsg: "^exit status 0$",
		},
		{
			name:    "non-zero exit with the first line of stderr",
			argv:    []string{"sh", "-c", "echo >&2; echo 'backend says no' >&2; echo more >&2; exit 3"},
			wantMsg: "^exit status 3: backend says no$",
		},
		{
			name:    "killed by a signal",
			argv:    []string{"sh", "-c", "kill -TERM $$"},
			wantMsg: "signal: terminated",
		},
		{
			name:    "placeholders substituted",
			argv:    []string{"sh", "-c", `test "$1" = 127.0.0.5 && test "$2" = 8080 && test "$3" = "127.0.0.5:8080"`, "sh", "{{ip}}", "{{port}}", "{{ip}}:{{port}}"},
			wantOK:  true,
			wantMsg: "^exit status 0$",
		},
		{
			name:    "no shell between argv and the command",
			argv:    []string{"echo", "$HOME;", "false"},
			wantOK:  true,
			wantMsg: `^exit status 0: \$HOME; false$`,
		},
		{
			name:    "command not found",
			argv:    []string{"/nonexistent/check"},
			wantMsg: "^starting /nonexistent/check: .*no such file",
		},
		{
			name:    "empty argv",
			argv:    nil,
			wantMsg: "^no command$",
		},
		{
			name:    "timeout",
			argv:    []string{"sleep", "100"},
			timeout: shortTimeout,
			wantMsg: "^timed out after 500ms$",
		},
		{
			name:    "long output is cut",
			argv:    []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; exit 1"},
			wantMsg: "^exit status 1: x{200}…$",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := cmp.Or(tc.timeout, longTimeout)
			c := NewExec(ExecParams{Argv: tc.argv, Target: target, Timeout: timeout})
			results, got := drive(t, c, startHealth(tc.wantOK), rise, fall, max(rise, fall), timeout)
			want := wantObservations(tc.wantOK, rise, fall)
			if diff := gocmp.Diff(want, got[:len(want)]); diff != "" {
				t.Errorf("health after each check (-want +got):\n%s", diff)
			}
			for i, r := range results {
				if r.OK != tc.wantOK || !regexp.MustCompile(tc.wantMsg).MatchString(r.Message) {
					t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tc.wantOK, tc.wantMsg)
				}
				if r.Duration > timeout+slack {
					t.Errorf("check %d took %v, want at most %v", i+1, r.Duration, timeout+slack)
				}
			}
		})
	}
}

// TestExecKillsProcessGroup checks that nothing a check command started
// outlives the check, whether the command timed out or exited leaving
// background children holding its output pipe, and whether those stayed in
// its process group or not.
func TestExecKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		wantOK  bool
	}{
		{
			name:    "timeout kills the children too",
			script:  `sleep 100 & echo $! >> "$1"; sleep 100 & echo $! >> "$1"; wait`,
			timeout: shortTimeout,
		},
		{
			name:    "background children of a passing command are killed",
			script:  `sleep 100 & echo $! >> "$1"; (sleep 100; echo late) & echo $! >> "$1"; exit 0`,
			timeout: longTimeout,
			wantOK:  true,
		},
		{
			name:   "timeout kills children that left the session",
			script: detached + `sleep 100`,
			// Long enough for the command to detach its children first.
			timeout: 2 * time.Second,
		},
		{
			name:    "children of a passing command that left the session are killed",
			script:  detached + `exit 0`,
			timeout: longTimeout,
			wantOK:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pids")
			c := NewExec(ExecParams{Argv: []string{"sh", "-c", tc.script, "sh", pidFile}, Timeout: tc.timeout})
			r := c.Check(t.Context())
			if r.OK != tc.wantOK {
				t.Fatalf("check = {OK: %t, Message: %q}, want OK %t", r.OK, r.Message, tc.wantOK)
			}
			if r.Duration > tc.timeout+slack {
				t.Errorf("check took %v, want at most %v", r.Duration, tc.timeout+slack)
			}
			pids := readPids(t, pidFile)
			if len(pids) != 2 {
				t.Fatalf("script recorded pids %v, want 2", pids)
			}
			for _, pid := range pids {
				assertGone(t, pid)
			}
		})
	}
}

// detached starts two sleeps that leave the command's session and process
// group, one by setsid and one by a double fork as well, and waits until
// both have written their PIDs to "$1".
const detached = `setsid sh -c 'echo $$ >> "$0"; exec sleep 100' "$1" &
(setsid sh -c 'echo $$ >> "$0"; exec sleep 100' "$1" &)
while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.01; done
`

func readPids(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid %q in %s", f, path)
		}
		pids = append(pids, pid)
	}
	return pids
}

// assertGone fails the test unless pid is gone: a check reaps everything
// it killed before it returns, so the test looks at once.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		t.Errorf("process %d still there after the check: kill(pid, 0) = %v; %s", pid, err, stat)
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

func TestExpandArgv(t *testing.T) {
	tests := []struct {
		target string
		argv   []string
		want   []string
	}{
		{"10.0.0.1:80", []string{"/bin/check", "{{ip}}", "{{port}}"}, []string{"/bin/check", "10.0.0.1", "80"}},
		{"[2001:db8::5]:8443", []string{"c", "--url=https://[{{ip}}]:{{port}}/"}, []string{"c", "--url=https://[2001:db8::5]:8443/"}},
		{"10.0.0.1:0", []string{"c", "{{port}}{{port}}", "{{IP}}"}, []string{"c", "00", "{{IP}}"}},
	}
	for _, tc := range tests {
		got := ExpandArgv(tc.argv, netip.MustParseAddrPort(tc.target))
		if diff := gocmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ExpandArgv(%q, %s) (-want +got):\n%s", tc.argv, tc.target, diff)
		}
	}
}
