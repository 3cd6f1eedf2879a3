package benchresult

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestPrintFindRoundTrip(t *testing.T) {
	want := Health{Servers: 3, Kernel: "6.1", Runs: []HealthRun{{Checker: "lvsd", Checks: 42, UserMS: 1.5}}}
	var out bytes.Buffer
	if err := Print(&out, HealthMarker, want); err != nil {
		t.Fatal(err)
	}
	// The console prefixes lines and carries other output around them.
	console := "boot noise\n[   3.1] " + out.String() + "PASS\n"
	js, ok := Find(console, HealthMarker)
	if !ok {
		t.Fatalf("Find found no %q line in %q", HealthMarker, console)
	}
	var got Health
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("%q: %v", js, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	if _, ok := Find(console, IPVSMarker); ok {
		t.Errorf("Find found an %q line in %q", IPVSMarker, console)
	}
}

func TestSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if _, err := Save("nothing here\n", IPVSMarker, path); err == nil {
		t.Error("Save of output without the marker: no error")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("Save of output without the marker wrote the file")
	}
	js, err := Save("x "+IPVSMarker+`{"services":2}`+"\n", IPVSMarker, path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != js+"\n" || js != `{"services":2}` {
		t.Errorf("Save returned %q and wrote %q", js, b)
	}
}
