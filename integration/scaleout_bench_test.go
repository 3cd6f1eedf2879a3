//go:build scaleoutbench

package integration

import (
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
)

// go run ./bench/scaleout sets these.
var (
	scaleBenchOut   = flag.String("scaleout-bench.out", "", "run TestBenchScaleOut and write its JSON result to this file")
	scaleBenchFlows = flag.Int("scaleout-bench.flows", 300, "the client's long-lived flows")
	scaleBenchProbe = flag.Int("scaleout-bench.probe", 600, "test flows mapped on every director")
)

// TestBenchScaleOut boots the VM for vmtests.TestScaleOut alone (three
// directors behind BIRD's ECMP route; CI runs it inside TestVMGoTests)
// and writes the guest's figures to -scaleout-bench.out.
func TestBenchScaleOut(t *testing.T) {
	if *scaleBenchOut == "" {
		t.Fatal("no -scaleout-bench.out=FILE: run it with go run ./bench/scaleout")
	}
	lab.RequireRoot(t, "bird", "birdc")
	res := vm.GoTests{
		Package:  "./vmtests",
		Binaries: []string{"bird", "birdc"},
		Args: []string{"-test.run", "^TestScaleOut",
			"-scaleout.flows=" + strconv.Itoa(*scaleBenchFlows),
			"-scaleout.probe=" + strconv.Itoa(*scaleBenchProbe)},
		Timeout: 20 * time.Minute,
	}.Run(t)
	if t.Failed() {
		return
	}
	js, err := saveResult(res.Output, benchresult.ScaleOutMarker, *scaleBenchOut)
	if err != nil {
		t.Fatalf("the guest's result: %v", err)
	}
	t.Logf("result: %s", js)
}
