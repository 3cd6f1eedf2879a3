// Command soak runs lvsd's fault-injection soak for a long time and writes
// its table into the "Soak" section of BENCHMARKS.md.
//
// The soak is the host-side test TestSoakInVM of ./integration (CI runs it
// for three minutes): it boots the lab VM, where a DR director pair with
// real servers and a client goes through a seeded random schedule of
// faults while the election, the VIPs, the IPVS tables, the client's
// requests and the daemons' resources are checked (see
// integration/soak). This command gives it a duration and a seed and
// reads back the guest's result.
//
// Run it as root from the module (make soak does):
//
//	go run ./bench/soak -duration 30m -write BENCHMARKS.md
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "how long the schedule of faults lasts")
	seed := flag.Uint64("seed", 0, "the schedule's seed; 0 draws one")
	write := flag.String("write", "", "replace the Soak section of this markdown file (BENCHMARKS.md); empty to only print")
	verbose := flag.Bool("v", false, "relay the test's and the VM's output")
	flag.Parse()
	if err := soakMain(*duration, *seed, *write, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func soakMain(duration time.Duration, seed uint64, write string, verbose bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM does")
	}
	if seed == 0 {
		seed = rand.Uint64N(1_000_000) + 1
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "result.json")
	load := benchresult.LoadAverage()
	fmt.Fprintf(os.Stderr, "soak: seed %d, %v of faults in the lab VM (load average %s)\n", seed, duration, load)
	// A failed soak is still a result: its table says what fired.
	testErr := benchrun.GoTest(root, verbose, "TestSoakInVM", "-count=1", "-timeout", (duration + 10*time.Minute).String(), "-v",
		"-run", "^TestSoakInVM$", "./integration/", "-args",
		"-soak.duration", duration.String(), "-soak.seed", fmt.Sprint(seed), "-soak.out", out)
	var r benchresult.Soak
	if err := benchrun.ReadResult(out, &r); err != nil {
		return fmt.Errorf("%w (the test: %v)", err, testErr)
	}
	fmt.Print(r.Table())
	if write != "" {
		path, err := benchrun.WriteSection(root, write, section(r, load))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "soak: wrote the Soak section of %s\n", path)
	}
	if testErr != nil {
		return fmt.Errorf("the soak failed: %w", testErr)
	}
	return nil
}

// section is the Soak section of BENCHMARKS.md for r.
func section(r benchresult.Soak, load string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Soak\n\n")
	fmt.Fprintf(&b, "`go run ./bench/soak -duration %v -seed %d` (`make soak`), %s, load average before %s: the e2e DR director pair in the lab VM "+
		"under a client's requests and a seeded random schedule of faults, one at a time, each held, healed and waited for until the cluster settled. "+
		"Recovery is from the heal to the cluster settled (one MASTER, the preferred one; the VIP on it only; every real server healthy; "+
		"every IPVS table equal to config + health). CI runs three minutes of it (TestSoakInVM).\n\n",
		r.Planned, r.Seed, time.Now().UTC().Format("2006-01-02"), load)
	fmt.Fprintf(&b, "%d faults in %v; %d requests, %d failed (each within a fault that explains it, or a violation below).\n\n",
		r.Faults, r.Wall.Round(time.Second), r.Requests, r.Failed)
	b.WriteString("| fault | count | max recovery | violations |\n|---|---:|---:|---:|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %s | %d | %v | %d |\n", x.Name(), x.Count, x.MaxRecovery.Round(time.Millisecond), x.Violations)
	}
	b.WriteString("\n| director | restarts | last daemon measured over | start | end |\n|---|---:|---:|---|---|\n")
	for _, x := range r.Resources {
		fmt.Fprintf(&b, "| %s | %d | %v | %s | %s |\n", x.Director, x.Restarts, x.Over.Round(time.Second), x.Base, x.End)
	}
	if len(r.Starved) > 0 {
		fmt.Fprintf(&b, "\nNot injected: %d times the guest did not run a master in time and the backup took over, each shown by the master's own late advert (`last_late_advert` in its status), late enough for a takeover by itself or, on a guest whose kernel then also held the adverts back, with the backup's change of state seen at the same time:\n\n", len(r.Starved))
		for _, s := range r.Starved {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if r.Passed() {
		b.WriteString("\nVerdict: PASS.\n")
	} else {
		fmt.Fprintf(&b, "\nVerdict: FAIL, %d violations:\n\n", len(r.Violations))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(v, "\n", " "))
		}
	}
	return b.String()
}
