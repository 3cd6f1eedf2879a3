package reconcile

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/ipvs"
)

func TestFlushAppliesBeforeReturning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		// No synctest.Wait: the table must be in the kernel when Flush
		// returns, whichever of Flush and Run does the round.
		after := desired(config.Quiescent, down("198.51.100.1:80"))
		h.r.SetDesired(after)
		if err := h.r.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		h.wantTable(after)

		// Nothing changed since: Flush asks nothing of the kernel.
		requests, _, _ := k.Stats()
		if err := h.r.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if got, _, _ := k.Stats(); got != requests {
			t.Errorf("Flush with nothing changed made %d requests, want 0", got-requests)
		}
	})
}

func TestActiveConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		conns := map[netip.AddrPort]uint32{
			ap("198.51.100.1:80"): 3, // web
			ap("198.51.100.2:80"): 4, // web, the one skipped below
			ap("198.51.100.5:53"): 5, // dns, not asked about
		}
		k.Lock()
		for i := range k.Table {
			for j := range k.Table[i].Destinations {
				d := &k.Table[i].Destinations[j]
				d.ActiveConns = conns[d.Addr]
				d.InactiveConns = 100 // never counted
			}
		}
		k.Unlock()

		keys := map[ipvs.ServiceKey]bool{webKey: true}
		skip := func(a netip.AddrPort) bool { return a == ap("198.51.100.2:80") }
		n, err := h.r.ActiveConns(context.Background(), keys, skip)
		if err != nil || n != 3 {
			t.Errorf("ActiveConns(web, skipping .2) = %d, %v; want 3", n, err)
		}
		n, err = h.r.ActiveConns(context.Background(), map[ipvs.ServiceKey]bool{webKey: true, dnsKey: true}, nil)
		if err != nil || n != 12 {
			t.Errorf("ActiveConns(web, dns) = %d, %v; want 12", n, err)
		}

		k.Lock()
		k.DumpErr = errors.New("netlink: boom")
		k.Unlock()
		if _, err := h.r.ActiveConns(context.Background(), keys, nil); err == nil {
			t.Error("ActiveConns with a failing dump: no error")
		}
	})
}
