package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
)

// kaTrackConf is one director's keepalived.conf: a vrrp_script of weight
// -60 that succeeds while the director has a link called chk0, tracked by
// the instance, and the one-command notify. Verbs: router_id, priority,
// the notify script.
const kaTrackConf = `global_defs {
    router_id %s
    script_user root
    vrrp_version 3
}

vrrp_script chk {
    script "/usr/sbin/ip link show dev chk0"
    interval 0.1
    timeout 0.09
    weight -60
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.100/32
    }
    track_script {
        chk
    }
    notify %s
}
`

// TestKeepalivedTracking migrates a keepalived pair with a weighted track
// script and a notify command one director at a time: the two
// keepalived.conf files are converted with lvsd convert, and lvsd runs the
// result on one director against the original keepalived on the other,
// both ways. When the master's script fails, its adverts on the wire carry
// the effective priority (150 - 60 = 90), the other implementation takes
// over, and each side's notify command gets keepalived's arguments
// (INSTANCE VI_1 STATE PRIORITY); when it passes again the master takes
// the role back.
func TestKeepalivedTracking(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go", "keepalived")
	bin := buildLVSD(t)
	dir := t.TempDir()
	// The notify script logs the network namespace it ran in (so which
	// director) and its arguments.
	log := filepath.Join(dir, "notify.log")
	notify := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(notify, []byte("#!/bin/sh\necho \"$(ip netns identify) $*\" >> "+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	confs := map[string]string{}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		confs[name] = filepath.Join(dir, name+".conf")
		if err := os.WriteFile(confs[name], []byte(fmt.Sprintf(kaTrackConf, name, prio, notify)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hcl := filepath.Join(dir, "cluster.hcl")
	if out, code := lvsdCmd(t, bin, "convert", "-o", hcl, confs["a"], confs["b"]); code != 0 {
		t.Fatalf("lvsd convert: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(hcl); err != nil || !strings.Contains(string(b), "weight   = -60") {
		t.Fatalf("converted file without the script's weight (%v):\n%s", err, b)
	}

	for _, lvsdNode := range []string{"a", "b"} {
		t.Run("lvsd on "+lvsdNode, func(t *testing.T) {
			lan := lab.NewLAN(t, "a", "b")
			lan.AddAddr("a", "192.0.2.1/24")
			lan.AddAddr("b", "192.0.2.2/24")
			for _, h := range []string{"a", "b"} {
				if err := lan.Host(h).AddLink("chk0", "type", "veth", "peer", "name", "chk1"); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			d := &director{name: lvsdNode, host: lan.Host(lvsdNode), socket: filepath.Join(dir, lvsdNode+".sock")}
			kaNode := "b"
			if lvsdNode == "b" {
				kaNode = "a"
			}
			kaHost := lan.Host(kaNode)
			ka := kaHost.Start("keepalived", "--vrrp", "-n", "-l", "-f", confs[kaNode],
				"-p", filepath.Join(dir, "keepalived-"+kaNode+".pid"), "-r", filepath.Join(dir, "vrrp-"+kaNode+".pid"))
			startDirector(t, bin, hcl, d)
			ns := map[string]string{"a": lan.Host("a").NS, "b": lan.Host("b").NS}
			master, backup := lan.Host("a"), lan.Host("b")
			holds := func(h *lab.Host) bool { return holdsAddr(t, h, "eth0", vip4) }
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for !cond() {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within 5s (lvsd output:\n%s\nkeepalived output:\n%s)", what, d.proc.Output(), ka.Output())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			waitFor("a (150) master", func() bool { return holds(master) && !holds(backup) })
			time.Sleep(300 * time.Millisecond) // both settled: b has heard a
			waitFor("a still master", func() bool { return holds(master) && !holds(backup) })

			vrrpCap := lan.Capture(t, "ip proto 112")
			if _, err := master.Exec(t.Context(), "ip", "link", "del", "chk0"); err != nil {
				t.Fatal(err)
			}
			waitFor("b master after a's script failed", func() bool { return holds(backup) && !holds(master) })
			if lvsdNode == "a" {
				waitFor("lvsd's effective priority 90", func() bool { return instance(t, d, "VI_1").EffectivePriority == 90 })
			} else {
				waitState(t, d, status.StateMaster, time.Second)
			}
			time.Sleep(300 * time.Millisecond)
			ads := adverts(vrrpCap.Stop(), 51)
			var lowered, took advert
			for _, ad := range ads {
				if lowered.time.IsZero() && ad.src == "192.0.2.1" && ad.prio == 90 {
					lowered = ad
				}
				if took.time.IsZero() && ad.src == "192.0.2.2" && ad.prio == 100 {
					took = ad
				}
			}
			if lowered.time.IsZero() || took.time.IsZero() {
				t.Fatalf("want a's adverts at 90, then b's at 100, on the wire; got %v", ads)
			}
			gap := took.time.Sub(lowered.time)
			t.Logf("a's first advert at 90 to b's first at 100: %v", gap)
			if gap < 0 || gap > 600*time.Millisecond {
				t.Errorf("b took over %v after a's first advert at 90, want within about a Master_Down_Interval (361ms)", gap)
			}
			for _, ad := range ads {
				if ad.src == "192.0.2.1" && ad.time.After(took.time) && ad.prio != 90 {
					t.Errorf("a advertised %d after b took over, want 90 while its script fails", ad.prio)
					break
				}
			}

			if err := master.AddLink("chk0", "type", "veth", "peer", "name", "chk1"); err != nil {
				t.Fatal(err)
			}
			waitFor("a master again after its script passed", func() bool { return holds(master) && !holds(backup) })
			time.Sleep(300 * time.Millisecond) // the notify commands have run
			b, _ := os.ReadFile(log)
			t.Logf("notify log:\n%s", b)
			for _, want := range []string{
				ns["a"] + " INSTANCE VI_1 MASTER 150",
				ns["a"] + " INSTANCE VI_1 BACKUP 90",
				ns["b"] + " INSTANCE VI_1 MASTER 100",
				ns["b"] + " INSTANCE VI_1 BACKUP 100",
			} {
				if !strings.Contains(string(b), want+"\n") {
					t.Errorf("notify log has no %q:\n%s", want, b)
				}
			}
			stopDirector(t, d)
			if err := ka.Stop(3 * time.Second); err != nil {
				t.Errorf("stopping keepalived: %v", err)
			}
		})
	}
}
