//go:build vm && ipvsbench

package vmtests

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/ipvs"
	"golang.org/x/sys/unix"
)

// The benchmark is built only with the ipvsbench tag; the host-side
// TestBenchIPVSProgramming (go run ./bench/ipvsprog) sets the tag and flags.
var (
	benchReps     = flag.Int("ipvsbench.reps", 0, "run TestIPVSProgrammingBench with this many alternating repetitions")
	benchServices = flag.Int("ipvsbench.services", 5000, "virtual services of the benchmark table")
	benchDests    = flag.Int("ipvsbench.dests", 4, "real servers per virtual service of the benchmark table")
)

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
		t.Fatal("no -ipvsbench.reps=N: run it with go run ./bench/ipvsprog")
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

	res := benchresult.IPVS{Services: len(table), Destinations: countDests(table), Reps: *benchReps, Kernel: strings.TrimSpace(run(t, "uname", "-r"))}
	// lvsd programs the table into d's empty table and returns the wall
	// and CPU times.
	lvsd := func(d *lab.Host, c *ipvs.Client) (wall, user, sys float64) {
		t.Helper()
		before := c.Requests()
		r := reconcile.New(c, reconcile.WithLogger(log), reconcile.WithSettings(reconcile.Settings{Interval: time.Hour}))
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
		took, u, s := ipvsadmRestore(t, d, rules)
		t.Logf("ipvsadm -R: %v", took.Round(time.Millisecond))
		check(d, "ipvsadm -R")
		return ms(took), ms(u), ms(s)
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
	r := startReconciler(t, c, reconcile.Settings{Interval: time.Hour}, slog.LevelWarn, table, reconcile.WithMetrics(rec))
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

	// Printed, not logged: the host reads the line off the console.
	if err := benchresult.Print(os.Stdout, benchresult.IPVSMarker, res); err != nil {
		t.Fatal(err)
	}
}

// ipvsadmRestore runs ipvsadm -R < rules in d's namespace and returns
// its wall time and the process's user and system CPU time.
func ipvsadmRestore(t *testing.T, d *lab.Host, rules string) (took, user, sys time.Duration) {
	t.Helper()
	f, err := os.Open(rules)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = f
	if err := d.Do(func() error {
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took = time.Since(start)
		if err != nil {
			return fmt.Errorf("ipvsadm -R: %w: %s", err, out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return took, cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
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
