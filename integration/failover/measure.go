package failover

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
)

// Filter is the observer's capture filter: adverts and ARP.
const Filter = "ip proto 112 or arp"

// Advert is one VRRP advertisement seen by the observer.
type Advert struct {
	Time     time.Time
	Src, Dst string
	Version  int
	VRID     int
	Priority int
}

// advertRE matches tcpdump's line for an IPv4 VRRP advert (-nn -tt -e).
var advertRE = regexp.MustCompile(`^\S+ \S+ > \S+, ethertype IPv4 \(0x0800\), length \d+: (\S+) > (\S+): VRRPv(\d), Advertisement, vrid (\d+), prio (\d+)`)

// ParseAdvert returns the advert a capture line shows, if it shows one.
func ParseAdvert(f lab.Frame) (Advert, bool) {
	m := advertRE.FindStringSubmatch(f.Text)
	if m == nil {
		return Advert{}, false
	}
	v, _ := strconv.Atoi(m[3])
	vrid, _ := strconv.Atoi(m[4])
	prio, _ := strconv.Atoi(m[5])
	return Advert{Time: f.Time, Src: m[1], Dst: m[2], Version: v, VRID: vrid, Priority: prio}, true
}

// IsGARP reports whether a capture line is a gratuitous ARP for the VIP sent
// from mac: a request whose sender and target are the VIP (keepalived adds
// the broadcast target hardware address in parentheses), or a reply
// announcing the VIP.
func IsGARP(f lab.Frame, mac string) bool {
	fields := strings.Fields(f.Text)
	if len(fields) < 2 || fields[1] != mac || !strings.Contains(f.Text, "ethertype ARP") {
		return false
	}
	return garpRE.MatchString(f.Text)
}

var garpRE = regexp.MustCompile(`Request who-has ` + regexp.QuoteMeta(VIP) + `( \([0-9a-f:]+\))? tell ` + regexp.QuoteMeta(VIP) + `,|Reply ` + regexp.QuoteMeta(VIP) + ` is-at `)

// Result is one measured failover.
type Result struct {
	Case   Case
	Signal syscall.Signal
	// Expected is the protocol's gap: Master_Down_Interval after SIGKILL,
	// Skew_Time after SIGTERM (counted from the priority-0 advert).
	Expected time.Duration
	// LastAdvert is the old master's last advert with a priority above 0
	// (SIGKILL), or its priority-0 advert (SIGTERM).
	LastAdvert time.Time
	// FirstAdvert and FirstGARP are the new master's first advert and
	// first gratuitous ARP for the VIP.
	FirstAdvert, FirstGARP time.Time
	// Gap is FirstAdvert − LastAdvert; GARPGap is FirstGARP − LastAdvert.
	Gap, GARPGap time.Duration
	// Frames is the capture around the failover, for failure messages.
	Frames []lab.Frame
}

// Check says how the result misses the protocol: a first advert off
// Expected by more than tol, a first GARP earlier than Expected − tol, or
// a first GARP more than garpLag after the first advert (or before it).
// The first GARP's own upper bound is the advert's plus garpLag: the GARP
// follows the advert, and holding it to tol as well would ask more of it
// than garpLag allows. nil means the result is within.
func (r Result) Check(tol, garpLag time.Duration) error {
	var errs []string
	if d := r.Gap - r.Expected; d > tol || d < -tol {
		errs = append(errs, fmt.Sprintf("advert gap %v, want %v ± %v (off by %v)", r.Gap, r.Expected, tol, d))
	}
	if d := r.GARPGap - r.Expected; d < -tol {
		errs = append(errs, fmt.Sprintf("GARP gap %v, want at least %v − %v (off by %v)", r.GARPGap, r.Expected, tol, d))
	}
	if d := r.GARPGap - r.Gap; d < 0 || d > garpLag {
		errs = append(errs, fmt.Sprintf("first GARP %v after the first advert, want 0..%v", d, garpLag))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s: %s", r.Case, signalName(r.Signal), strings.Join(errs, "; "))
}

// Failover stops the master with sig (SIGKILL: the whole process group at
// once; SIGTERM: a clean stop) and measures, on the observer's capture, the
// gap to the backup's first advert and first GARP. The pair must be
// elected.
func (p *Pair) Failover(t testing.TB, sig syscall.Signal) Result {
	t.Helper()
	c := p.Case
	res := Result{Case: c, Signal: sig, Expected: c.MasterDownInterval()}
	if sig == syscall.SIGTERM {
		res.Expected = c.SkewTime()
	}
	capture := p.LAN.Capture(t, Filter)
	// One advert of the master in the capture: the last one before the
	// stop is then surely in it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*c.Interval+5*time.Second)
	_, err := capture.Wait(ctx, func(f lab.Frame) bool {
		a, ok := ParseAdvert(f)
		return ok && a.Src == p.Master.Addr && a.Priority > 0
	})
	cancel()
	if err != nil {
		t.Fatalf("%s: no adverts of the master before the stop: %v\n%s", c, err, frameText(capture.Lines()))
	}
	switch sig {
	case syscall.SIGKILL:
		p.Master.Proc.Kill()
	case syscall.SIGTERM:
		if err := p.Master.Proc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("failover: unsupported signal %v", sig)
	}

	mac := p.Backup.Host.MAC()
	ctx, cancel = context.WithTimeout(context.Background(), res.Expected+5*time.Second)
	defer cancel()
	var sawAdvert, sawGARP bool
	_, err = capture.Wait(ctx, func(f lab.Frame) bool {
		if a, ok := ParseAdvert(f); ok && a.Src == p.Backup.Addr && a.Priority > 0 {
			sawAdvert = true
		}
		if IsGARP(f, mac) {
			sawGARP = true
		}
		return sawAdvert && sawGARP
	})
	if err != nil {
		t.Fatalf("%s %s: the backup did not take over (advert %v, GARP %v): %v\n%s", c, signalName(sig), sawAdvert, sawGARP, err, frameText(capture.Lines()))
	}
	if sig == syscall.SIGTERM {
		select {
		case <-p.Master.Proc.Done():
		case <-time.After(3 * time.Second):
			t.Errorf("%s: the master did not exit within 3 s of SIGTERM", c)
		}
	}
	res.Frames = capture.Stop()
	if err := res.measure(p, mac); err != nil {
		t.Fatalf("%v\n%s", err, frameText(res.Frames))
	}
	return res
}

// measure finds the reference frames in res.Frames.
func (res *Result) measure(p *Pair, backupMAC string) error {
	var takeover bool
	for _, f := range res.Frames {
		a, isAdvert := ParseAdvert(f)
		switch {
		case isAdvert && a.Src == p.Master.Addr && !takeover:
			if res.Signal == syscall.SIGKILL && a.Priority > 0 ||
				res.Signal == syscall.SIGTERM && a.Priority == 0 && res.LastAdvert.IsZero() {
				res.LastAdvert = f.Time
			}
		case isAdvert && a.Src == p.Backup.Addr && a.Priority > 0 && res.FirstAdvert.IsZero():
			res.FirstAdvert = f.Time
			takeover = true
		case IsGARP(f, backupMAC) && res.FirstGARP.IsZero():
			res.FirstGARP = f.Time
		}
	}
	switch {
	case res.LastAdvert.IsZero():
		return fmt.Errorf("%s %s: no reference advert of the old master", res.Case, signalName(res.Signal))
	case res.FirstAdvert.IsZero() || res.FirstGARP.IsZero():
		return fmt.Errorf("%s %s: no advert or no GARP of the new master", res.Case, signalName(res.Signal))
	}
	res.Gap = res.FirstAdvert.Sub(res.LastAdvert)
	res.GARPGap = res.FirstGARP.Sub(res.LastAdvert)
	return nil
}

// Steady is what the wire and the routers showed over a stretch of steady
// state.
type Steady struct {
	// Sources counts adverts with a priority above 0 by source address.
	Sources map[string]int
	// Transitions counts the state changes lvsd nodes reported in the
	// stretch, by node name.
	Transitions map[string]uint64
	// States are the nodes' states at the end, by node name.
	States map[string]string
}

// steadyErr says how the stretch was not the steady state of an elected
// pair: adverts from anyone but the master, or none, a state change, a
// state other than the expected one.
func (p *Pair) steadyErr(s Steady) error {
	var errs []string
	for src, n := range s.Sources {
		if src != p.Master.Addr {
			errs = append(errs, fmt.Sprintf("%d adverts from %s", n, src))
		}
	}
	if s.Sources[p.Master.Addr] == 0 {
		errs = append(errs, "no advert from the master "+p.Master.Addr)
	}
	for name, n := range s.Transitions {
		if n != 0 {
			errs = append(errs, fmt.Sprintf("%s changed state %d times", name, n))
		}
	}
	if st := s.States[p.Master.Name]; st != "MASTER" {
		errs = append(errs, fmt.Sprintf("master %s (%s) is %s", p.Master.Name, p.Master.Impl, st))
	}
	if st := s.States[p.Backup.Name]; st != "BACKUP" {
		errs = append(errs, fmt.Sprintf("backup %s (%s) is %s", p.Backup.Name, p.Backup.Impl, st))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: not steady: %s", p.Case, strings.Join(errs, "; "))
}

// Steady watches the elected pair for d and fails the test unless exactly
// the master advertised (adverts with a priority above 0 from one source),
// no lvsd node changed state meanwhile (transition counters), and the
// states at the end are still MASTER and BACKUP.
func (p *Pair) Steady(t testing.TB, d time.Duration) Steady {
	t.Helper()
	s := Steady{Sources: map[string]int{}, Transitions: map[string]uint64{}, States: map[string]string{}}
	before := map[string]uint64{}
	nodes := []*Node{p.Master, p.Backup}
	for _, n := range nodes {
		if n.Impl == LVSD {
			in, err := n.Status()
			if err != nil {
				t.Fatal(err)
			}
			before[n.Name] = in.Transitions
		}
	}
	capture := p.LAN.Capture(t, "ip proto 112")
	time.Sleep(d)
	for _, f := range capture.Stop() {
		if a, ok := ParseAdvert(f); ok && a.Priority > 0 {
			s.Sources[a.Src]++
		}
	}
	for _, n := range nodes {
		st, err := n.State()
		if err != nil {
			t.Fatal(err)
		}
		s.States[n.Name] = st
		if n.Impl == LVSD {
			in, err := n.Status()
			if err != nil {
				t.Fatal(err)
			}
			s.Transitions[n.Name] = in.Transitions - before[n.Name]
		}
	}
	if err := p.steadyErr(s); err != nil {
		t.Error(err)
	}
	return s
}

func frameText(fs []lab.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Text)
		b.WriteByte('\n')
	}
	return b.String()
}
