package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/healthcheck"
)

// config describes one benchmark run.
type config struct {
	Servers  int
	Interval time.Duration
	Timeout  time.Duration
	Duration time.Duration
	// Base is the first listener address; Port their common port.
	Base netip.Addr
	Port uint16
	// Rise and Fall are the daemon's defaults unless set.
	Rise, Fall int
}

// report is what one run measured. CPU and PeakRSS are the checker
// process's own; the listeners run in a child process.
type report struct {
	Config config
	// Checks counts completed checks, Failed those that did not pass, and
	// Healthy the servers healthy at the end.
	Checks, Failed, Healthy int
	// FailSample holds the first few failure messages.
	FailSample []string
	Wall       time.Duration
	CPU        time.Duration
	PeakRSS    int64 // bytes
	// Lateness of check starts against first start + k×Interval.
	Late        latencies
	ListenerCPU time.Duration
	// Floor is the CPU one bare connection costs this process (see
	// kernelFloor); FloorConns how many it was measured over.
	Floor        time.Duration
	FloorConns   int
	Served       int64
	LoadBefore   string
	LoadAfter    string
	GoMaxProcs   int
	Started      time.Time
	ChecksPerSec float64
}

// CPUShare is the checker's CPU time as a share of one core.
func (r report) CPUShare() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return r.CPU.Seconds() / r.Wall.Seconds()
}

// run starts the listeners in a child process, checks them with lvsd's
// Scheduler and HTTP checkers for cfg.Duration and reports. beforeRun, if
// not nil, is called just before the Scheduler starts and its returned
// function just after it stops (the CPU profile hooks in there).
func run(ctx context.Context, cfg config, beforeRun func() (after func())) (report, error) {
	if cfg.Servers <= 0 || cfg.Interval <= 0 || cfg.Duration <= 0 || cfg.Timeout <= 0 {
		return report{}, errors.New("servers, interval, timeout and duration must be positive")
	}
	if cfg.Rise == 0 {
		cfg.Rise = 2
	}
	if cfg.Fall == 0 {
		cfg.Fall = 3
	}
	addrs, err := serverAddrs(cfg.Base, cfg.Port, cfg.Servers)
	if err != nil {
		return report{}, err
	}
	if err := raiseFileLimit(4096); err != nil {
		return report{}, err
	}
	ch, ports, err := startChild(ctx, cfg)
	if err != nil {
		return report{}, err
	}
	if len(ports) != len(addrs) {
		_, _ = ch.stop()
		return report{}, fmt.Errorf("listener process reported %d ports for %d listeners", len(ports), len(addrs))
	}
	for i, p := range ports {
		addrs[i] = netip.AddrPortFrom(addrs[i].Addr(), p)
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = ch.stop()
		}
	}()

	r := report{Config: cfg, LoadBefore: benchresult.LoadAverage(), GoMaxProcs: gomaxprocs()}
	r.FloorConns = min(2000, 4*len(addrs))
	if r.Floor, err = kernelFloor(addrs, r.FloorConns); err != nil {
		return report{}, err
	}
	res := results{late: newLateness()}
	jobs := make([]healthcheck.Job, len(addrs))
	for i, a := range addrs {
		// Built as the daemon builds a `health_check "http"` block.
		c := healthcheck.NewHTTP(healthcheck.HTTPParams{
			Target:  a,
			Path:    "/healthz",
			Timeout: cfg.Timeout,
		})
		jobs[i] = healthcheck.Job{
			Key:      healthcheck.KeyOf(c, cfg.Interval, cfg.Timeout, cfg.Rise, cfg.Fall),
			Checker:  c,
			Interval: cfg.Interval,
			Timeout:  cfg.Timeout,
			Rise:     cfg.Rise,
			Fall:     cfg.Fall,
		}
	}
	s := healthcheck.NewScheduler(res.record)
	if err := s.Set(jobs); err != nil {
		return report{}, err
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var after func()
	if beforeRun != nil {
		after = beforeRun()
	}
	cpu0, err := cpuTime()
	if err != nil {
		return report{}, err
	}
	r.Started = time.Now()
	if err := s.Run(runCtx); err != nil {
		return report{}, err
	}
	r.Wall = time.Since(r.Started)
	cpu1, err := cpuTime()
	if err != nil {
		return report{}, err
	}
	if after != nil {
		after()
	}
	r.CPU = cpu1 - cpu0
	if r.PeakRSS, err = peakRSS(); err != nil {
		return report{}, err
	}
	r.LoadAfter = benchresult.LoadAverage()

	stopped = true
	cr, err := ch.stop()
	if err != nil {
		return report{}, err
	}
	r.ListenerCPU, r.Served = cr.CPU, cr.Served

	r.Checks, r.Failed, r.FailSample = res.get()
	r.ChecksPerSec = float64(r.Checks) / r.Wall.Seconds()
	r.Late = res.late.summary()
	for _, st := range s.Snapshot() {
		if st.Health.Healthy {
			r.Healthy++
		}
	}
	return r, nil
}

// startChild re-executes this binary as the listener process and returns
// the listeners' ports.
func startChild(ctx context.Context, cfg config) (*child, []uint16, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("finding this executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+childSpec(cfg.Servers, cfg.Base, cfg.Port))
	cmd.Stderr = os.Stderr
	// The child must not outlive a checker that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting the listener process: %w", err)
	}
	c := &child{wait: cmd.Wait, stdin: stdin, stdout: bufio.NewReader(stdout)}
	ports, err := c.readReady(30 * time.Second)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, err
	}
	return c, ports, nil
}

// floorRequest is what a check sends, near enough in size.
const floorRequest = "GET /healthz HTTP/1.1\r\nHost: 127.1.0.1:8080\r\nUser-Agent: lvsd-healthcheck\r\nConnection: close\r\n\r\n"

// kernelFloor measures the CPU time this process spends on one bare
// exchange with a listener: socket, connect, write the request, read the
// answer, close, in raw system calls one after another. Over loopback the
// kernel runs both ends' TCP work (handshake, delivery to the listener's
// socket, teardown) inside the caller's system calls, so this is the cost
// no checker can go below on this machine; it puts the checker's own figure
// in proportion.
func kernelFloor(addrs []netip.AddrPort, n int) (time.Duration, error) {
	req := []byte(floorRequest)
	buf := make([]byte, 4096)
	cpu0, err := cpuTime()
	if err != nil {
		return 0, err
	}
	for i := range n {
		a := addrs[i%len(addrs)]
		var err error
		// The Go runtime's signals can interrupt a raw system call; the
		// exchange is then simply made again.
		for range 5 {
			if err = bareExchange(a, req, buf); !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		if err != nil {
			return 0, fmt.Errorf("measuring the kernel floor against %v: %w", a, err)
		}
	}
	cpu1, err := cpuTime()
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0) / time.Duration(n), nil
}

// bareExchange is one floor measurement: a blocking socket, 2s receive
// timeout, one write and one read.
func bareExchange(a netip.AddrPort, req, buf []byte) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 2}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: a.Addr().As4(), Port: int(a.Port())}); err != nil {
		return err
	}
	if _, err := syscall.Write(fd, req); err != nil {
		return err
	}
	_, err = syscall.Read(fd, buf)
	return err
}

// results counts what the Scheduler reports, and how late each check
// started against its slot on its job's grid (the Result's Due, the job's
// first slot plus k × interval; At is when the check began). The checkers
// are the daemon's, unwrapped, so the run measures the path the daemon
// takes.
type results struct {
	mu     sync.Mutex
	checks int
	failed int
	sample []string
	late   *lateness
}

func (r *results) record(key string, res healthcheck.Result, _ healthcheck.Health, _ bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks++
	r.late.add(res.At.Sub(res.Due))
	if !res.OK {
		r.failed++
		if len(r.sample) < 5 {
			r.sample = append(r.sample, fmt.Sprintf("%s: %s (started %s, took %v)",
				key, res.Message, res.At.UTC().Format("15:04:05.000"), res.Duration.Round(time.Millisecond)))
		}
	}
}

func (r *results) get() (checks, failed int, sample []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checks, r.failed, r.sample
}

// lateness is a histogram of start delays: buckets rather than every
// sample, so that 300,000 samples do not inflate the RSS under measurement.
// Buckets are 10 µs wide up to 100 ms and 1 ms wide from there to 10.1 s;
// later starts are only counted (and reach Max).
type lateness struct {
	buckets  []atomic.Int64
	overflow atomic.Int64
	early    atomic.Int64
	count    atomic.Int64
	max      atomic.Int64
}

const (
	fineWidth    = 10 * time.Microsecond
	fineBuckets  = 10000 // up to 100 ms
	coarseWidth  = time.Millisecond
	coarseLimit  = fineWidth * fineBuckets
	totalBuckets = fineBuckets + 10000 // then up to 10.1 s
)

func newLateness() *lateness {
	return &lateness{buckets: make([]atomic.Int64, totalBuckets)}
}

// bucketOf returns d's bucket, or -1 past the last.
func bucketOf(d time.Duration) int {
	if d < coarseLimit {
		return int(d / fineWidth)
	}
	if i := fineBuckets + int((d-coarseLimit)/coarseWidth); i < totalBuckets {
		return i
	}
	return -1
}

// bucketTop is the upper bound of bucket i.
func bucketTop(i int) time.Duration {
	if i < fineBuckets {
		return time.Duration(i+1) * fineWidth
	}
	return coarseLimit + time.Duration(i-fineBuckets+1)*coarseWidth
}

func (l *lateness) add(d time.Duration) {
	l.count.Add(1)
	if d < 0 {
		// The Scheduler starts a check a little before its slot to share
		// a wake-up with one that is due; early is not late.
		l.early.Add(1)
		d = 0
	}
	for {
		m := l.max.Load()
		if int64(d) <= m || l.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	if i := bucketOf(d); i >= 0 {
		l.buckets[i].Add(1)
	} else {
		l.overflow.Add(1)
	}
}

// latencies summarises a lateness histogram; percentiles are bucket upper
// bounds, so they err on the late side by at most one bucket.
type latencies struct {
	Count, Early  int64
	P50, P99, Max time.Duration
}

func (l *lateness) summary() latencies {
	s := latencies{Count: l.count.Load(), Early: l.early.Load(), Max: time.Duration(l.max.Load())}
	s.P50 = l.quantile(0.50, s)
	s.P99 = l.quantile(0.99, s)
	return s
}

func (l *lateness) quantile(q float64, s latencies) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := int64(q*float64(s.Count) + 0.999999)
	var seen int64
	for i := range l.buckets {
		seen += l.buckets[i].Load()
		if seen >= rank {
			return min(bucketTop(i), s.Max)
		}
	}
	return s.Max
}

// raiseFileLimit lifts RLIMIT_NOFILE's soft limit to its hard limit, and the
// hard limit to need when it is lower and the process may raise it.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	want := lim
	want.Max = max(lim.Max, need)
	want.Cur = want.Max
	if want == lim {
		return nil
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if lim.Max < need {
			return fmt.Errorf("raising RLIMIT_NOFILE to %d (hard limit %d): %w", need, lim.Max, err)
		}
		want.Max = lim.Max
		want.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return nil
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading CPU usage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// peakRSS reads VmHWM, the process's peak resident set, from
// /proc/self/status.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing VmHWM: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
