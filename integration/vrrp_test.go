package integration

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/vrrp"
)

// VRRP behaviour of real `lvsd run` processes on a lab LAN, judged from the
// status documents and from what an observer captures on the wire: election
// and its tie-break, preemption, announcements, FAULT, sync groups and
// hostile packets (RFC 5798 §6 and §7.1). Failover timing and
// interoperation with keepalived are tested elsewhere.

// pairConfig is one IPv4 instance between the nodes a and b. The first two
// verbs are their priorities, the third is extra attributes of the instance.
const pairConfig = `cluster = "vrrp"

node "a" {
  priority = %d
}
node "b" {
  priority = %d
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
%s
  garp {
    repeat = 1
    delay  = "0s"
  }
}

status {
  metrics_listen = ""
}
`

const vip4 = "192.0.2.100/32"

// TestVRRPElection: the higher priority wins; between equal priorities the
// higher primary address wins (RFC 5798 §6.4.3: a master that hears an equal
// priority from a greater address steps down, one that hears it from a
// smaller address keeps the role).
func TestVRRPElection(t *testing.T) {
	l := newVRRPLab(t, "a", "b")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("b", "192.0.2.2/24")
	a, b := l.director("a"), l.director("b")

	t.Run("higher priority wins", func(t *testing.T) {
		cfg := l.config("prio.hcl", fmt.Sprintf(pairConfig, 150, 100, ""))
		l.start(t, b, cfg)
		l.start(t, a, cfg)
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 5*time.Second)
		if got := instance(t, b, "VI_1").MasterAddress; got != "192.0.2.1" {
			t.Errorf("b: master_address = %q, want 192.0.2.1", got)
		}
		waitAddr(t, a.host, "eth0", vip4, true, 2*time.Second)
		if holdsAddr(t, b.host, "eth0", vip4) {
			t.Error("the backup b holds the VIP")
		}
		stopDirector(t, a)
		stopDirector(t, b)
	})

	// Two masters at once are what the tie-break is for: the one that was
	// master first is frozen (SIGSTOP) while the other takes over, then
	// thawed, still MASTER in its own eyes, with the other's adverts
	// waiting in its socket. Whichever of the two was frozen, b, the
	// greater address, must end up master: a thawed a steps down
	// (MASTER -> BACKUP), a thawed b keeps the role without a transition
	// and a steps down.
	cfg := l.config("tie.hcl", fmt.Sprintf(pairConfig, 100, 100, ""))
	for _, frozen := range []string{"a", "b"} {
		t.Run("equal priority, higher address wins, "+frozen+" frozen", func(t *testing.T) {
			first, second := a, b
			if frozen == "b" {
				first, second = b, a
			}
			l.start(t, first, cfg)
			waitState(t, first, status.StateMaster, 5*time.Second)
			l.start(t, second, cfg)
			waitState(t, second, status.StateBackup, 5*time.Second)
			// An equal priority from any address keeps a backup
			// backup (RFC 5798 §6.4.2): no preemption by address.
			time.Sleep(500 * time.Millisecond)
			waitState(t, second, status.StateBackup, time.Second)

			vrrpCap := l.lan.Capture(t, "ip proto 112")
			frozenBefore := settledInstance(t, first, "VI_1", status.StateMaster, time.Second).Transitions
			if err := first.proc.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			waitState(t, second, status.StateMaster, 5*time.Second)
			secondBefore := settledInstance(t, second, "VI_1", status.StateMaster, 2*time.Second).Transitions
			if err := first.proc.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			thawed := time.Now()
			waitState(t, b, status.StateMaster, 5*time.Second)
			waitState(t, a, status.StateBackup, 5*time.Second)
			time.Sleep(500 * time.Millisecond) // more than a Master_Down_Interval
			docA := waitState(t, a, status.StateBackup, time.Second)
			waitState(t, b, status.StateMaster, time.Second)
			if in, _ := findInstance(docA, "VI_1"); in.MasterAddress != "192.0.2.2" {
				t.Errorf("a: master_address = %q, want 192.0.2.2", in.MasterAddress)
			}
			// a: one step down; b: no transition at all.
			aFrom, bFrom := frozenBefore, secondBefore
			if frozen == "b" {
				aFrom, bFrom = secondBefore, frozenBefore
			}
			if got := settledInstance(t, a, "VI_1", status.StateBackup, time.Second).Transitions - aFrom; got != 1 {
				t.Errorf("a made %d transitions after both were master, want 1 (MASTER -> BACKUP)", got)
			}
			if got := settledInstance(t, b, "VI_1", status.StateMaster, time.Second).Transitions - bFrom; got != 0 {
				t.Errorf("b made %d transitions after both were master, want 0", got)
			}
			waitAddr(t, b.host, "eth0", vip4, true, 2*time.Second)
			waitAddr(t, a.host, "eth0", vip4, false, 2*time.Second)

			// On the wire: from the thaw on, a's adverts (if any got
			// out before it heard b) stop at once, b's go on.
			end := time.Now()
			var lastA, lastB time.Time
			for _, x := range adverts(capturedUntil(t, vrrpCap, end), 51) {
				switch {
				case x.time.Before(thawed) || x.time.After(end):
				case x.src == "192.0.2.1":
					lastA = x.time
				case x.src == "192.0.2.2":
					lastB = x.time
				}
			}
			if !lastA.IsZero() && lastA.Sub(thawed) > 500*time.Millisecond {
				t.Errorf("a still advertised %v after the thaw", lastA.Sub(thawed))
			}
			if end.Sub(lastB) > 500*time.Millisecond {
				t.Errorf("b's last advert was %v before the end, want adverts every 100ms", end.Sub(lastB))
			}
			stopDirector(t, a)
			stopDirector(t, b)
		})
	}
}

// TestVRRPPreemption: a higher-priority node that comes back takes over
// (Preempt_Mode true, the default), does not with preempt = false, and with
// preempt_delay only once the delay since its start has passed.
func TestVRRPPreemption(t *testing.T) {
	l := newVRRPLab(t, "a", "b")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("b", "192.0.2.2/24")
	a, b := l.director("a"), l.director("b")
	// Master_Down_Interval of a (priority 150) at 100 ms.
	mdi := vrrp.MasterDownInterval(150, 100*time.Millisecond)

	t.Run("restarted higher priority preempts", func(t *testing.T) {
		cfg := l.config("preempt.hcl", fmt.Sprintf(pairConfig, 150, 100, ""))
		l.start(t, a, cfg)
		l.start(t, b, cfg)
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 5*time.Second)
		a.proc.Kill()
		waitState(t, b, status.StateMaster, 5*time.Second)

		vrrpCap := l.lan.Capture(t, "ip proto 112")
		l.start(t, a, cfg)
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 5*time.Second)
		waitAddr(t, a.host, "eth0", vip4, true, 2*time.Second)
		waitAddr(t, b.host, "eth0", vip4, false, 2*time.Second)
		if _, err := vrrpCap.WaitMatch(3*time.Second, `192\.0\.2\.1 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51, prio 150,`); err != nil {
			t.Fatalf("no advert from a: %v", err)
		}
		takeover := firstAdvert(t, adverts(vrrpCap.Lines(), 51), "192.0.2.1")
		as := adverts(capturedUntil(t, vrrpCap, takeover.time.Add(500*time.Millisecond)), 51)
		if takeover.prio != 150 {
			t.Errorf("a's first advert has priority %d, want 150", takeover.prio)
		}
		// b yields on a's first advert; one of its own may cross it,
		// none may follow one interval later.
		for _, x := range as {
			if x.src == "192.0.2.2" && x.time.After(takeover.time.Add(100*time.Millisecond)) {
				t.Errorf("b still advertised at +%v after a took over", x.time.Sub(takeover.time))
			}
		}
		stopDirector(t, a)
		stopDirector(t, b)
	})

	t.Run("preempt false keeps the master", func(t *testing.T) {
		cfg := l.config("nopreempt.hcl", fmt.Sprintf(pairConfig, 150, 100, "  preempt         = false"))
		l.start(t, b, cfg)
		waitState(t, b, status.StateMaster, 5*time.Second)
		before := settledInstance(t, b, "VI_1", status.StateMaster, 2*time.Second)

		vrrpCap := l.lan.Capture(t, "ip proto 112")
		l.start(t, a, cfg)
		waitState(t, a, status.StateBackup, 5*time.Second)
		// Ample time for a Master_Down_Timer to run out several times.
		time.Sleep(4 * mdi)
		waitState(t, a, status.StateBackup, time.Second)
		after := instance(t, b, "VI_1")
		if after.State != status.StateMaster || after.Transitions != before.Transitions {
			t.Errorf("b: %s after %d transitions, want MASTER after %d", after.State, after.Transitions, before.Transitions)
		}
		if got := instance(t, a, "VI_1").MasterAddress; got != "192.0.2.2" {
			t.Errorf("a: master_address = %q, want 192.0.2.2", got)
		}
		if holdsAddr(t, a.host, "eth0", vip4) || !holdsAddr(t, b.host, "eth0", vip4) {
			t.Error("the VIP is not on b alone")
		}
		for _, x := range adverts(capturedUntil(t, vrrpCap, time.Now()), 51) {
			if x.src == "192.0.2.1" {
				t.Errorf("the backup a advertised: %+v", x)
			}
		}
		stopDirector(t, a)
		stopDirector(t, b)
	})

	t.Run("preempt_delay holds the takeover back", func(t *testing.T) {
		const delay = time.Second
		cfg := l.config("delay.hcl", fmt.Sprintf(pairConfig, 150, 100, `  preempt_delay   = "1s"`))
		l.start(t, b, cfg)
		waitState(t, b, status.StateMaster, 5*time.Second)

		vrrpCap := l.lan.Capture(t, "ip proto 112")
		l.start(t, a, cfg)
		// The delay runs from the moment a enters BACKUP at start-up;
		// status gives that moment as "since".
		started := settledInstance(t, a, "VI_1", status.StateBackup, 5*time.Second).Since
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 2*time.Second)
		if _, err := vrrpCap.WaitMatch(3*time.Second, `192\.0\.2\.1 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51, prio 150,`); err != nil {
			t.Fatalf("no advert from a: %v", err)
		}
		takeover := firstAdvert(t, adverts(vrrpCap.Lines(), 51), "192.0.2.1")
		took := takeover.time.Sub(started)
		t.Logf("a took over %v after entering BACKUP (delay %v, Master_Down_Interval %v)", took, delay, mdi)
		if took < delay {
			t.Errorf("a took over %v after start-up, before preempt_delay %v", took, delay)
		}
		// Without the delay the takeover is one Master_Down_Interval
		// after start-up; with it, at most one more after the delay.
		if limit := delay + mdi + time.Second; took > limit {
			t.Errorf("a took over %v after start-up, want at most %v", took, limit)
		}
		stopDirector(t, a)
		stopDirector(t, b)
	})
}

// announceConfig has an IPv4 and an IPv6 instance announcing in two bursts
// of three rounds, 100 ms apart, the second burst one second after the
// first.
const announceConfig = `cluster = "vrrp"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

vrrp_instance "VI_4" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat   = 3
    interval = "100ms"
    delay    = "1s"
  }
}

vrrp_instance "VI_6" {
  interface       = "eth0"
  vrid            = 53
  advert_interval = "100ms"
  virtual_ips     = ["2001:db8::100/128"]
  garp {
    repeat   = 3
    interval = "100ms"
    delay    = "1s"
  }
}

status {
  metrics_listen = ""
}
`

// TestVRRPAnnouncements: a new master announces its VIPs with gratuitous
// ARP (a request and a reply per round, sender = target = VIP, from its
// own MAC) and unsolicited NAs (Override, to ff02::1, hop limit 255), on
// the garp schedule, and a client that knew the old master's MAC learns the
// new one from them alone.
func TestVRRPAnnouncements(t *testing.T) {
	lab.RequireRoot(t, "busybox")
	l := newVRRPLab(t, "a", "b", "c")
	for host, n := range map[string]int{"a": 1, "b": 2, "c": 10} {
		l.lan.AddAddr(host, fmt.Sprintf("192.0.2.%d/24", n))
		l.lan.AddAddr(host, fmt.Sprintf("2001:db8::%d/64", n))
	}
	a, b := l.director("a"), l.director("b")
	c := l.lan.Host("c")
	cfg := l.config("announce.hcl", announceConfig)
	l.start(t, a, cfg)
	l.start(t, b, cfg)
	for _, name := range []string{"VI_4", "VI_6"} {
		waitInstance(t, a, name, status.StateMaster, 5*time.Second)
		waitInstance(t, b, name, status.StateBackup, 5*time.Second)
	}
	waitAddr(t, a.host, "eth0", vip4, true, 2*time.Second)
	waitAddr(t, a.host, "eth0", "2001:db8::100/128", true, 2*time.Second)

	// The client talks to the VIPs, so its neighbour table has a's MAC.
	c.MustExec(t, "busybox", "ping", "-c", "1", "-W", "2", "192.0.2.100")
	c.MustExec(t, "busybox", "ping6", "-c", "1", "-W", "2", "2001:db8::100")
	for _, vip := range []string{"192.0.2.100", "2001:db8::100"} {
		if n := c.MustExec(t, "ip", "neigh", "show", vip, "dev", "eth0"); !strings.Contains(n, "lladdr "+a.host.MAC()) {
			t.Fatalf("client's neighbour entry for %s is %q, want a's MAC %s", vip, n, a.host.MAC())
		}
	}
	// Let a's own second burst pass before watching b's.
	for _, name := range []string{"VI_4", "VI_6"} {
		if wait := time.Until(settledInstance(t, a, name, status.StateMaster, 2*time.Second).Since.Add(1600 * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
	}

	mac := b.host.MAC()
	hw := strings.ReplaceAll(mac, ":", "")
	// Everything that could be an announcement, and the subset that is
	// exactly right byte for byte, checked by the kernel's filter: ARP with
	// sender = target = 192.0.2.100 (0xc0000264) and sender MAC b's; NA
	// (type 136) with hop limit 255, Override, to ff02::1, target
	// 2001:db8::100 and b's MAC as target link-layer address (option 2).
	// Both captures also take the adverts, a clock that tells when
	// tcpdump has handed over everything up to a moment.
	all := l.lan.Capture(t, "arp or (icmp6 and ip6[40] = 136) or ip proto 112 or ip6 proto 112")
	strict := l.lan.Capture(t, fmt.Sprintf("(arp and arp[14:4] = 0xc0000264 and arp[24:4] = 0xc0000264 and arp[8:4] = 0x%s and arp[12:2] = 0x%s)"+
		" or (icmp6 and ip6[40] = 136 and ip6[7] = 255 and ip6[44] & 0x20 != 0 and dst host ff02::1"+
		" and ip6[48:4] = 0x20010db8 and ip6[52:4] = 0 and ip6[56:4] = 0 and ip6[60:4] = 0x100"+
		" and ip6[64] = 2 and ip6[66:4] = 0x%s and ip6[70:2] = 0x%s) or ip proto 112", hw[:8], hw[8:], hw[:8], hw[8:]))

	a.proc.Kill()
	for _, name := range []string{"VI_4", "VI_6"} {
		waitInstance(t, b, name, status.StateMaster, 5*time.Second)
	}
	takeover4, err := all.WaitMatch(3*time.Second, `192\.0\.2\.2 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51,`)
	if err != nil {
		t.Fatalf("no advert from b: %v", err)
	}
	takeover6, err := all.WaitMatch(3*time.Second, ` > ff02::12: VRRPv3, Advertisement, vrid 53, prio 100,`)
	if err != nil {
		t.Fatalf("no IPv6 advert from b: %v", err)
	}
	// The second burst ends 1.2 s after the takeover; 0.4 s more would
	// show a surplus round.
	end := takeover4.Time.Add(1600 * time.Millisecond)
	if takeover6.Time.After(takeover4.Time) {
		end = takeover6.Time.Add(1600 * time.Millisecond)
	}
	allFrames := capturedUntil(t, all, end)
	strictFrames := capturedUntil(t, strict, end)
	notAdvert := func(frames []lab.Frame) []lab.Frame {
		var out []lab.Frame
		for _, f := range frames {
			if !strings.Contains(f.Text, "VRRP") && !f.Time.After(end) {
				out = append(out, f)
			}
		}
		return out
	}
	strictFrames = notAdvert(strictFrames)

	announced := regexp.MustCompile(`Request who-has 192\.0\.2\.100 (\(\S+\) )?tell 192\.0\.2\.100,|Reply 192\.0\.2\.100 is-at |tgt is 2001:db8::100,`)
	var loose []lab.Frame
	for _, f := range notAdvert(allFrames) {
		if announced.MatchString(f.Text) {
			loose = append(loose, f)
		}
	}
	if len(loose) != len(strictFrames) {
		t.Errorf("%d announcements on the wire, %d of them well-formed from b:\nall:\n%s\nwell-formed:\n%s",
			len(loose), len(strictFrames), frameText(loose), frameText(strictFrames))
	}
	for _, f := range strictFrames {
		if !strings.Contains(f.Text, " "+mac+" > ") {
			t.Errorf("announcement not from b's MAC %s: %s", mac, f.Text)
		}
	}

	var requests, replies, nas []time.Time
	for _, f := range strictFrames {
		switch {
		case strings.Contains(f.Text, "Request who-has"):
			requests = append(requests, f.Time)
		case strings.Contains(f.Text, "Reply "):
			replies = append(replies, f.Time)
		case strings.Contains(f.Text, "neighbor advertisement"):
			nas = append(nas, f.Time)
		}
	}
	if len(requests) != 6 || len(replies) != 6 {
		t.Errorf("%d ARP requests and %d replies, want 6 and 6 (two bursts of 3 rounds)\n%s", len(requests), len(replies), frameText(strictFrames))
	}
	if len(nas) != 6 {
		t.Errorf("%d neighbour advertisements, want 6 (two bursts of 3)\n%s", len(nas), frameText(strictFrames))
	}
	// The schedule runs from the takeover, which b's first advert marks.
	checkSchedule(t, "gratuitous ARP", requests, takeover4.Time)
	checkSchedule(t, "unsolicited NA", nas, takeover6.Time)

	// The client learnt b's MAC from the announcements alone: it sent
	// nothing to the VIPs since the ping.
	for _, vip := range []string{"192.0.2.100", "2001:db8::100"} {
		if n := c.MustExec(t, "ip", "neigh", "show", vip, "dev", "eth0"); !strings.Contains(n, "lladdr "+mac) {
			t.Errorf("client's neighbour entry for %s after the failover is %q, want b's MAC %s", vip, n, mac)
		}
	}
	stopDirector(t, b)
}

// checkSchedule checks six announcement rounds against the garp block of
// announceConfig: rounds 100 ms apart from the takeover, then again from
// one second after it. A timer never fires early, so each round is no
// earlier than due (less a little for the anchor, the takeover advert,
// which leaves just before the announcer starts); a loaded machine may make
// it late, within bounds.
func checkSchedule(t *testing.T, what string, rounds []time.Time, takeover time.Time) {
	t.Helper()
	if len(rounds) != 6 {
		return // reported by the caller
	}
	const early, late = 10 * time.Millisecond, 300 * time.Millisecond
	offs := make([]string, len(rounds))
	for i, at := range rounds {
		offs[i] = at.Sub(takeover).Round(time.Millisecond).String()
	}
	t.Logf("%s rounds after the takeover: %s", what, strings.Join(offs, " "))
	for i, at := range rounds {
		due := time.Duration(i%3) * 100 * time.Millisecond
		if i >= 3 {
			due += time.Second
		}
		off := at.Sub(takeover)
		if off < due-early || off > due+late {
			t.Errorf("%s round %d at +%v after the takeover, due at +%v", what, i, off, due)
		}
		if i%3 > 0 {
			if gap := at.Sub(rounds[i-1]); gap < 50*time.Millisecond {
				t.Errorf("%s rounds %d and %d only %v apart, want about 100ms", what, i-1, i, gap)
			}
		}
	}
}

func frameText(frames []lab.Frame) string {
	var b strings.Builder
	for _, f := range frames {
		b.WriteString(f.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestVRRPFault: the VRRP interface or a tracked interface going down puts
// the instance in FAULT without its VIP, and the peer takes over; up again,
// the instance returns to BACKUP (and to MASTER by preemption).
func TestVRRPFault(t *testing.T) {
	l := newVRRPLab(t, "a", "b")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("b", "192.0.2.2/24")
	inside := l.lan.NewLAN("a", "b")
	inside.AddAddr("a", "198.51.100.1/24")
	inside.AddAddr("b", "198.51.100.2/24")
	if got := inside.Iface("a"); got != "eth1" {
		t.Fatalf("a's second interface is %s, want eth1", got)
	}
	a, b := l.director("a"), l.director("b")
	cfg := l.config("fault.hcl", fmt.Sprintf(pairConfig, 150, 100, `  track_interfaces = ["eth1"]`))
	l.start(t, a, cfg)
	l.start(t, b, cfg)
	waitState(t, a, status.StateMaster, 5*time.Second)
	waitState(t, b, status.StateBackup, 5*time.Second)

	// faultCycle breaks the master's link, checks the takeover, repairs
	// it and checks that a came back through BACKUP to MASTER.
	faultCycle := func(t *testing.T, down, up func() error) {
		before := settledInstance(t, a, "VI_1", status.StateMaster, 2*time.Second).Transitions
		waitAddr(t, a.host, "eth0", vip4, true, 2*time.Second)
		if err := down(); err != nil {
			t.Fatal(err)
		}
		waitState(t, a, status.StateFault, 3*time.Second)
		waitAddr(t, a.host, "eth0", vip4, false, 2*time.Second)
		waitState(t, b, status.StateMaster, 3*time.Second)
		waitAddr(t, b.host, "eth0", vip4, true, 2*time.Second)
		if err := up(); err != nil {
			t.Fatal(err)
		}
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 3*time.Second)
		waitAddr(t, a.host, "eth0", vip4, true, 2*time.Second)
		waitAddr(t, b.host, "eth0", vip4, false, 2*time.Second)
		// MASTER -> FAULT -> BACKUP -> MASTER.
		if got := settledInstance(t, a, "VI_1", status.StateMaster, 2*time.Second).Transitions - before; got != 3 {
			t.Errorf("a made %d transitions, want 3 (FAULT, BACKUP, MASTER)", got)
		}
	}

	t.Run("VRRP interface down on the master", func(t *testing.T) {
		faultCycle(t, func() error { return a.host.LinkDown("eth0") }, func() error { return a.host.LinkUp("eth0") })
	})
	t.Run("tracked interface down on the master", func(t *testing.T) {
		faultCycle(t, func() error { return a.host.LinkDown("eth1") }, func() error { return a.host.LinkUp("eth1") })
	})
	t.Run("tracked interface loses carrier on the master", func(t *testing.T) {
		faultCycle(t, func() error { return inside.Unplug("a") }, func() error { return inside.Plug("a") })
	})

	t.Run("VRRP interface down on the backup", func(t *testing.T) {
		masterBefore := settledInstance(t, a, "VI_1", status.StateMaster, 2*time.Second).Transitions
		if err := b.host.LinkDown("eth0"); err != nil {
			t.Fatal(err)
		}
		waitState(t, b, status.StateFault, 3*time.Second)
		if err := b.host.LinkUp("eth0"); err != nil {
			t.Fatal(err)
		}
		waitState(t, b, status.StateBackup, 3*time.Second)
		time.Sleep(500 * time.Millisecond) // more than a Master_Down_Interval
		waitState(t, b, status.StateBackup, time.Second)
		if holdsAddr(t, b.host, "eth0", vip4) {
			t.Error("b holds the VIP in BACKUP")
		}
		if got := instance(t, a, "VI_1"); got.State != status.StateMaster || got.Transitions != masterBefore {
			t.Errorf("a: %s after %d transitions, want MASTER after %d", got.State, got.Transitions, masterBefore)
		}
	})
	stopDirector(t, a)
	stopDirector(t, b)
}

// syncConfig is a NAT director's pair of instances: outside on eth0,
// inside on eth1, in one sync group.
const syncConfig = `cluster = "vrrp"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

vrrp_instance "VI_OUT" {
  interface       = "eth0"
  vrid            = 61
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
}

vrrp_instance "VI_IN" {
  interface       = "eth1"
  vrid            = 62
  advert_interval = "100ms"
  virtual_ips     = ["198.51.100.100/32"]
}

vrrp_sync_group "G" {
  instances = ["VI_OUT", "VI_IN"]
}

status {
  metrics_listen = ""
}
`

// TestVRRPSyncGroup: one member's link going down on the master moves both
// members, and both VIPs, to the peer; up again, both come back.
func TestVRRPSyncGroup(t *testing.T) {
	l := newVRRPLab(t, "a", "b")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("b", "192.0.2.2/24")
	inside := l.lan.NewLAN("a", "b")
	inside.AddAddr("a", "198.51.100.1/24")
	inside.AddAddr("b", "198.51.100.2/24")
	a, b := l.director("a"), l.director("b")
	cfg := l.config("sync.hcl", syncConfig)
	l.start(t, a, cfg)
	l.start(t, b, cfg)
	members := []struct{ name, ifname, vip string }{
		{"VI_OUT", "eth0", "192.0.2.100/32"},
		{"VI_IN", "eth1", "198.51.100.100/32"},
	}
	where := func(t *testing.T, master, backup *director, masterState string) {
		t.Helper()
		for _, m := range members {
			waitInstance(t, master, m.name, masterState, 5*time.Second)
		}
		for _, m := range members {
			waitInstance(t, backup, m.name, status.StateBackup, 5*time.Second)
		}
		for _, m := range members {
			waitAddr(t, master.host, m.ifname, m.vip, masterState == status.StateMaster, 2*time.Second)
			waitAddr(t, backup.host, m.ifname, m.vip, false, 2*time.Second)
		}
	}
	where(t, a, b, status.StateMaster)

	for _, broken := range members {
		t.Run(broken.ifname+" down moves the group", func(t *testing.T) {
			if err := a.host.LinkDown(broken.ifname); err != nil {
				t.Fatal(err)
			}
			// Both of a's members in FAULT (one held by the group),
			// both of b's MASTER, both VIPs on b.
			for _, m := range members {
				waitInstance(t, a, m.name, status.StateFault, 3*time.Second)
				waitInstance(t, b, m.name, status.StateMaster, 3*time.Second)
			}
			for _, m := range members {
				waitAddr(t, b.host, m.ifname, m.vip, true, 2*time.Second)
				waitAddr(t, a.host, m.ifname, m.vip, false, 2*time.Second)
			}
			if err := a.host.LinkUp(broken.ifname); err != nil {
				t.Fatal(err)
			}
			where(t, a, b, status.StateMaster)
		})
	}
	stopDirector(t, a)
	stopDirector(t, b)
}

// hostileConfig is a lone director, master of VRIDs 51 and 52 at priority
// 100 on one interface.
const hostileConfig = `cluster = "vrrp"

node "a" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat = 1
    delay  = "0s"
  }
}

vrrp_instance "VI_2" {
  interface       = "eth0"
  vrid            = 52
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.101/32"]
  garp {
    repeat = 1
    delay  = "0s"
  }
}

status {
  metrics_listen = ""
}
`

// TestVRRPHostilePackets: packets a running master must drop (RFC 5798
// §7.1), sent from a third host on the segment, are each counted under
// their reason in `lvsd status --json` and change nothing, even those that
// claim priority 255; the same sender's well-formed advert is obeyed, which
// shows the drops come from the checks and not from the way of sending.
// Each packet is counted once, by the instance of the VRID it names (VI_1,
// although VI_2 shares the socket), or by the interface when no instance
// there runs its VRID or it has none readable.
func TestVRRPHostilePackets(t *testing.T) {
	l := newVRRPLab(t, "a", "x")
	l.lan.AddAddr("a", "192.0.2.1/24")
	l.lan.AddAddr("x", "192.0.2.66/24")
	a := l.director("a")
	x := l.lan.Host("x")
	l.start(t, a, l.config("hostile.hcl", hostileConfig))
	settledInstance(t, a, "VI_1", status.StateMaster, 5*time.Second)

	src := netip.MustParseAddr("192.0.2.66")
	group := vrrp.MulticastGroup(false)
	advert := func(version int, vrid, prio uint8) []byte {
		t.Helper()
		ad := vrrp.Advert{Version: version, VRID: vrid, Priority: prio, MaxAdvertInterval: 100 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		if version == 2 {
			ad.MaxAdvertInterval = time.Second
		}
		b, err := ad.Marshal(src, group)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// patch changes a valid priority-255 advert and fixes its checksum, so
	// only the change is wrong.
	patch := func(f func(b []byte)) []byte {
		b := advert(3, 51, 255)
		f(b)
		vrrpChecksum(b, src, group)
		return b
	}
	garbage := make([]byte, 40)
	rng := rand.New(rand.NewPCG(5798, 112))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}

	cases := []struct {
		name    string
		ttl     uint8
		payload []byte
		counter string // "VI_1/reason" or "eth0/reason"; "" for any one
	}{
		{"TTL 64", 64, advert(3, 51, 255), "VI_1/ttl"},
		{"priority 255 with TTL 1", 1, advert(3, 51, 255), "VI_1/ttl"},
		{"bad checksum", 255, func() []byte { b := advert(3, 51, 255); b[6] ^= 0xff; return b }(), "VI_1/checksum"},
		{"wrong VRID", 255, advert(3, 99, 255), "eth0/vrid"},
		{"bad checksum, VRID nobody runs", 255, func() []byte { b := advert(3, 99, 255); b[6] ^= 0xff; return b }(), "eth0/checksum"},
		{"truncated to 4 bytes", 255, advert(3, 51, 255)[:4], "VI_1/length"},
		{"truncated inside an address", 255, advert(3, 51, 255)[:10], "VI_1/length"},
		{"truncated to 1 byte, no VRID", 255, advert(3, 51, 255)[:1], "eth0/length"},
		{"version 2 to a version 3 instance", 255, advert(2, 51, 255), "VI_1/version"},
		{"version 4", 255, patch(func(b []byte) { b[0] = 0x41 }), "eth0/version"},
		{"address count larger than the payload", 255, patch(func(b []byte) { b[3] = 5 }), "VI_1/addr_count"},
		{"no address, count 0 (RFC 5798 §5.2.5)", 255, func() []byte {
			b := advert(3, 51, 254)[:8]
			b[3] = 0
			vrrpChecksum(b, src, group)
			return b
		}(), "VI_1/addr_count"},
		{"type 2", 255, patch(func(b []byte) { b[0] = 0x32 }), "VI_1/type"},
		{"interval 0", 255, patch(func(b []byte) { b[4], b[5] = 0, 0 }), "VI_1/interval"},
		{"random garbage", 255, garbage, ""},
	}
	base := instanceJSON(t, l, a)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, beforeDrops := dropCounters(t, l, a)
			before := instanceJSON(t, l, a)
			if err := sendVRRPv4(x, "eth0", src, group, tc.ttl, tc.payload); err != nil {
				t.Fatal(err)
			}
			afterDrops := waitDrops(t, l, a, sumCounters(beforeDrops)+1)
			after := instanceJSON(t, l, a)
			if tc.counter != "" {
				if got, want := afterDrops[tc.counter], beforeDrops[tc.counter]+1; got != want {
					t.Errorf("%s = %d, want %d; counters = %v", tc.counter, got, want, nonZero(afterDrops))
				}
			}
			if got := sumCounters(afterDrops); got != sumCounters(beforeDrops)+1 {
				t.Errorf("%d drops counted for one packet: %v", got-sumCounters(beforeDrops), nonZero(afterDrops))
			}
			if after.State != status.StateMaster || after.Transitions != before.Transitions {
				t.Errorf("state %s after %d transitions, want MASTER after %d", after.State, after.Transitions, before.Transitions)
			}
			if after.AdvertsReceived != before.AdvertsReceived {
				t.Errorf("adverts_received went from %d to %d", before.AdvertsReceived, after.AdvertsReceived)
			}
		})
	}

	// Nothing took effect late either: a whole Master_Down_Interval on,
	// a is still the unchallenged master.
	time.Sleep(500 * time.Millisecond)
	end := instanceJSON(t, l, a)
	if end.State != status.StateMaster || end.Transitions != base.Transitions || end.MasterAddress != "192.0.2.1" {
		t.Errorf("after the hostile packets: %s, %d transitions, master %q; want MASTER, %d, 192.0.2.1",
			end.State, end.Transitions, end.MasterAddress, base.Transitions)
	}
	if !holdsAddr(t, a.host, "eth0", vip4) {
		t.Error("a lost its VIP to hostile packets")
	}

	// A well-formed advert with less is another router acting as master
	// (it missed a's): a stays master, answers at once with an advert and
	// announces the VIP again, so the segment's traffic comes back from a
	// router that gives the VIP up without announcing anything. A second
	// one inside a Master_Down_Interval gets no second announcement.
	t.Run("a lower-priority master is answered with an advert and an announcement", func(t *testing.T) {
		seen := l.lan.Capture(t, "arp or ip proto 112")
		before := instanceJSON(t, l, a)
		if err := sendVRRPv4(x, "eth0", src, group, 255, advert(3, 51, 50)); err != nil {
			t.Fatal(err)
		}
		heard, err := seen.WaitMatch(2*time.Second, `192\.0\.2\.66 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51, prio 50,`)
		if err != nil {
			t.Fatalf("the injected advert was not captured: %v", err)
		}
		garp, err := seen.WaitMatch(2*time.Second, regexp.QuoteMeta(a.host.MAC())+`.*(Request who-has 192\.0\.2\.100 (\(\S+\) )?tell 192\.0\.2\.100|Reply 192\.0\.2\.100 is-at)`)
		if err != nil {
			t.Fatalf("a did not announce the VIP after hearing a lower-priority master: %v", err)
		}
		if d := garp.Time.Sub(heard.Time); d > 50*time.Millisecond {
			t.Errorf("a announced the VIP %v after the lower-priority advert, want at once", d)
		}
		announcements := func() int {
			n := 0
			for _, f := range seen.Lines() {
				if strings.Contains(f.Text, "ARP") && strings.Contains(f.Text, "192.0.2.100") && f.Time.After(heard.Time) {
					n++
				}
			}
			return n
		}
		time.Sleep(100 * time.Millisecond)
		first := announcements()
		// Again at once: no second announcement for the next
		// Master_Down_Interval (about 360 ms at priority 100).
		if err := sendVRRPv4(x, "eth0", src, group, 255, advert(3, 51, 50)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if n := announcements(); n != first {
			t.Errorf("%d frames announcing the VIP after the second lower-priority advert, %d after the first; want no more", n, first)
		}
		after := instanceJSON(t, l, a)
		if after.State != status.StateMaster || after.Transitions != before.Transitions {
			t.Errorf("state %s after %d transitions, want MASTER after %d", after.State, after.Transitions, before.Transitions)
		}
	})

	t.Run("a well-formed advert from the same sender is obeyed", func(t *testing.T) {
		before := instanceJSON(t, l, a)
		if err := sendVRRPv4(x, "eth0", src, group, 255, advert(3, 51, 255)); err != nil {
			t.Fatal(err)
		}
		doc := waitState(t, a, status.StateBackup, 3*time.Second)
		in, _ := findInstance(doc, "VI_1")
		if in.MasterAddress != "192.0.2.66" || in.AdvertsReceived != before.AdvertsReceived+1 {
			t.Errorf("a: master %q, %d adverts received; want 192.0.2.66, %d", in.MasterAddress, in.AdvertsReceived, before.AdvertsReceived+1)
		}
		if sumDropped(in) != sumDropped(before) {
			t.Errorf("the well-formed advert was dropped: %v", in.Dropped)
		}
		// x never speaks again: a takes the role back.
		waitState(t, a, status.StateMaster, 3*time.Second)
	})
	stopDirector(t, a)
}

// instanceJSON is VI_1 from `lvsd status --json`.
func instanceJSON(t *testing.T, l *vrrpLab, d *director) status.Instance {
	t.Helper()
	in, ok := findInstance(statusJSON(t, l.bin, d), "VI_1")
	if !ok {
		t.Fatalf("%s: no VI_1 in lvsd status --json", d.name)
	}
	return in
}

// dropCounters reads every drop counter of `lvsd status --json`, each
// instance's as "NAME/reason" and each interface's as "IFACE/reason", and
// returns the document with them.
func dropCounters(t *testing.T, l *vrrpLab, d *director) (status.Document, map[string]uint64) {
	t.Helper()
	doc := statusJSON(t, l.bin, d)
	out := make(map[string]uint64)
	for _, in := range doc.VRRPInstances {
		for r, n := range in.Dropped {
			out[in.Name+"/"+r] += n
		}
	}
	for _, f := range doc.VRRPInterfaces {
		for r, n := range f.Dropped {
			out[f.Interface+"/"+r] += n
		}
	}
	return doc, out
}

func sumCounters(c map[string]uint64) uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

func nonZero(c map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64)
	for k, v := range c {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// waitDrops polls `lvsd status --json` until its instances and interfaces
// have counted at least n drops in all, and returns the counters.
func waitDrops(t *testing.T, l *vrrpLab, d *director, n uint64) map[string]uint64 {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, c := dropCounters(t, l, d)
		if sumCounters(c) >= n || time.Now().After(deadline) {
			if sumCounters(c) < n {
				t.Fatalf("%s: %d drops counted, want %d: %v", d.name, sumCounters(c), n, nonZero(c))
			}
			// A little longer, so a packet counted twice shows.
			time.Sleep(100 * time.Millisecond)
			_, c = dropCounters(t, l, d)
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
}
