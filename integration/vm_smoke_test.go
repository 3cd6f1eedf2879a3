package integration

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
)

// TestVMIPVSAdm boots the VM and programs IPVS with ipvsadm: the kernel,
// its modules, modprobe and ipvsadm's libraries all have to work.
func TestVMIPVSAdm(t *testing.T) {
	// One CPU: these scripts need no parallelism, and a second emulated
	// CPU takes most of a second to bring up.
	res := vm.Must(t, vm.Config{CPUs: 1, Script: `set -e
modprobe ip_vs
ipvsadm -A -t 192.0.2.1:80 -s rr
ipvsadm -a -t 192.0.2.1:80 -r 192.0.2.2:80 -m
ipvsadm -S -n
`})
	if res.ExitCode != 0 {
		t.Fatalf("script exit status %d, want 0", res.ExitCode)
	}
	for _, want := range []string{
		"-A -t 192.0.2.1:80 -s rr",
		"-a -t 192.0.2.1:80 -r 192.0.2.2:80 -m -w 1",
	} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("ipvsadm -S -n output lacks %q", want)
		}
	}
}

// TestVMScriptFailure checks that a failing script is reported as such,
// so the tests above cannot pass by accident.
func TestVMScriptFailure(t *testing.T) {
	res := vm.Must(t, vm.Config{CPUs: 1, Script: "echo failing on purpose; exit 7\n"})
	if res.ExitCode != 7 {
		t.Errorf("exit status %d, want 7", res.ExitCode)
	}
}

// TestVMTimeout checks that a run that overstays its timeout is reported
// as an error and its qemu does not outlive it.
func TestVMTimeout(t *testing.T) {
	start := time.Now()
	res, err := vm.Run(context.Background(), t, vm.Config{CPUs: 1, Script: "sleep 600\n", Timeout: 2 * time.Second})
	if err == nil {
		t.Fatalf("run of a sleeping script ended without error: exit status %d", res.ExitCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a deadline", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("run took %v to give up after a 2 s timeout", d)
	}
}

// TestVMGoTests runs the vm-tagged tests of vmtests inside the VM, with
// tcpdump for the lab's captures, BIRD as the BGP router of the
// active-active directors and keepalived for the convert oracle.
func TestVMGoTests(t *testing.T) {
	lab.RequireRoot(t, "bird", "birdc", "keepalived")
	files := exampleFiles(t)
	maps.Copy(files, convertCorpus(t))
	// The health-check scenario and the director pairs under traffic
	// have boots of their own (health_vm_test.go, e2e_test.go,
	// e2e_nat_test.go).
	vm.GoTests{
		Package:  "./vmtests",
		Binaries: []string{"tcpdump", "bird", "birdc", "keepalived"},
		Files:    files,
		// Several minutes of tests on emulated CPUs: room for a busy runner.
		Timeout: 11 * time.Minute,
		Args:    []string{"-test.skip", "^(TestHealthChecksDriveIPVS|TestE2EDirectorPair|TestE2ENAT.*)$"},
	}.Run(t)
}
