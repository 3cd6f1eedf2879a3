package benchresult

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPrintRoundTrip(t *testing.T) {
	want := Health{Servers: 3, Kernel: "6.1", Runs: []HealthRun{{Checker: "lvsd", Checks: 42, UserMS: 1.5}}}
	var out bytes.Buffer
	if err := Print(&out, HealthMarker, want); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if !strings.HasPrefix(line, HealthMarker) || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("Print wrote %q, want one line after %q", line, HealthMarker)
	}
	js := strings.TrimSuffix(strings.TrimPrefix(line, HealthMarker), "\n")
	var got Health
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("%q: %v", js, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
}
