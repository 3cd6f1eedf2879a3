package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/bench/benchresult"
)

// findResult returns the JSON after marker on the first line of output
// that carries it (the VM's console may prefix the line), and whether
// there is one: the guest prints its benchmark results so
// (benchresult.Print).
func findResult(output, marker string) (string, bool) {
	for line := range strings.SplitSeq(output, "\n") {
		if _, js, ok := strings.Cut(line, marker); ok {
			return strings.TrimSpace(js), true
		}
	}
	return "", false
}

// saveResult writes the JSON that findResult finds in output to the file
// path, for the bench command that runs the test, and returns it.
func saveResult(output, marker, path string) (string, error) {
	js, ok := findResult(output, marker)
	if !ok {
		return "", fmt.Errorf("no %q line in the output", marker)
	}
	if err := os.WriteFile(path, []byte(js+"\n"), 0o644); err != nil {
		return "", err
	}
	return js, nil
}

func TestFindResult(t *testing.T) {
	console := "boot noise\n[   3.1] " + benchresult.HealthMarker + `{"Servers":3}` + "\nPASS\n"
	if js, ok := findResult(console, benchresult.HealthMarker); !ok || js != `{"Servers":3}` {
		t.Errorf("findResult = %q, %v", js, ok)
	}
	if _, ok := findResult(console, benchresult.IPVSMarker); ok {
		t.Errorf("findResult found an %q line in %q", benchresult.IPVSMarker, console)
	}
}

func TestSaveResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if _, err := saveResult("nothing here\n", benchresult.IPVSMarker, path); err == nil {
		t.Error("saveResult of output without the marker: no error")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("saveResult of output without the marker wrote the file")
	}
	js, err := saveResult("x "+benchresult.IPVSMarker+`{"services":2}`+"\n", benchresult.IPVSMarker, path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != js+"\n" || js != `{"services":2}` {
		t.Errorf("saveResult returned %q and wrote %q", js, b)
	}
}
