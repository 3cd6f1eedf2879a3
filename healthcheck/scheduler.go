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
	// Retry is how many times a failed check of a healthy target is
	// tried again, RetryDelay after each failure, before it counts as one
	// failure (keepalived's retry and delay_before_retry, which also
	// retry only while the server is up: for a target already unhealthy
	// a retry could only bring it back sooner than its Interval says).
	// The tries of one round count once towards Rise and Fall: as a pass
	// when one passes, as a failure when all fail; Timeout bounds each
	// try. Tries that fail and are retried show in Status.Last but are
	// not reported to the ResultFunc. The next round is due Interval
	// after the round's first try was due.
	Retry      int
	RetryDelay time.Duration
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
// It is called from the goroutine that ran the check, or for the checks the
// Scheduler's loop runs itself (TCP, plain HTTP) from one reporting
// goroutine, in the order they finished; never from the loop, so a slow
// ResultFunc cannot delay other jobs' checks. Calls for one key never
// overlap and arrive in order, because the job's next check is only
// scheduled once the call returns; a ResultFunc that takes longer than the
// job's Interval therefore delays that job's next check (and, for the
// loop's checks, those whose results queue behind it). Calls for different
// keys may run at the same time. A ResultFunc should hand the result on (a
// channel, a mutex-guarded map) and return quickly.
type ResultFunc func(key string, r Result, h Health, changed bool)

// Scheduler runs Jobs, each on its own cadence, and keeps their Health.
//
// Design: one loop goroutine owns a min-heap of next-due times and an epoll
// instance. TCP and plain HTTP checks run on the loop itself, as
// non-blocking sockets it watches (see netLoop): a check costs its system
// calls and a heap operation, no goroutine and no timer, and a hung target
// holds one socket until its Timeout while the loop serves every other. The
// other checks (HTTPS, exec, any other Checker) each get a goroutine for the
// length of the check. Idle jobs cost a heap entry only. A fixed worker pool
// was rejected: N hung targets would stall a pool of N workers and with it
// every other check, which must never happen.
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
	onResult ResultFunc

	mu      sync.Mutex
	entries map[string]*entry
	queue   timeHeap[*entry]
	running bool
	// loop is the running loop, nil when Run is not running; wakeAt is
	// when it will look at the queue next (zero: only when woken), so that
	// a job queued earlier than that wakes it and a later one does not.
	loop   *netLoop
	wakeAt time.Time
	// removals counts Set calls that removed jobs, so the loop knows when
	// to look for probes of removed jobs.
	removals int
	// netJobs counts the jobs the loop runs itself. While there are any the
	// loop waits in epoll_wait, woken through its eventfd; without, it
	// waits on a timer and wake, as Go code does, so that a Scheduler of
	// other checks (exec, HTTPS, a test's fakes) needs no system call to
	// sleep, and runs under testing/synctest's fake clock.
	netJobs   int
	epollMode bool
	wake      chan struct{}
	// reports are finished net checks for the reporter goroutine.
	reports []loopResult
	// reportWake signals the reporter that reports has grown.
	reportWake chan struct{}
}

// loopResult is a finished check of the loop's, on its way to onResult.
type loopResult struct {
	e       *entry
	r       Result
	h       Health
	changed bool
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
	// probe is the entry's check when the loop runs it: one per job, as a
	// job never has two checks in flight.
	probe probe
	// tries counts the failed tries of the round in progress that were
	// retried; slot is when the round's first try was due.
	tries int
	slot  time.Time
}

// NewScheduler returns a Scheduler that reports through onResult (which may
// be nil). It starts nothing: call Run.
func NewScheduler(onResult ResultFunc) *Scheduler {
	return &Scheduler{
		onResult: onResult,
		entries:  make(map[string]*entry),
		wake:     make(chan struct{}, 1),
	}
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
	want, err := jobSet(jobs)
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for key, e := range s.entries {
		if _, keep := want[key]; keep {
			continue
		}
		s.removals++
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
	s.netJobs = 0
	for _, e := range s.entries {
		if netCheckOf(e.job.Checker) != nil {
			s.netJobs++
		}
	}
	s.wakeLocked()
	return nil
}

// Validate reports whether Set would take jobs, without changing anything:
// a caller that must change other things along with the jobs checks them
// all first.
func Validate(jobs []Job) error {
	_, err := jobSet(jobs)
	return err
}

// jobSet checks jobs and returns them by key, each with its timeout.
func jobSet(jobs []Job) (map[string]Job, error) {
	want := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		if err := validJob(j); err != nil {
			return nil, err
		}
		if j.Timeout == 0 {
			j.Timeout = j.Interval
		}
		if prev, ok := want[j.Key]; ok {
			if prev.Interval != j.Interval || prev.Timeout != j.Timeout || prev.Rise != j.Rise || prev.Fall != j.Fall ||
				prev.Retry != j.Retry || prev.RetryDelay != j.RetryDelay {
				return nil, fmt.Errorf("healthcheck: job %q given twice with different schedules", j.Key)
			}
			continue
		}
		want[j.Key] = j
	}
	return want, nil
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
	case j.Retry < 0 || j.RetryDelay < 0:
		return fmt.Errorf("healthcheck: job %q: retry %d and its delay %v must not be negative", j.Key, j.Retry, j.RetryDelay)
	}
	return nil
}

// jitter returns a random delay in [0, interval).
func jitter(interval time.Duration) time.Duration {
	return rand.N(interval)
}

// Status returns the Status of the job key, and whether there is one.
func (s *Scheduler) Status(key string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return Status{}, false
	}
	return Status{Health: e.health, Last: e.last}, true
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
	l, err := newNetLoop()
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		l.close()
		return errors.New("healthcheck: scheduler already running")
	}
	s.running = true
	s.loop = l
	reportWake := make(chan struct{}, 1)
	s.reportWake = reportWake
	s.queue = s.queue[:0]
	now := time.Now()
	for _, e := range s.entries {
		e.due, e.tries = now.Add(jitter(e.job.Interval)), 0
		heap.Push(&s.queue, e)
	}
	s.mu.Unlock()

	stopWake := context.AfterFunc(ctx, l.wake)
	defer stopWake()
	var wg sync.WaitGroup
	reporterDone := make(chan struct{})
	go s.reporter(ctx, reportWake, reporterDone)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	removals := -1
	var due []*entry
	for {
		due = s.dispatch(ctx, &wg, l, due[:0])
		if ctx.Err() != nil {
			break
		}
		if err = s.wait(ctx, l, timer); err != nil {
			break
		}
		if ctx.Err() != nil {
			break
		}
		s.finishProbes(ctx, l.takeDone())
		if r := s.removalCount(); r != removals {
			removals = r
			s.dropRemoved(l)
		}
	}

	// Checks in flight on the loop are abandoned, the others run under
	// contexts derived from ctx and are already canceled; wait for them
	// and for the reporter.
	s.mu.Lock()
	s.loop = nil
	for _, p := range l.inFlight() {
		p.owner.cancel = nil
	}
	s.mu.Unlock()
	l.close()
	wg.Wait()
	close(reportWake)
	<-reporterDone
	s.mu.Lock()
	s.reportWake = nil
	s.reports = nil
	s.running = false
	for _, e := range s.entries {
		e.index = -1
	}
	s.queue = s.queue[:0]
	s.mu.Unlock()
	return err
}

// dispatch starts every due check: those the loop can run on the loop,
// the others in goroutines. It then records in wakeAt when the loop must
// look again: at the next due job or the next deadline of a check in
// flight, whichever comes first.
func (s *Scheduler) dispatch(ctx context.Context, wg *sync.WaitGroup, l *netLoop, due []*entry) []*entry {
	s.mu.Lock()
	now := time.Now()
	for len(s.queue) > 0 {
		e := s.queue[0]
		nc := netCheckOf(e.job.Checker)
		if e.due.After(now) && (nc == nil || e.due.After(now.Add(batchWindow(e.job.Interval)))) {
			break
		}
		heap.Pop(&s.queue)
		if nc == nil {
			checkCtx, cancel := context.WithTimeout(ctx, e.job.Timeout)
			e.cancel = cancel
			wg.Add(1)
			go func(checker Checker) {
				defer wg.Done()
				s.runCheck(ctx, checkCtx, e, checker)
			}(e.job.Checker)
			continue
		}
		// The loop's own: set up here, under the lock that guards the
		// job, and started below without it, as the system calls need
		// not hold it.
		e.cancel = func() {}
		p := &e.probe
		p.c, p.owner = nc, e
		p.budget = e.job.Timeout
		if t := nc.timeout; t > 0 && t < p.budget {
			p.budget = t
		}
		p.limit, _ = ctx.Deadline()
		due = append(due, e)
	}
	s.mu.Unlock()

	// One reading of the clock for the batch: its checks start within
	// the few system calls each takes.
	for _, e := range due {
		l.start(&e.probe, now)
	}
	if len(due) > 0 {
		// Checks that failed at once (no descriptor left) are reported
		// now rather than after the next wait.
		s.finishProbes(ctx, l.takeDone())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeAt = time.Time{}
	if len(s.queue) > 0 {
		s.wakeAt = s.queue[0].due
	}
	if dl, ok := l.nextDeadline(); ok && (s.wakeAt.IsZero() || dl.Before(s.wakeAt)) {
		s.wakeAt = dl
	}
	return due
}

// batchWindow is how early the loop may start a check of its own: when
// it wakes for one check it also starts those due within the window, so
// that they share its wake-ups (the timer's, and the ones for the answers,
// which then come in together). Each wake-up of an idle loop costs more
// than the check's own system calls: at 200 checks a second a 200 ms window
// takes the checker from 3.6–4.3 % of a core to 2.6–2.7 % on the lab's
// host, against 7 % when every check woke the loop on its own. The window
// is a tenth of the interval, at most 200 ms. A check that starts early
// keeps its job's grid, as the next is due an interval after this one was
// due, not after it started, and it only ever makes a failure seen sooner.
func batchWindow(interval time.Duration) time.Duration {
	return min(200*time.Millisecond, interval/10)
}

// netCheckOf returns what the loop runs for c, or nil when c needs a
// goroutine.
func netCheckOf(c Checker) *netCheck {
	if c == nil {
		return nil
	}
	if n, ok := c.(netChecker); ok {
		return n.netCheck()
	}
	return nil
}

// wait sleeps until wakeAt (zero: until woken) or a wake: in epoll_wait
// while the loop has checks of its own, else on timer.
func (s *Scheduler) wait(ctx context.Context, l *netLoop, timer *time.Timer) error {
	s.mu.Lock()
	until := s.wakeAt
	s.epollMode = s.netJobs > 0 || l.live() > 0
	epoll := s.epollMode
	s.mu.Unlock()
	if epoll {
		return l.poll(until)
	}
	var fire <-chan time.Time
	if !until.IsZero() {
		timer.Reset(time.Until(until))
		fire = timer.C
	}
	select {
	case <-fire:
	case <-s.wake:
	case <-ctx.Done():
	}
	return nil
}

func (s *Scheduler) removalCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removals
}

// dropRemoved abandons the checks in flight of jobs that Set removed.
func (s *Scheduler) dropRemoved(l *netLoop) {
	for _, p := range l.inFlight() {
		s.mu.Lock()
		removed := p.owner.removed
		s.mu.Unlock()
		if removed {
			l.abort(p, "canceled")
		}
	}
	s.finishProbes(context.Background(), l.takeDone())
}

// finishProbes records the results of the loop's finished checks and hands
// them to the reporter, which calls onResult and queues each job again.
func (s *Scheduler) finishProbes(ctx context.Context, done []*probe) {
	if len(done) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range done {
		e := p.owner
		e.cancel = nil
		if e.removed || ended(ctx) {
			continue
		}
		p.res.Due = e.due
		if s.retryLocked(e, p.res) {
			continue
		}
		h, changed := e.health.observe(p.res, e.job.Rise, e.job.Fall)
		e.health, e.last = h, p.res
		if s.onResult == nil {
			s.requeueLocked(ctx, e, true, time.Now())
			continue
		}
		s.reports = append(s.reports, loopResult{e: e, r: p.res, h: h, changed: changed})
	}
	if len(s.reports) > 0 {
		select {
		case s.reportWake <- struct{}{}:
		default:
		}
	}
}

// reporter calls onResult for the loop's checks, in order, outside the
// loop: a slow ResultFunc delays the jobs whose results wait for it, never
// the checks of others. Each job goes back in the queue once its call
// returned, as a goroutine's check does.
func (s *Scheduler) reporter(ctx context.Context, wake <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var batch []loopResult
	for range wake {
		s.mu.Lock()
		batch, s.reports = s.reports, batch[:0]
		s.mu.Unlock()
		for _, r := range batch {
			s.onResult(r.e.key, r.r, r.h, r.changed)
		}
		s.mu.Lock()
		now := time.Now()
		for _, r := range batch {
			s.requeueLocked(ctx, r.e, false, now)
		}
		s.mu.Unlock()
		clear(batch)
	}
}

// runCheck runs one check of e in its own goroutine, records it, reports it
// and queues e again.
func (s *Scheduler) runCheck(runCtx, checkCtx context.Context, e *entry, checker Checker) {
	start := time.Now()
	r := safeCheck(checkCtx, checker)
	if r.At.IsZero() {
		r.At, r.Duration = start, time.Since(start)
	}
	// e.due is this check's slot until requeue moves it on.
	s.mu.Lock()
	r.Due = e.due
	s.mu.Unlock()

	s.mu.Lock()
	e.cancel()
	e.cancel = nil
	if e.removed || ended(runCtx) {
		s.wakeLocked()
		s.mu.Unlock()
		return
	}
	if s.retryLocked(e, r) {
		s.wakeLocked()
		s.mu.Unlock()
		return
	}
	h, changed := e.health.observe(r, e.job.Rise, e.job.Fall)
	e.health, e.last = h, r
	s.mu.Unlock()

	if s.onResult != nil {
		s.onResult(e.key, r, h, changed)
	}

	s.mu.Lock()
	s.requeueLocked(runCtx, e, false, time.Now())
	s.mu.Unlock()
}

// retryLocked queues the next try of e's round when r failed, the target
// is healthy and the round has tries left, and reports whether it did. Otherwise the round is over:
// e.due is back on the round's slot, for requeueLocked.
func (s *Scheduler) retryLocked(e *entry, r Result) bool {
	if r.OK || e.tries >= e.job.Retry || !e.health.Healthy {
		if e.tries > 0 {
			e.due, e.tries = e.slot, 0
		}
		return false
	}
	if e.tries == 0 {
		e.slot = e.due
	}
	e.tries++
	e.last = r
	e.due = time.Now().Add(e.job.RetryDelay)
	heap.Push(&s.queue, e)
	if s.wakeAt.IsZero() || e.due.Before(s.wakeAt) {
		s.wakeAt = e.due
	}
	return true
}

// requeueLocked queues e's next check. Called from outside the loop, it
// wakes the loop if it would otherwise look too late; the loop itself
// looks at the queue before it waits again.
func (s *Scheduler) requeueLocked(ctx context.Context, e *entry, fromLoop bool, now time.Time) {
	if e.removed || ctx.Err() != nil {
		return
	}
	// e.due still holds the slot this check was started for: Set moves
	// only queued entries.
	e.due = e.due.Add(e.job.Interval)
	if e.due.Before(now) {
		e.due = now
	}
	heap.Push(&s.queue, e)
	if !fromLoop && (s.wakeAt.IsZero() || e.due.Before(s.wakeAt)) {
		s.wakeAt = e.due
		s.wakeLocked()
	}
}

// wakeLocked makes the loop look at the queue now, through whichever way
// it waits. A wake the loop is not waiting on makes it look once more
// later, for nothing.
func (s *Scheduler) wakeLocked() {
	switch {
	case s.loop == nil:
	case s.epollMode:
		s.loop.wake()
	default:
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
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
