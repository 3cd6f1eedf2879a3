package healthcheck

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file hold the Scheduler's own loop, which runs TCP and
// plain HTTP checks on non-blocking sockets, to what the goroutine path
// promises, with real sockets and in real time.

// collector keeps every result the Scheduler reports, by key.
type collector struct {
	mu    sync.Mutex
	byKey map[string][]Result
}

func newCollector() *collector { return &collector{byKey: make(map[string][]Result)} }

func (c *collector) record(key string, r Result, _ Health, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey[key] = append(c.byKey[key], r)
}

func (c *collector) results() map[string][]Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]Result, len(c.byKey))
	for k, v := range c.byKey {
		out[k] = append([]Result(nil), v...)
	}
	return out
}

// runFor runs s for d and stops it, failing the test if Run fails or takes
// long to return.
func runFor(t *testing.T, s *Scheduler, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(d)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of its context ending")
	}
}

func TestLoopKeepsGridAndSharesWakeUps(t *testing.T) {
	up := rawServer(t, "127.0.0.1:0", func(net.Conn, <-chan struct{}) {})
	const jobs, interval = 30, 200 * time.Millisecond
	col := newCollector()
	s := NewScheduler(col.record)
	var js []Job
	for i := range jobs {
		js = append(js, Job{Key: fmt.Sprint("tcp", i), Checker: NewTCP(up, netip.Addr{}, time.Second), Interval: interval, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 1})
	}
	mustSet(t, s, js...)
	runFor(t, s, 1300*time.Millisecond)

	window := batchWindow(interval)
	early := 0
	for key, rs := range col.results() {
		if len(rs) < 4 {
			t.Errorf("%s: %d checks in 1.3s, want at least 4 at one per %v", key, len(rs), interval)
		}
		for i, r := range rs {
			if !r.OK {
				t.Errorf("%s check %d failed: %s", key, i+1, r.Message)
			}
			if late := r.At.Sub(r.Due); late < -window || late > 150*time.Millisecond {
				t.Errorf("%s check %d started %v after its slot, want within [-%v, 150ms]", key, i+1, late, window)
			}
			if r.At.Before(r.Due) {
				early++
			}
			if i > 0 {
				if step := r.Due.Sub(rs[i-1].Due); step != interval {
					t.Errorf("%s: slot %d is %v after the one before, want exactly %v", key, i+1, step, interval)
				}
			}
		}
	}
	// 30 jobs in a 200ms interval: some are always within the 20ms
	// window of another, and start with it.
	if early == 0 {
		t.Errorf("no check started ahead of its slot; want those due within %v of another to share its wake-up", window)
	}
}

func TestLoopHungTargetsDoNotDelayOthers(t *testing.T) {
	silent := rawServer(t, "127.0.0.2:0", hang)
	healthy := startHTTP(t, "127.0.0.1:0", nil, text(http.StatusOK, "ok"))
	col := newCollector()
	s := NewScheduler(col.record)
	js := []Job{{Key: "healthy", Checker: NewHTTP(HTTPParams{Target: healthy}), Interval: 50 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1}}
	for i := range 200 {
		js = append(js, Job{Key: fmt.Sprint("silent", i), Checker: NewHTTP(HTTPParams{Target: silent}), Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1})
	}
	mustSet(t, s, js...)
	runFor(t, s, 1500*time.Millisecond)

	got := col.results()
	hr := got["healthy"]
	if len(hr) < 15 {
		t.Errorf("healthy job: %d checks in 1.5s, want at least 15 at one per 50ms", len(hr))
	}
	for i, r := range hr {
		if !r.OK || r.Message != "HTTP 200" {
			t.Errorf("healthy check %d: %t %q", i+1, r.OK, r.Message)
		}
		// Held up by a hung check, it would wait for that check's 300ms
		// timeout; the bound leaves room for a loaded machine and the race
		// detector.
		if late := r.At.Sub(r.Due); late > 150*time.Millisecond {
			t.Errorf("healthy check %d started %v late, behind 200 hung checks", i+1, late)
		}
	}
	timedOut := 0
	for key, rs := range got {
		if key == "healthy" {
			continue
		}
		for _, r := range rs {
			if r.OK || r.Message != "timed out after 300ms" {
				t.Errorf("%s: %t %q, want a failure after 300ms", key, r.OK, r.Message)
			}
			if r.Duration < 300*time.Millisecond || r.Duration > 400*time.Millisecond {
				t.Errorf("%s took %v, want 300ms and a little", key, r.Duration)
			}
			timedOut++
		}
	}
	if timedOut < 200 {
		t.Errorf("%d hung checks timed out, want every one of the 200 jobs at least once", timedOut)
	}
}

func TestLoopRemovedJobClosesItsSocketAtOnce(t *testing.T) {
	accepted := make(chan struct{}, 1)
	closedAt := make(chan time.Time, 1)
	silent := rawServer(t, "127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
		accepted <- struct{}{}
		hang(c, done)
		closedAt <- time.Now()
	})
	col := newCollector()
	s := NewScheduler(col.record)
	mustSet(t, s, Job{Key: "silent", Checker: NewHTTP(HTTPParams{Target: silent}), Interval: time.Second, Timeout: 900 * time.Millisecond, Rise: 1, Fall: 1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	select {
	case <-accepted:
	case <-time.After(3 * time.Second):
		t.Fatal("the check never connected")
	}
	removed := time.Now()
	mustSet(t, s)
	select {
	case at := <-closedAt:
		if d := at.Sub(removed); d > 200*time.Millisecond {
			t.Errorf("the removed job's connection closed %v after Set, want at once", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the removed job's connection was never closed")
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(col.results()["silent"]); n != 0 {
		t.Errorf("the removed job reported %d results, want its check dropped", n)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestLoopLeavesNoSocketBehind(t *testing.T) {
	silent := rawServer(t, "127.0.0.2:0", hang)
	up := startHTTP(t, "127.0.0.1:0", nil, text(http.StatusOK, "ok"))
	down := closedPort(t, "127.0.0.1")
	// The servers' own descriptors settle before counting.
	time.Sleep(50 * time.Millisecond)
	before := openFDs(t)

	s := NewScheduler(nil)
	var js []Job
	for i := range 20 {
		js = append(js,
			Job{Key: fmt.Sprint("silent", i), Checker: NewHTTP(HTTPParams{Target: silent}), Interval: 100 * time.Millisecond, Timeout: 10 * time.Second, Rise: 1, Fall: 1},
			Job{Key: fmt.Sprint("up", i), Checker: NewHTTP(HTTPParams{Target: up}), Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1},
			Job{Key: fmt.Sprint("down", i), Checker: NewTCP(down, netip.Addr{}, time.Second), Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1},
		)
	}
	mustSet(t, s, js...)
	// Stopped with the 20 silent checks in flight, each holding a socket.
	runFor(t, s, 500*time.Millisecond)
	for key, st := range s.Snapshot() {
		if strings.HasPrefix(key, "up") && !st.Health.Healthy || strings.HasPrefix(key, "down") && st.Last.Message != "connection refused" {
			t.Errorf("%s: healthy %t, last %q", key, st.Health.Healthy, st.Last.Message)
		}
	}
	// The HTTP server may still be closing its ends of the checks.
	deadline := time.Now().Add(2 * time.Second)
	for openFDs(t) > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := openFDs(t); after > before {
		t.Errorf("%d descriptors open after Run, %d before", after, before)
	}
}
