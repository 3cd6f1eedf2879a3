package status

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sampleDocument fills every field, with times outside UTC so that the
// wire form's conversion shows.
func sampleDocument() Document {
	cet := time.FixedZone("CET", 3600)
	reloadErr := "web.hcl:3:10: vrid must be 1..255"
	return Document{
		Cluster: "web", Node: "director-a", Version: "0.1.0",
		Config: Config{
			File:            "/etc/lvsd/web.hcl",
			LoadedAt:        time.Date(2026, 11, 21, 11, 0, 0, 0, cet),
			LastReloadError: &reloadErr,
		},
		VRRPInstances: []Instance{{
			Name: "VI_1", State: StateMaster, VRID: 51, Interface: "eth0", Version: 3,
			Priority: 150, EffectivePriority: 150, MasterAddress: "10.10.10.11",
			VirtualIPs:  []string{"10.10.10.100/32"},
			Since:       time.Date(2026, 11, 21, 11, 0, 3, 250e6, cet),
			Transitions: 2, AdvertsSent: 120, AdvertsReceived: 3,
			Dropped:       map[string]uint64{"ttl": 4, "checksum": 1},
			TransitionsTo: map[string]uint64{StateBackup: 1, StateMaster: 1},
		}},
		VRRPInterfaces: []VRRPInterface{{Interface: "eth0", Dropped: map[string]uint64{"vrid": 6, "length": 1}}},
		VirtualServers: []VirtualServer{{
			Name: "web", Address: "10.10.10.100:80", Protocol: "tcp", Scheduler: "wlc", Method: "dr",
			QuorumMet: true, SorryServerActive: false,
			RealServers: []RealServer{
				{
					Address: "10.10.10.12:80", Healthy: true, ConfiguredWeight: 1, Weight: 1, InIPVS: true,
					LastCheck: &Check{OK: true, At: time.Date(2026, 11, 21, 11, 0, 5, 0, cet),
						DurationMS: 1.3, Message: "HTTP 200"},
					ActiveConns: 7, InactiveConns: 2, BytesIn: 1000, BytesOut: 20000,
				},
				{
					Address: "10.10.10.13:80", Healthy: false, ConfiguredWeight: 2, Weight: 0, InIPVS: false,
					LastCheck: &Check{OK: false, At: time.Date(2026, 11, 21, 11, 0, 6, 0, cet),
						DurationMS: 0.4, Message: "connection refused"},
				},
			},
		}},
	}
}

// shape flattens a JSON value into path -> JSON type; array elements share
// the path "[]" and the keys of "dropped" (free-form reasons) are folded.
func shape(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		out[path] = "object"
		if strings.HasSuffix(path, ".dropped") {
			for _, e := range v {
				shape(e, path+".*", out)
			}
			return
		}
		for k, e := range v {
			shape(e, path+"."+k, out)
		}
	case []any:
		out[path] = "array"
		for _, e := range v {
			shape(e, path+"[]", out)
		}
	case string:
		out[path] = "string"
	case float64:
		out[path] = "number"
	case bool:
		out[path] = "bool"
	case nil:
		out[path] = "null"
	default:
		out[path] = fmt.Sprintf("%T", v)
	}
}

func shapeOf(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b)
	}
	out := make(map[string]string)
	shape(v, "$", out)
	return out
}

// TestDocumentMatchesSpec keeps the JSON names and types equal to the
// documented example (testdata/spec_example.json), so a renamed or retyped
// field fails here before it breaks someone's script.
func TestDocumentMatchesSpec(t *testing.T) {
	spec, err := os.ReadFile("testdata/spec_example.json")
	if err != nil {
		t.Fatal(err)
	}
	want := shapeOf(t, spec)
	// The documentation names in_ipvs, vrrp_interfaces and the late
	// adverts in prose, not in the example.
	want["$.vrrp_instances[].adverts_late"] = "number"
	want["$.vrrp_instances[].last_late_advert"] = "null"
	want["$.virtual_servers[].real_servers[].in_ipvs"] = "bool"
	want["$.vrrp_interfaces"] = "array"
	want["$.vrrp_interfaces[]"] = "object"
	want["$.vrrp_interfaces[].interface"] = "string"
	want["$.vrrp_interfaces[].dropped"] = "object"
	want["$.vrrp_interfaces[].dropped.*"] = "number"

	doc := sampleDocument()
	doc.Config.LastReloadError = nil // the example shows the null case
	b, err := json.Marshal(doc.wire())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, shapeOf(t, b)); diff != "" {
		t.Errorf("document shape differs from the documented one (-want +got):\n%s", diff)
	}
}

func TestLastReloadErrorIsAString(t *testing.T) {
	b, err := json.Marshal(sampleDocument().wire())
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeOf(t, b)["$.config.last_reload_error"]; got != "string" {
		t.Errorf("last_reload_error after a rejected reload is %s, want string", got)
	}
}

func TestWireTimesAreRFC3339UTC(t *testing.T) {
	b, err := json.Marshal(sampleDocument().wire())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Config struct {
			LoadedAt string `json:"loaded_at"`
		} `json:"config"`
		VRRPInstances []struct {
			Since string `json:"since"`
		} `json:"vrrp_instances"`
		VirtualServers []struct {
			RealServers []struct {
				LastCheck struct {
					At string `json:"at"`
				} `json:"last_check"`
			} `json:"real_servers"`
		} `json:"virtual_servers"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-11-21T10:00:00Z", "2026-11-21T10:00:03.25Z", "2026-11-21T10:00:05Z"}
	have := []string{got.Config.LoadedAt, got.VRRPInstances[0].Since, got.VirtualServers[0].RealServers[0].LastCheck.At}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("times (-want +got):\n%s", diff)
	}
}

func TestWireDoesNotTouchTheSource(t *testing.T) {
	doc := sampleDocument()
	before := doc.VRRPInstances[0].Since.Location()
	_ = doc.wire()
	if doc.VRRPInstances[0].Since.Location() != before || doc.VirtualServers[0].RealServers[0].LastCheck.At.Location() != before {
		t.Error("wire changed the source document's times")
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	doc := Document{
		Cluster:        "x",
		VRRPInstances:  []Instance{{Name: "VI_1"}},
		VirtualServers: []VirtualServer{{Name: "web"}},
		VRRPInterfaces: []VRRPInterface{{Interface: "eth0"}},
	}
	b, err := json.Marshal(doc.wire())
	if err != nil {
		t.Fatal(err)
	}
	got := shapeOf(t, b)
	var keys []string
	for _, k := range []string{"$.vrrp_instances[].virtual_ips", "$.vrrp_instances[].dropped", "$.virtual_servers[].real_servers", "$.vrrp_interfaces[].dropped"} {
		keys = append(keys, k+"="+got[k])
	}
	sort.Strings(keys)
	want := []string{
		"$.virtual_servers[].real_servers=array",
		"$.vrrp_instances[].dropped=object",
		"$.vrrp_instances[].virtual_ips=array",
		"$.vrrp_interfaces[].dropped=object",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b, _ = json.Marshal(Document{}.wire())
	if !strings.Contains(string(b), `"vrrp_instances":[]`) || !strings.Contains(string(b), `"virtual_servers":[]`) || !strings.Contains(string(b), `"vrrp_interfaces":[]`) {
		t.Errorf("empty document: %s", b)
	}
}

func TestFwmarkAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		mark uint32
		ok   bool
	}{
		{FwmarkAddress(5), 5, true},
		{FwmarkAddress(4294967295), 4294967295, true},
		{"fwmark:", 0, false},
		{"fwmark:x", 0, false},
		{"10.0.0.1:80", 0, false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			mark, ok := ParseFwmark(tc.addr)
			if mark != tc.mark || ok != tc.ok {
				t.Errorf("ParseFwmark(%q) = %d, %v; want %d, %v", tc.addr, mark, ok, tc.mark, tc.ok)
			}
		})
	}
	if got := FwmarkAddress(5); got != "fwmark:5" {
		t.Errorf("FwmarkAddress(5) = %q", got)
	}
}
