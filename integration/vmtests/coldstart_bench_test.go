//go:build vm && ipvsbench

package vmtests

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
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
	for _, f := range strings.Split(*coldSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("-coldbench.sizes: %q is not a number of services", f)
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
	if err := os.WriteFile(file, coldStartConfig(n, 0), 0o644); err != nil {
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
		noop, weight, inKernel, rss := coldReloads(t, d, bin, file, n, p)
		r.ReloadNoopMS = append(r.ReloadNoopMS, ms(noop))
		r.ReloadWeightMS = append(r.ReloadWeightMS, ms(weight))
		r.ReloadWeightKernelMS = append(r.ReloadWeightKernelMS, ms(inKernel))
		r.SettledRSSKiB = append(r.SettledRSSKiB, rss)
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

// coldStartConfig is a cluster file of n TCP NAT services of four real
// servers each, unchecked (so up at once), without VRRP or metrics.
//
// weight0, when above 0, is the weight of the first real server of the
// first service: a one-weight change for the reload figures.
func coldStartConfig(n, weight0 int) []byte {
	var b strings.Builder
	b.WriteString("cluster = \"cold\"\n\nnode \"d\" {\n  priority = 100\n}\n\nstatus {\n  metrics_listen = \"\"\n}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"10.%d.%d.%d:80\"\n  method  = \"nat\"\n", i, i>>16&255, i>>8&255, i&255)
		for j := range 4 {
			k := i*4 + j
			if k == 0 && weight0 > 0 {
				fmt.Fprintf(&b, "  real_server \"172.16.0.0:8080\" { weight = %d }\n", weight0)
				continue
			}
			fmt.Fprintf(&b, "  real_server \"172.%d.%d.%d:8080\" {}\n", 16+k>>16&15, k>>8&255, k&255)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// coldReloads times, on p's running daemon, `lvsd reload` of the
// unchanged file and of the file with one weight changed (the command's
// wall time, and until ipvsadm shows the weight), then reads the daemon's
// resident size. It leaves the file as it found it.
func coldReloads(t *testing.T, d *lab.Host, bin, file string, n int, p *coldLVSD) (noop, weight, inKernel time.Duration, rssKiB int64) {
	t.Helper()
	reload := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(bin, "reload", "--socket", p.socket).CombinedOutput(); err != nil {
			t.Fatalf("lvsd reload: %v: %s", err, out)
		}
		return time.Since(start)
	}
	noop = reload()
	if err := os.WriteFile(file, coldStartConfig(n, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.WriteFile(file, coldStartConfig(n, 0), 0o644); err != nil {
			t.Fatal(err)
		}
	}()
	start := time.Now()
	weight = reload()
	changed := regexp.MustCompile(`172\.16\.0\.0:8080\s+Masq\s+2\s`)
	for {
		if out := d.MustExec(t, "ipvsadm", "-L", "-n", "-t", "10.0.0.0:80"); changed.MatchString(out) {
			inKernel = time.Since(start)
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the weight change is not in the kernel a minute after the reload")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rssKiB = procStatusKiB(t, p.cmd.Process.Pid, "VmRSS")
	t.Logf("%d services: reload unchanged %v, one weight %v (in the kernel after %v), resident %d KiB",
		n, noop.Round(time.Millisecond), weight.Round(time.Millisecond), inKernel.Round(time.Millisecond), rssKiB)
	return noop, weight, inKernel, rssKiB
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
}

// startLVSD starts lvsd run in d's namespace and waits for its ready line.
func startLVSD(t *testing.T, d *lab.Host, bin, file, socket string) *coldLVSD {
	t.Helper()
	p := &coldLVSD{done: make(chan error, 1), socket: socket}
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
