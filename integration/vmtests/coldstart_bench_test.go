//go:build vm && ipvsbench

package vmtests

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/ipvs"
)

// The host-side TestBenchColdStart (go run ./bench/coldstart) sets these.
var (
	coldSizes = flag.String("coldbench.sizes", "", "run TestColdStartBench for these numbers of services, comma-separated")
	coldReps  = flag.Int("coldbench.reps", 2, "alternating repetitions of each cold start")
)

// TestColdStartBench times what an operator waits for at a director's
// first start: from the process's start to the whole table in the kernel,
// `lvsd run` on a cluster file of N NAT services of four real servers
// against `ipvsadm -R` of the same rules (what `lvsd plan` prints), each
// into the empty table of a new network namespace, alternating which goes
// first. lvsd is done at its "ready" line, which it logs after its first
// reconcile round; its CPU time and peak RSS are read from /proc then.
// After each, ipvsadm -S -n must hold exactly the rules.
func TestColdStartBench(t *testing.T) {
	if *coldSizes == "" {
		t.Fatal("no -coldbench.sizes: run it with go run ./bench/coldstart")
	}
	vm.RequireGuest(t)
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		t.Fatal("no lvsd binary in the guest ($LVSD_BIN is empty)")
	}
	res := benchresult.ColdStart{Reps: *coldReps, Kernel: strings.TrimSpace(run(t, "uname", "-r"))}
	coldTouchMemory(t)
	for _, f := range strings.Split(*coldSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 {
			t.Fatalf("-coldbench.sizes: %q is not a number of services from 100 up", f)
		}
		res.Sizes = append(res.Sizes, coldStartSize(t, bin, n))
	}
	if err := benchresult.Print(os.Stdout, benchresult.ColdStartMarker, res); err != nil {
		t.Fatal(err)
	}
}

func coldStartSize(t *testing.T, bin string, n int) benchresult.ColdStartSize {
	dir := t.TempDir()
	file := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(file, coldStartConfig(n, 0, 0, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "plan", "-c", file).Output()
	if err != nil {
		t.Fatalf("lvsd plan: %v", err)
	}
	var rules []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "-A ") || strings.HasPrefix(l, "-a ") {
			rules = append(rules, l)
		}
	}
	if len(rules) != n*5 {
		t.Fatalf("lvsd plan printed %d rules for %d services of 4 real servers", len(rules), n)
	}
	rulesFile := filepath.Join(dir, "rules")
	if err := os.WriteFile(rulesFile, []byte(strings.Join(rules, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := sortedLines(strings.Join(rules, "\n"))
	// Untimed, and slow under emulation at 100,000 rules: a long bound.
	check := func(d *lab.Host, who string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		out, err := d.Exec(ctx, "ipvsadm", "-S", "-n")
		if err != nil {
			t.Fatalf("ipvsadm -S -n after %s: %.300v", who, err)
		}
		if got := sortedLines(out); !slices.Equal(got, want) {
			t.Fatalf("%d services: ipvsadm -S -n after %s has %d lines, want the %d rules", n, who, len(got), len(want))
		}
	}
	r := benchresult.ColdStartSize{Services: n, Rules: len(rules)}
	lvsd := func() {
		d := scaleDirector(t)
		c := dialIPVS(t, d)
		p := startLVSD(t, d, bin, file, filepath.Join(dir, fmt.Sprintf("sock%d", len(r.LVSDms))))
		check(d, "lvsd")
		t.Logf("%d services: lvsd ready after %v (%s)", n, p.wall.Round(time.Millisecond), p.line)
		r.LVSDms, r.LVSDUserms, r.LVSDSysms = append(r.LVSDms, ms(p.wall)), append(r.LVSDUserms, ms(p.user)), append(r.LVSDSysms, ms(p.sys))
		r.LoadMS = append(r.LoadMS, p.phase(t, "load"))
		r.IPVSSetupMS = append(r.IPVSSetupMS, p.phase(t, "ipvs_setup"))
		r.FirstRoundMS = append(r.FirstRoundMS, p.phase(t, "first_round"))
		r.PeakRSSKiB = append(r.PeakRSSKiB, p.hwm)
		rl := coldReloads(t, d, c, bin, file, n, p)
		r.ReloadNoopMS = append(r.ReloadNoopMS, ms(rl.noop))
		r.ReloadWeightMS = append(r.ReloadWeightMS, ms(rl.weight))
		r.ReloadWeightKernelMS = append(r.ReloadWeightKernelMS, ms(rl.weightInKernel))
		r.ReloadShareMS = append(r.ReloadShareMS, ms(rl.share))
		r.ReloadShareKernelMS = append(r.ReloadShareKernelMS, ms(rl.shareInKernel))
		r.SettledRSSKiB = append(r.SettledRSSKiB, rl.rssKiB)
		r.SignalNoopMS = append(r.SignalNoopMS, ms(rl.signalNoop))
		r.SignalWeightKernelMS = append(r.SignalWeightKernelMS, ms(rl.signalWeightInKernel))
		for _, d := range rl.commandStart {
			r.CommandStartMS = append(r.CommandStartMS, ms(d))
		}
		p.stop(t)
		// The table's rate estimators would load the turns after it.
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		d := scaleDirector(t)
		c := dialIPVS(t, d)
		took, user, sys := ipvsadmRestore(t, d, rulesFile)
		check(d, "ipvsadm -R")
		t.Logf("%d services: ipvsadm -R took %v", n, took.Round(time.Millisecond))
		r.IPVSAdmms = append(r.IPVSAdmms, ms(took))
		r.IPVSAdmUserms = append(r.IPVSAdmUserms, ms(user))
		r.IPVSAdmSysms = append(r.IPVSAdmSysms, ms(sys))
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range *coldReps {
		if i%2 == 0 {
			lvsd()
			restore()
		} else {
			restore()
			lvsd()
		}
	}
	return r
}

// coldTouchMemory writes to most of the guest's free memory once, then
// hands it back. qemu gives a guest page host memory only when the guest
// first touches it, a cost a real machine does not have, and which would
// otherwise fall on whichever program ran first in the boot.
func coldTouchMemory(t *testing.T) {
	t.Helper()
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var availKiB int64
	for _, l := range strings.Split(string(meminfo), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			availKiB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	n := (availKiB - 256<<10) << 10 // leave 256 MiB
	if n <= 0 {
		t.Fatalf("MemAvailable %d KiB: too little memory to run the benchmark", availKiB)
	}
	func() {
		b := make([]byte, n)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
	}()
	debug.FreeOSMemory()
	t.Logf("touched %d MiB of the guest's memory", n>>20)
}

// coldStartConfig is a cluster file of n TCP NAT services of four real
// servers each, unchecked (so up at once), without VRRP or metrics.
//
// With step above 0, the first real server of every step-th service from
// service first (first, first + step, …) has weight weight: with step = n one
// weight changed, with step = 100 one service in a hundred, for the
// reload figures.
func coldStartConfig(n, step, first, weight int) []byte {
	var b strings.Builder
	b.WriteString("cluster = \"cold\"\n\nnode \"d\" {\n  priority = 100\n}\n\nstatus {\n  metrics_listen = \"\"\n}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = %q\n  method  = \"nat\"\n", i, coldVIP(i))
		for j := range 4 {
			if j == 0 && step > 0 && i%step == first {
				fmt.Fprintf(&b, "  real_server %q { weight = %d }\n", coldReal(i, j), weight)
				continue
			}
			fmt.Fprintf(&b, "  real_server %q {}\n", coldReal(i, j))
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// coldVIP is service i's address in coldStartConfig.
func coldVIP(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 80)
}

// coldReal is real server j of service i in coldStartConfig.
func coldReal(i, j int) netip.AddrPort {
	k := i*4 + j
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, byte(16 + k>>16&15), byte(k >> 8), byte(k)}), 8080)
}

// coldReload is what coldReloads measured on one daemon.
type coldReload struct {
	noop                   time.Duration // lvsd reload of the unchanged file
	weight, weightInKernel time.Duration // one weight: the command, the kernel
	share, shareInKernel   time.Duration // 1 % of the services changed
	rssKiB                 int64         // VmRSS after them
	// By SIGHUP: unchanged, to the daemon's line; one weight, to the
	// kernel.
	signalNoop, signalWeightInKernel time.Duration
	commandStart                     []time.Duration // lvsd version
}

// coldReloads times, on p's running daemon, `lvsd reload` of the
// unchanged file, of the file with one weight changed and of the file
// with one service in a hundred changed (the command's wall time, and
// until the kernel has the last changed service's weight), then reads the
// daemon's resident size. Every changed weight is checked in the kernel.
// It leaves the file as it found it.
func coldReloads(t *testing.T, d *lab.Host, c *ipvs.Client, bin, file string, n int, p *coldLVSD) coldReload {
	t.Helper()
	reload := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(bin, "reload", "--socket", p.socket).CombinedOutput(); err != nil {
			t.Fatalf("lvsd reload: %v: %s", err, out)
		}
		return time.Since(start)
	}
	// signal reloads by SIGHUP and waits for the daemon's line.
	signal := func() time.Duration {
		for len(p.reloaded) > 0 {
			<-p.reloaded
		}
		start := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.reloaded:
		case <-time.After(time.Minute):
			t.Fatal("no \"config reloaded\" line a minute after SIGHUP")
		}
		return time.Since(start)
	}
	defer func() {
		if err := os.WriteFile(file, coldStartConfig(n, 0, 0, 0), 0o644); err != nil {
			t.Fatal(err)
		}
	}()
	// change writes the file with every step-th service's first weight
	// from service first at weight, reloads it with ask and waits until
	// the last of them is in the kernel, read over netlink every
	// millisecond (an ipvsadm process per look would take tens of
	// milliseconds under emulation).
	change := func(step, first, weight int, ask func() time.Duration) (cmd, inKernel time.Duration) {
		if err := os.WriteFile(file, coldStartConfig(n, step, first, weight), 0o644); err != nil {
			t.Fatal(err)
		}
		last := (n-1-first)/step*step + first
		key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: coldVIP(last)}
		start := time.Now()
		cmd = ask()
		for {
			dsts, err := c.Destinations(key)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(dsts, func(dst ipvs.Destination) bool { return dst.Addr == coldReal(last, 0) }); i >= 0 && dsts[i].Weight == weight {
				inKernel = time.Since(start)
				break
			}
			if time.Since(start) > time.Minute {
				t.Fatalf("the weight of %v is not in the kernel a minute after the reload", coldReal(last, 0))
			}
			time.Sleep(time.Millisecond)
		}
		coldWeights(t, c, n, step, first, weight)
		return cmd, inKernel
	}
	var r coldReload
	r.noop = reload()
	r.weight, r.weightInKernel = change(n, 0, 2, reload)
	// Services 50, 150, …: none is service 0, so each is a change.
	r.share, r.shareInKernel = change(100, 50, 2, reload)
	r.signalNoop = signal()
	_, r.signalWeightInKernel = change(n, 0, 3, signal)
	r.rssKiB = procStatusKiB(t, p.cmd.Process.Pid, "VmRSS")
	for range 3 {
		start := time.Now()
		if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
			t.Fatalf("lvsd version: %v: %s", err, out)
		}
		r.commandStart = append(r.commandStart, time.Since(start))
	}
	t.Logf("%d services: reload unchanged %v, one weight %v (in the kernel after %v), 1 %% %v (%v), resident %d KiB; by SIGHUP unchanged %v, one weight in the kernel after %v; lvsd version %v",
		n, r.noop.Round(time.Millisecond), r.weight.Round(time.Millisecond), r.weightInKernel.Round(time.Millisecond),
		r.share.Round(time.Millisecond), r.shareInKernel.Round(time.Millisecond), r.rssKiB,
		r.signalNoop.Round(time.Millisecond), r.signalWeightInKernel.Round(time.Millisecond), r.commandStart)
	return r
}

// coldWeights fails t unless the kernel's table has coldStartConfig(n,
// step, first, weight)'s weights.
func coldWeights(t *testing.T, c *ipvs.Client, n, step, first, weight int) {
	t.Helper()
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != n {
		t.Fatalf("%d services in the kernel, want %d", len(svcs), n)
	}
	for _, s := range svcs {
		a := s.Addr.Addr().As4()
		i := int(a[1])<<16 | int(a[2])<<8 | int(a[3])
		for _, dst := range s.Destinations {
			want := 1
			if dst.Addr == coldReal(i, 0) && i%step == first {
				want = weight
			}
			if dst.Weight != want {
				t.Fatalf("after the reload, %v of %v has weight %d in the kernel, want %d", dst.Addr, s.Addr, dst.Weight, want)
			}
		}
	}
}

// coldLVSD is one lvsd run up to its ready line.
type coldLVSD struct {
	cmd       *exec.Cmd
	wall      time.Duration
	user, sys time.Duration
	hwm       int64
	line      string
	socket    string
	done      chan error
	reloaded  chan struct{} // a "config reloaded" line
}

// startLVSD starts lvsd run in d's namespace and waits for its ready line.
func startLVSD(t *testing.T, d *lab.Host, bin, file, socket string) *coldLVSD {
	t.Helper()
	p := &coldLVSD{done: make(chan error, 1), socket: socket, reloaded: make(chan struct{}, 16)}
	p.cmd = exec.Command(bin, "run", "-c", file, "--node", "d", "--socket", socket)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	if err := d.Do(func() error {
		start = time.Now()
		return p.cmd.Start()
	}); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if strings.Contains(line, " msg=ready ") {
				ready <- line
			}
			if strings.Contains(line, ` msg="config reloaded" `) {
				select {
				case p.reloaded <- struct{}{}:
				default:
				}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case p.line = <-ready:
		p.wall = time.Since(start)
	case err := <-p.done:
		t.Fatalf("lvsd exited before ready: %v\n%s", err, log.String())
	case <-time.After(10 * time.Minute):
		_ = p.cmd.Process.Kill()
		t.Fatalf("lvsd not ready after 10 minutes")
	}
	p.user, p.sys, p.hwm = procCPU(t, p.cmd.Process.Pid)
	return p
}

// phase is a duration field of the ready line, in milliseconds.
func (p *coldLVSD) phase(t *testing.T, name string) float64 {
	t.Helper()
	for _, f := range strings.Fields(p.line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("ready line's %s: %v", name, err)
			}
			return ms(d)
		}
	}
	t.Fatalf("no %s= in lvsd's ready line: %s", name, p.line)
	return 0
}

func (p *coldLVSD) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("lvsd after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		t.Fatal("lvsd did not stop after SIGTERM")
	}
}

// procCPU is a process's user and system CPU time so far, from
// /proc/PID/stat, and its peak resident set size in KiB.
func procCPU(t *testing.T, pid int) (user, sys time.Duration, hwmKiB int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's closing parenthesis, from field 3.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	tick := func(i int) time.Duration {
		v, err := strconv.ParseInt(f[i-3], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(v) * time.Second / 100 // USER_HZ
	}
	return tick(14), tick(15), procStatusKiB(t, pid, "VmHWM")
}

// procStatusKiB is a size field of /proc/PID/status (VmHWM, VmRSS), KiB.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kib, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
