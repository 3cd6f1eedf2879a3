package loadtest

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
	"go.uber.org/goleak"
)

// TestSchedulerAlone runs 5,000 jobs a second with checks that cost nothing,
// so what is measured is the Scheduler. The bounds are loose (the machine
// may be shared); the numbers are logged for a closer look.
func TestSchedulerAlone(t *testing.T) {
	defer goleak.VerifyNone(t)
	r, err := Run(t.Context(), Config{Jobs: 5000, Interval: time.Second, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.ChecksPerSecond < 4000 {
		t.Errorf("%.0f checks per second, want about 5000", r.ChecksPerSecond)
	}
	if r.Failed != 0 {
		t.Errorf("%d checks failed", r.Failed)
	}
	// A check's scheduling costs a few microseconds; 200µs means something
	// is spinning.
	if r.CPUPerCheck > 200*time.Microsecond {
		t.Errorf("%v CPU per check, want well under 200µs", r.CPUPerCheck)
	}
	if r.MaxLag > 500*time.Millisecond {
		t.Errorf("a check started %v behind its schedule", r.MaxLag)
	}
}

// TestTCPChecks runs real TCP checks against a loopback listener, 500 a
// second, counting the listener's own cost too. The rate is kept modest so
// that the race detector on a busy two-core machine does not turn CPU
// starvation into timeouts; checks at full scale, with the listeners in
// their own process, are measured by bench/healthload.
func TestTCPChecks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	defer func() {
		ln.Close()
		wg.Wait()
		goleak.VerifyNone(t)
	}()
	target := netip.MustParseAddrPort(ln.Addr().String())
	r, err := Run(t.Context(), Config{
		Jobs: 500, Interval: time.Second, Timeout: 900 * time.Millisecond, Duration: 3 * time.Second,
		NewChecker: func(int) healthcheck.Checker { return healthcheck.NewTCP(target, 900*time.Millisecond) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.ChecksPerSecond < 400 {
		t.Errorf("%.0f checks per second, want about 500", r.ChecksPerSecond)
	}
	if r.Failed > r.Checks/100 {
		t.Errorf("%d of %d checks failed", r.Failed, r.Checks)
	}
}

func BenchmarkScheduler5000PerSecond(b *testing.B) {
	for b.Loop() {
		r, err := Run(b.Context(), Config{Jobs: 5000, Interval: time.Second, Duration: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.CPUPerCheck.Nanoseconds()), "cpu-ns/check")
		b.ReportMetric(float64(r.MaxLag.Microseconds()), "max-lag-µs")
	}
}
