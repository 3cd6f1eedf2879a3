package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
)

// TestE2ENATInVM boots the VM once and runs vmtests.TestE2ENATFailover,
// TestE2ENATFailoverWithoutSync and TestE2ENATEvents there: an LVS-NAT
// director pair running `lvsd run` with both VIPs in one sync group, a
// client's HTTP stream and a long-lived connection across a master crash,
// with and without the IPVS connection-sync daemon, then a real server's
// death, a reload that adds a real server and a clean stop of the master
// (tcpdump watches the stop from the client and a real server).
func TestE2ENATInVM(t *testing.T) {
	res := vm.GoTests{
		Package:  "./vmtests",
		Args:     []string{"-test.run", "^TestE2ENAT"},
		LVSD:     vm.LVSDRequired,
		Binaries: []string{"tcpdump"},
		Timeout:  4 * time.Minute,
	}.Run(t)
	// A guest test that did not run, or skipped, leaves status 0: only
	// its own PASS lines count.
	for _, name := range []string{"TestE2ENATFailover", "TestE2ENATFailoverWithoutSync", "TestE2ENATEvents"} {
		if !strings.Contains(res.Output, "--- PASS: "+name+" ") {
			t.Errorf("the guest did not report %s as passed", name)
		}
	}
	// Nor does a step that skipped for want of a program.
	if strings.Contains(res.Output, "--- SKIP: TestE2ENAT") {
		t.Errorf("the guest skipped a test or a step of TestE2ENAT*")
	}
}
