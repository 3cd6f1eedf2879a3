package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse, Resolve or Format panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse("fuzz.hcl", src)
		diags.Format(io.Discard, file.Source())
		if diags.HasErrors() {
			return
		}
		for _, n := range append(file.NodeNames(), "undeclared") {
			cfg, diags := file.Resolve(n)
			diags.Format(io.Discard, file.Source())
			if cfg == nil && !diags.HasErrors() {
				t.Fatalf("Resolve(%q) returned neither a config nor an error", n)
			}
		}
	})
}
