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
// status document and the wire (tcpdump) as oracles; and, in the same boot,
// vmtests.TestCheckOptionsDriveIPVS: dynamic weights of an exec check, and
// a tcp check with connect_ip, bind_to and retry, with ipvsadm as the
// oracle; vmtests.TestCheckTypesDriveIPVS: dns and udp checks taking DNS
// and UDP echo servers out of IPVS and back.
func TestHealthChecksDriveIPVSInVM(t *testing.T) {
	tests := []string{"TestHealthChecksDriveIPVS", "TestCheckOptionsDriveIPVS", "TestCheckTypesDriveIPVS"}
	res := vm.GoTests{
		Package:  "./vmtests",
		Args:     []string{"-test.run", "^(" + strings.Join(tests, "|") + ")$"},
		LVSD:     vm.LVSDRequired,
		Binaries: []string{"tcpdump"},
		Timeout:  5 * time.Minute,
	}.Run(t)
	// A test that did not run, or skipped for want of something, passes
	// the binary with status 0: only its own PASS line counts.
	for _, name := range tests {
		if !strings.Contains(res.Output, "--- PASS: "+name+" ") {
			t.Errorf("the guest did not report %s as passed", name)
		}
	}
}
