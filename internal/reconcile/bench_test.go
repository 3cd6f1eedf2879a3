package reconcile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

// Scale of the benchmarks: the large table of the VM's scale test.
const (
	benchServices = 5000
	benchServers  = 4
)

// roundSignal is a Metrics that reports the end of every round.
type roundSignal chan struct{}

func (s roundSignal) ObserveReconcile(time.Duration) { s <- struct{}{} }
func (roundSignal) IPVSOps(string, int)              {}

// benchConfig is a configuration of n virtual servers with m checked real
// servers each, as plan.Services turns it into the desired table.
func benchConfig(n, m int) *config.Config {
	check := &config.HealthCheck{Type: config.CheckTCP}
	cfg := &config.Config{VirtualServers: make([]config.VirtualServer, n)}
	for i := range cfg.VirtualServers {
		vip := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i/250)})
		vs := config.VirtualServer{
			Name:      fmt.Sprintf("vs%d", i),
			Address:   netip.AddrPortFrom(vip, uint16(10000+i%250)),
			Protocol:  config.TCP,
			Scheduler: "wlc",
			Method:    config.NAT,
			OnFailure: config.Quiescent,
			Quorum:    1,
		}
		for j := range m {
			rip := netip.AddrFrom4([4]byte{10, byte(j), byte(i >> 8), byte(i)})
			vs.RealServers = append(vs.RealServers, config.RealServer{
				Address: netip.AddrPortFrom(rip, 80), Weight: 1 + j, Check: check,
			})
		}
		cfg.VirtualServers[i] = vs
	}
	return cfg
}

// startBench runs a Reconciler on a fake kernel programmed with table and
// returns it with the channel of its rounds; the reconcile interval is an
// hour, so no dump falls inside a measurement.
func startBench(b *testing.B, table []ipvs.Service) (*Reconciler, *ipvstest.Kernel, roundSignal) {
	b.Helper()
	k := &ipvstest.Kernel{}
	rounds := make(roundSignal, 1)
	r := New(k, WithSettings(Settings{Interval: time.Hour}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithMetrics(rounds))
	r.SetDesired(table)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run = %v", err)
		}
	})
	<-rounds // the cold start
	if got, want := len(k.Table), len(table); got != want {
		b.Fatalf("cold start programmed %d services, want %d", got, want)
	}
	return r, k, rounds
}

// wantOneUpdate fails b unless each of the n measured changes cost exactly
// one Apply of one operation and no dump.
func wantOneUpdate(b *testing.B, k *ipvstest.Kernel, requests0, batches0, n int) {
	b.Helper()
	requests, dumps, batches := k.Stats()
	if dumps != 1 || batches-batches0 != n || requests-requests0 != n {
		b.Fatalf("%d changes: %d dumps, %d Apply calls, %d requests; want 1, %d, %d",
			n, dumps, batches-batches0, requests-requests0, n, n)
	}
	if got := opNames(k.LastBatch()); len(got) != 1 {
		b.Fatalf("last change applied %q, want one update_destination", got)
	}
}

// BenchmarkSetDesiredOneChange is the common case of a large director: one
// real server's weight changes in a table of 5,000 services × 4 real
// servers. It measures SetDesired to the end of the round that applies
// the change, on the recording fake kernel. The two tables it alternates
// share no memory, as two plan.Services results do not.
func BenchmarkSetDesiredOneChange(b *testing.B) {
	base := plan.Services(benchConfig(benchServices, benchServers), plan.AllHealthy)
	changed := cloneServices(base)
	changed[benchServices/2].Destinations[1].Weight = 9
	tables := [2][]ipvs.Service{changed, base}

	r, k, rounds := startBench(b, base)
	requests0, _, batches0 := k.Stats()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		r.SetDesired(tables[n%2])
		<-rounds
		n++
	}
	wantOneUpdate(b, k, requests0, batches0, n)
}

// BenchmarkSetDesiredOneChangeFromPlan is the daemon's call pattern for
// the same change: plan.Services rebuilds the whole desired table from the
// configuration and the health, then SetDesired.
func BenchmarkSetDesiredOneChangeFromPlan(b *testing.B) {
	cfg := benchConfig(benchServices, benchServers)
	flapping := cfg.VirtualServers[benchServices/2].RealServers[1].Address
	r, k, rounds := startBench(b, plan.Services(cfg, plan.AllHealthy))
	requests0, _, batches0 := k.Stats()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		up := n%2 == 1
		r.SetDesired(plan.Services(cfg, func(_ string, s netip.AddrPort) bool { return up || s != flapping }))
		<-rounds
		n++
	}
	wantOneUpdate(b, k, requests0, batches0, n)
}

// BenchmarkPlanServices is plan.Services alone on the same configuration:
// the daemon's share of the cost above.
func BenchmarkPlanServices(b *testing.B) {
	cfg := benchConfig(benchServices, benchServers)
	b.ReportAllocs()
	for b.Loop() {
		if got := plan.Services(cfg, plan.AllHealthy); len(got) != benchServices {
			b.Fatalf("%d services, want %d", len(got), benchServices)
		}
	}
}

// BenchmarkAdvanceColdStart times advance over a first round's results:
// every service and destination of a 5,000 × 4 table added to an empty
// one, as a director's start remembers the table it programmed.
func BenchmarkAdvanceColdStart(b *testing.B) {
	want := plan.Services(benchConfig(benchServices, benchServers), plan.AllHealthy)
	ops := ipvs.Diff(want, nil, nil)
	results := make([]ipvs.OpResult, len(ops))
	for i, op := range ops {
		results[i] = ipvs.OpResult{Op: op}
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := advance(nil, results); len(got) != benchServices {
			b.Fatalf("%d services", len(got))
		}
	}
}
