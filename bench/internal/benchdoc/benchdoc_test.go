package benchdoc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReplace(t *testing.T) {
	const ours = "## Failover\n\nnew figures\n"
	tests := []struct {
		name, doc, want string
	}{
		{"new file", "", "# Benchmarks\n\n" + ours},
		{"appended after the others", "# Benchmarks\n\n## Steady state\n\nsteady\n",
			"# Benchmarks\n\n## Steady state\n\nsteady\n\n" + ours},
		{"replaced in the middle, neighbours kept byte for byte",
			"# Benchmarks\n\n## IPVS programming\n\nipvs\n\n## Failover\n\nold\nfigures\n\n## Steady state\n\nsteady\n",
			"# Benchmarks\n\n## IPVS programming\n\nipvs\n\n" + ours + "\n## Steady state\n\nsteady\n"},
		{"replaced at the end", "# Benchmarks\n\n## IPVS programming\n\nipvs\n\n## Failover\n\nold\n",
			"# Benchmarks\n\n## IPVS programming\n\nipvs\n\n" + ours},
		{"a longer heading is another section", "# B\n\n## Failover (old)\n\nkept\n",
			"# B\n\n## Failover (old)\n\nkept\n\n" + ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Replace(tt.doc, ours)); diff != "" {
				t.Errorf("Replace (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := Write(path, "## A\n\none\n"); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, "## B\n\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, "## A\n\nthree\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("# Benchmarks\n\n## A\n\nthree\n\n## B\n\ntwo\n", string(got)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
}
