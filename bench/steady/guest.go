package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/internal/status"
)

// load is the director's workload.
type load struct {
	Services int           `json:"services"`
	Dests    int           `json:"dests"`
	Interval time.Duration `json:"interval_ns"`
	Timeout  time.Duration `json:"timeout_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	Duration time.Duration `json:"duration_ns"`
}

func (l load) servers() int { return l.Services * l.Dests }

// expected is how many checks the load makes in d.
func (l load) expected(d time.Duration) float64 {
	return float64(l.servers()) * d.Seconds() / l.Interval.Seconds()
}

func (l load) check() error {
	switch {
	case l.Services < 1 || l.Services > 250:
		return fmt.Errorf("services %d: want 1..250 (one VIP of 203.0.113.0/24 each)", l.Services)
	case l.Dests < 1 || l.Dests > 250:
		return fmt.Errorf("dests %d: want 1..250", l.Dests)
	case l.Interval <= 0 || l.Timeout <= 0 || l.Timeout >= l.Interval:
		return fmt.Errorf("interval %v, timeout %v: both positive, the timeout below the interval", l.Interval, l.Timeout)
	case l.Warmup < 0 || l.Duration <= 0:
		return fmt.Errorf("warm-up %v, duration %v: the duration must be positive", l.Warmup, l.Duration)
	}
	return nil
}

// vip is service s's virtual address.
func vip(s int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(s + 1)}) }

// realServers places the real servers. By default they live on loopback
// addresses of the guest (all of 127.0.0.0/8 is local on Linux, nothing to
// configure), which IPVS accepts as DR destinations; no packet is
// forwarded to them, only health checks go. With remote set they are
// consecutive ports of one address across the network card, NAT
// destinations since their ports differ from the service's.
type realServers struct {
	remote netip.AddrPort // the first one; invalid: on loopback
	dests  int            // per service
}

func (rs realServers) addr(s, d int) netip.AddrPort {
	if rs.remote.IsValid() {
		return netip.AddrPortFrom(rs.remote.Addr(), rs.remote.Port()+uint16(s*rs.dests+d))
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 2, byte(s + 1), byte(d + 1)}), 80)
}

func (rs realServers) method() string {
	if rs.remote.IsValid() {
		return "nat"
	}
	return "dr"
}

// directorConfig is the benchmark's lvsd.hcl: one VRRP instance holding
// every VIP, and one service per VIP whose real servers are checked over
// HTTP.
func directorConfig(l load, rs realServers) string {
	var b strings.Builder
	b.WriteString(`# The steady-state benchmark's director (bench/steady).
cluster = "steady"

node "a" {
  priority = 150
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "1s"
  virtual_ips     = [`)
	for s := range l.Services {
		if s > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", vip(s).String()+"/32")
	}
	b.WriteString("]\n}\n")
	for s := range l.Services {
		fmt.Fprintf(&b, `
virtual_server "web%d" {
  address   = "%v:80"
  scheduler = "wlc"
  method    = %q
  health_check "http" {
    interval = %q
    timeout  = %q
    path     = "/"
  }
`, s+1, vip(s), rs.method(), l.Interval.String(), l.Timeout.String())
		for d := range l.Dests {
			fmt.Fprintf(&b, "  real_server %q {}\n", rs.addr(s, d).String())
		}
		b.WriteString("}\n")
	}
	b.WriteString(`
status {
  metrics_listen = "127.0.0.1:9469"
}
`)
	return b.String()
}

// guestReport is what one guest run measured; the host side reads it from
// the console as JSON.
type guestReport struct {
	Load   load   `json:"load"`
	Kernel string `json:"kernel"`
	CPUs   int    `json:"cpus"`
	// Remote is the first real server when they are across the network
	// card, empty when they are on the guest's loopback.
	Remote string `json:"remote,omitempty"`
	// LVSD is the lvsd process over the window; Served the HTTP requests
	// the real servers answered in the same window, when they are in the
	// guest.
	LVSD   measurement `json:"lvsd"`
	Served int64       `json:"served"`
	// Healthy and InIPVS count real servers in the status document after
	// the window; Services and Dests are the rules ipvsadm listed before
	// it.
	Healthy      int `json:"healthy"`
	InIPVS       int `json:"in_ipvs"`
	IPVSServices int `json:"ipvs_services"`
	IPVSDests    int `json:"ipvs_dests"`
	// Ready is how long lvsd took from its start until every real server
	// was healthy and in IPVS.
	Ready time.Duration `json:"ready_ns"`
	// Checks is the same check load run alone by bench/healthload beside
	// lvsd, in the same window, when asked for; CheckErr says why it is
	// missing.
	Checks   *measurement `json:"checks,omitempty"`
	CheckErr string       `json:"checks_error,omitempty"`
	// Profile is lvsd's CPU profile (pprof) over the window, when asked
	// for; ProfileErr says why it is missing.
	Profile    []byte `json:"profile,omitempty"`
	ProfileErr string `json:"profile_error,omitempty"`
	// ChecksProfile is healthload's CPU profile from its checks' start to
	// its stop, beside lvsd's, to compare the two; ChecksProfileErr says
	// why it is missing.
	ChecksProfile    []byte `json:"checks_profile,omitempty"`
	ChecksProfileErr string `json:"checks_profile_error,omitempty"`
	Load1            string `json:"loadavg"`
}

type guestOptions struct {
	Load       load
	LVSD       string
	Healthload string
	Dir        string
	// Profile asks for lvsd's CPU profile over the window, and
	// healthload's, in the report.
	Profile bool
	// Remote is the first of lvsd's real servers when they are across
	// the network card (see realServers); healthload keeps its own on
	// the guest's loopback either way.
	Remote netip.AddrPort
}

// guestMain runs inside the lab VM: it starts the real servers and lvsd,
// waits until every server is healthy and in IPVS, measures lvsd, stops it,
// then measures healthload on the same check load.
func guestMain(ctx context.Context, o guestOptions, w io.Writer) error {
	if err := o.Load.check(); err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(o.Load.servers()) + 1024); err != nil {
		return err
	}
	r := guestReport{Load: o.Load, Kernel: kernelRelease(), CPUs: numCPU()}

	rs := realServers{remote: o.Remote, dests: o.Load.Dests}
	var served atomic.Int64
	stopServers := func() {}
	if o.Remote.IsValid() {
		r.Remote = o.Remote.String()
	} else {
		var err error
		if stopServers, err = serveAll(o.Load, rs, &served); err != nil {
			return err
		}
		defer stopServers()
	}

	cfg := o.Dir + "/steady.hcl"
	if err := os.WriteFile(cfg, []byte(directorConfig(o.Load, rs)), 0o644); err != nil {
		return err
	}
	socket := o.Dir + "/lvsd.sock"
	logf, err := os.Create(o.Dir + "/lvsd.log")
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(o.LVSD, "run", "-c", cfg, "--node", "a", "--socket", socket)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting lvsd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
			dumpLog(o.Dir + "/lvsd.log")
		}
	}()

	// Wait for the steady state; the status is read only before and after
	// the window, since every read costs lvsd CPU.
	want := o.Load.servers()
	deadline := time.Now().Add(60*time.Second + 4*o.Load.Interval)
	var seen [3]bool // answered, master, every server healthy
	milestone := func(i int, ok bool, what string) {
		if ok && !seen[i] {
			seen[i] = true
			fmt.Fprintf(os.Stderr, "steady: lvsd %s %.1f s after its start\n", what, time.Since(start).Seconds())
		}
	}
	for {
		doc, err := getStatus(ctx, socket)
		if err == nil {
			h, in := countHealthy(doc)
			milestone(0, true, "answered on its socket")
			milestone(1, masterOf(doc), "was MASTER")
			milestone(2, h == want, "had every real server healthy")
			if h == want && in == want && masterOf(doc) {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lvsd not steady within %v: every real server healthy and in IPVS, VI_1 MASTER (last: %v, %+v)", time.Since(start).Round(time.Second), err, summarise(doc))
		}
		select {
		case err := <-exited:
			return fmt.Errorf("lvsd exited before it was steady: %v", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	r.Ready = time.Since(start)
	r.IPVSServices, r.IPVSDests, err = ipvsadmCount(ctx)
	if err != nil {
		return err
	}

	// The check load alone runs beside lvsd and is measured in the same
	// window: under emulation a separate window differs in what the host
	// gives the guest more than lvsd differs from the checker.
	pids := []int{cmd.Process.Pid}
	warmup := o.Load.Warmup
	var hl *healthload
	if o.Healthload != "" {
		var hlProfile string
		if o.Profile {
			hlProfile = filepath.Join(o.Dir, "healthload.pprof")
		}
		hl, err = startHealthload(ctx, o.Healthload, o.Load, netip.MustParseAddr("127.100.0.1"), 80, hlProfile)
		if err != nil {
			r.CheckErr = err.Error()
		} else {
			defer hl.stop()
			pids = append(pids, hl.cmd.Process.Pid)
			warmup += healthloadStart
		}
	}
	var served0 int64
	profiled := make(chan struct{})
	ms, err := window(ctx, pids, warmup, o.Load.Duration, func(end bool) {
		if end {
			r.Served = served.Load() - served0
			return
		}
		served0 = served.Load()
		if !o.Profile {
			close(profiled)
			return
		}
		go func() {
			defer close(profiled)
			prof, perr := cpuProfile(ctx, socket, o.Load.Duration-time.Second)
			r.Profile = prof
			if perr != nil {
				r.ProfileErr = perr.Error()
			}
		}()
	})
	<-profiled
	if err != nil {
		if hl != nil {
			err = fmt.Errorf("%w (healthload's output: %s)", err, lastLines(hl.out.String(), 5))
		}
		return fmt.Errorf("measuring lvsd: %w", err)
	}
	r.LVSD = ms[0]
	if hl != nil {
		r.Checks = &ms[1]
		hl.stop()
		if o.Profile {
			r.ChecksProfile, err = os.ReadFile(filepath.Join(o.Dir, "healthload.pprof"))
			if err == nil && len(r.ChecksProfile) == 0 {
				err = fmt.Errorf("healthload wrote an empty profile; its output: %s", lastLines(hl.out.String(), 5))
			}
			if err != nil {
				r.ChecksProfileErr = err.Error()
			}
		}
	}
	doc, err := getStatus(ctx, socket)
	if err != nil {
		return fmt.Errorf("status after the window: %w", err)
	}
	r.Healthy, r.InIPVS = countHealthy(doc)
	r.Load1 = benchresult.LoadAverage()

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			dumpLog(o.Dir + "/lvsd.log")
			return fmt.Errorf("lvsd exit after SIGTERM: %w", err)
		}
	case <-time.After(15 * time.Second):
		return errors.New("lvsd did not stop within 15 s of SIGTERM")
	}
	stopServers()

	// The host side finds the line in the VM's console.
	return benchresult.Print(w, benchresult.SteadyMarker, r)
}

// serveAll starts an HTTP server on every real server's address, counting
// the requests it answers.
func serveAll(l load, rs realServers, served *atomic.Int64) (stop func(), err error) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			served.Add(1)
			_, _ = io.WriteString(w, "ok\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	srv.SetKeepAlivesEnabled(false)
	var lns []net.Listener
	stop = func() {
		_ = srv.Close()
		for _, ln := range lns {
			_ = ln.Close()
		}
		lns = nil
	}
	for s := range l.Services {
		for d := range l.Dests {
			ln, err := net.Listen("tcp4", rs.addr(s, d).String())
			if err != nil {
				stop()
				return nil, fmt.Errorf("listening as real server: %w", err)
			}
			lns = append(lns, ln)
			go func() { _ = srv.Serve(ln) }()
		}
	}
	return stop, nil
}

// cpuProfile fetches lvsd's CPU profile over d from its control socket.
func cpuProfile(ctx context.Context, socket string, d time.Duration) ([]byte, error) {
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	url := fmt.Sprintf("http://lvsd/debug/pprof/profile?seconds=%d", max(int(d.Seconds()), 1))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return b, nil
}

func getStatus(ctx context.Context, socket string) (status.Document, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return status.Get(ctx, socket)
}

func countHealthy(doc status.Document) (healthy, inIPVS int) {
	for _, vs := range doc.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.Healthy {
				healthy++
			}
			if rs.InIPVS {
				inIPVS++
			}
		}
	}
	return healthy, inIPVS
}

func masterOf(doc status.Document) bool {
	return len(doc.VRRPInstances) == 1 && doc.VRRPInstances[0].State == status.StateMaster
}

func summarise(doc status.Document) string {
	h, in := countHealthy(doc)
	state := "no instance"
	if len(doc.VRRPInstances) > 0 {
		state = doc.VRRPInstances[0].State
	}
	return fmt.Sprintf("%d healthy, %d in IPVS, VI_1 %s", h, in, state)
}

// ipvsadmCount counts the services and destinations the kernel has, as
// ipvsadm (an independent reader of the IPVS table) lists them.
func ipvsadmCount(ctx context.Context) (services, dests int, err error) {
	out, err := exec.CommandContext(ctx, "ipvsadm", "-S", "-n").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ipvsadm -S -n: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "-A "):
			services++
		case strings.HasPrefix(line, "-a "):
			dests++
		}
	}
	return services, dests, nil
}

// measureHealthload runs bench/healthload on the same check load and
// measures its process the way lvsd is measured. healthload serves its
// listeners from a child process, so the figure is the checker's alone.
// Its own start (listeners, a calibration of bare connections) is inside
// the longer warm-up it gets.
// healthload is the check load alone (bench/healthload) running in the
// guest.
type healthload struct {
	cmd    *exec.Cmd
	out    strings.Builder
	exited chan error
	once   sync.Once
}

// startHealthload starts healthload with the checks of l against listeners
// of its own from base:port; it runs until stop. With profile, healthload
// writes its CPU profile there when it stops.
func startHealthload(ctx context.Context, bin string, l load, base netip.Addr, port uint16, profile string) (*healthload, error) {
	args := []string{
		"-servers", strconv.Itoa(l.servers()),
		"-interval", l.Interval.String(),
		"-timeout", l.Timeout.String(),
		"-duration", (l.Warmup + healthloadStart + l.Duration + time.Minute).String(),
		"-base", base.String(),
		"-port", strconv.Itoa(int(port)),
	}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	h := &healthload{exited: make(chan error, 1)}
	h.cmd = exec.CommandContext(ctx, bin, args...)
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	h.cmd.Cancel = func() error { return h.cmd.Process.Signal(os.Interrupt) }
	h.cmd.WaitDelay = 20 * time.Second
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting healthload: %w", err)
	}
	go func() { h.exited <- h.cmd.Wait() }()
	return h, nil
}

// stop interrupts healthload and waits for it (killing it after 20 s).
func (h *healthload) stop() {
	h.once.Do(func() {
		_ = h.cmd.Process.Signal(os.Interrupt)
		select {
		case <-h.exited:
		case <-time.After(20 * time.Second):
			_ = h.cmd.Process.Kill()
			<-h.exited
		}
	})
}

// measureHealthload runs the check load alone and measures it in a window
// of l's length after its warm-up.
func measureHealthload(ctx context.Context, bin string, l load, base netip.Addr, port uint16) (measurement, error) {
	h, err := startHealthload(ctx, bin, l, base, port, "")
	if err != nil {
		return measurement{}, err
	}
	defer h.stop()
	ms, err := window(ctx, []int{h.cmd.Process.Pid}, l.Warmup+healthloadStart, l.Duration, nil)
	if err != nil {
		return measurement{}, fmt.Errorf("measuring healthload: %w (its output: %s)", err, lastLines(h.out.String(), 5))
	}
	return ms[0], nil
}

// healthloadStart is the extra warm-up healthload gets: before its checks
// start it binds its listeners in a child process and times a few thousand
// bare connections, which under emulation takes seconds.
const healthloadStart = 5 * time.Second

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func dumpLog(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	fmt.Fprintln(os.Stderr, "steady: the end of lvsd's log:")
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "  "+l)
	}
}

func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = max(n, lim.Cur)
	lim.Max = max(lim.Max, lim.Cur)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open-file limit to %d: %w", n, err)
	}
	return nil
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
