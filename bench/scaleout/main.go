// Command scaleout measures active-active directors over BGP and ECMP and
// writes the "Scale-out" section of BENCHMARKS.md: how new connections
// spread over three directors, whether the directors map the same flows
// to the same real servers, and what a real server's death, a director's
// clean stop and a director's kill (with and without sloppy_tcp) break.
//
// The work happens in the project's lab VM: the command runs the
// host-side test TestBenchScaleOut of ./integration, which boots the VM
// for vmtests.TestScaleOut (BIRD 2 as the router, three `lvsd run`
// directors, five DR real servers, a client behind the router).
//
// Run it as root from the module:
//
//	go run ./bench/scaleout
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	var o options
	flag.IntVar(&o.Flows, "flows", 300, "the client's long-lived flows")
	flag.IntVar(&o.Probe, "probe", 600, "test flows mapped on every director")
	flag.StringVar(&o.Out, "benchmarks", "BENCHMARKS.md", "file whose Scale-out section is written, relative to the module root; empty to write nothing")
	flag.BoolVar(&o.Verbose, "v", false, "relay the test's and the VM's output")
	flag.Parse()
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
}

type options struct {
	Flows, Probe int
	Out          string
	Verbose      bool
}

func benchmark(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM and its namespaces do")
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "scaleout")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "result.json")
	m := benchrun.Machine{LoadBefore: benchresult.LoadAverage(), CPUs: runtime.NumCPU()}
	start := time.Now()
	if err := benchrun.GoTest(root, o.Verbose, "TestBenchScaleOut", "-tags", "scaleoutbench", "-count=1", "-timeout=30m", "-v",
		"-run", "^TestBenchScaleOut$", "./integration/",
		"-args", "-scaleout-bench.out="+out, fmt.Sprintf("-scaleout-bench.flows=%d", o.Flows), fmt.Sprintf("-scaleout-bench.probe=%d", o.Probe)); err != nil {
		return err
	}
	var r benchresult.ScaleOut
	if err := benchrun.ReadResult(out, &r); err != nil {
		return err
	}
	m.LoadAfter, m.Wall, m.Date = benchresult.LoadAverage(), time.Since(start), time.Now().UTC()
	sec := section(r, m)
	return benchrun.Publish(root, o.Out, "scaleout", sec)
}

// heading is the section of BENCHMARKS.md this command owns.
const heading = "## Scale-out"

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

func pct(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(n)/float64(of))
}

// section renders the Scale-out section of BENCHMARKS.md.
func section(r benchresult.ScaleOut, m benchrun.Machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", heading)
	fmt.Fprintf(&b, "`go run ./bench/scaleout -flows %d -probe %d`, %s, %d CPUs, load average before %s, after %s (%v of wall time). "+
		"In the lab VM (emulated CPUs): BIRD 2 as the router, with ECMP over the directors' next hops (`merge paths`, L4 hash); "+
		"%d `lvsd run` directors announcing one VIP by BGP (`mh` with `mh-port` and `mh-fallback`); %d DR real servers running an echo service; "+
		"a client behind the router holding %d long-lived flows (one source port each; half as many again over IPv6) and opening a new connection every %v. "+
		"The same scenario runs in CI (TestScaleOut in TestVMGoTests) with 200 flows.\n\n",
		r.Flows, r.Probe, m.Date.Format("2006-01-02"), m.CPUs, m.LoadBefore, m.LoadAfter, m.Wall.Round(time.Second),
		r.Directors, r.Servers, r.Flows, r.Every)

	var names []string
	total := 0
	for n, c := range r.NewConns {
		names = append(names, n)
		total += c
	}
	slices.Sort(names)
	var spread []string
	for _, n := range names {
		spread = append(spread, fmt.Sprintf("%s %d (%s)", n, r.NewConns[n], pct(r.NewConns[n], total)))
	}
	fmt.Fprintf(&b, "New connections per director over %v (their IPVS counters): %s.\n\n", r.Window, strings.Join(spread, ", "))

	fmt.Fprintf(&b, "Mapping: %d test flows sent through each director in turn (a host route on a probe host) map to the same real server on all %d in **%d of %d** cases; the directors' files list the real servers in three different orders, and one lists the IPv6 service before the IPv4 one.\n\n",
		r.Probe, r.Directors, r.Agree, r.Probe)

	sd := r.ServerDeath
	fmt.Fprintf(&b, "A real server dies (its service closes every connection): %d long-lived flows broke, all %d it carried%s; "+
		"with it at weight 0 the directors agree on %d of %d test flows and %d of the %d other servers' test flows kept their server (%s); "+
		"once it is back, %d of %d test flows map as before.\n\n",
		sd.Broken, sd.OnServer, map[bool]string{true: "", false: fmt.Sprintf(" and %d of other servers", sd.OtherBroken)}[sd.OtherBroken == 0],
		sd.Agree, r.Probe, sd.Kept, sd.Others, pct(sd.Kept, sd.Others), sd.Back, r.Probe)

	b.WriteString("| a director … | family | sloppy_tcp | flows it carried | flows surviving | route gone after | new connections failed | last failure begun after |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, x := range append(slices.Clone(r.Stop), r.Kills...) {
		last := "–"
		if x.NewFailed > 0 {
			last = ms(x.LastFailure)
		}
		how := map[string]string{"SIGTERM": "stops (SIGTERM)", "SIGKILL": "is killed (SIGKILL)"}[x.How]
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d of %d (%s) | %s | %d | %s |\n",
			how, x.Family, map[bool]string{true: "on", false: "off (baseline)"}[x.Sloppy], x.Carried, x.Survived, x.Flows, pct(x.Survived, x.Flows),
			ms(x.RouteGone), x.NewFailed, last)
	}
	fmt.Fprintf(&b, "\nA stop sends GRACEFUL_SHUTDOWN for `drain_wait` (3 s) before it withdraws; a kill closes the BGP session, so the router drops the path at once (a frozen or unplugged director's goes at the hold time, 3 s here: TestBGPDirectorsWithBIRD). "+
		"Until the route goes, the killed director's kernel still forwards its flows; after, ECMP moves them to the others, where `mh` picks the same real server and `sloppy_tcp` lets IPVS take up a connection in mid-flow. Without it more flows break than the killed director carried: Linux's ECMP (hash-threshold) moves some flows of the remaining next hops too, and each moved flow meets a director without its connection.\n\n")
	fmt.Fprintf(&b, "The last healthy real server dies: the VIP's route is gone from the router %s later (check interval %v).\n", ms(r.Withdraw), r.Interval)
	return b.String()
}
