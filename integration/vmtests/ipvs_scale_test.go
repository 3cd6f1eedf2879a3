//go:build vm

package vmtests

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/ipvs"
	"golang.org/x/sys/unix"
)

// The benchmark runs only when asked for with -ipvsbench.reps; the
// host-side TestBenchIPVSProgramming (go run ./bench/ipvsprog) sets it.
var (
	benchReps     = flag.Int("ipvsbench.reps", 0, "run TestIPVSProgrammingBench with this many alternating repetitions")
	benchServices = flag.Int("ipvsbench.services", 5000, "virtual services of the benchmark table")
	benchDests    = flag.Int("ipvsbench.dests", 4, "real servers per virtual service of the benchmark table")
)

// benchMarker starts the line of the benchmark's results on the console.
const benchMarker = "IPVSBENCH "

// scaleTable is a table of n NAT services with dests(i) real servers
// each: 250 ports on each of consecutive VIPs from 192.0.2.1, real
// servers from 198.51.100.1 on the service's port.
func scaleTable(t testing.TB, n int, dests func(i int) int) []ipvs.Service {
	t.Helper()
	if n > 250*250 {
		t.Fatalf("at most %d services, not %d", 250*250, n)
	}
	svcs := make([]ipvs.Service, 0, n)
	for i := 0; i < n; i++ {
		port := uint16(10000 + i%250)
		s := ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i/250)}), port)},
			Scheduler:  "wlc",
			Netmask:    32,
		}
		nd := dests(i)
		if nd > 250 {
			t.Fatalf("at most 250 real servers per service, not %d", nd)
		}
		for j := 0; j < nd; j++ {
			s.Destinations = append(s.Destinations, ipvs.Destination{
				Addr:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + j)}), port),
				Forward: ipvs.Masquerade,
				Weight:  1 + (i+j)%5,
			})
		}
		svcs = append(svcs, s)
	}
	return svcs
}

// cloneTable copies a table deeply enough to edit destinations.
func cloneTable(svcs []ipvs.Service) []ipvs.Service {
	out := slices.Clone(svcs)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
	}
	return out
}

// scaleDirector is a namespace with a route to the real servers of
// scaleTable: IPVS refuses a destination it has no route to.
func scaleDirector(t *testing.T) *lab.Host {
	t.Helper()
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "d")
	lan.AddAddr("d", "198.51.100.254/24")
	return lan.Host("d")
}

// rounds records the end of each reconcile round.
type rounds chan time.Duration

func (r rounds) ObserveReconcile(d time.Duration) {
	select {
	case r <- d:
	default:
	}
}

func (rounds) IPVSOps(string, int) {}

// wait returns the duration of the next round, failing after within.
func (r rounds) wait(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	select {
	case d := <-r:
		return d
	case <-time.After(within):
		t.Fatalf("no reconcile round within %v", within)
		return 0
	}
}

// drain forgets the rounds recorded so far.
func (r rounds) drain() {
	for {
		select {
		case <-r:
		default:
			return
		}
	}
}

// TestIPVSScaleOneChangeOneRequest programs 5,000 services of two to four
// real servers each through the reconciler, then changes one real server
// at a time: each change must reach the kernel as exactly one netlink
// request, whatever the size of the table, and ipvsadm must see it.
func TestIPVSScaleOneChangeOneRequest(t *testing.T) {
	vm.RequireGuest(t)
	d := scaleDirector(t)
	c := dialIPVS(t, d)
	table := scaleTable(t, 5000, func(i int) int { return 2 + i%3 })

	rec := make(rounds, 16)
	start := time.Now()
	// An hour: no periodic dump may add requests to the counts below.
	r := startReconciler(t, c, config.IPVS{ReconcileInterval: time.Hour}, slog.LevelWarn, table, reconcile.WithMetrics(rec))
	took := rec.wait(t, time.Second)
	t.Logf("5000 services, %d real servers programmed in %v (first round %v), %d requests",
		countDests(table), time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond), c.Requests())
	if diff := cmp.Diff(saveOf(t, table), d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n after the cold start (-want +got):\n%s", diff)
	}

	const svc = 2500 // 192.0.2.11:10000, three real servers
	server := table[svc].Destinations[1].Addr
	if w := table[svc].Destinations[1].Weight; w != 2 {
		t.Fatalf("%s of %s has weight %d, want 2: the steps below assume it", server, table[svc].ServiceKey, w)
	}
	last := table
	// Each step edits the cold-start table, so the last one restores it.
	for _, step := range []struct {
		name string
		edit func(s *ipvs.Service)
	}{
		{"weight 2 to 5", func(s *ipvs.Service) { s.Destinations[1].Weight = 5 }},
		{"server removed", func(s *ipvs.Service) { s.Destinations = slices.Delete(s.Destinations, 1, 2) }},
		{"server back", func(*ipvs.Service) {}},
	} {
		want := cloneTable(table)
		step.edit(&want[svc])
		before := c.Requests()
		rec.drain()
		r.SetDesired(want)
		took := rec.wait(t, 30*time.Second)
		if got := c.Requests() - before; got != 1 {
			t.Errorf("%s (%s of %s): %d netlink requests, want 1", step.name, server, want[svc].ServiceKey, got)
		}
		t.Logf("%s: round took %v", step.name, took.Round(time.Microsecond))
		// ipvsadm -S cannot list one service, and listing 20,000 rules
		// takes seconds under emulation: ask for the changed service only.
		if diff := cmp.Diff(listDests(want[svc]), parseListDests(d.MustExec(t, "ipvsadm", "-L", "-n", "-t", want[svc].Addr.String()))); diff != "" {
			t.Errorf("%s: ipvsadm -L -n -t %s (-want +got):\n%s", step.name, want[svc].Addr, diff)
		}
		last = want
	}
	if diff := cmp.Diff(saveOf(t, last), d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n after the changes (-want +got):\n%s", diff)
	}
}

// listDests is the real servers of s as parseListDests reads them.
func listDests(s ipvs.Service) []string {
	var out []string
	for _, d := range s.Destinations {
		if d.Forward != ipvs.Masquerade {
			panic("listDests knows NAT real servers only")
		}
		out = append(out, fmt.Sprintf("%s Masq %d", d.Addr, d.Weight))
	}
	return out
}

// parseListDests reads the real servers of ipvsadm -L -n -t: address,
// forwarding method and weight.
func parseListDests(out string) []string {
	var dests []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			dests = append(dests, strings.Join(f[1:4], " "))
		}
	}
	return dests
}

func countDests(svcs []ipvs.Service) int {
	n := 0
	for i := range svcs {
		n += len(svcs[i].Destinations)
	}
	return n
}

// BenchResult is what TestIPVSProgrammingBench prints after benchMarker,
// as JSON, for the host to read off the console.
type BenchResult struct {
	Services     int       `json:"services"`
	Destinations int       `json:"destinations"`
	Reps         int       `json:"reps"`
	LVSDms       []float64 `json:"lvsd_ms"`
	IPVSAdmms    []float64 `json:"ipvsadm_ms"`
	LVSDRequests uint64    `json:"lvsd_requests"`
	WeightLVSDms []float64 `json:"weight_lvsd_ms"`
	WeightAdmms  []float64 `json:"weight_ipvsadm_ms"`
	// CPU time of the programming, user and system (kernel), per
	// repetition: lvsd's is the test process's, ipvsadm's its child's.
	LVSDUserms    []float64 `json:"lvsd_user_ms"`
	LVSDSysms     []float64 `json:"lvsd_sys_ms"`
	IPVSAdmUserms []float64 `json:"ipvsadm_user_ms"`
	IPVSAdmSysms  []float64 `json:"ipvsadm_sys_ms"`
	// Wall times of programming a table flushed just before.
	LVSDFlushedms    []float64 `json:"lvsd_flushed_ms"`
	IPVSAdmFlushedms []float64 `json:"ipvsadm_flushed_ms"`
	Kernel           string    `json:"kernel"`
}

// TestIPVSProgrammingBench times the cold programming of a large table
// by lvsd's reconciler and by ipvsadm -R of the same rules, alternating
// which goes first, then one weight change by each. It checks each result
// with ipvsadm -S -n.
//
// Each cold programming gets a namespace of its own, as a director's
// first start does. A table flushed a moment before differs: the kernel
// keeps deleted destinations in a per-namespace trash for a minute or two
// and searches it for every destination added, to revive a match. That
// case is timed apart, once each, in namespaces prepared alike.
func TestIPVSProgrammingBench(t *testing.T) {
	if *benchReps <= 0 {
		t.Skip("benchmark: runs with -ipvsbench.reps=N (go run ./bench/ipvsprog)")
	}
	vm.RequireGuest(t)
	table := scaleTable(t, *benchServices, func(int) int { return *benchDests })
	want := saveOf(t, table)
	rules := filepath.Join(t.TempDir(), "rules")
	if err := os.WriteFile(rules, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(d *lab.Host, who string) {
		t.Helper()
		if got := d.MustExec(t, "ipvsadm", "-S", "-n"); got != want {
			t.Fatalf("ipvsadm -S -n after %s differs from the rules: %d bytes, want %d", who, len(got), len(want))
		}
	}
	// done flushes a director that served its turn: its destinations'
	// rate estimators, which the kernel runs every two seconds, would
	// otherwise load the turns after it. The namespace stays until the end
	// of the test, so that its teardown cannot overlap a measurement.
	done := func(c *ipvs.Client) {
		t.Helper()
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	res := BenchResult{Services: len(table), Destinations: countDests(table), Reps: *benchReps, Kernel: strings.TrimSpace(run(t, "uname", "-r"))}
	// lvsd programs the table into d's empty table and returns the wall
	// and CPU times.
	lvsd := func(d *lab.Host, c *ipvs.Client) (wall, user, sys float64) {
		t.Helper()
		before := c.Requests()
		r := reconcile.New(c, reconcile.WithLogger(log), reconcile.WithConfig(config.IPVS{ReconcileInterval: time.Hour}))
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		ru0 := rusage(t)
		start := time.Now()
		r.SetDesired(table)
		go func() { stopped <- r.Run(ctx) }()
		<-r.Reconciled()
		took := time.Since(start)
		ru1 := rusage(t)
		cancel()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		res.LVSDRequests = c.Requests() - before
		t.Logf("lvsd: %v, %d requests", took.Round(time.Millisecond), res.LVSDRequests)
		check(d, "lvsd")
		return ms(took), ms(time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano())), ms(time.Duration(ru1.Stime.Nano() - ru0.Stime.Nano()))
	}
	restore := func(d *lab.Host) (wall, user, sys float64) {
		t.Helper()
		f, err := os.Open(rules)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var took time.Duration
		var out []byte
		cmd := exec.Command("ipvsadm", "-R")
		cmd.Stdin = f
		err = d.Do(func() error {
			start := time.Now()
			out, err = cmd.CombinedOutput()
			took = time.Since(start)
			return err
		})
		if err != nil {
			t.Fatalf("ipvsadm -R: %v: %s", err, out)
		}
		t.Logf("ipvsadm -R: %v", took.Round(time.Millisecond))
		check(d, "ipvsadm -R")
		return ms(took), ms(cmd.ProcessState.UserTime()), ms(cmd.ProcessState.SystemTime())
	}
	coldLVSD := func() {
		d := scaleDirector(t)
		c := dialIPVS(t, d)
		w, u, s := lvsd(d, c)
		res.LVSDms, res.LVSDUserms, res.LVSDSysms = append(res.LVSDms, w), append(res.LVSDUserms, u), append(res.LVSDSysms, s)
		done(c)
	}
	coldRestore := func() {
		d := scaleDirector(t)
		c := dialIPVS(t, d)
		w, u, s := restore(d)
		res.IPVSAdmms, res.IPVSAdmUserms, res.IPVSAdmSysms = append(res.IPVSAdmms, w), append(res.IPVSAdmUserms, u), append(res.IPVSAdmSysms, s)
		done(c)
	}
	for i := 0; i < *benchReps; i++ {
		if i%2 == 0 {
			coldLVSD()
			coldRestore()
		} else {
			coldRestore()
			coldLVSD()
		}
	}

	// Right after a flush: each namespace is programmed (by ipvsadm -R,
	// untimed) and flushed, then programmed again, timed.
	flushed := func() (*lab.Host, *ipvs.Client) {
		d := scaleDirector(t)
		c := dialIPVS(t, d)
		restore(d)
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		return d, c
	}
	d, c := flushed()
	w, _, _ := lvsd(d, c)
	res.LVSDFlushedms = append(res.LVSDFlushedms, w)
	done(c)
	d, c = flushed()
	w, _, _ = restore(d)
	res.IPVSAdmFlushedms = append(res.IPVSAdmFlushedms, w)
	done(c)

	// One weight change, the common case of a health check's verdict:
	// lvsd's reconciler (SetDesired to the end of its round) and one
	// ipvsadm -e, on the full table.
	d = scaleDirector(t)
	c = dialIPVS(t, d)
	rec := make(rounds, 16)
	r := startReconciler(t, c, config.IPVS{ReconcileInterval: time.Hour}, slog.LevelWarn, table, reconcile.WithMetrics(rec))
	svc := len(table) / 2
	changed := cloneTable(table)
	for i := 0; i < 5; i++ {
		dest := &changed[svc].Destinations[0]
		dest.Weight = 10 + i
		rec.drain()
		start := time.Now()
		r.SetDesired(changed)
		rec.wait(t, 30*time.Second)
		res.WeightLVSDms = append(res.WeightLVSDms, ms(time.Since(start)))

		var took time.Duration
		err := d.Do(func() error {
			cmd := exec.Command("ipvsadm", "-e", "-t", changed[svc].Addr.String(), "-r", dest.Addr.String(), "-m", "-w", fmt.Sprint(20+i))
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took = time.Since(start)
			if err != nil {
				return fmt.Errorf("ipvsadm -e: %w: %s", err, out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		res.WeightAdmms = append(res.WeightAdmms, ms(took))
	}
	if got := d.MustExec(t, "ipvsadm", "-S", "-n"); !strings.Contains(got, fmt.Sprintf("-r %s -m -w 24\n", changed[svc].Destinations[0].Addr)) {
		t.Errorf("ipvsadm -S -n lacks the last weight change")
	}

	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	// Printed, not logged: the host reads the line off the console.
	fmt.Println(benchMarker + string(b))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rusage is the CPU time of the test process so far, every thread.
func rusage(t testing.TB) unix.Rusage {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru
}
