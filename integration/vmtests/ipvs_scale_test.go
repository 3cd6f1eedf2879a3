//go:build vm

package vmtests

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/ipvs"
)

// scaleTable is a table of n NAT services with dests(i) real servers
// each: 250 ports on each of consecutive VIPs from 192.0.2.1, real
// servers from 198.51.100.1 on the service's port.
func scaleTable(t testing.TB, n int, dests func(i int) int) []ipvs.Service {
	t.Helper()
	if n > 250*250 {
		t.Fatalf("at most %d services, not %d", 250*250, n)
	}
	svcs := make([]ipvs.Service, 0, n)
	for i := 0; i < n; i++ {
		port := uint16(10000 + i%250)
		s := ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i/250)}), port)},
			Scheduler:  "wlc",
			Netmask:    32,
		}
		nd := dests(i)
		if nd > 250 {
			t.Fatalf("at most 250 real servers per service, not %d", nd)
		}
		for j := 0; j < nd; j++ {
			s.Destinations = append(s.Destinations, ipvs.Destination{
				Addr:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + j)}), port),
				Forward: ipvs.Masquerade,
				Weight:  1 + (i+j)%5,
			})
		}
		svcs = append(svcs, s)
	}
	return svcs
}

// cloneTable copies a table deeply enough to edit destinations.
func cloneTable(svcs []ipvs.Service) []ipvs.Service {
	out := slices.Clone(svcs)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
	}
	return out
}

// scaleDirector is a namespace with a route to the real servers of
// scaleTable: IPVS refuses a destination it has no route to.
func scaleDirector(t *testing.T) *lab.Host {
	t.Helper()
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "d")
	lan.AddAddr("d", "198.51.100.254/24")
	return lan.Host("d")
}

// rounds records the end of each reconcile round.
type rounds chan time.Duration

func (r rounds) ObserveReconcile(d time.Duration) {
	select {
	case r <- d:
	default:
	}
}

func (rounds) IPVSOps(string, int) {}

// wait returns the duration of the next round, failing after within.
func (r rounds) wait(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	select {
	case d := <-r:
		return d
	case <-time.After(within):
		t.Fatalf("no reconcile round within %v", within)
		return 0
	}
}

// drain forgets the rounds recorded so far.
func (r rounds) drain() {
	for {
		select {
		case <-r:
		default:
			return
		}
	}
}

// TestIPVSScaleOneChangeOneRequest programs 5,000 services of two to four
// real servers each through the reconciler, then changes one real server
// at a time: each change must reach the kernel as exactly one netlink
// request, whatever the size of the table, and ipvsadm must see it.
func TestIPVSScaleOneChangeOneRequest(t *testing.T) {
	vm.RequireGuest(t)
	d := scaleDirector(t)
	c := dialIPVS(t, d)
	table := scaleTable(t, 5000, func(i int) int { return 2 + i%3 })

	rec := make(rounds, 16)
	start := time.Now()
	// An hour: no periodic dump may add requests to the counts below.
	r := startReconciler(t, c, reconcile.Settings{Interval: time.Hour}, slog.LevelWarn, table, reconcile.WithMetrics(rec))
	took := rec.wait(t, time.Second)
	t.Logf("5000 services, %d real servers programmed in %v (first round %v), %d requests",
		countDests(table), time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond), c.Requests())
	if diff := cmp.Diff(saveOf(t, table), d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n after the cold start (-want +got):\n%s", diff)
	}

	const svc = 2500 // 192.0.2.11:10000, three real servers
	server := table[svc].Destinations[1].Addr
	if w := table[svc].Destinations[1].Weight; w != 2 {
		t.Fatalf("%s of %s has weight %d, want 2: the steps below assume it", server, table[svc].ServiceKey, w)
	}
	last := table
	// Each step edits the cold-start table, so the last one restores it.
	for _, step := range []struct {
		name string
		edit func(s *ipvs.Service)
	}{
		{"weight 2 to 5", func(s *ipvs.Service) { s.Destinations[1].Weight = 5 }},
		{"server removed", func(s *ipvs.Service) { s.Destinations = slices.Delete(s.Destinations, 1, 2) }},
		{"server back", func(*ipvs.Service) {}},
	} {
		want := cloneTable(table)
		step.edit(&want[svc])
		before := c.Requests()
		rec.drain()
		r.SetDesired(want)
		took := rec.wait(t, 30*time.Second)
		if got := c.Requests() - before; got != 1 {
			t.Errorf("%s (%s of %s): %d netlink requests, want 1", step.name, server, want[svc].ServiceKey, got)
		}
		t.Logf("%s: round took %v", step.name, took.Round(time.Microsecond))
		// ipvsadm -S cannot list one service, and listing 20,000 rules
		// takes seconds under emulation: ask for the changed service only.
		if diff := cmp.Diff(listDests(want[svc]), parseListDests(d.MustExec(t, "ipvsadm", "-L", "-n", "-t", want[svc].Addr.String()))); diff != "" {
			t.Errorf("%s: ipvsadm -L -n -t %s (-want +got):\n%s", step.name, want[svc].Addr, diff)
		}
		last = want
	}
	if diff := cmp.Diff(saveOf(t, last), d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n after the changes (-want +got):\n%s", diff)
	}
}

// listDests is the real servers of s as parseListDests reads them.
func listDests(s ipvs.Service) []string {
	var out []string
	for _, d := range s.Destinations {
		if d.Forward != ipvs.Masquerade {
			panic("listDests knows NAT real servers only")
		}
		out = append(out, fmt.Sprintf("%s Masq %d", d.Addr, d.Weight))
	}
	return out
}

// parseListDests reads the real servers of ipvsadm -L -n -t: address,
// forwarding method and weight.
func parseListDests(out string) []string {
	var dests []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			dests = append(dests, strings.Join(f[1:4], " "))
		}
	}
	return dests
}

func countDests(svcs []ipvs.Service) int {
	n := 0
	for i := range svcs {
		n += len(svcs[i].Destinations)
	}
	return n
}
