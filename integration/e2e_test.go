package integration

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
)

// `make demo` runs TestE2EDirectorPairInVM with -e2e.demo: the guest then
// prints its story on lines marked "DEMO| " and stops after the takeover.
var (
	e2eDemo = flag.Bool("e2e.demo", false, "TestE2EDirectorPairInVM: print the demo's story (DEMO| lines) and stop after the takeover")
	e2eLVSD = flag.String("e2e.lvsd", "", "TestE2EDirectorPairInVM: run this lvsd binary (static) in the VM instead of building ./cmd/lvsd")
)

// TestE2EDirectorPairInVM boots the VM once and runs
// vmtests.TestE2EDirectorPair there: two directors running `lvsd run`
// with a DR virtual server and the IPVS connection-sync daemon, real
// servers prepared by `lvsd realserver up`, and a client whose steady
// requests through the VIP measure a master crash, a restart, a clean
// stop, a real server's death and a reload, while long-lived echo
// connections show what the sync daemon carries over (tcpdump watches
// the clean stop from the client).
func TestE2EDirectorPairInVM(t *testing.T) {
	g := vm.GoTests{
		Package:  "./vmtests",
		Args:     []string{"-test.run", "^TestE2EDirectorPair$"},
		LVSD:     vm.LVSDRequired,
		Binaries: []string{"tcpdump"},
		Env:      map[string]string{},
		Timeout:  3 * time.Minute,
	}
	if *e2eDemo {
		g.Env["LVSD_E2E_DEMO"] = "1"
	}
	if *e2eLVSD != "" {
		if _, err := os.Stat(*e2eLVSD); err != nil {
			t.Fatalf("-e2e.lvsd: %v", err)
		}
		g.LVSD = vm.LVSDNone
		g.Files = map[string]string{vm.GuestLVSD: *e2eLVSD}
		g.Env["LVSD_BIN"] = vm.GuestLVSD
	}
	res := g.Run(t)
	// A guest test that did not run, or skipped, leaves status 0: only its
	// own PASS line counts.
	if !strings.Contains(res.Output, "--- PASS: TestE2EDirectorPair ") {
		t.Errorf("the guest did not report TestE2EDirectorPair as passed")
	}
	// Nor does a step that skipped for want of a program.
	if strings.Contains(res.Output, "--- SKIP: TestE2EDirectorPair/") {
		t.Errorf("the guest skipped a step of TestE2EDirectorPair")
	}
}
