package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const interval = 10 * time.Second

var (
	ap = netip.MustParseAddrPort

	webKey  = ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap("192.0.2.10:80")}
	dnsKey  = ipvs.ServiceKey{Protocol: ipvs.UDP, Addr: ap("192.0.2.10:53")}
	markKey = ipvs.ServiceKey{FWMark: 7}
	handKey = ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap("192.0.2.99:443")}
)

// webVS is a virtual server with three checked real servers; onFailure
// picks what a failed one becomes.
func webVS(onFailure config.OnFailure) *config.VirtualServer {
	check := &config.HealthCheck{Type: config.CheckTCP}
	return &config.VirtualServer{
		Name: "web", Address: webKey.Addr, Protocol: config.TCP, Scheduler: "wlc",
		Method: config.DR, OnFailure: onFailure, Quorum: 1,
		RealServers: []config.RealServer{
			{Address: ap("198.51.100.1:80"), Weight: 1, Check: check},
			{Address: ap("198.51.100.2:80"), Weight: 2, Check: check},
			{Address: ap("198.51.100.3:80"), Weight: 3, Check: check},
		},
	}
}

// down is a plan.Health with the named servers failed.
func down(servers ...string) plan.Health {
	return func(_ string, s netip.AddrPort) bool { return !slices.Contains(servers, s.String()) }
}

func dnsService() ipvs.Service {
	return ipvs.Service{ServiceKey: dnsKey, Scheduler: "rr", Netmask: 32,
		Destinations: []ipvs.Destination{
			{Addr: ap("198.51.100.5:53"), Forward: ipvs.Masquerade, Weight: 1},
			{Addr: ap("198.51.100.6:53"), Forward: ipvs.Masquerade, Weight: 1},
		}}
}

func markService() ipvs.Service {
	return ipvs.Service{ServiceKey: markKey, Scheduler: "sh", Flags: ipvs.FlagPersistent, Timeout: 300 * time.Second, Netmask: 24,
		Destinations: []ipvs.Destination{{Addr: ap("198.51.100.7:0"), Forward: ipvs.Route, Weight: 5}}}
}

func handService() ipvs.Service {
	return ipvs.Service{ServiceKey: handKey, Scheduler: "rr", Netmask: 32,
		Destinations: []ipvs.Destination{{Addr: ap("198.51.100.99:443"), Forward: ipvs.Masquerade, Weight: 1}}}
}

// desired is the table of webVS with the given health plus the dns and
// fwmark services.
func desired(onFailure config.OnFailure, health plan.Health) []ipvs.Service {
	web, _ := plan.Service(webVS(onFailure), health)
	return []ipvs.Service{web, dnsService(), markService()}
}

// harness runs a Reconciler on a fake kernel inside a synctest bubble.
type harness struct {
	t       *testing.T
	k       *ipvstest.Kernel
	r       *Reconciler
	log     *logRecorder
	metrics *recordingMetrics
	cancel  context.CancelFunc
	done    chan error
}

func newHarness(t *testing.T, k *ipvstest.Kernel, cfg Settings) *harness {
	if cfg.Interval == 0 {
		cfg.Interval = interval
	}
	h := &harness{t: t, k: k, log: &logRecorder{}, metrics: &recordingMetrics{}, done: make(chan error, 1)}
	h.r = New(k, WithSettings(cfg), WithLogger(slog.New(h.log)), WithMetrics(h.metrics))
	return h
}

// startHarness runs a Reconciler with cfg on an empty fake kernel, the
// table want desired from the start, and waits for its first round.
func startHarness(t *testing.T, cfg Settings, want []ipvs.Service) *harness {
	h := newHarness(t, &ipvstest.Kernel{}, cfg)
	h.r.SetDesired(want)
	h.run()
	return h
}

// start starts Run; stop ends it.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.r.Run(ctx) }()
}

// run starts Run and waits for its first round.
func (h *harness) run() {
	h.start()
	synctest.Wait()
	select {
	case <-h.r.Reconciled():
	default:
		h.t.Fatal("Reconciled not closed after the first round")
	}
}

// stop ends Run and checks it returned nil.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run = %v, want nil", err)
	}
}

// set gives the reconciler a new table and lets it settle.
func (h *harness) set(svcs []ipvs.Service) {
	h.r.SetDesired(svcs)
	synctest.Wait()
}

// wantTable compares the kernel's table with want in ipvsadm -S -n form.
func (h *harness) wantTable(want []ipvs.Service) {
	h.t.Helper()
	if diff := cmp.Diff(ipvstest.Save(want), h.k.Save()); diff != "" {
		h.t.Errorf("kernel table (-want +got):\n%s", diff)
	}
}

func opNames(ops []ipvs.Op) []string {
	var out []string
	for _, op := range ops {
		out = append(out, ipvstest.OpName(op))
	}
	return out
}

func TestColdStartProgramsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		want := desired(config.Remove, plan.AllHealthy)
		h := startHarness(t, Settings{}, want)
		k := h.k
		defer h.stop()

		h.wantTable(want)
		requests, dumps, batches := k.Stats()
		// One dump of the empty table (1 request), one batch of 3
		// services and 6 destinations.
		if dumps != 1 || batches != 1 || requests != 1+9 {
			t.Errorf("dumps, batches, requests = %d, %d, %d; want 1, 1, 10", dumps, batches, requests)
		}
		wantOps := map[string]int{"add_service": 3, "add_destination": 6}
		h.metrics.mu.Lock()
		defer h.metrics.mu.Unlock()
		if diff := cmp.Diff(wantOps, h.metrics.ops); diff != "" {
			t.Errorf("operation metrics (-want +got):\n%s", diff)
		}
		if len(h.metrics.rounds) != 1 {
			t.Errorf("%d reconcile durations observed, want 1", len(h.metrics.rounds))
		}
	})
}

func TestSteadyStateAppliesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		// Five intervals: five dumps, no change; the same table given
		// again costs nothing either.
		time.Sleep(5*interval + time.Second)
		h.set(desired(config.Remove, plan.AllHealthy))
		_, dumps, batches := k.Stats()
		if dumps != 6 || batches != 1 {
			t.Errorf("dumps, batches = %d, %d; want 6, 1", dumps, batches)
		}
	})
}

// TestHealthChangeIsOneRequest checks that a change of one real server's
// health is one netlink request, and no dump.
func TestHealthChangeIsOneRequest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		onFailure config.OnFailure
		before    plan.Health
		after     plan.Health
		want      []string
	}{
		{"remove", config.Remove, plan.AllHealthy, down("198.51.100.2:80"),
			[]string{"delete_destination tcp 192.0.2.10:80 198.51.100.2:80 w2"}},
		{"back after remove", config.Remove, down("198.51.100.2:80"), plan.AllHealthy,
			[]string{"add_destination tcp 192.0.2.10:80 198.51.100.2:80 w2"}},
		{"quiescent", config.Quiescent, plan.AllHealthy, down("198.51.100.3:80"),
			[]string{"update_destination tcp 192.0.2.10:80 198.51.100.3:80 w0"}},
		{"back after quiescent", config.Quiescent, down("198.51.100.3:80"), plan.AllHealthy,
			[]string{"update_destination tcp 192.0.2.10:80 198.51.100.3:80 w3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, Settings{}, desired(tc.onFailure, tc.before))
				k := h.k
				defer h.stop()

				requests, _, batches := k.Stats()
				after := desired(tc.onFailure, tc.after)
				h.set(after)
				requests2, _, batches2 := k.Stats()
				if got := requests2 - requests; got != 1 {
					t.Errorf("the health change cost %d requests, want 1", got)
				}
				if got := batches2 - batches; got != 1 {
					t.Errorf("the health change cost %d Apply calls, want 1", got)
				}
				if diff := cmp.Diff(tc.want, opNames(k.LastBatch())); diff != "" {
					t.Errorf("ops (-want +got):\n%s", diff)
				}
				h.wantTable(after)
			})
		})
	}
}

func TestFlushByHandRepairedWithinOneInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		want := desired(config.Remove, plan.AllHealthy)
		h := startHarness(t, Settings{}, want)
		k := h.k
		defer h.stop()

		time.Sleep(time.Second)
		k.Flush() // ipvsadm -C
		time.Sleep(interval - 2*time.Second)
		synctest.Wait()
		if got := k.Save(); got != "" {
			t.Fatalf("table repaired before the interval:\n%s", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		h.wantTable(want)
	})
}

func TestEditByHandRepaired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		want := desired(config.Remove, plan.AllHealthy)
		h := startHarness(t, Settings{}, want)
		k := h.k
		defer h.stop()

		// ipvsadm -e -t 192.0.2.10:80 -r 198.51.100.1:80 -w 9
		k.EditDest(webKey, "198.51.100.1:80", func(d *ipvs.Destination) { d.Weight = 9 })
		time.Sleep(interval)
		synctest.Wait()
		h.wantTable(want)
		if diff := cmp.Diff([]string{"update_destination tcp 192.0.2.10:80 198.51.100.1:80 w1"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("repair ops (-want +got):\n%s", diff)
		}
	})
}

// TestStaleTableRedumpedAtOnce: when the remembered table is wrong (a
// flush by hand since the last dump), the health change fails in the
// kernel, and the round is redone from a fresh dump without waiting for
// the interval.
func TestStaleTableRedumpedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Quiescent, plan.AllHealthy))
		k := h.k
		defer h.stop()

		k.Flush()
		after := desired(config.Quiescent, down("198.51.100.1:80"))
		h.set(after)
		h.wantTable(after)
		if _, dumps, _ := k.Stats(); dumps != 2 {
			t.Errorf("%d dumps, want 2 (start, then the re-read)", dumps)
		}
		// The expected failure of the stale round is no warning.
		if got := h.log.lines(slog.LevelWarn); len(got) != 0 {
			t.Errorf("warnings: %q", got)
		}
	})
}

func TestHandAddedServiceUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		k.AddByHand(handService()) // before lvsd starts
		h := newHarness(t, k, Settings{})
		h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
		h.run()

		h.set(desired(config.Remove, down("198.51.100.1:80")))
		h.set(desired(config.Remove, plan.AllHealthy)[:1]) // a reload drops dns and fwmark
		k.Flush()
		k.AddByHand(handService()) // after a flush, by hand again
		time.Sleep(3 * interval)
		synctest.Wait()
		h.stop()
		if err := h.r.Cleanup(context.Background()); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		h.wantTable([]ipvs.Service{handService()})
		k.Lock()
		defer k.Unlock()
		for _, b := range k.Batches {
			for _, op := range b {
				if op.Service.ServiceKey == handKey {
					t.Errorf("lvsd touched the hand-made service: %s", op)
				}
			}
		}
	})
}

func TestReloadRemovingServiceDeletesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		reloaded := desired(config.Remove, plan.AllHealthy)[:2] // without the fwmark service
		h.set(reloaded)
		h.wantTable(reloaded)
		if diff := cmp.Diff([]string{"delete_service fwmark 7"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("reload ops (-want +got):\n%s", diff)
		}
		// Deleted, it is no longer lvsd's: the same mark made by hand
		// stays.
		if h.r.Owned(markKey) {
			t.Error("fwmark 7 still owned after its deletion")
		}
		k.AddByHand(markService())
		time.Sleep(interval)
		synctest.Wait()
		h.wantTable(append(reloaded, markService()))
	})
}

// TestReloadRemovalSurvivesFlush: a service a reload removed while the
// kernel refused its deletion stays lvsd's until it is gone.
func TestReloadRemovalRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Remove, plan.AllHealthy))
		k := h.k
		defer h.stop()

		k.Lock()
		k.Refuse = func(op ipvs.Op) error {
			if op.Kind == ipvs.DelService {
				return syscall.EBUSY
			}
			return nil
		}
		k.Unlock()
		reloaded := desired(config.Remove, plan.AllHealthy)[:2]
		h.set(reloaded)
		if !h.r.Owned(markKey) {
			t.Fatal("fwmark 7 forgotten while its deletion failed")
		}
		k.Lock()
		k.Refuse = nil
		k.Unlock()
		time.Sleep(interval)
		synctest.Wait()
		h.wantTable(reloaded)
	})
}

func TestFailedOpLoggedAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		// "address not unicast": no route to the real server yet.
		k.Refuse = func(op ipvs.Op) error {
			if op.Kind == ipvs.AddDest && op.Dest.Addr == ap("198.51.100.2:80") {
				return syscall.EINVAL
			}
			return nil
		}
		h := newHarness(t, k, Settings{})
		want := desired(config.Remove, plan.AllHealthy)
		h.r.SetDesired(want)
		h.run()
		defer h.stop()

		if strings.Contains(k.Save(), "198.51.100.2:80") {
			t.Fatal("refused destination in the table")
		}
		wantLog := []string{
			"IPVS operation failed op=add_destination service=tcp 192.0.2.10:80 server=198.51.100.2:80",
			"IPVS reconcile incomplete; retrying on the next round",
		}
		if diff := cmp.Diff(wantLog, h.log.lines(slog.LevelWarn)); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}

		k.Lock()
		k.Refuse = nil
		k.Unlock()
		time.Sleep(interval)
		synctest.Wait()
		h.wantTable(want)
		if diff := cmp.Diff([]string{"add_destination tcp 192.0.2.10:80 198.51.100.2:80 w2"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("retry ops (-want +got):\n%s", diff)
		}
	})
}

func TestDumpFailureRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{DumpErr: errors.New("receiving: no buffer space available")}
		h := newHarness(t, k, Settings{})
		want := desired(config.Remove, plan.AllHealthy)
		h.r.SetDesired(want)
		h.run()
		defer h.stop()

		if got := k.Save(); got != "" {
			t.Fatalf("table programmed without a dump:\n%s", got)
		}
		k.Lock()
		k.DumpErr = nil
		k.Unlock()
		// A health change after a failed dump reads the table first.
		h.set(want)
		h.wantTable(want)
	})
}

// TestBurstsCoalesced: changes that arrive while a round runs are taken
// together by one more round, and no two rounds overlap.
func TestBurstsCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{Hold: make(chan struct{})}
		h := newHarness(t, k, Settings{})
		h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
		h.start()
		defer h.stop()
		synctest.Wait() // the first round waits in Apply

		var last []ipvs.Service
		for i := range 10 {
			last = desired(config.Remove, plan.AllHealthy)
			last[1].Destinations[0].Weight = 10 + i
			h.r.SetDesired(last)
		}
		k.Lock()
		close(k.Hold)
		k.Unlock()
		synctest.Wait()

		h.wantTable(last)
		k.Lock()
		defer k.Unlock()
		if len(k.Batches) != 2 || k.MaxInFlight != 1 {
			t.Errorf("batches, max in flight = %d, %d; want 2, 1", len(k.Batches), k.MaxInFlight)
		}
	})
}

func TestCleanupRemovesOnlyOwned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		k.AddByHand(handService())
		h := newHarness(t, k, Settings{})
		h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
		h.run()
		h.stop()

		// dns went by hand already: its absence is no error.
		k.Lock()
		k.Table = slices.DeleteFunc(k.Table, func(s ipvs.Service) bool { return s.ServiceKey == dnsKey })
		k.Unlock()
		if err := h.r.Cleanup(context.Background()); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		h.wantTable([]ipvs.Service{handService()})
		if diff := cmp.Diff([]string{"delete_service tcp 192.0.2.10:80", "delete_service fwmark 7"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("cleanup ops (-want +got):\n%s", diff)
		}
	})
}

// Every call that waits for the kernel behind a round gives up when its
// context ends.
func TestKernelWaitsGiveUpWhenContextEnds(t *testing.T) {
	calls := map[string]func(*Reconciler, context.Context) error{
		"Cleanup": (*Reconciler).Cleanup,
		"Flush":   (*Reconciler).Flush,
		"ActiveConns": func(r *Reconciler, ctx context.Context) error {
			_, err := r.ActiveConns(ctx, nil, nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := &ipvstest.Kernel{Hold: make(chan struct{})}
				h := newHarness(t, k, Settings{})
				h.r.SetDesired(desired(config.Remove, plan.AllHealthy))
				h.start()
				synctest.Wait() // a round is stuck in the kernel

				cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
				defer ccancel()
				if err := call(h.r, cctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s = %v, want a deadline error", name, err)
				}
				close(k.Hold)
				h.stop()
			})
		})
	}
}

func TestSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Quiescent, plan.AllHealthy))
		k := h.k
		defer h.stop()

		k.EditDest(webKey, "198.51.100.1:80", func(d *ipvs.Destination) {
			d.ActiveConns, d.InactiveConns, d.Stats.InBytes = 4, 2, 1000
		})
		time.Sleep(interval)
		synctest.Wait()
		readAt := time.Now()
		h.set(desired(config.Quiescent, down("198.51.100.1:80")))

		snap := h.r.Snapshot()
		if !snap.ReadAt.Equal(readAt) {
			t.Errorf("ReadAt = %v, want %v", snap.ReadAt, readAt)
		}
		var got *ipvs.Destination
		for i := range snap.Services {
			if snap.Services[i].ServiceKey == webKey {
				got = &snap.Services[i].Destinations[0]
			}
		}
		// Counters of the dump, weight of the health change since.
		want := ipvs.Destination{Addr: ap("198.51.100.1:80"), Forward: ipvs.Route, Weight: 0,
			ActiveConns: 4, InactiveConns: 2, Stats: ipvs.Stats{InBytes: 1000}}
		if got == nil {
			t.Fatal("web service missing from the snapshot")
		}
		if diff := cmp.Diff(want, *got, cmpopts.EquateComparable(netip.AddrPort{}, netip.Addr{})); diff != "" {
			t.Errorf("snapshot destination (-want +got):\n%s", diff)
		}
		// The snapshot is a copy.
		snap.Services[0].Destinations[0].Weight = 99
		if h.r.Snapshot().Services[0].Destinations[0].Weight == 99 {
			t.Error("Snapshot shares memory with the reconciler")
		}
	})
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Settings
		reload Settings
		want   []ipvs.Timeouts
	}{
		{"unset", Settings{}, Settings{}, nil},
		{"set once", Settings{Timeouts: ipvs.Timeouts{TCP: 900 * time.Second, UDP: 300 * time.Second}},
			Settings{Timeouts: ipvs.Timeouts{TCP: 900 * time.Second, UDP: 300 * time.Second}},
			[]ipvs.Timeouts{{TCP: 900 * time.Second, UDP: 300 * time.Second}}},
		{"changed by reload", Settings{Timeouts: ipvs.Timeouts{TCP: 900 * time.Second}},
			Settings{Timeouts: ipvs.Timeouts{TCPFin: 120 * time.Second}},
			[]ipvs.Timeouts{{TCP: 900 * time.Second}, {TCPFin: 120 * time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := &ipvstest.Kernel{}
				h := newHarness(t, k, tc.cfg)
				h.run()
				defer h.stop()
				time.Sleep(2 * interval)
				tc.reload.Interval = interval
				h.r.Reconfigure(tc.reload)
				synctest.Wait()
				time.Sleep(2 * interval)
				synctest.Wait()
				k.Lock()
				defer k.Unlock()
				if diff := cmp.Diff(tc.want, k.Timeouts); diff != "" {
					t.Errorf("SetTimeouts calls (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestReconfigureInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{})
		h.run()
		defer h.stop()
		h.r.Reconfigure(Settings{Interval: 2 * time.Second})
		synctest.Wait()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		// Start, then every 2s: 2s, 4s.
		if _, dumps, _ := k.Stats(); dumps != 3 {
			t.Errorf("%d dumps in 5s, want 3", dumps)
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, &ipvstest.Kernel{}, Settings{})
		h.run()
		defer h.stop()
		if err := h.r.Run(context.Background()); err == nil {
			t.Error("a second Run while the first runs = nil, want an error")
		}
	})
}

// TestRunReturnsOnCancel runs on the real clock: Run ends when its context
// does and leaves no goroutine behind (goleak, also in TestMain).
func TestRunReturnsOnCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		r := New(k, WithSettings(Settings{Interval: 10 * time.Millisecond}), WithLogger(slog.New(&logRecorder{})))
		r.SetDesired(desired(config.Remove, plan.AllHealthy))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait()
		select {
		case <-r.Reconciled():
		default:
			t.Fatal("no first round")
		}
		time.Sleep(55 * time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		// The first round and one every 10 ms.
		if _, dumps, _ := k.Stats(); dumps != 6 {
			t.Errorf("%d dumps in 55ms at a 10ms interval, want 6", dumps)
		}
	})
}

func TestNewStartsNothing(t *testing.T) {
	k := &ipvstest.Kernel{}
	r := New(k, WithSettings(Settings{Timeouts: ipvs.Timeouts{TCP: time.Minute}, Sync: &SyncSettings{Interface: "eth1"}}))
	r.SetDesired(desired(config.Remove, plan.AllHealthy))
	r.SetSyncRole(SyncMaster)
	if requests, _, _ := k.Stats(); requests != 0 {
		t.Errorf("%d kernel requests before Run", requests)
	}
}

// intervalRead lets the interval's round run, with during called before
// each service's destinations are read.
func (h *harness) intervalRead(during func(ipvs.ServiceKey)) {
	h.k.Lock()
	h.k.OnDestinations = during
	h.k.Unlock()
	time.Sleep(interval)
	synctest.Wait()
	h.k.Lock()
	h.k.OnDestinations = nil
	h.k.Unlock()
}

// TestChangeDuringTableReadGoesThrough: a health change that arrives while
// the interval's round reads the table reaches the kernel before the read
// ends, and the service it changed, read before the change, is not
// changed a second time from that stale read.
func TestChangeDuringTableReadGoesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Quiescent, plan.AllHealthy))
		k := h.k
		defer h.stop()

		// The read goes dns, web, fwmark; the change comes while web is
		// read, and goes through before fwmark is.
		after := desired(config.Quiescent, down("198.51.100.3:80"))
		batchesAt := map[ipvs.ServiceKey]int{}
		h.intervalRead(func(key ipvs.ServiceKey) {
			_, _, batches := k.Stats()
			batchesAt[key] = batches
			if key == webKey {
				h.r.SetDesired(after)
			}
		})

		if want := map[ipvs.ServiceKey]int{dnsKey: 1, webKey: 1, markKey: 2}; !cmp.Equal(want, batchesAt) {
			t.Errorf("Apply calls before each service was read = %v, want %v", batchesAt, want)
		}
		h.wantTable(after)
		if _, dumps, batches := k.Stats(); dumps != 2 || batches != 2 {
			t.Errorf("dumps, batches = %d, %d; want 2, 2 (the change once, nothing after the read)", dumps, batches)
		}
		if diff := cmp.Diff([]string{"update_destination tcp 192.0.2.10:80 198.51.100.3:80 w0"}, opNames(k.LastBatch())); diff != "" {
			t.Errorf("ops (-want +got):\n%s", diff)
		}

		// The table remembered after the read is right: the next change
		// is one request.
		requests, _, _ := k.Stats()
		back := desired(config.Quiescent, plan.AllHealthy)
		h.set(back)
		if requests2, _, _ := k.Stats(); requests2-requests != 1 {
			t.Errorf("the next change cost %d requests, want 1", requests2-requests)
		}
		h.wantTable(back)
		if got := h.log.lines(slog.LevelInfo); len(got) != 0 {
			t.Errorf("log: %q", got)
		}
	})
}

// TestChangeDuringTableReadRefused: when the kernel refuses a change made
// during a table read (the table was flushed by hand meanwhile), the read
// starts over and the round still ends with the desired table.
func TestChangeDuringTableReadRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, Settings{}, desired(config.Quiescent, plan.AllHealthy))
		k := h.k
		defer h.stop()

		after := desired(config.Quiescent, down("198.51.100.3:80"))
		h.intervalRead(func(key ipvs.ServiceKey) {
			if key == dnsKey {
				k.Flush() // ipvsadm -C
				h.r.SetDesired(after)
			}
		})

		h.wantTable(after)
		if _, dumps, _ := k.Stats(); dumps != 3 {
			t.Errorf("%d dumps, want 3 (start, the interval's, the read again)", dumps)
		}
		if got := h.log.lines(slog.LevelWarn); len(got) != 0 {
			t.Errorf("warnings: %q", got)
		}
	})
}
