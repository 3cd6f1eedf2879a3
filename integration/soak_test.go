package integration

import (
	"flag"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/vm"
)

// The soak's flags. CI runs the default: three minutes of faults of seed
// 1, whose schedule meets every kind of fault (soak.Plan draws them in
// rounds), so that a red run is lvsd's or the test's fault and can be run
// again as it was; bench/soak and `make soak` run a long one, and
// -soak.seed 0 draws a new seed (printed).
var (
	soakDuration = flag.Duration("soak.duration", 3*time.Minute, "TestSoakInVM: how long the schedule of faults lasts")
	soakSeed     = flag.Uint64("soak.seed", 1, "TestSoakInVM: the schedule's seed; 0 draws one (printed)")
	soakOut      = flag.String("soak.out", "", "TestSoakInVM: write the guest's JSON result to this file")
	soakKinds    = flag.String("soak.kinds", "", "TestSoakInVM: only these kinds of fault (comma-separated parts of their names, as \"SIGSTOP >,ipvsadm\"); empty for all")
)

// TestSoakInVM boots the VM and runs vmtests.TestSoak there: the e2e DR
// director pair under client traffic and a seeded random schedule of
// faults (kill -9 and restart, SIGSTOP, link down, netem, partition,
// reloads good and pathological, real servers dying, ipvsadm -C), with
// the election, the VIPs, the IPVS tables, the client's requests and the
// daemons' resources checked throughout.
func TestSoakInVM(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = rand.Uint64N(1_000_000) + 1 // short enough to type again
	}
	t.Logf("soak: seed %d, %v of faults (-soak.seed %d runs the same schedule)", seed, *soakDuration, seed)
	res := vm.GoTests{
		Package: "./vmtests",
		Args: []string{"-test.run", "^TestSoak$",
			"-soak.seed", strconv.FormatUint(seed, 10), "-soak.duration", soakDuration.String(), "-soak.kinds", *soakKinds},
		LVSD: vm.LVSDRequired,
		// A daemon that recurses into a pathological file may grow a
		// stack of hundreds of MiB before the runtime stops it.
		MemoryMB: 2048,
		Timeout:  *soakDuration + 3*time.Minute,
	}.Run(t)
	if !strings.Contains(res.Output, "--- PASS: TestSoak ") && !t.Failed() {
		t.Errorf("the guest did not report TestSoak as passed")
	}
	if *soakOut != "" {
		if _, err := saveResult(res.Output, benchresult.SoakMarker, *soakOut); err != nil {
			t.Errorf("the guest's result: %v", err)
		}
	}
}
