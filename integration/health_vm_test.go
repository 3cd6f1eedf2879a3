package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
)

// TestHealthChecksDriveIPVSInVM boots the VM once and runs
// vmtests.TestHealthChecksDriveIPVS there: `lvsd run` on a NAT director,
// busybox httpd real servers killed, restarted and unplugged under a
// client's steady requests, with the kernel's IPVS table, ipvsadm, the
// status document and the wire (tcpdump) as oracles.
func TestHealthChecksDriveIPVSInVM(t *testing.T) {
	res := vm.GoTests{
		Package:  "./vmtests",
		Args:     []string{"-test.run", "^TestHealthChecksDriveIPVS$"},
		LVSD:     vm.LVSDRequired,
		Binaries: []string{"tcpdump"},
		Timeout:  2 * time.Minute,
	}.Run(t)
	// A test that did not run, or skipped for want of something, passes
	// the binary with status 0: only its own PASS line counts.
	if !strings.Contains(res.Output, "--- PASS: TestHealthChecksDriveIPVS ") {
		t.Errorf("the guest did not report TestHealthChecksDriveIPVS as passed")
	}
}
