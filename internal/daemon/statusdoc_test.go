package daemon

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/buildinfo"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/vrrp"
)

const docConfig = `cluster = "web"

node "director-a" {
  priority = 150
}

vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["192.0.2.100/32"]
}

virtual_server "web" {
  address = "192.0.2.100:80"
  health_check "tcp" {}
  real_server "192.0.2.10:80" {}
  real_server "192.0.2.11:80" {
    weight = 2
  }
}

virtual_server "mail" {
  fwmark       = 5
  quorum       = 2
  sorry_server = "192.0.2.50:25"
  health_check "tcp" {
    port = 25
  }
  real_server "192.0.2.20" {}
  real_server "192.0.2.21" {}
}
`

func TestBuildDocument(t *testing.T) {
	cfg := mustConfig(t, docConfig, "director-a")
	cs := buildChecks(cfg)
	loaded := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := loaded.Add(time.Minute)
	since := loaded.Add(2 * time.Second)
	key := func(svc, srv string) string { return cs.keyOf[owner{svc, netip.MustParseAddrPort(srv)}] }

	states := map[string]healthcheck.Status{
		// Healthy and in the kernel.
		key("web", "192.0.2.10:80"): {
			Health: healthcheck.Health{Healthy: true, Passes: 5},
			Last:   healthcheck.Result{OK: true, Message: "connected", Duration: 1500 * time.Microsecond, At: at},
		},
		// Failed: removed (on_failure = "remove"), not in the kernel.
		key("web", "192.0.2.11:80"): {
			Health: healthcheck.Health{Failures: 3},
			Last:   healthcheck.Result{OK: false, Message: "connection refused", Duration: 2 * time.Millisecond, At: at},
		},
		// mail: one of two healthy, quorum 2: the sorry server takes over.
		key("mail", "192.0.2.20:0"): {Health: healthcheck.Health{Healthy: true, Passes: 2}},
	}
	// The kernel table as the reconciler would have programmed it, with
	// counters.
	desired := plan.Services(cfg, healthOf(cs, statesOf(states)))
	desired[0].Destinations[0].ActiveConns = 7
	desired[0].Destinations[0].InactiveConns = 3
	desired[0].Destinations[0].Stats = ipvs.Stats{InBytes: 1000, OutBytes: 2000}
	snap := reconcile.Snapshot{Services: desired}

	errText := "test.hcl:3:1: something"
	inst := vrrpd.InstanceStatus{
		Name: "VI_1", State: vrrp.Master, VRID: 51, Interface: "eth0", Version: 3,
		Priority: 150, EffectivePriority: 150,
		MasterAddress: netip.MustParseAddr("192.0.2.1"),
		VirtualIPs:    []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32")},
		Since:         since, Transitions: 2,
		TransitionsTo: map[vrrp.State]uint64{vrrp.Backup: 1, vrrp.Master: 1},
		AdvertsSent:   10, AdvertsReceived: 4,
		Dropped: map[vrrp.DropReason]uint64{vrrp.DropTTL: 1, vrrp.DropChecksum: 0},
	}
	in := docInput{
		cfg: cfg, loadedAt: loaded, reloadErr: &errText,
		instances: map[string]vrrpd.InstanceStatus{"VI_1": inst},
		checks:    cs, states: states, kernel: &snap,
		// eth0 has VI_1; eth9 had an instance until a reload.
		ifDropped: map[string]map[vrrp.DropReason]uint64{
			"eth0": {vrrp.DropVRID: 3},
			"eth9": {vrrp.DropChecksum: 1},
		},
	}
	got := buildDocument(in)
	zeros := func(counts map[string]uint64) map[string]uint64 {
		out := make(map[string]uint64)
		for _, r := range vrrp.DropReasons() {
			out[string(r)] = counts[string(r)]
		}
		return out
	}

	want := status.Document{
		Cluster: "web", Node: "director-a", Version: buildinfo.Version,
		Config: status.Config{File: "test.hcl", LoadedAt: loaded, LastReloadError: &errText},
		VRRPInstances: []status.Instance{{
			Name: "VI_1", State: "MASTER", VRID: 51, Interface: "eth0", Version: 3,
			Priority: 150, EffectivePriority: 150, MasterAddress: "192.0.2.1",
			VirtualIPs: []string{"192.0.2.100/32"}, Since: since, Transitions: 2,
			AdvertsSent: 10, AdvertsReceived: 4,
			Dropped:       map[string]uint64{"ttl": 1, "checksum": 0},
			TransitionsTo: map[string]uint64{"BACKUP": 1, "MASTER": 1},
		}},
		VRRPInterfaces: []status.VRRPInterface{
			{Interface: "eth0", Dropped: zeros(map[string]uint64{"vrid": 3})},
			{Interface: "eth9", Dropped: zeros(map[string]uint64{"checksum": 1})},
		},
		VirtualServers: []status.VirtualServer{
			{
				Name: "web", Address: "192.0.2.100:80", Protocol: "tcp", Scheduler: "wlc", Method: "dr",
				QuorumMet: true,
				RealServers: []status.RealServer{
					{
						Address: "192.0.2.10:80", Healthy: true, ConfiguredWeight: 1, Weight: 1, InIPVS: true,
						LastCheck:   &status.Check{OK: true, At: at, DurationMS: 1.5, Message: "connected"},
						ActiveConns: 7, InactiveConns: 3, BytesIn: 1000, BytesOut: 2000,
					},
					{
						Address: "192.0.2.11:80", Healthy: false, ConfiguredWeight: 2, InIPVS: false,
						LastCheck: &status.Check{OK: false, At: at, DurationMS: 2, Message: "connection refused"},
					},
				},
			},
			{
				Name: "mail", Address: "fwmark:5", Protocol: "tcp", Scheduler: "wlc", Method: "dr",
				QuorumMet: false, SorryServerActive: true,
				RealServers: []status.RealServer{
					// Healthy, but the sorry server has the whole service.
					{Address: "192.0.2.20:0", Healthy: true, ConfiguredWeight: 1},
					{Address: "192.0.2.21:0", Healthy: false, ConfiguredWeight: 1},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("buildDocument (-want +got):\n%s", diff)
	}
	if got, want := summary(got), "VI_1 MASTER; web 1/2 healthy; mail 1/2 healthy"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if got, want := summaryOf(in), summary(got); got != want {
		t.Errorf("summaryOf = %q, want summary of the document, %q", got, want)
	}
}

func TestBuildDocumentWithoutIPVSOrInstances(t *testing.T) {
	cfg := mustConfig(t, docConfig, "director-a")
	in := docInput{cfg: cfg, checks: buildChecks(cfg)}
	got := buildDocument(in)
	if got, want := summaryOf(in), summary(got); got != want {
		t.Errorf("summaryOf = %q, want summary of the document, %q", got, want)
	}
	if n := len(got.VRRPInstances); n != 0 {
		t.Errorf("%d instances in the document while none runs", n)
	}
	for _, vs := range got.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.InIPVS || rs.Weight != 0 || rs.LastCheck != nil || rs.Healthy {
				t.Errorf("%s %s before any check and without IPVS: %+v", vs.Name, rs.Address, rs)
			}
		}
	}
	if empty := buildDocument(docInput{}); empty.VRRPInstances == nil || empty.VirtualServers == nil {
		t.Error("lists of an empty document are null, want []")
	}
}

// summary is the STATUS= line as the status document shows it, which
// summaryOf must agree with.
func summary(doc status.Document) string {
	var parts []string
	for _, in := range doc.VRRPInstances {
		parts = append(parts, in.Name+" "+in.State)
	}
	for _, vs := range doc.VirtualServers {
		up := 0
		for _, rs := range vs.RealServers {
			if rs.Healthy {
				up++
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d healthy", vs.Name, up, len(vs.RealServers)))
	}
	if len(parts) == 0 {
		return "running"
	}
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}
