package plan

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

// netipEqual lets cmp compare netip values, whose fields are unexported.
var netipEqual = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}, netip.Prefix{})

func testVS(onFailure config.OnFailure, quorum int, sorry string) *config.VirtualServer {
	check := &config.HealthCheck{Type: config.CheckTCP, Interval: time.Second, Timeout: time.Second / 2, Rise: 1, Fall: 1}
	vs := &config.VirtualServer{
		Name: "web", Address: netip.MustParseAddrPort("192.0.2.100:80"), Protocol: config.TCP,
		Scheduler: "wlc", Method: config.DR, OnFailure: onFailure, Quorum: quorum,
		RealServers: []config.RealServer{
			{Address: netip.MustParseAddrPort("192.0.2.12:80"), Weight: 1, Check: check},
			{Address: netip.MustParseAddrPort("192.0.2.13:80"), Weight: 2, UpperThreshold: 10, Check: check},
			{Address: netip.MustParseAddrPort("192.0.2.14:80"), Weight: 3}, // unchecked: always up
		},
	}
	if sorry != "" {
		vs.SorryServer = netip.MustParseAddrPort(sorry)
	}
	return vs
}

func down(servers ...string) Health {
	return func(_ string, a netip.AddrPort) bool {
		for _, s := range servers {
			if a.String() == s {
				return false
			}
		}
		return true
	}
}

func dest(addr string, w int) ipvs.Destination {
	return ipvs.Destination{Addr: netip.MustParseAddrPort(addr), Forward: ipvs.Route, Weight: w}
}

func TestServiceHealth(t *testing.T) {
	withThreshold := func(d ipvs.Destination) ipvs.Destination { d.UpperThreshold = 10; return d }
	tests := []struct {
		name   string
		vs     *config.VirtualServer
		health Health
		want   []ipvs.Destination
		state  ServiceState
	}{
		{"all healthy", testVS(config.Remove, 1, ""), AllHealthy,
			[]ipvs.Destination{dest("192.0.2.12:80", 1), withThreshold(dest("192.0.2.13:80", 2)), dest("192.0.2.14:80", 3)},
			ServiceState{Healthy: 3, QuorumMet: true}},
		{"remove takes a failed server out", testVS(config.Remove, 1, ""), down("192.0.2.12:80"),
			[]ipvs.Destination{withThreshold(dest("192.0.2.13:80", 2)), dest("192.0.2.14:80", 3)},
			ServiceState{Healthy: 2, QuorumMet: true}},
		{"quiescent sets weight 0", testVS(config.Quiescent, 1, ""), down("192.0.2.13:80"),
			[]ipvs.Destination{dest("192.0.2.12:80", 1), withThreshold(dest("192.0.2.13:80", 0)), dest("192.0.2.14:80", 3)},
			ServiceState{Healthy: 2, QuorumMet: true}},
		{"unchecked server is never failed", testVS(config.Remove, 1, ""), down("192.0.2.14:80"),
			[]ipvs.Destination{dest("192.0.2.12:80", 1), withThreshold(dest("192.0.2.13:80", 2)), dest("192.0.2.14:80", 3)},
			ServiceState{Healthy: 3, QuorumMet: true}},
		{"quorum lost brings in the sorry server alone", testVS(config.Remove, 3, "192.0.2.50:80"), down("192.0.2.12:80"),
			[]ipvs.Destination{dest("192.0.2.50:80", 1)},
			ServiceState{Healthy: 2, QuorumMet: false, SorryActive: true}},
		{"quorum lost, quiescent keeps servers at weight 0", testVS(config.Quiescent, 3, "192.0.2.50:80"), down("192.0.2.12:80"),
			[]ipvs.Destination{dest("192.0.2.12:80", 0), withThreshold(dest("192.0.2.13:80", 0)), dest("192.0.2.14:80", 0), dest("192.0.2.50:80", 1)},
			ServiceState{Healthy: 2, QuorumMet: false, SorryActive: true}},
		{"quorum lost without sorry server keeps the healthy ones", testVS(config.Remove, 3, ""), down("192.0.2.12:80"),
			[]ipvs.Destination{withThreshold(dest("192.0.2.13:80", 2)), dest("192.0.2.14:80", 3)},
			ServiceState{Healthy: 2, QuorumMet: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, st := Service(tt.vs, tt.health)
			if diff := cmp.Diff(tt.want, svc.Destinations, netipEqual); diff != "" {
				t.Errorf("destinations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.state, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.state, State(tt.vs, tt.health)); diff != "" {
				t.Errorf("State (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceAttributes(t *testing.T) {
	vs := &config.VirtualServer{
		Name: "mail", FWMark: 5, IPv6: true, Scheduler: "sh", Method: config.TUN,
		Persistence: 600 * time.Second, PersistenceNetmask: 64,
		RealServers: []config.RealServer{{Address: netip.MustParseAddrPort("[2001:db8::7]:0"), Weight: 1}},
	}
	svc, _ := Service(vs, AllHealthy)
	want := ipvs.Service{
		ServiceKey: ipvs.ServiceKey{FWMark: 5, IPv6: true}, Scheduler: "sh",
		Flags: ipvs.FlagPersistent, Timeout: 600 * time.Second, Netmask: 64,
		Destinations: []ipvs.Destination{{Addr: netip.MustParseAddrPort("[2001:db8::7]:0"), Forward: ipvs.Tunnel, Weight: 1}},
	}
	if diff := cmp.Diff(want, svc, netipEqual); diff != "" {
		t.Errorf("Service (-want +got):\n%s", diff)
	}
	// Without persistence the netmask still gets the family's full length,
	// which is what the kernel reports back for a new service.
	vs.Persistence, vs.PersistenceNetmask = 0, 0
	svc, _ = Service(vs, AllHealthy)
	if svc.Flags != 0 || svc.Netmask != 128 {
		t.Errorf("non-persistent: flags %#x netmask %d, want 0 and 128", svc.Flags, svc.Netmask)
	}
}

// TestWriteGroupAndOptions plans a file with a virtual_server_group, the
// scheduler flags, one-packet scheduling and tunnel encapsulations: one
// service per member with the same real servers, a DR or TUN member's
// destinations on the member's port, each option in ipvsadm-save's words.
func TestWriteGroupAndOptions(t *testing.T) {
	src := `cluster = "c"
virtual_server_group "edge" {
  addresses = ["192.0.2.1-2:80", "192.0.2.9:8080"]
  fwmarks   = [7]
}
virtual_server "edge" {
  group       = "edge"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  method      = "tun"
  tunnel_type = "gue"
  tunnel_port = 6080
  real_server "198.51.100.1:80" {}
  real_server "198.51.100.2:80" {
    tunnel_type     = "gre"
    tunnel_checksum = "csum"
  }
}
virtual_server_group "nat" {
  addresses = ["192.0.2.20:53", "192.0.2.21:53"]
}
virtual_server "dns" {
  group       = "nat"
  protocol    = "udp"
  scheduler   = "rr"
  sched_flags = ["flag-3"]
  method      = "nat"
  one_packet  = true
  real_server "198.51.100.3:5353" {}
}
`
	f, diags := config.NewLoader().Parse("c.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := f.Resolve("n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var b strings.Builder
	if err := Write(&b, cfg); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"-A -t 192.0.2.1:80 -s mh -b mh-fallback,mh-port",
		"-a -t 192.0.2.1:80 -r 198.51.100.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
		"-a -t 192.0.2.1:80 -r 198.51.100.2:80 -i -w 1 --tun-type gre --tun-csum",
		"-A -t 192.0.2.2:80 -s mh -b mh-fallback,mh-port",
		"-a -t 192.0.2.2:80 -r 198.51.100.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
		"-a -t 192.0.2.2:80 -r 198.51.100.2:80 -i -w 1 --tun-type gre --tun-csum",
		"-A -t 192.0.2.9:8080 -s mh -b mh-fallback,mh-port",
		"-a -t 192.0.2.9:8080 -r 198.51.100.1:8080 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
		"-a -t 192.0.2.9:8080 -r 198.51.100.2:8080 -i -w 1 --tun-type gre --tun-csum",
		"-A -u 192.0.2.20:53 -s rr -o -b flag-3",
		"-a -u 192.0.2.20:53 -r 198.51.100.3:5353 -m -w 1",
		"-A -u 192.0.2.21:53 -s rr -o -b flag-3",
		"-a -u 192.0.2.21:53 -r 198.51.100.3:5353 -m -w 1",
		"-A -f 7 -s mh -b mh-fallback,mh-port",
		"-a -f 7 -r 198.51.100.1:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
		"-a -f 7 -r 198.51.100.2:0 -i -w 1 --tun-type gre --tun-csum",
		"",
	}, "\n")
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	names := make([]string, len(cfg.VirtualServers))
	for i, vs := range cfg.VirtualServers {
		names[i] = vs.Name
	}
	wantNames := []string{"edge/192.0.2.1:80", "edge/192.0.2.2:80", "edge/192.0.2.9:8080", "edge/fwmark:7", "dns/192.0.2.20:53", "dns/192.0.2.21:53"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("service names (-want +got):\n%s", diff)
	}
}

// TestWeightedService checks that the weight a healthy real server's check
// asks for replaces its configured one, and nothing else: a failed server
// and the sorry server's rules stay as they are.
func TestWeightedService(t *testing.T) {
	weights := func(_ string, a netip.AddrPort) (int, bool) {
		switch a.String() {
		case "192.0.2.12:80":
			return 9, true
		case "192.0.2.13:80":
			return 0, true
		case "192.0.2.14:80": // unchecked: asks for nothing, whatever is said
			return 5, true
		}
		return 0, false
	}
	withThreshold := func(d ipvs.Destination) ipvs.Destination { d.UpperThreshold = 10; return d }
	tests := []struct {
		name   string
		vs     *config.VirtualServer
		health Health
		want   []ipvs.Destination
	}{
		{"healthy servers take the weights", testVS(config.Remove, 1, ""), AllHealthy,
			[]ipvs.Destination{dest("192.0.2.12:80", 9), withThreshold(dest("192.0.2.13:80", 0)), dest("192.0.2.14:80", 3)}},
		{"a failed server is quiesced whatever its weight", testVS(config.Quiescent, 1, ""), down("192.0.2.12:80"),
			[]ipvs.Destination{dest("192.0.2.12:80", 0), withThreshold(dest("192.0.2.13:80", 0)), dest("192.0.2.14:80", 3)}},
		{"quorum lost: the sorry server alone", testVS(config.Remove, 3, "192.0.2.50:80"), down("192.0.2.12:80"),
			[]ipvs.Destination{dest("192.0.2.50:80", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := WeightedService(tt.vs, tt.health, weights)
			if diff := cmp.Diff(tt.want, svc.Destinations, netipEqual); diff != "" {
				t.Errorf("destinations (-want +got):\n%s", diff)
			}
		})
	}
}
