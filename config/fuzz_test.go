package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// FuzzReloadMatchesFresh checks that a Loader's reload after an edit
// (pieces taken from its cache, moved, virtual servers not built again)
// gives what a fresh load of the edited file gives: the same diagnostics,
// at the same places, and the same Config.
func FuzzReloadMatchesFresh(f *testing.F) {
	base := bigConfig(40)
	f.Add(uint16(0), []byte("\n\n# added\n"), uint8(0))
	f.Add(uint16(3000), []byte("virtual_server \"vs-7\" {\n  address = \"10.9.9.9:80\"\n}\n"), uint8(0))
	f.Add(uint16(5000), []byte("weight = 3\n"), uint8(20))
	f.Add(uint16(9000), []byte("}"), uint8(1))
	f.Add(uint16(200), []byte("cluster = \"again\"\n"), uint8(0))
	f.Fuzz(func(t *testing.T, at uint16, insert []byte, cut uint8) {
		// The edit: at a line start, cut bytes out and insert others.
		i := int(at) % len(base)
		i = bytes.LastIndexByte(base[:i], '\n') + 1
		j := min(i+int(cut), len(base))
		edited := slices.Concat(base[:i], insert, base[j:])

		l := NewLoader()
		if _, diags := l.Parse("big.hcl", base); diags.HasErrors() {
			t.Fatal(diags)
		}
		got, gd := l.Parse("big.hcl", edited)
		want, wd := NewLoader().Parse("big.hcl", edited)
		if gd.Error() != wd.Error() {
			t.Fatalf("diagnostics:\nreload: %v\nfresh:  %v", gd, wd)
		}
		if wd.HasErrors() {
			return
		}
		gc, _ := got.Resolve("a")
		wc, _ := want.Resolve("a")
		if diff := cmp.Diff(wc, gc, netipOpts); diff != "" {
			t.Fatalf("config (-fresh +reload):\n%s", diff)
		}
	})
}
