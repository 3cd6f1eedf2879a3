package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
)

// restartConfig has two instances without preemption, so a director that
// restarts beside a master stays BACKUP. VI_HOST's VIP is director a's own
// address (192.0.2.99/24, there before lvsd starts).
const restartConfig = `cluster = "restart"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 61
  advert_interval = "100ms"
  preempt         = false
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat = 1
    delay  = "0s"
  }
}

vrrp_instance "VI_HOST" {
  interface       = "eth0"
  vrid            = 62
  advert_interval = "100ms"
  preempt         = false
  virtual_ips     = ["192.0.2.99/24"]
  garp {
    repeat = 1
    delay  = "0s"
  }
}

status {
  metrics_listen = ""
}
`

// TestDaemonRestartAfterCrash: a director killed while MASTER leaves its
// VIPs on the interface; restarted (as systemd's Restart=on-failure does)
// beside the new master, it comes up BACKUP without them, so two
// directors never hold one VIP. An address the host had before lvsd
// started survives every stop, crash and restart, even when it is also a
// VIP.
func TestDaemonRestartAfterCrash(t *testing.T) {
	lab.RequireRoot(t, "ip", "go")
	bin := buildLVSD(t)
	lan := lab.NewLAN(t, "a", "b")
	lan.AddAddr("a", "192.0.2.1/24")
	lan.AddAddr("a", "192.0.2.99/24")
	lan.AddAddr("b", "192.0.2.2/24")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(cfg, []byte(restartConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &director{name: "a", host: lan.Host("a"), socket: filepath.Join(dir, "a.sock")}
	b := &director{name: "b", host: lan.Host("b"), socket: filepath.Join(dir, "b.sock")}
	hostAddr := func(when string) {
		t.Helper()
		if !hasAddr(t, a, "192.0.2.99/24") {
			t.Errorf("%s: a lost its own address 192.0.2.99/24", when)
		}
	}

	// a alone: MASTER of both, holding 192.0.2.100 (and its own .99).
	startDirector(t, bin, cfg, a)
	waitInstance(t, a, "VI_1", status.StateMaster, 5*time.Second)
	waitInstance(t, a, "VI_HOST", status.StateMaster, 5*time.Second)
	if !hasVIP(t, a) {
		t.Fatal("a is MASTER of VI_1 without 192.0.2.100")
	}

	// kill -9: the VIP stays behind on a's eth0; b takes over.
	a.proc.Kill()
	<-a.proc.Done()
	if !hasVIP(t, a) {
		t.Fatal("the killed director has no 192.0.2.100 left: the test cannot show its removal")
	}
	startDirector(t, bin, cfg, b)
	waitInstance(t, b, "VI_1", status.StateMaster, 5*time.Second)
	waitInstance(t, b, "VI_HOST", status.StateMaster, 5*time.Second)

	// The restart removes the stale VIP before the daemon answers, and
	// keeps the host's address.
	startDirector(t, bin, cfg, a)
	waitInstance(t, a, "VI_1", status.StateBackup, 5*time.Second)
	if hasVIP(t, a) {
		t.Error("restarted as BACKUP, a still holds 192.0.2.100 beside the master b")
	}
	hostAddr("after the restart")
	if !hasVIP(t, b) {
		t.Error("b is MASTER without 192.0.2.100")
	}

	// b stops: a takes both instances over, then stops in turn. Leaving
	// MASTER removes 192.0.2.100, never the host's address.
	if err := b.proc.Stop(3 * time.Second); err != nil {
		t.Fatalf("stopping b: %v", err)
	}
	waitInstance(t, a, "VI_1", status.StateMaster, 3*time.Second)
	waitInstance(t, a, "VI_HOST", status.StateMaster, 3*time.Second)
	if err := a.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.proc.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("a did not stop within 3 s of SIGTERM")
	}
	if hasVIP(t, a) {
		t.Error("a stopped but still holds 192.0.2.100")
	}
	hostAddr("after a clean stop")
}
