package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/status"
)

// trackConfig is pairConfig's instance following a track_script of weight
// -60 that succeeds while the director has a link called chk0, and a
// weighted track_interface on trk0; its notify command appends keepalived's
// four arguments to a log. Verbs: the script's weight override, the
// interface's weight, the log.
const trackConfig = `cluster = "vrrp"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

track_script "chk" {
  command  = ["ip", "link", "show", "dev", "chk0"]
  interval = "100ms"
  timeout  = "90ms"
  weight   = -60
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
  track_script "chk" { %s }
  track_interface "trk0" {
    weight = %d
  }
  notify {
    command = ["/bin/sh", "-c", "echo \"$*\" >> %s", "notify"]
  }
  garp {
    repeat = 1
    delay  = "0s"
  }
}

status {
  metrics_listen = ""
}
`

// TestVRRPTracking: a failing track script (then a tracked interface going
// down) lowers the master's effective priority below the backup's; the
// master advertises the lower priority at once, and the backup, which
// preempts, takes over; the script passing again gives the mastership
// back. Judged on the wire (the priorities in the adverts), from the
// status documents and from the notify command's arguments. A reload that
// changes the weight applies in place.
func TestVRRPTracking(t *testing.T) {
	l := newVRRPLab(t, "a", "b")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("b", "192.0.2.2/24")
	a, b := l.director("a"), l.director("b")
	// veth pairs: the script looks for chk0, trk0 is tracked.
	addPair := func(d *director, name, peer string) error {
		if err := d.host.AddLink(name, "type", "veth", "peer", "name", peer); err != nil {
			return err
		}
		return d.host.LinkUp(peer)
	}
	for _, d := range []*director{a, b} {
		if err := addPair(d, "chk0", "chk1"); err != nil {
			t.Fatal(err)
		}
		if err := addPair(d, "trk0", "trk1"); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(l.dir, "notify.log")
	cfg := l.config("track.hcl", fmt.Sprintf(trackConfig, "", -60, log))
	l.start(t, a, cfg)
	l.start(t, b, cfg)
	waitState(t, a, status.StateMaster, 5*time.Second)
	waitState(t, b, status.StateBackup, 5*time.Second)

	// takeover lowers a with lower(), checks b taking over with a's
	// lower priority on the wire, then raises a again with raise().
	takeover := func(t *testing.T, lower, raise func() error) {
		waitInstance(t, a, "VI_1", status.StateMaster, 2*time.Second)
		vrrpCap := l.lan.Capture(t, "ip proto 112")
		if err := lower(); err != nil {
			t.Fatal(err)
		}
		waitState(t, b, status.StateMaster, 3*time.Second)
		waitState(t, a, status.StateBackup, time.Second)
		if in := instance(t, a, "VI_1"); in.Priority != 150 || in.EffectivePriority != 90 {
			t.Errorf("a: priority %d, effective_priority %d; want 150 and 90", in.Priority, in.EffectivePriority)
		}
		waitAddr(t, b.host, "eth0", vip4, true, 2*time.Second)
		waitAddr(t, a.host, "eth0", vip4, false, 2*time.Second)
		ads := adverts(vrrpCap.Stop(), 51)
		lowered := firstAdvert(t, ads, "192.0.2.1")
		for _, ad := range ads {
			if ad.src == "192.0.2.1" && ad.prio == 90 {
				lowered = ad
				break
			}
		}
		if lowered.prio != 90 {
			t.Fatalf("no advert of a at priority 90 on the wire:\n%v", ads)
		}
		// b preempts when its Master_Down_Timer runs out: about
		// 3 × 100ms + Skew_Time after a's last advert at 150.
		var bFirst advert
		for _, ad := range ads {
			if ad.src == "192.0.2.2" && ad.prio == 100 {
				bFirst = ad
				break
			}
		}
		if bFirst.time.IsZero() {
			t.Fatalf("no advert of b at priority 100:\n%v", ads)
		}
		if gap := bFirst.time.Sub(lowered.time); gap < 250*time.Millisecond || gap > 600*time.Millisecond {
			t.Errorf("b took over %v after a's first advert at 90, want about a Master_Down_Interval (361ms)", gap)
		}

		if err := raise(); err != nil {
			t.Fatal(err)
		}
		waitState(t, a, status.StateMaster, 3*time.Second)
		waitState(t, b, status.StateBackup, time.Second)
		if in := instance(t, a, "VI_1"); in.EffectivePriority != 150 {
			t.Errorf("a: effective_priority %d after the recovery, want 150", in.EffectivePriority)
		}
	}
	t.Run("track script fails", func(t *testing.T) {
		takeover(t, func() error {
			_, err := a.host.Exec(t.Context(), "ip", "link", "del", "chk0")
			return err
		}, func() error { return addPair(a, "chk0", "chk1") })
	})
	t.Run("weighted interface down", func(t *testing.T) {
		takeover(t, func() error { return a.host.LinkDown("trk0") }, func() error { return a.host.LinkUp("trk0") })
	})
	t.Run("notify arguments", func(t *testing.T) {
		b, _ := os.ReadFile(log)
		for _, want := range []string{"INSTANCE VI_1 MASTER 150", "INSTANCE VI_1 BACKUP 90", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 BACKUP 100"} {
			if !strings.Contains(string(b), want+"\n") {
				t.Errorf("notify log has no %q:\n%s", want, b)
			}
		}
	})
	t.Run("reload of the weight", func(t *testing.T) {
		before := settledInstance(t, a, "VI_1", status.StateMaster, 2*time.Second).Transitions
		l.config("track.hcl", fmt.Sprintf(trackConfig, "weight = -20", -60, log))
		if out, code := lvsdCmd(t, l.bin, "reload", "--socket", a.socket); code != 0 {
			t.Fatalf("reload: exit %d: %s", code, out)
		}
		if _, err := a.host.Exec(t.Context(), "ip", "link", "del", "chk0"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for instance(t, a, "VI_1").EffectivePriority != 130 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		in := instance(t, a, "VI_1")
		if in.EffectivePriority != 130 || in.State != status.StateMaster || in.Transitions != before {
			t.Errorf("a after the reload and the script failing: %s at %d after %d transitions; want MASTER at 130, no transition (%d before)", in.State, in.EffectivePriority, in.Transitions, before)
		}
	})
	stopDirector(t, a)
	stopDirector(t, b)
}
