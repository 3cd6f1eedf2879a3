package keepalived

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the reader or the script splitter
// panic, and that every statement it returns has a position in the file.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../convert/testdata/*/*.conf")
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("a {\n b \"c\" d { e }\n}\n}\n{\ninclude x\n@id z\n$X=1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, _ := Parse("fuzz.conf", src, nil)
		var walk func([]*Stmt)
		walk = func(ss []*Stmt) {
			for _, s := range ss {
				if s.Key.Pos.Line < 1 || s.Key.Pos.Col < 1 {
					t.Fatalf("statement %q without a position: %v", s.Key.Text, s.Key.Pos)
				}
				_, _ = SplitScript(s)
				walk(s.Block)
			}
		}
		walk(file.Stmts)
	})
}
