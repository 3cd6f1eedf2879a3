package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lvsd/lvsd/config"
)

// The generated files must be valid cluster files, or the figures would
// time lvsd refusing them.
func TestGeneratedFilesAreValid(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, 3, 1); err != nil {
		t.Fatal(err)
	}
	nodes := filepath.Join(dir, "nodes.hcl")
	if err := os.WriteFile(nodes, nodesHCL(300), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file  string
		nodes int
	}{{filepath.Join(dir, "lvsd.hcl"), 1}, {nodes, 300}} {
		f, _, diags := config.NewLoader().Load(c.file)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", c.file, diags)
		}
		if got := len(f.NodeNames()); got != c.nodes {
			t.Errorf("%s: %d nodes, want %d", c.file, got, c.nodes)
		}
		if _, diags := f.Resolve(f.NodeNames()[0]); diags.HasErrors() {
			t.Errorf("%s: %v", c.file, diags)
		}
	}
}
