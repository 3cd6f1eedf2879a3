package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testEnv runs commands with captured output, no environment and a fixed host name.
func testEnv(stdout, stderr *bytes.Buffer) Env {
	return Env{
		Stdout: stdout, Stderr: stderr,
		Getenv:   func(string) string { return "" },
		Hostname: func() (string, error) { return "", errors.New("no host name in tests") },
	}
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(testEnv(&o, &e), args)
	return o.String(), e.String(), code
}

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*/lvsd.hcl")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v (found %d)", err, len(files))
	}
	return files
}

// TestExamplesValidate keeps every example valid.
func TestExamplesValidate(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			out, errOut, code := run(t, "validate", "-c", f)
			if code != 0 {
				t.Fatalf("lvsd validate -c %s: exit %d\n%s", f, code, errOut)
			}
			if !strings.Contains(out, "valid") {
				t.Errorf("validate output %q does not say valid", out)
			}
		})
	}
}

// TestExamplesPlan compares `lvsd plan` for every example and node with
// the golden files beside the example (plan.NODE.golden). The IPVS lines
// are what ipvsadm-save -n prints for the same table; the VM lab checks
// that against the real kernel.
func TestExamplesPlan(t *testing.T) {
	for _, f := range exampleFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, diags := config.NewLoader().Parse(f, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, node := range parsed.NodeNames() {
			name := filepath.Base(filepath.Dir(f)) + "/" + node
			t.Run(name, func(t *testing.T) {
				out, errOut, code := run(t, "plan", "-c", f, "--node", node)
				if code != 0 {
					t.Fatalf("plan: exit %d\n%s", code, errOut)
				}
				golden := filepath.Join(filepath.Dir(f), "plan."+node+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/cli -update)", err)
				}
				if diff := cmp.Diff(string(want), out); diff != "" {
					t.Errorf("plan %s (-want +got):\n%s", golden, diff)
				}
			})
		}
	}
}
