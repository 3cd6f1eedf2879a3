package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// fakeChecker returns scripted results and records when it was called.
type fakeChecker struct {
	script []bool // results in order; the last one repeats
	hang   bool   // block until the context ends
	stuck  time.Duration

	mu     sync.Mutex
	calls  []time.Time
	ctxEnd []time.Time
}

func (c *fakeChecker) Check(ctx context.Context) Result {
	c.mu.Lock()
	c.calls = append(c.calls, time.Now())
	n := len(c.calls)
	c.mu.Unlock()
	switch {
	case c.hang:
		<-ctx.Done()
		c.mu.Lock()
		c.ctxEnd = append(c.ctxEnd, time.Now())
		c.mu.Unlock()
		return Result{Message: "timed out"}
	case c.stuck > 0:
		time.Sleep(c.stuck) // a misbehaving checker that ignores ctx
		return Result{Message: "stuck"}
	}
	ok := true
	if len(c.script) > 0 {
		ok = c.script[min(n, len(c.script))-1]
	}
	if ok {
		return Result{OK: true, Message: "fine"}
	}
	return Result{Message: "broken"}
}

func (c *fakeChecker) Calls() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// report is one ResultFunc call, at a time relative to the test's epoch.
type report struct {
	Key                  string
	At                   time.Duration
	OK, Healthy, Changed bool
}

type recorder struct {
	epoch   time.Time
	mu      sync.Mutex
	reports []report
}

func newRecorder() *recorder { return &recorder{epoch: time.Now()} }

func (r *recorder) record(key string, res Result, h Health, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, report{Key: key, At: time.Since(r.epoch), OK: res.OK, Healthy: h.Healthy, Changed: changed})
}

func (r *recorder) For(key string) []report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []report
	for _, rep := range r.reports {
		if rep.Key == key {
			out = append(out, rep)
		}
	}
	return out
}

// start runs s until the returned stop function is called; stop returns
// Run's error.
func start(t *testing.T, s *Scheduler) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func mustSet(t *testing.T, s *Scheduler, jobs ...Job) {
	t.Helper()
	if err := s.Set(jobs); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

func TestSchedulerRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		c := &fakeChecker{script: []bool{true, true, false, false, true, true}}
		mustSet(t, s, Job{Key: "a", Checker: c, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2})
		stop := start(t, s)

		time.Sleep(time.Second) // past the start-up jitter
		first := c.Calls()[0].Sub(rec.epoch)
		time.Sleep(first + 5*time.Second + 500*time.Millisecond - time.Second)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		want := []report{
			{"a", first, true, false, false},
			{"a", first + 1*time.Second, true, true, true},
			{"a", first + 2*time.Second, false, true, false},
			{"a", first + 3*time.Second, false, false, true},
			{"a", first + 4*time.Second, true, false, false},
			{"a", first + 5*time.Second, true, true, true},
		}
		if diff := cmp.Diff(want, rec.For("a")); diff != "" {
			t.Errorf("reports (-want +got):\n%s", diff)
		}
		if got, want := s.Snapshot()["a"].Health, (Health{Healthy: true, Passes: 2}); got != want {
			t.Errorf("Snapshot health = %+v, want %+v", got, want)
		}
		if st, ok := s.Status("a"); !ok || st != s.Snapshot()["a"] {
			t.Errorf("Status(a) = %+v, %t; want Snapshot's %+v", st, ok, s.Snapshot()["a"])
		}
		if st, ok := s.Status("none"); ok || st != (Status{}) {
			t.Errorf("Status of no job = %+v, %t; want zero, false", st, ok)
		}
	})
}

func TestSchedulerJitterSpreadsStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, interval = 200, 10 * time.Second
		epoch := time.Now()
		s := NewScheduler(nil)
		checkers := make([]*fakeChecker, n)
		var jobs []Job
		for i := range checkers {
			checkers[i] = &fakeChecker{}
			jobs = append(jobs, Job{Key: string(rune('a' + i)), Checker: checkers[i], Interval: interval, Rise: 1, Fall: 1})
		}
		mustSet(t, s, jobs...)
		stop := start(t, s)
		time.Sleep(interval - time.Nanosecond)
		synctest.Wait()
		stop()

		offsets := make(map[time.Duration]bool)
		lo, hi := interval, time.Duration(0)
		for i, c := range checkers {
			calls := c.Calls()
			if len(calls) != 1 {
				t.Fatalf("job %d checked %d times in its first interval, want 1", i, len(calls))
			}
			off := calls[0].Sub(epoch)
			if off < 0 || off >= interval {
				t.Errorf("job %d started at %v, want within [0, %v)", i, off, interval)
			}
			offsets[off] = true
			lo, hi = min(lo, off), max(hi, off)
		}
		// With 200 uniform draws these bounds fail with a probability
		// around 1e-9.
		if len(offsets) < n*9/10 || lo > interval/10 || hi < interval*9/10 {
			t.Errorf("starts not spread: %d distinct offsets, earliest %v, latest %v", len(offsets), lo, hi)
		}
	})
}

func TestSchedulerHungCheckDoesNotDelayOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		hung := &fakeChecker{hang: true}
		stuck := &fakeChecker{stuck: 30 * time.Second}
		fast := &fakeChecker{}
		mustSet(t, s,
			Job{Key: "hung", Checker: hung, Interval: 10 * time.Second, Timeout: 3 * time.Second, Rise: 1, Fall: 1},
			Job{Key: "stuck", Checker: stuck, Interval: 10 * time.Second, Timeout: 3 * time.Second, Rise: 1, Fall: 1},
			Job{Key: "fast", Checker: fast, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 1},
		)
		stop := start(t, s)
		// The hung job starts within 10s and times out 3s later.
		time.Sleep(13 * time.Second)
		synctest.Wait()

		calls := fast.Calls()
		if len(calls) < 12 {
			t.Fatalf("fast job checked %d times in 13s, want at least 12", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Sub(calls[i-1]); gap != time.Second {
				t.Errorf("fast job: gap %d is %v, want exactly 1s", i, gap)
			}
		}
		hungCalls := hung.Calls()
		st := s.Snapshot()["hung"]
		if st.Last.OK || st.Last.Duration != 3*time.Second || !st.Last.At.Equal(hungCalls[0]) {
			t.Errorf("hung job's first result = %+v, want a failure of 3s started at %v", st.Last, hungCalls[0])
		}
		// Run waits for the checker that ignores its context.
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

func TestSchedulerSetKeepsUnchangedJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		a1, b, d := &fakeChecker{}, &fakeChecker{}, &fakeChecker{hang: true}
		jobA := Job{Key: "a", Checker: a1, Interval: time.Second, Rise: 1, Fall: 2}
		mustSet(t, s,
			jobA,
			Job{Key: "b", Checker: b, Interval: time.Second, Rise: 1, Fall: 1},
			Job{Key: "d", Checker: d, Interval: time.Second, Timeout: time.Hour, Rise: 1, Fall: 1},
		)
		stop := start(t, s)
		defer stop()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()

		before := s.Snapshot()["a"]
		if !before.Health.Healthy {
			t.Fatalf("job a not healthy before Set: %+v", before)
		}
		lastA := a1.Calls()[len(a1.Calls())-1]
		setAt := time.Now()

		a2, c := &fakeChecker{}, &fakeChecker{}
		jobA.Checker = a2 // a rebuilt checker for the same check
		mustSet(t, s, jobA, Job{Key: "c", Checker: c, Interval: time.Second, Rise: 1, Fall: 1})
		synctest.Wait()

		snap := s.Snapshot()
		if diff := cmp.Diff([]string{"a", "c"}, slices.Sorted(func(yield func(string) bool) {
			for k := range snap {
				if !yield(k) {
					return
				}
			}
		})); diff != "" {
			t.Errorf("keys after Set (-want +got):\n%s", diff)
		}
		if snap["a"].Health != before.Health {
			t.Errorf("job a health after Set = %+v, want kept %+v", snap["a"].Health, before.Health)
		}
		if got := d.ctxEnd; len(got) != 1 || !got[0].Equal(setAt) {
			t.Errorf("removed job's check in flight ended at %v, want canceled at %v", got, setAt)
		}

		time.Sleep(3 * time.Second)
		synctest.Wait()

		if n := len(a1.Calls()); n == 0 || a1.Calls()[n-1].After(setAt) {
			t.Errorf("old checker of job a still called after Set")
		}
		if a2c := a2.Calls(); len(a2c) == 0 || !a2c[0].Equal(lastA.Add(time.Second)) {
			t.Errorf("job a's next check at %v, want its old schedule %v", a2c, lastA.Add(time.Second))
		}
		if bc := b.Calls(); bc[len(bc)-1].After(setAt) {
			t.Errorf("removed job b checked after Set at %v", bc[len(bc)-1])
		}
		if cc := c.Calls(); len(cc) == 0 || cc[0].Before(setAt) || !cc[0].Before(setAt.Add(time.Second)) {
			t.Errorf("new job c first checked at %v, want within a second of %v", cc, setAt)
		}
		for _, rep := range rec.For("a") {
			if rep.At > setAt.Sub(rec.epoch) && (!rep.Healthy || rep.Changed) {
				t.Errorf("job a flapped after Set: %+v", rep)
			}
		}
		if got := rec.For("d"); len(got) != 0 {
			t.Errorf("canceled check of removed job d reported: %+v", got)
		}
	})
}

func TestSchedulerSharedKeyRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		first, second := &fakeChecker{}, &fakeChecker{}
		job := Job{Key: KeyOf(NewTCP(netip.MustParseAddrPort("192.0.2.7:80"), netip.Addr{}, time.Second), 2*time.Second, time.Second, 2, 3),
			Checker: first, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3}
		other := job
		other.Checker = second
		mustSet(t, s, job, other)
		stop := start(t, s)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		stop()

		if n := len(first.Calls()); n != 5 {
			t.Errorf("shared check ran %d times in 10s at a 2s interval, want 5", n)
		}
		if n := len(second.Calls()); n != 0 {
			t.Errorf("duplicate checker ran %d times, want 0", n)
		}
		if n := len(rec.For(job.Key)); n != 5 {
			t.Errorf("%d reports for the shared key, want 5", n)
		}
		if n := len(s.Snapshot()); n != 1 {
			t.Errorf("Snapshot has %d entries, want 1", n)
		}
	})
}

func TestSchedulerSetRejects(t *testing.T) {
	c := &fakeChecker{}
	good := Job{Key: "k", Checker: c, Interval: time.Second, Rise: 1, Fall: 1}
	tests := []struct {
		name string
		jobs []Job
		want string
	}{
		{"no key", []Job{{Checker: c, Interval: time.Second, Rise: 1, Fall: 1}}, "without a key"},
		{"no checker", []Job{{Key: "k", Interval: time.Second, Rise: 1, Fall: 1}}, "no checker"},
		{"zero interval", []Job{{Key: "k", Checker: c, Rise: 1, Fall: 1}}, "interval 0s"},
		{"negative timeout", []Job{{Key: "k", Checker: c, Interval: time.Second, Timeout: -1, Rise: 1, Fall: 1}}, "timeout -1ns"},
		{"zero rise", []Job{{Key: "k", Checker: c, Interval: time.Second, Fall: 1}}, "rise 0"},
		{"shared key, other schedule", []Job{good, {Key: "k", Checker: c, Interval: time.Second, Rise: 2, Fall: 1}}, "different schedules"},
	}
	if err := Validate([]Job{good, good}); err != nil {
		t.Errorf("Validate of a good set: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.jobs); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate error = %v, want one containing %q", err, tc.want)
			}
			s := NewScheduler(nil)
			mustSet(t, s, Job{Key: "old", Checker: c, Interval: time.Second, Rise: 1, Fall: 1})
			err := s.Set(tc.jobs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set error = %v, want one containing %q", err, tc.want)
			}
			if _, ok := s.Snapshot()["old"]; !ok || len(s.Snapshot()) != 1 {
				t.Errorf("rejected Set changed the job set: %v", s.Snapshot())
			}
		})
	}
}

func TestSchedulerRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeChecker{}
		s := NewScheduler(nil)
		mustSet(t, s, Job{Key: "a", Checker: c, Interval: time.Second, Rise: 1, Fall: 1})
		stop := start(t, s)
		synctest.Wait()
		if err := s.Run(t.Context()); err == nil {
			t.Errorf("second concurrent Run returned nil, want an error")
		}
		time.Sleep(2 * time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		n := len(c.Calls())
		time.Sleep(5 * time.Second)
		if len(c.Calls()) != n {
			t.Errorf("checks ran after Run returned")
		}
		// A stopped scheduler can run again and keeps its jobs.
		stop = start(t, s)
		time.Sleep(2 * time.Second)
		stop()
		if len(c.Calls()) <= n {
			t.Errorf("no checks after Run was called again")
		}
	})
}

// TestSchedulerRealTargets runs real checks against loopback servers in real
// time and checks that Run returns promptly, with checks in flight, leaving
// no goroutine behind.
func TestSchedulerRealTargets(t *testing.T) {
	up := rawServer(t, "127.0.0.1:0", func(net.Conn, <-chan struct{}) {})
	silent := rawServer(t, "127.0.0.2:0", hang)
	down := closedPort(t, "127.0.0.1")
	ignore := goleak.IgnoreCurrent()

	s := NewScheduler(nil)
	const interval, timeout = 50 * time.Millisecond, time.Second
	mustSet(t, s,
		Job{Key: "up", Checker: NewTCP(up, netip.Addr{}, timeout), Interval: interval, Timeout: timeout, Rise: 2, Fall: 2},
		Job{Key: "down", Checker: NewTCP(down, netip.Addr{}, timeout), Interval: interval, Timeout: timeout, Rise: 2, Fall: 2},
		// The scheduler's timeout binds, not the checker's own.
		Job{Key: "silent", Checker: NewHTTP(HTTPParams{Target: silent, Timeout: time.Hour}), Interval: interval, Timeout: 100 * time.Millisecond, Rise: 2, Fall: 2},
		Job{Key: "exec", Checker: NewExec(ExecParams{Argv: []string{"sleep", "100"}}), Interval: interval, Timeout: time.Hour, Rise: 2, Fall: 2},
	)
	stop := start(t, s)
	time.Sleep(time.Second)
	stopAt := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(stopAt); el > 500*time.Millisecond {
		t.Errorf("Run took %v to return after its context ended", el)
	}

	want := map[string]struct {
		healthy bool
		message string // regular expression
	}{
		"up":     {true, "^connected$"},
		"down":   {false, "^connection refused$"},
		"silent": {false, `^timed out after \d+ms$`}, // 100ms, unless the machine is very busy
		"exec":   {false, "^$"},                      // its check was cut short by the stop
	}
	snap := s.Snapshot()
	if len(snap) != len(want) {
		t.Errorf("Snapshot has %d jobs, want %d", len(snap), len(want))
	}
	for key, w := range want {
		st := snap[key]
		if st.Health.Healthy != w.healthy || !regexp.MustCompile(w.message).MatchString(st.Last.Message) {
			t.Errorf("job %s: healthy %t, last message %q; want healthy %t, message matching %q",
				key, st.Health.Healthy, st.Last.Message, w.healthy, w.message)
		}
	}
	goleak.VerifyNone(t, ignore)
}

type panicChecker struct{}

func (panicChecker) Check(context.Context) Result { panic("boom") }

func TestSchedulerSurvivesPanickingChecker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		mustSet(t, s, Job{Key: "p", Checker: panicChecker{}, Interval: time.Second, Rise: 1, Fall: 1})
		stop := start(t, s)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		stop()
		reps := rec.For("p")
		if len(reps) < 2 {
			t.Fatalf("%d reports from a panicking checker, want one a second", len(reps))
		}
		if last := s.Snapshot()["p"].Last; last.OK || last.Message != "check panicked: boom" {
			t.Errorf("last result = %+v, want a failure naming the panic", last)
		}
	})
}

// lateChecker is a check that gets going late: its n-th call waits
// late(n) before it starts its work, as a check whose goroutine the
// runtime schedules late. It records when each started.
type lateChecker struct {
	late func(n int) time.Duration

	mu     sync.Mutex
	starts []time.Time
}

func (c *lateChecker) Check(context.Context) Result {
	c.mu.Lock()
	n := len(c.starts) + 1
	c.mu.Unlock()
	time.Sleep(c.late(n))
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	return Result{OK: true}
}

func (c *lateChecker) Starts() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.starts)
}

// TestSchedulerKeepsGrid checks that a check started late does not push a
// job's later checks back: each is due Interval after the previous one was
// due, not after it started or ended. Here the checks start up to 2.25s
// late by turns; any drift would add up far beyond that over 40 checks.
func TestSchedulerKeepsGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval, held = 5 * time.Second, 3 * time.Second
		s := NewScheduler(nil)
		c := &lateChecker{late: func(n int) time.Duration { return time.Duration(n%4) * 750 * time.Millisecond }}
		mustSet(t, s, Job{Key: "late", Checker: c, Interval: interval, Timeout: held, Rise: 1, Fall: 1})
		stop := start(t, s)
		time.Sleep(200 * time.Second)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		starts := c.Starts()
		if len(starts) < 38 {
			t.Fatalf("job checked %d times in 200s, want about 40", len(starts))
		}
		// The first start is itself 0.75s late, so later ones may be
		// that much early against the grid it sets.
		first := starts[0].Add(-750 * time.Millisecond)
		late := 0
		for i, at := range starts {
			off := at.Sub(first.Add(time.Duration(i) * interval))
			if off < 0 || off >= held {
				t.Errorf("check %d started %v off its slot, want within [0, %v)", i, off, held)
			}
			if off != 0 {
				late++
			}
		}
		if late == 0 {
			t.Errorf("no check started late; the test proves nothing")
		}
	})
}

// pastDeadline is a run context whose deadline has passed but whose timer
// has not yet fired: the instant at the end of a run in which a check's own
// copy of that deadline can already have expired.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestSchedulerDropsChecksCutByRunDeadline checks that a check ended by the
// run's deadline is dropped, not reported as a failure, even when it sees
// the deadline before Run's context reports it: a connection deadline set
// from the check's context fires in the network poller, independently of
// and possibly before the context's timer. The checkers here fail at once,
// as one would that met that deadline.
func TestSchedulerDropsChecksCutByRunDeadline(t *testing.T) {
	rec := newRecorder()
	s := NewScheduler(rec.record)
	var jobs []Job
	for i := range 20 {
		jobs = append(jobs, Job{Key: string(rune('a' + i)), Checker: &fakeChecker{script: []bool{false}}, Interval: 10 * time.Millisecond, Timeout: time.Hour, Rise: 1, Fall: 1})
	}
	mustSet(t, s, jobs...)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(pastDeadline{ctx}) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reports) != 0 {
		t.Errorf("%d results reported after the run's deadline, want none; first: %+v", len(rec.reports), rec.reports[0])
	}
}
