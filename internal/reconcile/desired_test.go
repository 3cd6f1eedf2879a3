package reconcile

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

func TestDesiredTableDiff(t *testing.T) {
	web, _ := plan.Service(webVS(config.Quiescent), plan.AllHealthy)
	webDown, _ := plan.Service(webVS(config.Quiescent), down("198.51.100.2:80"))
	dns, mark := dnsService(), markService()
	counters := dnsService()
	counters.Stats.Conns = 7
	counters.Destinations[0].ActiveConns = 3
	markTCP := markService()
	markTCP.Protocol = ipvs.TCP // not part of an fwmark service's key
	dnsRR := dnsService()
	dnsRR.Scheduler = "wrr"

	type changes struct {
		InPlace                 []int
		Changed, Added, Removed []string
	}
	for _, tc := range []struct {
		name       string
		old, next  []ipvs.Service
		want       changes
		wantLookup map[string]int // position of each key in the new table
	}{
		{"first table", nil, []ipvs.Service{web, dns},
			changes{Changed: []string{"tcp 192.0.2.10:80", "udp 192.0.2.10:53"}, Added: []string{"tcp 192.0.2.10:80", "udp 192.0.2.10:53"}},
			map[string]int{"tcp 192.0.2.10:80": 0, "udp 192.0.2.10:53": 1}},
		{"same values, new memory", []ipvs.Service{web, dns, mark}, cloneServices([]ipvs.Service{web, dns, mark}),
			changes{}, nil},
		{"counters do not count", []ipvs.Service{dns}, []ipvs.Service{counters}, changes{}, nil},
		{"fwmark key normalised", []ipvs.Service{mark}, []ipvs.Service{markTCP}, changes{}, nil},
		{"one weight", []ipvs.Service{web, dns, mark}, []ipvs.Service{webDown, dns, mark},
			changes{InPlace: []int{0}, Changed: []string{"tcp 192.0.2.10:80"}}, nil},
		{"scheduler", []ipvs.Service{web, dns}, []ipvs.Service{web, dnsRR},
			changes{InPlace: []int{1}, Changed: []string{"udp 192.0.2.10:53"}}, nil},
		{"reordered", []ipvs.Service{web, dns}, []ipvs.Service{dns, web},
			changes{}, map[string]int{"udp 192.0.2.10:53": 0, "tcp 192.0.2.10:80": 1}},
		{"service added", []ipvs.Service{web}, []ipvs.Service{web, dns},
			changes{Changed: []string{"udp 192.0.2.10:53"}, Added: []string{"udp 192.0.2.10:53"}},
			map[string]int{"tcp 192.0.2.10:80": 0, "udp 192.0.2.10:53": 1}},
		{"service removed and one changed", []ipvs.Service{web, dns}, []ipvs.Service{webDown},
			changes{Changed: []string{"tcp 192.0.2.10:80", "udp 192.0.2.10:53"}, Removed: []string{"udp 192.0.2.10:53"}},
			map[string]int{"tcp 192.0.2.10:80": 0}},
		{"second of a key listed twice does not count", []ipvs.Service{web}, []ipvs.Service{web, dns, webDown},
			changes{Changed: []string{"udp 192.0.2.10:53"}, Added: []string{"udp 192.0.2.10:53"}},
			map[string]int{"tcp 192.0.2.10:80": 0, "udp 192.0.2.10:53": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tab desiredTable
			tab.apply(tab.diff(cloneServices(tc.old)))
			next := cloneServices(tc.next)
			u := tab.diff(next)
			names := func(keys []ipvs.ServiceKey) []string {
				var out []string
				for _, k := range keys {
					out = append(out, k.String())
				}
				slices.Sort(out)
				return out
			}
			got := changes{InPlace: u.at, Changed: names(u.changed), Added: names(u.added), Removed: names(u.removed)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if u.table != nil && len(u.at) > 0 {
				t.Errorf("update both in place (%v) and by a new table", u.at)
			}
			tab.apply(u)

			// The table now programs what next does, from its own memory.
			if len(tab.services) != len(next) {
				t.Fatalf("table has %d services, want %d", len(tab.services), len(next))
			}
			for i := range next {
				if !sameService(&next[i], &tab.services[i]) {
					t.Errorf("service %d = %+v, want %+v", i, tab.services[i], next[i])
				}
			}
			if tc.wantLookup != nil {
				lookup := map[string]int{}
				for k, i := range tab.index {
					lookup[k.String()] = i
				}
				if diff := cmp.Diff(tc.wantLookup, lookup); diff != "" {
					t.Errorf("index (-want +got):\n%s", diff)
				}
			}
			for i := range next {
				for j := range next[i].Destinations {
					next[i].Destinations[j].Weight += 100
				}
			}
			for i := range tab.services {
				for _, d := range tab.services[i].Destinations {
					if d.Weight >= 100 {
						t.Fatalf("service %d shares destinations with the caller", i)
					}
				}
			}
		})
	}
}

// TestCallerMayReuseItsTable: SetDesired keeps its own copy, so a caller
// that edits the table it gave and gives it again gets the change applied.
func TestCallerMayReuseItsTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{})
		table := desired(config.Quiescent, plan.AllHealthy)
		h.r.SetDesired(table)
		h.run()
		defer h.stop()

		table[0].Destinations[1].Weight = 7
		h.set(table)
		if diff := cmp.Diff([]string{"update_destination tcp 192.0.2.10:80 198.51.100.2:80 w7"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("ops (-want +got):\n%s", diff)
		}
		h.wantTable(table)
	})
}

// TestIncrementalRoundsMatchFullDiff drives the reconciler through random
// health changes and reloads and checks, after each, that the operations
// of the round (which diffs only the changed services against the
// remembered table) are exactly those a full diff of the whole desired
// table against the kernel's table asks for, that the kernel ends equal to
// the desired table, and that the snapshot follows the kernel.
func TestIncrementalRoundsMatchFullDiff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		k := &ipvstest.Kernel{}
		k.AddByHand(handService())
		h := newHarness(t, k, Settings{})
		h.run()
		defer h.stop()

		keys := make([]ipvs.ServiceKey, 12)
		for i := range keys {
			keys[i] = ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(20 + i)}), 80)}
		}
		keys[11] = ipvs.ServiceKey{FWMark: 9}
		randomService := func(key ipvs.ServiceKey) ipvs.Service {
			s := ipvs.Service{ServiceKey: key, Scheduler: []string{"rr", "wlc"}[rng.IntN(2)], Netmask: 32}
			for j := range 4 {
				if rng.IntN(4) == 0 {
					continue // removed after a failed check
				}
				s.Destinations = append(s.Destinations, ipvs.Destination{
					Addr:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(j + 1)}), 80),
					Forward: ipvs.Route, Weight: rng.IntN(3),
				})
			}
			return s
		}

		owned := map[ipvs.ServiceKey]bool{}
		var table []ipvs.Service
		for step := range 300 {
			next := cloneServices(table)
			switch {
			case len(next) == 0 || rng.IntN(10) == 0: // a reload
				next = nil
				for _, key := range keys {
					if rng.IntN(3) > 0 {
						next = append(next, randomService(key))
					}
				}
				rng.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
			default: // health changes of one or two services
				for range 1 + rng.IntN(2) {
					i := rng.IntN(len(next))
					next[i] = randomService(next[i].ServiceKey)
				}
			}
			for i := range next {
				owned[next[i].ServiceKey.Normalize()] = true
			}
			k.Lock()
			before := cloneServices(k.Table) // not a dump: the test's own look
			k.Unlock()
			want := ipvs.Diff(next, before, func(k ipvs.ServiceKey) bool { return owned[k] })
			_, _, batches := k.Stats()

			h.set(next)
			table = next

			_, dumps, batches2 := k.Stats()
			var got []ipvs.Op
			if batches2 > batches {
				got = k.LastBatch()
			}
			if batches2-batches > 1 {
				t.Fatalf("step %d: %d Apply calls, want at most 1", step, batches2-batches)
			}
			if diff := cmp.Diff(opNames(want), opNames(got)); diff != "" {
				t.Fatalf("step %d: ops (-full diff +round):\n%s", step, diff)
			}
			h.wantTable(append(cloneServices(next), handService()))
			snap := h.r.Snapshot()
			if diff := cmp.Diff(k.Save(), ipvstest.Save(snap.Services)); diff != "" {
				t.Fatalf("step %d: snapshot (-kernel +snapshot):\n%s", step, diff)
			}
			if dumps != 1 {
				t.Fatalf("step %d: %d dumps, want only the first", step, dumps)
			}
		}
		// An interval later the dump finds nothing to repair.
		_, _, batches := k.Stats()
		time.Sleep(interval)
		synctest.Wait()
		if _, dumps, batches2 := k.Stats(); dumps != 2 || batches2 != batches {
			t.Errorf("after an interval: %d dumps, %d more Apply calls; want 2, 0", dumps, batches2-batches)
		}
	})
}

// TestSnapshotCountersKeptByHealthChange: a health change updates the
// remembered table in place; the services it does not touch keep the
// counters of the last dump, and the touched one keeps its own.
func TestSnapshotCountersKeptByHealthChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		k.EditDest(dnsKey, "198.51.100.5:53", func(d *ipvs.Destination) { d.ActiveConns = 5 })
		k.EditDest(webKey, "198.51.100.1:80", func(d *ipvs.Destination) { d.ActiveConns = 6 })
		time.Sleep(interval)
		synctest.Wait()
		h.set(desired(config.Remove, down("198.51.100.3:80")))

		conns := map[string]uint32{}
		for _, s := range h.r.Snapshot().Services {
			for _, d := range s.Destinations {
				conns[fmt.Sprintf("%s %s", s.ServiceKey, d.Addr)] = d.ActiveConns
			}
		}
		want := map[string]uint32{
			"tcp 192.0.2.10:80 198.51.100.1:80": 6,
			"tcp 192.0.2.10:80 198.51.100.2:80": 0,
			"udp 192.0.2.10:53 198.51.100.5:53": 5,
			"udp 192.0.2.10:53 198.51.100.6:53": 0,
			"fwmark 7 198.51.100.7:0":           0,
		}
		if diff := cmp.Diff(want, conns, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("active connections in the snapshot (-want +got):\n%s", diff)
		}
	})
}

// TestConcurrentSetDesiredAndSnapshot is for the race detector: health
// changes from several goroutines and status readers while rounds update
// the remembered table in place.
func TestConcurrentSetDesiredAndSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Quiescent, plan.AllHealthy))
		k := h.k
		defer h.stop()

		servers := []string{"198.51.100.1:80", "198.51.100.2:80", "198.51.100.3:80"}
		done := make(chan struct{})
		for g := range 3 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 50 {
					h.r.SetDesired(desired(config.Quiescent, down(servers[(g+i)%3])))
					_ = h.r.Snapshot()
					time.Sleep(time.Millisecond)
				}
			}()
		}
		for range 3 {
			<-done
		}
		last := desired(config.Quiescent, plan.AllHealthy)
		h.set(last)
		h.wantTable(last)
		if diff := cmp.Diff(k.Save(), ipvstest.Save(h.r.Snapshot().Services)); diff != "" {
			t.Errorf("snapshot (-kernel +snapshot):\n%s", diff)
		}
	})
}
