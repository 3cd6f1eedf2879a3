package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/healthcheck"
)

// TestMain lets the test binary serve as the listener process, as the
// command's own binary does.
func TestMain(m *testing.M) {
	exitChild()
	os.Exit(m.Run())
}

// TestSmoke runs the benchmark small and short, so the command cannot rot:
// 200 servers for 3s must all pass every check, and the figures must be
// plausible. The bounds are loose because the machine may be shared.
func TestSmoke(t *testing.T) {
	const servers = 200
	cfg := config{
		Servers:  servers,
		Interval: time.Second,
		Timeout:  500 * time.Millisecond,
		Duration: 3 * time.Second,
		// Away from the command's default addresses, and on ports the
		// kernel picks, so a benchmark run and the tests can share a
		// machine.
		Base: netip.MustParseAddr("127.2.0.1"),
		Port: 0,
	}
	r, err := run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r.table())

	if r.Failed != 0 {
		t.Errorf("%d of %d checks failed: %q", r.Failed, r.Checks, r.FailSample)
	}
	// Each server's first check falls in the first second, so 3s hold two
	// or three checks of each, and a fourth for some of those whose slot
	// falls just after the end, within the Scheduler's batching window
	// (interval/10): about servers/10, bounded here at twice that.
	if most := 3*servers + servers/5; r.Checks < 2*servers || r.Checks > most {
		t.Errorf("%d checks in %v, want between %d and %d", r.Checks, r.Wall, 2*servers, most)
	}
	if r.Served < int64(r.Checks) {
		t.Errorf("listeners served %d requests for %d passed checks", r.Served, r.Checks)
	}
	// Two passes in a row (rise 2) make every server healthy by 2s.
	if r.Healthy != servers {
		t.Errorf("%d servers healthy at the end, want %d", r.Healthy, servers)
	}
	if r.Late.Count < int64(servers) {
		t.Errorf("lateness measured for %d starts, want at least %d", r.Late.Count, servers)
	}
	if r.Late.P50 > r.Late.P99 || r.Late.P99 > r.Late.Max || r.Late.Max > time.Second {
		t.Errorf("lateness p50 %v, p99 %v, max %v: want ordered and below 1s", r.Late.P50, r.Late.P99, r.Late.Max)
	}
	if r.CPU <= 0 || r.CPUShare() > 2 {
		t.Errorf("checker CPU %v over %v: not plausible", r.CPU, r.Wall)
	}
	if r.PeakRSS < 1<<20 || r.PeakRSS > 1<<30 {
		t.Errorf("peak RSS %d bytes: not plausible", r.PeakRSS)
	}
	if r.ListenerCPU <= 0 {
		t.Errorf("listener process reported CPU %v", r.ListenerCPU)
	}
	if got := r.section("go run ./bench/healthload"); !strings.HasPrefix(got, sectionHeading+"\n") || !strings.Contains(got, "| failed checks | 0 | 0 | met |") {
		t.Errorf("section does not start with its heading or lacks the failed-checks row:\n%s", got)
	}
}

func TestLatenessQuantiles(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		want    latencies
	}{
		{
			name:    "none",
			samples: nil,
			want:    latencies{},
		},
		{
			// 98 starts 15µs late, one 3ms late, one 400ms late (in the
			// coarse buckets), one 5µs early.
			name: "fine and coarse",
			samples: append(slices.Repeat([]time.Duration{15 * time.Microsecond}, 98),
				3*time.Millisecond, 400*time.Millisecond, -5*time.Microsecond),
			want: latencies{Count: 101, Early: 1, P50: 20 * time.Microsecond, P99: 3010 * time.Microsecond, Max: 400 * time.Millisecond},
		},
		{
			// Half a millisecond into a coarse bucket reads as its top.
			name:    "coarse median",
			samples: []time.Duration{150500 * time.Microsecond, 150500 * time.Microsecond, time.Second},
			want:    latencies{Count: 3, P50: 151 * time.Millisecond, P99: time.Second, Max: time.Second},
		},
		{
			// Past the histogram only Max knows the value.
			name:    "beyond the histogram",
			samples: []time.Duration{time.Millisecond, 30 * time.Second, 40 * time.Second},
			want:    latencies{Count: 3, P50: 40 * time.Second, P99: 40 * time.Second, Max: 40 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLateness()
			for _, d := range tc.samples {
				l.add(d)
			}
			if diff := cmp.Diff(tc.want, l.summary()); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\thealthload\nVmPeak:\t  900000 kB\nVmHWM:\t   46700 kB\nVmRSS:\t   40000 kB\n"
	got, err := parseVmHWM([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(46700 << 10); got != want {
		t.Errorf("parseVmHWM = %d, want %d", got, want)
	}
	if _, err := parseVmHWM([]byte("VmRSS:\t1 kB\n")); err == nil {
		t.Error("parseVmHWM without VmHWM succeeded")
	}
}

func TestServerAddrs(t *testing.T) {
	got, err := serverAddrs(netip.MustParseAddr("127.1.0.253"), 80, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{
		netip.MustParseAddrPort("127.1.0.253:80"),
		netip.MustParseAddrPort("127.1.0.254:80"),
		netip.MustParseAddrPort("127.1.1.1:80"),
		netip.MustParseAddrPort("127.1.1.2:80"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("serverAddrs (-want +got):\n%s", diff)
	}
	for _, base := range []string{"10.0.0.1", "::1", "127.255.255.254"} {
		if _, err := serverAddrs(netip.MustParseAddr(base), 80, 10); err == nil {
			t.Errorf("serverAddrs from %s succeeded", base)
		}
	}
}

// BenchmarkHTTPCheck measures the hot path the command loads: one HTTP
// check, fresh connection and all, against the command's own minimal
// listener. The CPU spent per check (kernel included) is what limits how
// many real servers one core can watch.
func BenchmarkHTTPCheck(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.2.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var served atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { serve(ln, &served) })
	defer func() {
		ln.Close()
		wg.Wait()
	}()
	c := healthcheck.NewHTTP(healthcheck.HTTPParams{
		Target:  netip.MustParseAddrPort(ln.Addr().String()),
		Path:    "/healthz",
		Timeout: time.Second,
	})
	ctx := context.Background()
	cpu0, err := cpuTime()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Check(ctx); !r.OK {
			b.Fatalf("check failed: %s", r.Message)
		}
	}
	cpu1, err := cpuTime()
	if err != nil {
		b.Fatal(err)
	}
	// Both ends run in this process here, so this is an upper bound on
	// the checker's share.
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/check")
}
