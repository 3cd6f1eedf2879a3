//go:build ipvsbench

package integration

import (
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/vm"
)

// The IPVS programming benchmark is built only with the ipvsbench tag: it
// takes minutes of emulated CPU. go run ./bench/ipvsprog sets the tag and
// these flags.
var (
	ipvsBenchOut      = flag.String("ipvs-bench.out", "", "run TestBenchIPVSProgramming and write its JSON result to this file")
	ipvsBenchReps     = flag.Int("ipvs-bench.reps", 3, "alternating repetitions of the IPVS programming benchmark")
	ipvsBenchServices = flag.Int("ipvs-bench.services", 5000, "virtual services of the IPVS programming benchmark")
	ipvsBenchDests    = flag.Int("ipvs-bench.dests", 4, "real servers per virtual service of the IPVS programming benchmark")
)

// TestBenchIPVSProgramming boots the VM once and runs the vmtests
// benchmark that times lvsd's reconciler against ipvsadm -R on the same
// large table; it writes the guest's JSON result to -ipvs-bench.out.
func TestBenchIPVSProgramming(t *testing.T) {
	if *ipvsBenchOut == "" {
		t.Fatal("no -ipvs-bench.out=FILE: run it with go run ./bench/ipvsprog")
	}
	res := vm.GoTests{
		Package: "./vmtests",
		Tags:    "ipvsbench",
		Args: []string{
			"-test.run", "^TestIPVSProgrammingBench$",
			"-ipvsbench.reps=" + strconv.Itoa(*ipvsBenchReps),
			"-ipvsbench.services=" + strconv.Itoa(*ipvsBenchServices),
			"-ipvsbench.dests=" + strconv.Itoa(*ipvsBenchDests),
		},
		LVSD:     vm.LVSDNone,
		MemoryMB: 1024,
		Timeout:  20 * time.Minute,
	}.Run(t)
	if t.Failed() {
		return
	}
	js, err := saveResult(res.Output, benchresult.IPVSMarker, *ipvsBenchOut)
	if err != nil {
		t.Fatalf("the guest's result: %v", err)
	}
	t.Logf("result: %s", js)
}
