package integration

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/failover"
	"github.com/lvsd/lvsd/integration/lab"
)

// lvsd and Debian's keepalived in one virtual router (a keepalived
// cluster migrates one director at a time): for VRRPv2 with a password and
// VRRPv3, over multicast and unicast, the higher priority wins whichever
// implementation has it, the pair stays put (one master's adverts on the
// wire, no state change), and each takes over from the other after
// Master_Down_Interval when the other is killed.

// steadyFor is how long the elected pair is watched for flapping: 20
// adverts at 100 ms, 3 at 1 s.
func steadyFor(c failover.Case) time.Duration {
	if c.Interval >= time.Second {
		return 3 * c.Interval
	}
	return 2 * time.Second
}

func TestKeepalivedInterop(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go", "keepalived")
	bin := buildLVSD(t)
	for _, proto := range []failover.Case{
		{Version: 3, Interval: 100 * time.Millisecond},
		{Version: 3, Interval: 100 * time.Millisecond, Unicast: true},
		{Version: 2, Interval: time.Second, AuthPass: "secret1"},
		{Version: 2, Interval: time.Second, AuthPass: "secret1", Unicast: true},
	} {
		for _, winner := range []failover.Impl{failover.LVSD, failover.Keepalived} {
			c := proto
			c.Master, c.Backup = failover.LVSD, failover.Keepalived
			if winner == failover.Keepalived {
				c.Master, c.Backup = failover.Keepalived, failover.LVSD
			}
			t.Run(c.String(), func(t *testing.T) {
				if c.Version == 2 {
					// Seconds of idle waiting each: run the
					// version 2 pairs together, after the
					// sub-second ones.
					t.Parallel()
				}
				steady := func(p *failover.Pair) {
					s := p.Steady(t, steadyFor(c))
					t.Logf("steady: adverts by source %v, lvsd transitions %v", s.Sources, s.Transitions)
				}
				p, r := failoverWithin(t, bin, c, syscall.SIGKILL, failover.Tolerance(c.MasterDownInterval()), steady)
				t.Logf("%s killed: %s took over after %v (GARP %v), Master_Down_Interval %v",
					c.Master, c.Backup, r.Gap, r.GARPGap, r.Expected)
				checkTookOver(t, p)
			})
		}
	}
}

// TestKeepalivedFailoverComparison measures in one run the four pairings of
// lvsd and keepalived at VRRPv3 100 ms: each gap must be the protocol's,
// and lvsd's must match keepalived's own within the same tolerance.
func TestKeepalivedFailoverComparison(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go", "keepalived")
	bin := buildLVSD(t)
	gaps := map[[2]failover.Impl]time.Duration{}
	var expected time.Duration
	pairings := [][2]failover.Impl{
		{failover.Keepalived, failover.Keepalived},
		{failover.LVSD, failover.LVSD},
		{failover.Keepalived, failover.LVSD},
		{failover.LVSD, failover.Keepalived},
	}
	for _, pair := range pairings {
		c := failover.Case{Master: pair[0], Backup: pair[1], Version: 3, Interval: 100 * time.Millisecond}
		t.Run(c.String(), func(t *testing.T) {
			_, r := failoverWithin(t, bin, c, syscall.SIGKILL, failover.Tolerance(c.MasterDownInterval()), nil)
			if !t.Failed() {
				gaps[pair], expected = r.Gap, r.Expected
			}
		})
	}
	ref, ok := gaps[pairings[0]]
	if !ok {
		t.Fatal("no keepalived-to-keepalived measurement to compare with")
	}
	tol := failover.Tolerance(expected)
	for _, pair := range pairings[1:] {
		gap, ok := gaps[pair]
		if !ok {
			continue // its subtest failed
		}
		name := fmt.Sprintf("%s→%s", pair[0], pair[1])
		t.Logf("%-22s %v (keepalived→keepalived %v, Master_Down_Interval %v)", name, gap, ref, expected)
		if d := gap - ref; d > tol || d < -tol {
			t.Errorf("%s: gap %v, keepalived's own %v: off by %v, more than %v", name, gap, ref, d, tol)
		}
	}
}
