//go:build hcbench

package integration

import (
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/vm"
)

// The health check CPU benchmark is built only with the hcbench tag: it
// runs minutes of emulated CPU. go run ./bench/hcvs sets the tag and these
// flags.
var (
	hcBenchOut      = flag.String("hc-bench.out", "", "run TestBenchHealthChecksVS and write its JSON result to this file")
	hcBenchServers  = flag.Int("hc-bench.servers", 100, "real servers per checker")
	hcBenchInterval = flag.Duration("hc-bench.interval", 2*time.Second, "check interval")
	hcBenchTimeout  = flag.Duration("hc-bench.timeout", time.Second, "check timeout")
	hcBenchDuration = flag.Duration("hc-bench.duration", 30*time.Second, "measurement window of each checker")
	hcBenchWarmup   = flag.Duration("hc-bench.warmup", 5*time.Second, "time between all servers healthy and the window")
	hcBenchReps     = flag.Int("hc-bench.reps", 1, "measurement windows per boot")
)

// TestBenchHealthChecksVS boots the VM once, with keepalived in it, and
// runs the vmtests benchmark that measures, over the same windows, the CPU
// time of keepalived's checker and of `lvsd run`; it writes the guest's
// JSON result to -hc-bench.out.
func TestBenchHealthChecksVS(t *testing.T) {
	if *hcBenchOut == "" {
		t.Fatal("no -hc-bench.out=FILE: run it with go run ./bench/hcvs")
	}
	// Up to 90 s to get every server healthy, the warm-up and the
	// windows; then boot, build and slack.
	per := 90*time.Second + *hcBenchWarmup + 4**hcBenchInterval + time.Duration(*hcBenchReps)**hcBenchDuration
	res := vm.GoTests{
		Package: "./vmtests",
		Tags:    "hcbench",
		Args: []string{
			"-test.run", "^TestHealthCheckCPUBench$",
			"-hcbench.servers=" + strconv.Itoa(*hcBenchServers),
			"-hcbench.interval=" + hcBenchInterval.String(),
			"-hcbench.timeout=" + hcBenchTimeout.String(),
			"-hcbench.duration=" + hcBenchDuration.String(),
			"-hcbench.warmup=" + hcBenchWarmup.String(),
			"-hcbench.reps=" + strconv.Itoa(*hcBenchReps),
		},
		LVSD:     vm.LVSDRequired,
		Binaries: []string{"keepalived"},
		MemoryMB: 1024,
		TSC:      true,
		Timeout:  per + 3*time.Minute,
	}.Run(t)
	if t.Failed() {
		return
	}
	js, err := saveResult(res.Output, benchresult.HealthMarker, *hcBenchOut)
	if err != nil {
		t.Fatalf("the guest's result: %v", err)
	}
	t.Logf("result: %s", js)
}
