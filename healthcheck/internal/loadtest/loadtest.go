// Package loadtest measures how the health-check Scheduler copes with a
// large job set: how many checks it runs per second, how much CPU the
// process spends per check, and how late checks start against their
// schedule. It backs the Scheduler's claim of thousands of checks a second
// at low cost and can be called from a benchmark or a command. Real HTTP
// checks of thousands of servers, with the checker's CPU and memory measured
// apart from the servers', are the job of bench/healthload.
package loadtest

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
)

// Config describes one load run.
type Config struct {
	// Jobs is how many jobs run, each every Interval: Jobs/Interval checks
	// per second.
	Jobs     int
	Interval time.Duration
	// Timeout is each job's timeout; 0 means Interval/2.
	Timeout time.Duration
	// Duration is how long the run lasts.
	Duration time.Duration
	// NewChecker makes job i's checker; nil means a check that passes at
	// once, which measures the Scheduler alone.
	NewChecker func(i int) healthcheck.Checker
}

// Report is what a run measured.
type Report struct {
	Checks          int
	Failed          int
	Wall            time.Duration
	CPU             time.Duration // user + system time of the whole process
	ChecksPerSecond float64
	CPUPerCheck     time.Duration
	// MaxLag is the largest delay of a check behind its schedule (the gap
	// between two starts of one job, less Interval).
	MaxLag time.Duration
}

func (r Report) String() string {
	return fmt.Sprintf("%d checks (%d failed) in %v: %.0f/s, %v CPU per check, max lag %v",
		r.Checks, r.Failed, r.Wall.Round(time.Millisecond), r.ChecksPerSecond, r.CPUPerCheck, r.MaxLag)
}

// Run runs the Scheduler with cfg's jobs for cfg.Duration and reports.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Jobs <= 0 || cfg.Interval <= 0 || cfg.Duration <= 0 {
		return Report{}, fmt.Errorf("loadtest: jobs, interval and duration must be positive")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = cfg.Interval / 2
	}
	var st stats
	lastStart := make([]time.Time, cfg.Jobs)
	jobs := make([]healthcheck.Job, cfg.Jobs)
	for i := range jobs {
		var inner healthcheck.Checker = passing{}
		if cfg.NewChecker != nil {
			inner = cfg.NewChecker(i)
		}
		jobs[i] = healthcheck.Job{
			Key:      fmt.Sprintf("job-%d", i),
			Checker:  &timed{inner: inner, last: &lastStart[i], interval: cfg.Interval, stats: &st},
			Interval: cfg.Interval,
			Timeout:  timeout,
			Rise:     1,
			Fall:     1,
		}
	}
	s := healthcheck.NewScheduler(func(_ string, r healthcheck.Result, _ healthcheck.Health, _ bool) {
		st.result(r.OK)
	})
	if err := s.Set(jobs); err != nil {
		return Report{}, err
	}

	cpu0, err := cpuTime()
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		return Report{}, err
	}
	wall := time.Since(start)
	cpu1, err := cpuTime()
	if err != nil {
		return Report{}, err
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	r := Report{
		Checks: st.checks,
		Failed: st.failed,
		Wall:   wall,
		CPU:    cpu1 - cpu0,
		MaxLag: st.maxLag,
	}
	r.ChecksPerSecond = float64(r.Checks) / wall.Seconds()
	if r.Checks > 0 {
		r.CPUPerCheck = r.CPU / time.Duration(r.Checks)
	}
	return r, nil
}

type stats struct {
	mu     sync.Mutex
	checks int
	failed int
	maxLag time.Duration
}

func (s *stats) result(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	if !ok {
		s.failed++
	}
}

func (s *stats) lag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxLag = max(s.maxLag, d)
}

// timed records how late each start of one job is. The Scheduler never
// runs two checks of one job at once, so last needs no lock.
type timed struct {
	inner    healthcheck.Checker
	last     *time.Time
	interval time.Duration
	stats    *stats
}

func (c *timed) Check(ctx context.Context) healthcheck.Result {
	now := time.Now()
	if !c.last.IsZero() {
		c.stats.lag(now.Sub(*c.last) - c.interval)
	}
	*c.last = now
	return c.inner.Check(ctx)
}

type passing struct{}

func (passing) Check(context.Context) healthcheck.Result {
	return healthcheck.Result{OK: true, Message: "ok"}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading CPU usage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
