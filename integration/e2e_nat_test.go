package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
)

// TestE2ENATInVM boots the VM once and runs vmtests.TestE2ENATFailover and
// TestE2ENATFailoverWithoutSync there: an LVS-NAT director pair running
// `lvsd run` with both VIPs in one sync group, a client's HTTP stream and
// a long-lived connection across a master crash, with and without the
// IPVS connection-sync daemon.
func TestE2ENATInVM(t *testing.T) {
	res := vm.GoTests{
		Package: "./vmtests",
		Args:    []string{"-test.run", "^TestE2ENAT"},
		LVSD:    vm.LVSDRequired,
		Timeout: 3 * time.Minute,
	}.Run(t)
	// A guest test that did not run, or skipped, leaves status 0: only
	// its own PASS lines count.
	for _, name := range []string{"TestE2ENATFailover", "TestE2ENATFailoverWithoutSync"} {
		if !strings.Contains(res.Output, "--- PASS: "+name+" ") {
			t.Errorf("the guest did not report %s as passed", name)
		}
	}
}
