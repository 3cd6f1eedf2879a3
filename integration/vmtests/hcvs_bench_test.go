//go:build vm && hcbench

package vmtests

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/vm"
)

// The benchmark is built only with the hcbench tag; the host-side
// TestBenchHealthChecksVS (go run ./bench/hcvs) sets the tag and flags.
var (
	hcbServers  = flag.Int("hcbench.servers", 0, "run TestHealthCheckCPUBench with this many real servers")
	hcbInterval = flag.Duration("hcbench.interval", time.Second, "check interval of both checkers")
	hcbTimeout  = flag.Duration("hcbench.timeout", time.Second, "check timeout of both checkers")
	hcbWindow   = flag.Duration("hcbench.duration", 30*time.Second, "length of each measurement window")
	hcbWarmup   = flag.Duration("hcbench.warmup", 5*time.Second, "time between all servers healthy and the window")
	hcbReps     = flag.Int("hcbench.reps", 1, "measurement windows, one after the other")
)

// hcbRoleEnv, when set, turns the test binary into the benchmark's
// listener process ("listeners"), in a process of its own so that
// /proc/PID/stat counts no checker's CPU time.
const hcbRoleEnv = "LVSD_HCBENCH_ROLE"

// hcbSpecEnv carries "N interval timeout" to the helper processes: N
// servers per checker.
const hcbSpecEnv = "LVSD_HCBENCH_SPEC"

// hcbPort is every real server's port; the addresses differ.
const hcbPort = 8080

// hcbVIPs are the virtual servers keepalived and lvsd program, one each;
// nothing connects to them.
var hcbVIPs = [2]string{"192.0.2.10", "192.0.2.11"}

// hcbResponse is every listener's answer: a small complete health page
// that closes the connection, which both checkers read to the end.
const hcbResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"

func init() {
	role := os.Getenv(hcbRoleEnv)
	if role == "" {
		return
	}
	var err error
	switch role {
	case "listeners":
		err = hcbListenerMain(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hcbench %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestHealthCheckCPUBench measures, in one boot, the CPU time keepalived's
// healthcheck process and `lvsd run` spend checking real servers by HTTP
// GET with the same settings. Both run at the same time, each on its own
// set of N servers: the machine is emulated on a shared host, whose load
// the guest's clock charges to whatever process runs, and only a common
// window gives both the same conditions. lvsd's cluster file is what
// `lvsd convert` makes of a keepalived.conf written like keepalived's own,
// so that both checkers have the same interval, timeout, retries and
// start (a server is down until its first check passes). The servers are
// listeners on loopback addresses in a third process, which counts the
// checks each set answers. Each checker must have every server of its set
// in IPVS before the window opens and still after it closes, or the
// figures mean nothing.
func TestHealthCheckCPUBench(t *testing.T) {
	if *hcbServers <= 0 {
		t.Fatal("no -hcbench.servers=N: run it with go run ./bench/hcvs")
	}
	vm.RequireGuest(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not in the guest: %v", err)
	}
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		t.Fatal("no lvsd binary in the guest ($LVSD_BIN is empty)")
	}
	run(t, "modprobe", "ip_vs")
	n := *hcbServers
	hcbRaiseFiles(t, uint64(2*n)+4096)
	syslog := hcbSyslogd(t)

	addrs, err := hcbAddrs(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf("%d %s %s", n, *hcbInterval, *hcbTimeout)
	lis := hcbStart(t, "listeners", spec)
	if line := lis.ask(t, ""); line != "ready" {
		t.Fatalf("listener process: %q, want ready", line)
	}

	res := benchresult.Health{
		Servers:    n,
		IntervalMS: hcbMS(*hcbInterval),
		TimeoutMS:  hcbMS(*hcbTimeout),
		WindowS:    hcbWindow.Seconds(),
		WarmupS:    hcbWarmup.Seconds(),
		Kernel:     strings.TrimSpace(run(t, "uname", "-r")),
		CPUs:       runtime.NumCPU(),
		Keepalived: hcbKeepalivedVersion(),
	}
	cs, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	if err != nil {
		t.Fatal(err)
	}
	res.Clocksource = strings.TrimSpace(string(cs))
	// keepalived checks the first set, lvsd the second.
	ka := hcbStartKeepalived(t, addrs[:n], syslog)
	defer ka.stop()
	lv := hcbStartLVSD(t, bin, addrs[n:])
	defer lv.stop()
	start := time.Now()
	deadline := start.Add(90*time.Second + 4*(*hcbInterval))
	for {
		ka.checkRunning()
		lv.checkRunning()
		kaUp, lvUp := hcbIPVSServers(t, hcbVIPs[0]), hcbIPVSServers(t, hcbVIPs[1])
		if ka.child() != 0 && kaUp == n && lvUp == n {
			break
		}
		if time.Now().After(deadline) {
			lv.stop()
			ka.fail("after %v, %d of %d real servers of keepalived's and %d of %d of lvsd's in ipvsadm -Ln (keepalived's checker pid %d; lvsd's log ends:\n%s)",
				time.Since(start).Round(time.Second), kaUp, n, lvUp, n, ka.child(), lv.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("both checkers have every server in IPVS after %v", time.Since(start).Round(time.Millisecond))
	// Failures are counted in keepalived's log: it must be there.
	if log, err := os.ReadFile(syslog); err != nil || !bytes.Contains(log, []byte("Adding service")) {
		ka.fail("its log is not in %s (%v): failures would go uncounted", syslog, err)
	}
	time.Sleep(*hcbWarmup)

	for i := 0; i < *hcbReps; i++ {
		kaLog0, err := hcbSize(syslog)
		if err != nil {
			t.Fatal(err)
		}
		lvLog0, err := hcbSize(lv.log)
		if err != nil {
			t.Fatal(err)
		}
		kr, lr, err := hcbMeasure(lis, ka.child(), ka.cmd.Process.Pid, lv.cmd.Process.Pid)
		if err != nil {
			ka.fail("%v", err)
		}

		kr.Checker = "keepalived"
		// With checker_log_all_failures and no retry, keepalived logs
		// every failed check.
		failures, kaFirst, err := hcbKeepalivedFailures(syslog, kaLog0)
		if err != nil {
			t.Fatal(err)
		}
		kr.Failed = int64(failures)
		kr.Healthy = hcbIPVSServers(t, hcbVIPs[0])
		lr.Checker = "lvsd"
		// With no retry and fall 1, each failed check takes its server
		// down, which lvsd logs.
		failures, lvFirst, err := hcbLVSDFailures(lv.log, lvLog0)
		if err != nil {
			t.Fatal(err)
		}
		lr.Failed = int64(failures)
		lr.Healthy = hcbIPVSServers(t, hcbVIPs[1])
		hcbLog(t, kr)
		hcbLog(t, lr)
		// A timeout now and then is the emulated machine stalling (the
		// host takes its CPUs away), not a broken check; the servers stay
		// healthy through it. Past hcbMaxFailed the figures describe
		// timeouts.
		if kr.Healthy != n || kr.Covered != n || hcbTooManyFailed(kr) {
			ka.fail("window %d: %d of %d servers checked, %d in ipvsadm -Ln after it, %d failed checks of %d (first: %s)",
				i+1, kr.Covered, n, kr.Healthy, kr.Failed, kr.Checks, kaFirst)
		}
		if lr.Healthy != n || lr.Covered != n || hcbTooManyFailed(lr) {
			t.Fatalf("lvsd: window %d: %d of %d servers checked, %d in ipvsadm -Ln after it, %d failed checks of %d (first: %s)",
				i+1, lr.Covered, n, lr.Healthy, lr.Failed, lr.Checks, lvFirst)
		}
		for _, r := range []benchresult.HealthRun{kr, lr} {
			if r.Failed > 0 {
				t.Logf("%s: %d failed checks of %d in window %d", r.Checker, r.Failed, r.Checks, i+1)
			}
		}
		res.Runs = append(res.Runs, kr, lr)
	}
	ka.stop()
	lv.stop()
	lis.close(t)

	// Printed, not logged: the host reads the line off the console.
	if err := benchresult.Print(os.Stdout, benchresult.HealthMarker, res); err != nil {
		t.Fatal(err)
	}
}

// hcbLVSD is a running `lvsd run` on a cluster file converted from a
// keepalived.conf.
type hcbLVSD struct {
	t        *testing.T
	cmd      *exec.Cmd
	exited   chan error
	log      string
	socket   string
	stopOnce sync.Once
}

// hcbStartLVSD writes a keepalived.conf for addrs as hcbStartKeepalived
// does, converts it with `lvsd convert` and starts `lvsd run` on the
// result; its log goes to a file.
func hcbStartLVSD(t *testing.T, bin string, addrs []netip.Addr) *hcbLVSD {
	t.Helper()
	dir := t.TempDir()
	conf, hcl := filepath.Join(dir, "keepalived.conf"), filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(conf, []byte(hcbKeepalivedConf(hcbVIPs[1], addrs, *hcbInterval, *hcbTimeout)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "convert", "-o", hcl, "--names", "hcbench", conf).CombinedOutput(); err != nil {
		t.Fatalf("lvsd convert: %v\n%s", err, out)
	}
	l := &hcbLVSD{t: t, exited: make(chan error, 1), log: filepath.Join(dir, "lvsd.log"), socket: filepath.Join(dir, "lvsd.sock")}
	out, err := os.Create(l.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	l.cmd = exec.Command(bin, "run", "-c", hcl, "--node", "hcbench", "--socket", l.socket)
	l.cmd.Stdout, l.cmd.Stderr = out, out
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("starting lvsd: %v", err)
	}
	go func() { l.exited <- l.cmd.Wait() }()
	t.Cleanup(l.stop)
	return l
}

// checkRunning fails the test if lvsd has exited.
func (l *hcbLVSD) checkRunning() {
	l.t.Helper()
	select {
	case err := <-l.exited:
		l.exited <- err
		l.t.Fatalf("lvsd exited: %v; its log ends:\n%s", err, l.tail())
	default:
	}
}

// stop ends lvsd with SIGTERM, which takes its service out of IPVS.
func (l *hcbLVSD) stop() {
	l.stopOnce.Do(func() {
		_ = l.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-l.exited:
			l.exited <- err
		case <-time.After(30 * time.Second):
			_ = l.cmd.Process.Kill()
		}
	})
}

func (l *hcbLVSD) tail() string {
	b, _ := os.ReadFile(l.log)
	return hcbTail(string(b), 20)
}

// hcbLVSDFailures counts the real servers lvsd logged going down from
// offset on, and returns the first such line.
func hcbLVSDFailures(path string, offset int64) (n int, first string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("reading lvsd's log: %w", err)
	}
	if offset > int64(len(b)) {
		return 0, "", fmt.Errorf("lvsd's log %s shrank", path)
	}
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		if strings.Contains(line, "real server health change") && strings.Contains(line, " healthy=false") {
			if n == 0 {
				first = line
			}
			n++
		}
	}
	return n, first, nil
}

// hcbKeepalived is a running keepalived checker (-C alone).
type hcbKeepalived struct {
	t        *testing.T
	cmd      *exec.Cmd
	exited   chan error
	pidFile  string
	out      string
	syslog   string
	pid      int
	stopOnce sync.Once
}

// hcbStartKeepalived starts keepalived's checker over addrs; syslog is the
// file its log goes to.
func hcbStartKeepalived(t *testing.T, addrs []netip.Addr, syslog string) *hcbKeepalived {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(hcbKeepalivedConf(hcbVIPs[0], addrs, *hcbInterval, *hcbTimeout)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "keepalived.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	k := &hcbKeepalived{t: t, exited: make(chan error, 1), pidFile: filepath.Join(dir, "checkers.pid"), out: out.Name(), syslog: syslog}
	// No -l: the log goes to syslog alone, where the failures are counted.
	k.cmd = exec.Command("keepalived", "-n", "-C", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-c", k.pidFile, "-r", filepath.Join(dir, "vrrp.pid"))
	k.cmd.Stdout, k.cmd.Stderr = out, out
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("starting keepalived: %v", err)
	}
	go func() { k.exited <- k.cmd.Wait() }()
	t.Cleanup(k.stop)
	return k
}

// child is the pid of keepalived's healthcheck process, 0 until known.
func (k *hcbKeepalived) child() int {
	if k.pid == 0 {
		k.pid = hcbReadPID(k.pidFile)
	}
	return k.pid
}

// checkRunning fails the test if keepalived has exited.
func (k *hcbKeepalived) checkRunning() {
	k.t.Helper()
	select {
	case err := <-k.exited:
		k.exited <- err
		k.fail("exited: %v", err)
	default:
	}
}

// stop ends keepalived with SIGTERM, which lets it remove its virtual
// server, and clears the IPVS table.
func (k *hcbKeepalived) stop() {
	k.stopOnce.Do(func() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-k.exited:
			k.exited <- err
		case <-time.After(30 * time.Second):
			_ = k.cmd.Process.Kill()
		}
		_ = exec.Command("ipvsadm", "-C").Run()
	})
}

// fail stops keepalived and fails the test with the ends of its output
// and log.
func (k *hcbKeepalived) fail(format string, args ...any) {
	k.t.Helper()
	k.stop()
	out, _ := os.ReadFile(k.out)
	log, _ := os.ReadFile(k.syslog)
	k.t.Fatalf("keepalived: "+format+"\nits output ends:\n%s\nits log ends:\n%s", append(args, hcbTail(string(out), 20), hcbTail(string(log), 40))...)
}

// hcbMaxFailed is the share of failed checks above which a window fails:
// a failed check costs its checker less than a passed one, so many would
// flatter it.
const hcbMaxFailed = 0.05

func hcbTooManyFailed(r benchresult.HealthRun) bool {
	return float64(r.Failed) > hcbMaxFailed*float64(r.Checks)
}

func hcbLog(t *testing.T, r benchresult.HealthRun) {
	t.Helper()
	t.Logf("%s: %d checks in %.1f s, %.0f ms user + %.0f ms sys, %d servers checked, %d healthy, guest busy %.0f%%",
		r.Checker, r.Checks, r.WallS, r.UserMS, r.SysMS, r.Covered, r.Healthy, 100*r.GuestBusy)
}

// hcbMeasure opens the listeners' counts, sleeps through the window and
// returns what keepalived's checker (kaPID; kaParent counted apart) and
// lvsd's (lvPID) used in it.
func hcbMeasure(lis *hcbProc, kaPID, kaParent, lvPID int) (ka, lv benchresult.HealthRun, err error) {
	pids := []int{kaPID, kaParent, lvPID}
	cpu := func() ([]time.Duration, []time.Duration, error) {
		var us, ss []time.Duration
		for _, p := range pids {
			u, s, err := hcbProcCPU(p)
			if err != nil {
				return nil, nil, err
			}
			us, ss = append(us, u), append(ss, s)
		}
		return us, ss, nil
	}
	lis0, err := hcbParseServed(lis.askErr("mark"))
	if err != nil {
		return ka, lv, err
	}
	busy0, total0, err := hcbGuestCPU()
	if err != nil {
		return ka, lv, err
	}
	u0, s0, err := cpu()
	if err != nil {
		return ka, lv, err
	}
	start := time.Now()
	time.Sleep(*hcbWindow)
	u1, s1, err := cpu()
	if err != nil {
		return ka, lv, err
	}
	wall := time.Since(start)
	busy1, total1, err := hcbGuestCPU()
	if err != nil {
		return ka, lv, err
	}
	lis1, err := hcbParseServed(lis.askErr("mark"))
	if err != nil {
		return ka, lv, err
	}
	busy := 0.0
	if total1 > total0 {
		busy = float64(busy1-busy0) / float64(total1-total0)
	}
	common := benchresult.HealthRun{WallS: wall.Seconds(), GuestBusy: busy, ListenerMS: hcbMS(lis1.cpu - lis0.cpu)}
	ka, lv = common, common
	ka.UserMS, ka.SysMS = hcbMS(u1[0]-u0[0]), hcbMS(s1[0]-s0[0])
	ka.OtherMS = hcbMS(u1[1] - u0[1] + s1[1] - s0[1])
	lv.UserMS, lv.SysMS = hcbMS(u1[2]-u0[2]), hcbMS(s1[2]-s0[2])
	ka.Checks, ka.Covered = lis1.served[0]-lis0.served[0], lis1.covered[0]
	lv.Checks, lv.Covered = lis1.served[1]-lis0.served[1], lis1.covered[1]
	return ka, lv, nil
}

// hcbKeepalivedConf is one virtual server vip with every address as a
// real server checked by HTTP_GET, without retries. alpha starts each real
// server failed, so it enters IPVS only once a check passed: ipvsadm -Ln
// then proves the checks succeed.
func hcbKeepalivedConf(vip string, addrs []netip.Addr, interval, timeout time.Duration) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id hcbench\n    checker_log_all_failures true\n}\n\n")
	fmt.Fprintf(&b, "virtual_server %s %d {\n", vip, hcbPort)
	fmt.Fprintf(&b, "    delay_loop %s\n", strconv.FormatFloat(interval.Seconds(), 'f', -1, 64))
	b.WriteString("    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    alpha\n")
	for _, a := range addrs {
		fmt.Fprintf(&b, "    real_server %s %d {\n", a, hcbPort)
		b.WriteString("        weight 1\n        HTTP_GET {\n            url {\n                path /healthz\n                status_code 200\n            }\n")
		fmt.Fprintf(&b, "            connect_timeout %s\n", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
		b.WriteString("            retry 0\n        }\n    }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// hcbSyslogd starts busybox's syslogd writing to a file, which it returns:
// keepalived logs through syslog, and without a daemon its C library
// writes every line to the serial console instead, slow under emulation.
func hcbSyslogd(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "messages")
	cmd := exec.Command("syslogd", "-n", "-O", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting syslogd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat("/dev/log"); err == nil && st.Mode()&os.ModeSocket != 0 {
			return path
		}
		if time.Now().After(deadline) {
			t.Fatal("syslogd made no /dev/log in 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hcbFailureMarks are the beginnings of the messages keepalived 2.2's
// HTTP_GET logs for a failed check.
var hcbFailureMarks = []string{
	"Error connecting", "Timeout connecting", "Connection failed",
	"Timeout WEB write", "Cannot send get request", "Timeout WEB read",
	"Read, no data received", "HTTP status code error", "Timeout HTTP read",
	"Read error with",
}

// hcbKeepalivedFailures counts the failed checks keepalived logged from
// offset on, and returns the first one's line.
func hcbKeepalivedFailures(path string, offset int64) (int, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("reading the log: %w", err)
	}
	if offset > int64(len(b)) {
		return 0, "", fmt.Errorf("the log %s shrank", path)
	}
	n, first := hcbCountFailures(string(b[offset:]))
	return n, first, nil
}

func hcbCountFailures(log string) (n int, first string) {
	for _, line := range strings.Split(log, "\n") {
		for _, m := range hcbFailureMarks {
			if strings.Contains(line, m) {
				if n == 0 {
					first = line
				}
				n++
				break
			}
		}
	}
	return n, first
}

func hcbSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// hcbIPVSServers counts the real servers of service vip:hcbPort with a
// weight above 0 in ipvsadm -Ln.
func hcbIPVSServers(t *testing.T, vip string) int {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Ln", "-t", net.JoinHostPort(vip, strconv.Itoa(hcbPort))).Output()
	if err != nil {
		return 0 // not there yet
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		// -> ADDR:PORT Forward Weight ActiveConn InActConn
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" && f[3] != "0" {
			n++
		}
	}
	return n
}

func hcbKeepalivedVersion() string {
	out, _ := exec.Command("keepalived", "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// hcbReadPID reads a pid file; 0 until it is there.
func hcbReadPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// clockTick is USER_HZ, the unit of /proc's CPU times; 100 on Linux x86.
const clockTick = 100

// hcbProcCPU is a process's user and system time, its reaped children's
// included, from /proc/PID/stat.
func hcbProcCPU(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the CPU time of pid %d: %w", pid, err)
	}
	return hcbParseStat(string(b))
}

// hcbParseStat reads utime, stime, cutime and cstime (fields 14 to 17) of
// a /proc/PID/stat line; the command name in parentheses may hold spaces.
func hcbParseStat(stat string) (user, sys time.Duration, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	// After ")" come fields 3 (state) onwards.
	f := strings.Fields(stat[i+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("short /proc stat %q", stat)
	}
	var v [4]int64
	for k := range v {
		if v[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("parsing /proc stat: %w", err)
		}
	}
	tick := time.Second / clockTick
	return time.Duration(v[0]+v[2]) * tick, time.Duration(v[1]+v[3]) * tick, nil
}

// hcbGuestCPU is the guest's busy and total CPU ticks from /proc/stat.
func hcbGuestCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing /proc/stat: %w", err)
		}
		total += v
		// idle and iowait are the 4th and 5th.
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

// hcbAddrs is n loopback addresses from 127.1.0.1 on, skipping host bytes
// 0 and 255. Linux routes all of 127.0.0.0/8 to lo.
func hcbAddrs(n int) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, n)
	for a := netip.AddrFrom4([4]byte{127, 1, 0, 1}); len(out) < n; a = a.Next() {
		if !a.IsLoopback() {
			return nil, fmt.Errorf("%d servers do not fit in 127.1.0.0-127.255.255.255", n)
		}
		if b := a.As4(); b[3] == 0 || b[3] == 255 {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func hcbRaiseFiles(t testing.TB, n uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: n, Max: n}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", n, err)
	}
}

func hcbMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func hcbTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// hcbProc is a helper process driven by lines on its standard input, each
// answered by one line on its standard output.
type hcbProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	done  chan error
	close func(t *testing.T)
}

// hcbStart re-executes the test binary in role.
func hcbStart(t *testing.T, role, spec string) *hcbProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), hcbRoleEnv+"="+role, hcbSpecEnv+"="+spec)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the %s process: %v", role, err)
	}
	p := &hcbProc{cmd: cmd, in: in, out: bufio.NewReader(out), done: make(chan error, 1)}
	var once sync.Once
	p.close = func(t *testing.T) {
		once.Do(func() {
			in.Close()
			go func() { p.done <- cmd.Wait() }()
			select {
			case err := <-p.done:
				if err != nil {
					t.Errorf("%s process: %v", role, err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("%s process did not end on its input's end", role)
			}
		})
	}
	t.Cleanup(func() { p.close(t) })
	return p
}

// askErr sends line (unless empty) and reads the answer.
func (p *hcbProc) askErr(line string) (string, error) {
	if line != "" {
		if _, err := fmt.Fprintln(p.in, line); err != nil {
			return "", err
		}
	}
	type answer struct {
		s   string
		err error
	}
	got := make(chan answer, 1)
	go func() {
		s, err := p.out.ReadString('\n')
		got <- answer{strings.TrimSpace(s), err}
	}()
	select {
	case a := <-got:
		return a.s, a.err
	case <-time.After(60 * time.Second):
		return "", errors.New("no answer after 60s")
	}
}

func (p *hcbProc) ask(t *testing.T, line string) string {
	t.Helper()
	s, err := p.askErr(line)
	if err != nil {
		t.Fatalf("helper process: %v", err)
	}
	return s
}

// hcbSpec decodes hcbSpecEnv.
func hcbSpec() (servers int, interval, timeout time.Duration, err error) {
	f := strings.Fields(os.Getenv(hcbSpecEnv))
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("malformed %s=%q", hcbSpecEnv, os.Getenv(hcbSpecEnv))
	}
	if servers, err = strconv.Atoi(f[0]); err != nil {
		return 0, 0, 0, err
	}
	if interval, err = time.ParseDuration(f[1]); err != nil {
		return 0, 0, 0, err
	}
	if timeout, err = time.ParseDuration(f[2]); err != nil {
		return 0, 0, 0, err
	}
	return servers, interval, timeout, nil
}

// hcbServed is the listener process's answer to "mark", per set of
// servers (keepalived's, lvsd's).
type hcbServed struct {
	served  [2]int64
	covered [2]int
	cpu     time.Duration
}

func hcbParseServed(line string, err error) (hcbServed, error) {
	var s hcbServed
	if err != nil {
		return s, fmt.Errorf("listener process: %w", err)
	}
	var cpu int64
	if _, err := fmt.Sscanf(line, "served %d %d covered %d %d cpu %d", &s.served[0], &s.served[1], &s.covered[0], &s.covered[1], &cpu); err != nil {
		return s, fmt.Errorf("listener process answered %q: %w", line, err)
	}
	s.cpu = time.Duration(cpu)
	return s, nil
}

// hcbListenerMain is the listener process: one listener per server
// address, 2N of them (keepalived's set, then lvsd's), each answering its
// clients one after the other with hcbResponse. "mark" on its input is
// answered, per set, with the requests served so far and how many servers
// served at least one since the previous mark, then its own CPU time.
func hcbListenerMain(stdin io.Reader, stdout io.Writer) error {
	n, _, _, err := hcbSpec()
	if err != nil {
		return err
	}
	addrs, err := hcbAddrs(2 * n)
	if err != nil {
		return err
	}
	lim := syscall.Rlimit{Cur: uint64(2*n) + 4096, Max: uint64(2*n) + 4096}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	counts := make([]atomic.Int64, len(addrs))
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp4", netip.AddrPortFrom(a, hcbPort).String())
		if err != nil {
			return fmt.Errorf("listening on %v: %w", a, err)
		}
		lns = append(lns, ln)
	}
	for i, ln := range lns {
		go hcbServe(ln, &counts[i])
	}
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		return err
	}
	seen := make([]int64, len(addrs))
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if sc.Text() != "mark" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		var total [2]int64
		var covered [2]int
		for i := range counts {
			c := counts[i].Load()
			total[i/n] += c
			if c > seen[i] {
				covered[i/n]++
			}
			seen[i] = c
		}
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		cpu := ru.Utime.Nano() + ru.Stime.Nano()
		if _, err := fmt.Fprintf(stdout, "served %d %d covered %d %d cpu %d\n", total[0], total[1], covered[0], covered[1], cpu); err != nil {
			return err
		}
	}
	for _, ln := range lns {
		ln.Close()
	}
	return sc.Err()
}

func hcbServe(ln net.Listener, served *atomic.Int64) {
	buf := make([]byte, 4096)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if hcbAnswer(c, buf) {
			served.Add(1)
		}
	}
}

// hcbAnswer reads one request head and sends hcbResponse.
func hcbAnswer(c net.Conn, buf []byte) bool {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return false
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return false
		}
		n += m
	}
	_, err := io.WriteString(c, hcbResponse)
	return err == nil
}
