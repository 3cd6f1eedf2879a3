package daemon

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/plan"
)

const healthConfig = `cluster = "web"

virtual_server "web" {
  address    = "192.0.2.100:80"
  on_failure = "quiescent"
  health_check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }
  real_server "192.0.2.10:80" {}
  real_server "192.0.2.11:80" {
    weight = 3
  }
}

virtual_server "web-udp" {
  address  = "192.0.2.100:80"
  protocol = "udp"
  health_check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }
  real_server "192.0.2.10:80" {}
}

virtual_server "static" {
  address      = "192.0.2.101:80"
  quorum       = 1
  sorry_server = "192.0.2.50:80"
  real_server "192.0.2.20:80" {
    health_check "http" {
      path = "/ok"
    }
  }
  real_server "192.0.2.21:80" {}
}
`

var addrPortEqual = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func TestBuildChecksSharesIdenticalChecks(t *testing.T) {
	cfg := mustConfig(t, healthConfig, "")
	cs := buildChecks(cfg)

	web10 := owner{"web", netip.MustParseAddrPort("192.0.2.10:80")}
	udp10 := owner{"web-udp", netip.MustParseAddrPort("192.0.2.10:80")}
	web11 := owner{"web", netip.MustParseAddrPort("192.0.2.11:80")}
	static20 := owner{"static", netip.MustParseAddrPort("192.0.2.20:80")}

	// 192.0.2.10:80 is checked the same way by two services: one job.
	if len(cs.jobs) != 3 {
		t.Fatalf("%d jobs, want 3 (one shared): %+v", len(cs.jobs), cs.jobs)
	}
	if cs.keyOf[web10] != cs.keyOf[udp10] {
		t.Errorf("identical checks got different keys %q and %q", cs.keyOf[web10], cs.keyOf[udp10])
	}
	if diff := cmp.Diff([]owner{web10, udp10}, cs.owners[cs.keyOf[web10]], cmp.AllowUnexported(owner{}), addrPortEqual); diff != "" {
		t.Errorf("owners of the shared check (-want +got):\n%s", diff)
	}
	if cs.keyOf[web10] == cs.keyOf[web11] || cs.keyOf[web11] == cs.keyOf[static20] {
		t.Errorf("different targets share a key: %v", cs.keyOf)
	}
	if _, ok := cs.keyOf[owner{"static", netip.MustParseAddrPort("192.0.2.21:80")}]; ok {
		t.Error("an unchecked real server has a job")
	}
	for _, j := range cs.jobs {
		if j.Interval <= 0 || j.Rise < 1 || j.Fall < 1 || j.Checker == nil {
			t.Errorf("job %q is not runnable: %+v", j.Key, j)
		}
	}
}

func TestHealthToDesiredTable(t *testing.T) {
	cfg := mustConfig(t, healthConfig, "")
	cs := buildChecks(cfg)
	key := func(svc, srv string) string { return cs.keyOf[owner{svc, netip.MustParseAddrPort(srv)}] }
	healthy := healthcheck.Status{Health: healthcheck.Health{Healthy: true, Passes: 2}}

	// destinations returns the desired table's destinations by service
	// name, as "addr weight".
	destinations := func(states map[string]healthcheck.Status) map[string][]string {
		out := make(map[string][]string)
		svcs := plan.Services(cfg, healthOf(cs, statesOf(states)))
		for i, vs := range cfg.VirtualServers {
			var ds []string
			for _, d := range svcs[i].Destinations {
				ds = append(ds, d.Addr.String()+" w"+strconv.Itoa(d.Weight))
			}
			out[vs.Name] = ds
		}
		return out
	}

	tests := []struct {
		name   string
		states map[string]healthcheck.Status
		want   map[string][]string
	}{
		{
			// Checked servers start unhealthy; quiescent keeps
			// them at weight 0; an unchecked server is always up, so
			// quorum holds without the sorry server.
			name:   "start: nothing has passed yet",
			states: map[string]healthcheck.Status{},
			want: map[string][]string{
				"web":     {"192.0.2.10:80 w0", "192.0.2.11:80 w0"},
				"web-udp": nil,
				"static":  {"192.0.2.21:80 w1"},
			},
		},
		{
			name:   "the shared check rises: both services take the server",
			states: map[string]healthcheck.Status{key("web", "192.0.2.10:80"): healthy},
			want: map[string][]string{
				"web":     {"192.0.2.10:80 w1", "192.0.2.11:80 w0"},
				"web-udp": {"192.0.2.10:80 w1"},
				"static":  {"192.0.2.21:80 w1"},
			},
		},
		{
			name: "everything healthy",
			states: map[string]healthcheck.Status{
				key("web", "192.0.2.10:80"):    healthy,
				key("web", "192.0.2.11:80"):    healthy,
				key("static", "192.0.2.20:80"): healthy,
			},
			want: map[string][]string{
				"web":     {"192.0.2.10:80 w1", "192.0.2.11:80 w3"},
				"web-udp": {"192.0.2.10:80 w1"},
				"static":  {"192.0.2.20:80 w1", "192.0.2.21:80 w1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, destinations(tt.states)); diff != "" {
				t.Errorf("desired destinations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckTarget(t *testing.T) {
	cfg := mustConfig(t, `cluster = "c"
virtual_server "fw" {
  fwmark = 7
  health_check "tcp" {
    port = 8080
  }
  real_server "192.0.2.10" {}
}
`, "")
	rs := cfg.VirtualServers[0].RealServers[0]
	if got, want := checkTarget(rs.Check, rs.Address), netip.MustParseAddrPort("192.0.2.10:8080"); got != want {
		t.Errorf("check target = %v, want %v", got, want)
	}
}

// TestGroupChecksOnce checks that the members of a virtual_server_group
// share their real servers' checks: one job per real server, whose result
// every member's table follows, and a status entry per member.
func TestGroupChecksOnce(t *testing.T) {
	cfg := mustConfig(t, `cluster = "web"
virtual_server_group "vips" {
  addresses = ["192.0.2.100-102:80"]
  fwmarks   = [3]
}
virtual_server "web" {
  group = "vips"
  health_check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }
  real_server "192.0.2.10:80" {}
  real_server "192.0.2.11:80" {}
}
`, "")
	cs := buildChecks(cfg)
	if len(cs.jobs) != 2 {
		t.Fatalf("%d jobs for 2 real servers in 4 members, want 2: %+v", len(cs.jobs), cs.jobs)
	}
	members := []string{"web/192.0.2.100:80", "web/192.0.2.101:80", "web/192.0.2.102:80", "web/fwmark:3"}
	srv := netip.MustParseAddrPort("192.0.2.10:80")
	key := cs.keyOf[owner{members[0], srv}]
	var owners []owner
	for _, m := range members {
		owners = append(owners, owner{m, srv})
	}
	if diff := cmp.Diff(owners, cs.owners[key], cmp.AllowUnexported(owner{}), addrPortEqual); diff != "" {
		t.Errorf("owners of 192.0.2.10:80's check (-want +got):\n%s", diff)
	}

	states := map[string]healthcheck.Status{key: {Health: healthcheck.Health{Healthy: true, Passes: 2}}}
	svcs := plan.Services(cfg, healthOf(cs, statesOf(states)))
	doc := buildDocument(docInput{cfg: cfg, checks: cs, states: states})
	if len(svcs) != 4 || len(doc.VirtualServers) != 4 {
		t.Fatalf("%d services, %d status entries; want 4 of each", len(svcs), len(doc.VirtualServers))
	}
	for i, svc := range svcs {
		if len(svc.Destinations) != 1 || svc.Destinations[0].Addr.Addr() != srv.Addr() {
			t.Errorf("%s: destinations %v, want 192.0.2.10 alone", svc.ServiceKey, svc.Destinations)
		}
		if got := doc.VirtualServers[i].Name; got != members[i] {
			t.Errorf("status entry %d is %q, want %q", i, got, members[i])
		}
	}
	if got := doc.VirtualServers[3].Address; got != "fwmark:3" {
		t.Errorf("fwmark member's address %q, want fwmark:3", got)
	}
}

func TestCheckTargetConnectIP(t *testing.T) {
	cfg := mustConfig(t, `cluster = "c"
virtual_server "web" {
  address = "192.0.2.100:80"
  health_check "http" {
    connect_ip = "198.51.100.7"
    port       = 8080
  }
  real_server "192.0.2.10:80" {}
  real_server "192.0.2.11:80" {
    health_check "tcp" { connect_ip = "198.51.100.8" }
  }
}
`, "")
	for i, want := range []string{"198.51.100.7:8080", "198.51.100.8:80"} {
		rs := cfg.VirtualServers[0].RealServers[i]
		if got := checkTarget(rs.Check, rs.Address); got != netip.MustParseAddrPort(want) {
			t.Errorf("check target of %s = %v, want %s", rs.Address, got, want)
		}
	}
}

// TestWeightsToDesiredTable checks that the weight a healthy server's
// check asks for replaces its configured one, and that an unhealthy or
// unweighted server keeps the usual rules.
func TestWeightsToDesiredTable(t *testing.T) {
	cfg := mustConfig(t, healthConfig, "")
	cs := buildChecks(cfg)
	key := func(svc, srv string) string { return cs.keyOf[owner{svc, netip.MustParseAddrPort(srv)}] }
	states := map[string]healthcheck.Status{
		key("web", "192.0.2.10:80"):    {Health: healthcheck.Health{Healthy: true, Weighted: true, Weight: 7}},
		key("web", "192.0.2.11:80"):    {Health: healthcheck.Health{Healthy: false, Weighted: true, Weight: 9}},
		key("static", "192.0.2.20:80"): {Health: healthcheck.Health{Healthy: true}},
	}
	svcs := plan.WeightedServices(cfg, healthOf(cs, statesOf(states)), weightsOf(cs, statesOf(states)))
	var got []string
	for _, s := range svcs {
		for _, d := range s.Destinations {
			got = append(got, d.Addr.String()+" w"+strconv.Itoa(d.Weight))
		}
	}
	want := []string{
		"192.0.2.10:80 w7", "192.0.2.11:80 w0", // quiescent: the failed one at 0
		"192.0.2.10:80 w7",
		"192.0.2.20:80 w1", "192.0.2.21:80 w1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desired destinations (-want +got):\n%s", diff)
	}
}
