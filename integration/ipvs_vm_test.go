package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/integration/vm"
)

// exampleFiles maps each example cluster file to a guest path under
// /examples, for the plan tests in vmtests.
func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../examples/*/lvsd.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	m := make(map[string]string, len(files))
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		m["/examples/"+strings.ReplaceAll(filepath.Base(filepath.Dir(f)), "/", "_")+".hcl"] = abs
	}
	return m
}

// convertCorpus maps the keepalived.conf files the convert oracle
// (vmtests.TestConvertOracle) runs keepalived and lvsd on, and the README
// whose not-supported list its refusals must name, to their guest paths:
// keepalived's sample files and the files written for each feature lvsd
// converts.
func convertCorpus(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for guest, pattern := range map[string]string{
		"/keepalived/samples/":  "../internal/convert/testdata/samples/*.conf",
		"/keepalived/features/": "../internal/convert/testdata/oracle/*.conf",
	} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s: %v", pattern, err)
		}
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			m[guest+filepath.Base(f)] = abs
		}
	}
	readme, err := filepath.Abs("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m["/keepalived/README.md"] = readme
	return m
}

// TestVMIPVSClient runs the ipvs package's real-kernel tests in the VM.
func TestVMIPVSClient(t *testing.T) {
	vm.GoTests{Package: "github.com/lvsd/lvsd/ipvs", LVSD: vm.LVSDNone}.Run(t)
}

// TestVMReconcile runs the reconciler's real-kernel tests in the VM: drift
// repair after ipvsadm -C, hand-added services left alone.
func TestVMReconcile(t *testing.T) {
	vm.GoTests{Package: "github.com/lvsd/lvsd/internal/reconcile", LVSD: vm.LVSDNone}.Run(t)
}
