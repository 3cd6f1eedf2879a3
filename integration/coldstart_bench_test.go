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

// go run ./bench/coldstart sets these.
var (
	coldBenchOut   = flag.String("cold-bench.out", "", "run TestBenchColdStart and write its JSON result to this file")
	coldBenchSizes = flag.String("cold-bench.sizes", "2000,5000,20000", "numbers of services of the cold start benchmark")
	coldBenchReps  = flag.Int("cold-bench.reps", 2, "alternating repetitions of each cold start")
)

// TestBenchColdStart boots the VM once and runs the vmtests benchmark that
// times `lvsd run` from process start to the full table against ipvsadm -R
// of the same rules; it writes the guest's JSON result to -cold-bench.out.
func TestBenchColdStart(t *testing.T) {
	if *coldBenchOut == "" {
		t.Fatal("no -cold-bench.out=FILE: run it with go run ./bench/coldstart")
	}
	res := vm.GoTests{
		Package: "./vmtests",
		Tags:    "ipvsbench",
		Args: []string{
			"-test.run", "^TestColdStartBench$",
			"-coldbench.sizes=" + *coldBenchSizes,
			"-coldbench.reps=" + strconv.Itoa(*coldBenchReps),
		},
		MemoryMB: 2048,
		Timeout:  60 * time.Minute,
	}.Run(t)
	if t.Failed() {
		return
	}
	js, err := saveResult(res.Output, benchresult.ColdStartMarker, *coldBenchOut)
	if err != nil {
		t.Fatalf("the guest's result: %v", err)
	}
	t.Logf("result: %s", js)
}
