package reconcile

import (
	"net/netip"
	"slices"
	"strings"
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

// The sync daemon's role follows VRRP: on a takeover the new master's
// daemon must start sending at once, since every connection it schedules
// before that is unknown to the backups; on a step down the backup's
// daemon must start receiving. A role change therefore has to reach the
// kernel in the round its SetSyncRole wakes, without waiting for the next
// interval and without queueing behind the table work of that round.

func wantDaemons(t *testing.T, k *ipvstest.Kernel, role SyncRole) {
	t.Helper()
	var want []ipvs.SyncDaemon
	if role != SyncNone {
		want = []ipvs.SyncDaemon{{State: role.state(), Interface: syncCfg.Interface, SyncID: uint32(syncCfg.SyncID)}}
	}
	k.Lock()
	got := append([]ipvs.SyncDaemon(nil), k.Daemons...)
	k.Unlock()
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("sync daemons in the kernel (-want +got):\n%s", diff)
	}
}

// TestSyncRoleInTheRoundItWakes: each VRRP transition's role is in the
// kernel as soon as the round it woke is done, with no time passing: not
// one round or one interval later.
func TestSyncRoleInTheRoundItWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.set(desired(config.Remove, plan.AllHealthy))
		start := time.Now()
		for i, role := range []SyncRole{SyncBackup, SyncMaster, SyncBackup, SyncNone, SyncMaster} {
			h.r.SetSyncRole(role)
			synctest.Wait()
			if d := time.Since(start); d != 0 {
				t.Fatalf("transition %d: the fake clock moved %v: a round waited for a timer", i, d)
			}
			wantDaemons(t, k, role)
		}
	})
}

// TestSyncRoleBeforeSlowTablePass: a transition that comes with a table
// change (a health change or a reload at the same moment) is taken by one
// round; the daemon's new role must reach the kernel while that round's
// table pass is still waiting on a slow kernel, not after it.
func TestSyncRoleBeforeSlowTablePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.set(desired(config.Remove, plan.AllHealthy))
		h.r.SetSyncRole(SyncBackup)
		synctest.Wait()
		wantDaemons(t, k, SyncBackup)

		// Hold the reconciler's kernel lock, as a Cleanup in progress
		// would, so that both changes are pending when the next round
		// starts and that round takes them together.
		h.r.sem <- struct{}{}
		hold := make(chan struct{})
		k.Lock()
		k.Hold = hold
		k.Unlock()
		changed := desired(config.Remove, down("198.51.100.2:80"))
		h.r.SetDesired(changed)
		h.r.SetSyncRole(SyncMaster)
		<-h.r.sem
		synctest.Wait() // the round is now blocked in Apply

		k.Lock()
		inFlight, batches := k.InFlight, len(k.Batches)
		k.Unlock()
		if inFlight != 1 {
			t.Fatalf("%d kernel calls in flight, want the round blocked in its table pass", inFlight)
		}
		wantDaemons(t, k, SyncMaster)

		close(hold)
		synctest.Wait()
		k.Lock()
		calls := append([]string(nil), k.SyncCalls...)
		applied := len(k.Batches) - batches
		k.Unlock()
		if applied != 1 {
			t.Errorf("%d batches applied after the hold, want the health change's one", applied)
		}
		h.wantTable(changed)
		want := []string{"start backup eth1 5", "stop backup", "start master eth1 5"}
		if diff := cmp.Diff(want, calls); diff != "" {
			t.Errorf("sync daemon calls (-want +got):\n%s", diff)
		}
	})
}

// TestSyncRoleDuringSlowTablePass: a transition while a round is blocked
// in its table pass is in the kernel as soon as that pass ends, before
// any other kernel work and without waiting for an interval.
func TestSyncRoleDuringSlowTablePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.r.SetSyncRole(SyncMaster)
		synctest.Wait()

		hold := make(chan struct{})
		k.Lock()
		k.Hold = hold
		k.Unlock()
		h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
		synctest.Wait() // blocked in Apply
		start := time.Now()
		h.r.SetSyncRole(SyncBackup)
		synctest.Wait()
		close(hold)
		synctest.Wait()
		if d := time.Since(start); d != 0 {
			t.Errorf("the fake clock moved %v: the role waited for a timer", d)
		}
		wantDaemons(t, k, SyncBackup)
	})
}

// TestSyncRoleBeforeTheTableSetAfterIt: the relay handover stops the
// sync daemon's master role (SetSyncRole) before it asks for the relay
// table (SetDesired), since the peer's kernel would replace its entry of a
// relayed connection with ours. Both arrive while a round is blocked in
// its dump, between its sync convergence and its table pass; the table
// must still not reach the kernel before the role.
func TestSyncRoleBeforeTheTableSetAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.r.SetSyncRole(SyncMaster)
		h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
		h.run()
		defer h.stop()
		wantDaemons(t, k, SyncMaster)

		// The interval's round converges the sync daemon, then blocks in
		// its dump.
		hold := make(chan struct{})
		k.Lock()
		k.HoldDump = hold
		k.Order = nil
		k.Unlock()
		time.Sleep(interval)
		synctest.Wait()
		k.Lock()
		inFlight := k.InFlight
		k.Unlock()
		if inFlight != 1 {
			t.Fatalf("%d kernel calls in flight, want the round blocked in its dump", inFlight)
		}

		relay := desired(config.Remove, down("198.51.100.2:80"))
		h.r.SetSyncRole(SyncNone)
		h.r.SetDesired(relay)
		k.Lock()
		k.HoldDump = nil
		k.Unlock()
		close(hold)
		synctest.Wait()

		h.wantTable(relay)
		wantDaemons(t, k, SyncNone)
		k.Lock()
		order := slices.Clone(k.Order)
		k.Unlock()
		stop := slices.Index(order, "stop master")
		apply := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "apply ") })
		if stop < 0 || apply < 0 || apply < stop {
			t.Errorf("kernel calls %q: want the master's sync daemon stopped before the relay table is applied", order)
		}
	})
}
