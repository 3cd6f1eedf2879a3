package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
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
	// Hostile files: nesting past the limit of every kind, long tokens,
	// NUL bytes and invalid UTF-8.
	r := strings.Repeat
	for _, s := range []string{
		"x = " + r("[", 200),
		"x = " + r("(", 200) + "1",
		r("a {\n", 200),
		"x = " + r(`"${`, 200),
		"x = \"" + r("%{if true}", 200),
		"x = " + r("-", 200) + "1",
		"x = a" + r("[*]", 200),
		"x = <<EOT\n\"\nEOT\ny = " + r("[", 200),
		"cluster = \"" + r("x", 1<<16) + "\"\n",
		r("a", 1<<16) + " = 1\n",
		"cluster = \"c\"\nvrrp_instance \"" + r("V", 1<<12) + "\" {\n  interface = \"eth0\"\n  vrid = 1e1000000\n}\n",
		"cluster = \"c\x00\"\n\x00 = 1\n",
		"cluster = \"\xff\xfe\"\n\xc0\xaf = 1\n",
		"cluster = \"c\"\nnode \"a\\nb\" {}\nnode \"\u202e\" {}\n",
	} {
		f.Add([]byte(s))
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
