package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/ipvs"
)

// A track_file's number is read as keepalived's strtol reads it; what is
// not a number is 0, a number beyond 32 bits is ignored.
func TestReadTrackFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       int64
		ok         bool
	}{
		{"number", "42\n", 42, true},
		{"negative", "  -7 ", -7, true},
		{"hex", "0x10", 16, true},
		{"octal", "010", 8, true},
		{"trailing text", "12abc", 12, true},
		{"text", "maintenance", 0, true},
		{"empty", "", 0, true},
		{"beyond 32 bits", "99999999999", 0, false},
		{"beyond 64 bits", "99999999999999999999999", 0, false},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if v, ok := readTrackFile(p); v != tc.want || ok != tc.ok {
			t.Errorf("%s (%q): %d, %v; want %d, %v", tc.name, tc.text, v, ok, tc.want, tc.ok)
		}
	}
	if v, ok := readTrackFile(filepath.Join(dir, "missing")); v != 0 || !ok {
		t.Errorf("missing file: %d, %v; want 0, true", v, ok)
	}
}

// A running daemon runs a track_script and reads a track_file: the
// effective priority in the status follows them, a reload of the weights
// applies in place (no transition), and keepalived's notify command gets
// the effective priority.
func TestRunTracking(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	flag, file, log := filepath.Join(dir, "flag"), filepath.Join(dir, "prio"), filepath.Join(dir, "notify.log")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(scriptWeight int) string {
		return fmt.Sprintf(`cluster = "unit"
track_script "chk" {
  command  = ["test", "-e", %q]
  interval = "200ms" # its timeout: a race build on a busy machine starts a process in tens of ms
  weight   = -30
}
track_file "prio" {
  path   = %q
  weight = -1
}
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
  track_script "chk" { weight = %d }
  track_file "prio" {}
  notify {
    command = ["/bin/sh", "-c", "echo \"$*\" >> %s", "notify"]
  }
}
status {
  metrics_listen = ""
}
`, flag, file, scriptWeight, log)
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	sys.ipvsErr = ipvs.ErrNotAvailable
	h := startDaemon(t, config(-30), sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	eventually(t, 2*time.Second, "notify MASTER 100", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "INSTANCE VI_1 MASTER 100\n")
	})

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "effective priority 70 with the script failing", func() bool { return h.instance().EffectivePriority == 70 })
	if err := os.WriteFile(file, []byte("5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "effective priority 65 with the file at 5", func() bool { return h.instance().EffectivePriority == 65 })

	transitions := h.instance().Transitions
	h.reload(config(-50), "reload")
	eventually(t, 2*time.Second, "effective priority 45 after the reload", func() bool { return h.instance().EffectivePriority == 45 })
	if in := h.instance(); in.Transitions != transitions || in.Priority != 100 || in.State != status.StateMaster {
		t.Errorf("after the reload: %d transitions (was %d), priority %d, %s; want no transition, 100, MASTER", in.Transitions, transitions, in.Priority, in.State)
	}
	h.stop()
	if b, _ := os.ReadFile(log); !strings.HasSuffix(string(b), "INSTANCE VI_1 STOP 45\n") {
		t.Errorf("notify log %q, want it to end with the stop at 45", b)
	}
}

// notify_up/notify_down run when a real server's health changes,
// quorum_up/quorum_down when its service's quorum does.
func TestRunHealthCommands(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	flag, log := filepath.Join(dir, "flag"), filepath.Join(dir, "commands.log")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	echo := func(what string) string {
		return fmt.Sprintf(`["/bin/sh", "-c", "echo %s >> %s"]`, what, log)
	}
	src := fmt.Sprintf(`cluster = "unit"
virtual_server "web" {
  address     = "192.0.2.100:80"
  quorum      = 1
  quorum_up   = %s
  quorum_down = %s
  real_server "192.0.2.12:80" {
    notify_up   = %s
    notify_down = %s
    health_check "exec" {
      command  = ["test", "-e", %q]
      interval = "300ms"
      timeout  = "250ms"
      rise     = 1
      fall     = 1
    }
  }
}
status {
  metrics_listen = ""
}
`, echo("quorum_up"), echo("quorum_down"), echo("up"), echo("down"), flag)
	h := startDaemon(t, src, newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0"))
	read := func() string { b, _ := os.ReadFile(log); return string(b) }
	// The two commands of one change run concurrently.
	eventually(t, 10*time.Second, "up and quorum_up", func() bool {
		s := read()
		return s == "up\nquorum_up\n" || s == "quorum_up\nup\n"
	})
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "down and quorum_down", func() bool {
		s := read()
		return strings.HasSuffix(s, "down\nquorum_down\n") || strings.HasSuffix(s, "quorum_down\ndown\n")
	})
	h.stop()
	if lines := strings.Count(read(), "\n"); lines != 4 {
		t.Errorf("commands log %q, want four commands", read())
	}
}

// A sync group's notify command runs as keepalived's does, with GROUP, the
// group's name, its state and priority 0, beside the instances' own.
func TestRunSyncGroupNotify(t *testing.T) {
	verifyNoLeaks(t)
	log := filepath.Join(t.TempDir(), "notify.log")
	notify := fmt.Sprintf(`notify {
    command = ["/bin/sh", "-c", "echo \"$*\" >> %s", "notify"]
  }`, log)
	src := fmt.Sprintf(`cluster = "unit"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
  %s
}
vrrp_instance "VI_2" {
  interface       = "eth0"
  vrid            = 52
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.101/32"]
}
vrrp_sync_group "G1" {
  instances = ["VI_1", "VI_2"]
  %s
}
status {
  metrics_listen = ""
}
`, notify, notify)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	sys.ipvsErr = ipvs.ErrNotAvailable
	h := startDaemon(t, src, sys)
	eventually(t, 3*time.Second, "the group and VI_1 MASTER", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "GROUP G1 MASTER 0\n") && strings.Contains(string(b), "INSTANCE VI_1 MASTER 100\n")
	})
	h.stop()
	b, _ := os.ReadFile(log)
	for _, want := range []string{"GROUP G1 BACKUP 0", "INSTANCE VI_1 BACKUP 100", "GROUP G1 STOP 0", "INSTANCE VI_1 STOP 100"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("notify log has no %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "VI_2") {
		t.Errorf("VI_2 has no notify command, but the log names it:\n%s", b)
	}
}
