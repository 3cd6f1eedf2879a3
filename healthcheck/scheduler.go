package healthcheck

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Job is one check to run periodically.
type Job struct {
	// Key identifies the check itself, not its owner: the check's type,
	// target and parameters together with Interval, Timeout, Rise and Fall
	// (KeyOf builds one). Two virtual servers that check the same real
	// server the same way pass the same Key, the check runs once, and the
	// caller fans the one result out to every owner of the Key.
	Key     string
	Checker Checker
	// Interval is the time from the scheduled start of one check to that of
	// the next; it must be positive.
	Interval time.Duration
	// Timeout bounds each check through its context; 0 means Interval.
	Timeout time.Duration
	// Rise and Fall are the hysteresis of Health.Observe; both at least 1.
	Rise, Fall int
}

// KeyOf builds a Job key from a checker that describes itself completely
// (every Checker of this package does, through fmt.Stringer) and the
// schedule. Checkers that are not fmt.Stringers get a key unique to the
// Checker value.
func KeyOf(c Checker, interval, timeout time.Duration, rise, fall int) string {
	desc := fmt.Sprintf("%T@%p", c, c)
	if s, ok := c.(fmt.Stringer); ok {
		desc = s.String()
	}
	return fmt.Sprintf("%s interval=%v timeout=%v rise=%d fall=%d", desc, interval, timeout, rise, fall)
}

// Status is what the Scheduler knows of one job.
type Status struct {
	Health Health
	// Last is the most recent result; its At is zero before the first check.
	Last Result
}

// ResultFunc receives the result of every completed check, with the job's
// Health after it and whether Healthy changed.
//
// It is called from the goroutine that ran the check, never from the
// dispatcher, so a slow ResultFunc cannot delay other jobs' checks. Calls for
// one key never overlap and arrive in order, because the job's next check is
// only scheduled once the call returns; a ResultFunc that takes longer than
// the job's Interval therefore delays that job's next check. Calls for
// different keys may run at the same time. A ResultFunc should hand the
// result on (a channel, a mutex-guarded map) and return quickly.
type ResultFunc func(key string, r Result, h Health, changed bool)

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithMaxInFlight caps how many checks run at once (0, the default, means no
// cap). The cap protects the director's file descriptors, but while it is
// reached due checks wait, so a crowd of hung targets can then delay others:
// size it well above checks-per-second × timeout.
func WithMaxInFlight(n int) Option {
	return func(s *Scheduler) { s.maxInFlight = n }
}

// Scheduler runs Jobs, each on its own cadence, and keeps their Health.
//
// Design: one dispatcher goroutine owns a min-heap of next-due times and a
// single timer; when a job is due it gets a goroutine for the length of that
// one check, which ends with the check. Idle jobs therefore cost a heap
// entry and no goroutine or runtime timer, 5,000 checks a second cost 5,000
// short-lived goroutines (a few microseconds each) and O(log n) heap work
// each, and a hung target holds only its own goroutine until its Timeout. A
// fixed worker pool was rejected: N hung targets would stall a pool of N
// workers and with it every other check, which must never happen.
//
// A job's next check is due Interval after its previous one was due, so its
// checks keep to a fixed grid however late each one's goroutine got going
// (with "Interval after the previous start", every scheduling delay would
// push all later checks back and the job would drift); if a check (and its
// ResultFunc) took longer than that, the next starts at once, without
// bursts to catch up. Checks of one job never overlap. New jobs start after
// a random delay in [0, Interval) so a large configuration does not probe
// every server in the same instant.
type Scheduler struct {
	onResult    ResultFunc
	maxInFlight int
	wake        chan struct{}

	mu       sync.Mutex
	entries  map[string]*entry
	queue    queue
	running  bool
	inFlight int
}

type entry struct {
	key    string
	job    Job
	health Health
	last   Result
	due    time.Time
	index  int // position in the queue; -1 while not queued
	// cancel stops the check in flight; nil when none is.
	cancel  context.CancelFunc
	removed bool
}

// NewScheduler returns a Scheduler that reports through onResult (which may
// be nil). It starts nothing: call Run.
func NewScheduler(onResult ResultFunc, opts ...Option) *Scheduler {
	s := &Scheduler{
		onResult: onResult,
		wake:     make(chan struct{}, 1),
		entries:  make(map[string]*entry),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Set replaces the job set; it may be called before Run or while it runs.
// Jobs whose Key is already known keep their Health and their schedule and
// use the new Checker from their next check on; new Keys start after a
// random delay in [0, Interval); Keys no longer present stop, and a check of
// theirs in flight is canceled and its result dropped.
//
// Several jobs may share a Key (see Job.Key); they must then agree on
// Interval, Timeout, Rise and Fall, and the first one's Checker is used. An
// invalid job rejects the whole set and leaves the running one untouched.
func (s *Scheduler) Set(jobs []Job) error {
	want := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		if err := validJob(j); err != nil {
			return err
		}
		if j.Timeout == 0 {
			j.Timeout = j.Interval
		}
		if prev, ok := want[j.Key]; ok {
			if prev.Interval != j.Interval || prev.Timeout != j.Timeout || prev.Rise != j.Rise || prev.Fall != j.Fall {
				return fmt.Errorf("healthcheck: job %q given twice with different schedules", j.Key)
			}
			continue
		}
		want[j.Key] = j
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for key, e := range s.entries {
		if _, keep := want[key]; keep {
			continue
		}
		e.removed = true
		if e.index >= 0 {
			heap.Remove(&s.queue, e.index)
		}
		if e.cancel != nil {
			e.cancel()
		}
		delete(s.entries, key)
	}
	for key, j := range want {
		if e, ok := s.entries[key]; ok {
			e.job = j
			// A shortened interval takes effect now rather than after the
			// old, longer wait.
			if e.index >= 0 && e.due.After(now.Add(j.Interval)) {
				e.due = now.Add(jitter(j.Interval))
				heap.Fix(&s.queue, e.index)
			}
			continue
		}
		e := &entry{key: key, job: j, index: -1}
		s.entries[key] = e
		if s.running {
			e.due = now.Add(jitter(j.Interval))
			heap.Push(&s.queue, e)
		}
	}
	s.poke()
	return nil
}

func validJob(j Job) error {
	switch {
	case j.Key == "":
		return errors.New("healthcheck: job without a key")
	case j.Checker == nil:
		return fmt.Errorf("healthcheck: job %q has no checker", j.Key)
	case j.Interval <= 0:
		return fmt.Errorf("healthcheck: job %q: interval %v is not positive", j.Key, j.Interval)
	case j.Timeout < 0:
		return fmt.Errorf("healthcheck: job %q: timeout %v is negative", j.Key, j.Timeout)
	case j.Rise < 1 || j.Fall < 1:
		return fmt.Errorf("healthcheck: job %q: rise %d and fall %d must be at least 1", j.Key, j.Rise, j.Fall)
	}
	return nil
}

// jitter returns a random delay in [0, interval).
func jitter(interval time.Duration) time.Duration {
	return rand.N(interval)
}

// Snapshot returns the Status of every job, by Key.
func (s *Scheduler) Snapshot() map[string]Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Status, len(s.entries))
	for key, e := range s.entries {
		out[key] = Status{Health: e.health, Last: e.last}
	}
	return out
}

// Run runs the checks until ctx ends, then cancels the checks in flight,
// waits for them (and their ResultFunc calls) to return and returns nil.
// Results of checks cut short by the end of ctx are dropped, not counted as
// failures. Run may be called again after it returned; every job then starts
// after a fresh random delay. It is an error to call Run while it runs.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("healthcheck: scheduler already running")
	}
	s.running = true
	s.queue = s.queue[:0]
	now := time.Now()
	for _, e := range s.entries {
		e.due = now.Add(jitter(e.job.Interval))
		heap.Push(&s.queue, e)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := s.dispatch(ctx, &wg)
		var fire <-chan time.Time
		if ok {
			timer.Reset(time.Until(next))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			// Checks in flight run under contexts derived from ctx, so they
			// are already canceled; wait for them to come back.
			wg.Wait()
			s.mu.Lock()
			s.running = false
			for _, e := range s.entries {
				e.index = -1
			}
			s.queue = s.queue[:0]
			s.mu.Unlock()
			return nil
		case <-fire:
		case <-s.wake:
		}
	}
}

// dispatch starts every due check and returns when the next one is due; ok
// is false when nothing is queued (or the in-flight cap is reached) and only
// a wake-up can bring more work.
func (s *Scheduler) dispatch(ctx context.Context, wg *sync.WaitGroup) (next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.queue) > 0 {
		e := s.queue[0]
		if e.due.After(now) {
			return e.due, true
		}
		if s.maxInFlight > 0 && s.inFlight >= s.maxInFlight {
			return time.Time{}, false
		}
		heap.Pop(&s.queue)
		checkCtx, cancel := context.WithTimeout(ctx, e.job.Timeout)
		e.cancel = cancel
		s.inFlight++
		wg.Add(1)
		go func(checker Checker) {
			defer wg.Done()
			s.runCheck(ctx, checkCtx, e, checker)
		}(e.job.Checker)
	}
	return time.Time{}, false
}

// runCheck runs one check of e, records it, reports it and queues e again.
func (s *Scheduler) runCheck(runCtx, checkCtx context.Context, e *entry, checker Checker) {
	start := time.Now()
	r := safeCheck(checkCtx, checker)
	if r.At.IsZero() {
		r.At, r.Duration = start, time.Since(start)
	}

	s.mu.Lock()
	e.cancel()
	e.cancel = nil
	s.inFlight--
	if e.removed || ended(runCtx) {
		s.mu.Unlock()
		s.poke()
		return
	}
	h, changed := e.health.Observe(r.OK, e.job.Rise, e.job.Fall)
	e.health, e.last = h, r
	s.mu.Unlock()

	if s.onResult != nil {
		s.onResult(e.key, r, h, changed)
	}

	s.mu.Lock()
	if !e.removed && runCtx.Err() == nil {
		// e.due still holds the slot this check was started for: Set moves
		// only queued entries.
		now := time.Now()
		e.due = e.due.Add(e.job.Interval)
		if e.due.Before(now) {
			e.due = now
		}
		heap.Push(&s.queue, e)
	}
	s.mu.Unlock()
	s.poke()
}

// ended reports whether the run is over: ctx is done, or its deadline has
// passed and its timer has yet to say so. A check inherits that deadline
// and may meet it first, for instance as a connection deadline that the
// network poller enforces apart from the context's timer; without the
// second test, a check cut short by the end of the run could be counted as
// failed.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// safeCheck runs one check, turning a panic into a failed result: one
// faulty checker must not bring down the daemon and every other check.
func safeCheck(ctx context.Context, c Checker) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = Result{Message: fmt.Sprintf("check panicked: %v", v)}
		}
	}()
	return c.Check(ctx)
}

// poke wakes the dispatcher without ever blocking.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queue is a min-heap of entries by due time.
type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *queue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*q = old[:len(old)-1]
	return e
}
