package integration

import (
	"os/exec"
	"testing"

	"github.com/lvsd/lvsd/integration/lab"
)

// TestBGPExampleBIRDConfig checks the example's BIRD router config with
// BIRD itself (bird -p parses and exits).
func TestBGPExampleBIRDConfig(t *testing.T) {
	lab.RequireRoot(t, "bird")
	out, err := exec.Command("bird", "-p", "-c", "../examples/bgp-ecmp/bird.conf").CombinedOutput()
	if err != nil {
		t.Fatalf("bird -p -c examples/bgp-ecmp/bird.conf: %v\n%s", err, out)
	}
}
