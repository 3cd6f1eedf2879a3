package plan

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

func TestAnnouncements(t *testing.T) {
	cfg, diags := loadConfig("../../config/testdata/valid/bgp.hcl", "lb1")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vip4, vip6 := netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("2001:db8:10::10")
	down := func(servers ...string) Health {
		return func(_ string, s netip.AddrPort) bool {
			for _, d := range servers {
				if s.Addr().String() == d {
					return false
				}
			}
			return true
		}
	}
	all := func(ipvs.ServiceKey) bool { return true }
	tests := []struct {
		name       string
		when       config.WithdrawWhen
		health     Health
		programmed func(ipvs.ServiceKey) bool
		want       []Announcement
	}{
		{"all up", config.AnyServiceDown, AllHealthy, all, []Announcement{
			{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: true},
			{VIP: vip6, Services: []string{"web6"}, Announce: true},
		}},
		// Only web's servers are checked: web-tls's are always healthy.
		{"one server down", config.AnyServiceDown, down("198.51.100.2"), all, []Announcement{
			{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: true},
			{VIP: vip6, Services: []string{"web6"}, Announce: true},
		}},
		{"one service of the VIP down, any", config.AnyServiceDown, down("198.51.100.2", "198.51.100.3"), all, []Announcement{
			{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: false, Reason: "no healthy real server in web"},
			{VIP: vip6, Services: []string{"web6"}, Announce: true},
		}},
		{"one service of the VIP down, all", config.AllServicesDown, down("198.51.100.2", "198.51.100.3"), all, []Announcement{
			{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: true},
			{VIP: vip6, Services: []string{"web6"}, Announce: true},
		}},
		{"every service of the VIP down, all", config.AllServicesDown, down("198.51.100.2", "198.51.100.3"),
			func(k ipvs.ServiceKey) bool { return k.Addr.Port() != 443 }, []Announcement{
				{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: false, Reason: "no healthy real server in web; web-tls is not programmed in IPVS yet"},
				{VIP: vip6, Services: []string{"web6"}, Announce: true},
			}},
		{"not programmed yet", config.AnyServiceDown, AllHealthy, func(k ipvs.ServiceKey) bool { return k.Addr.Addr() != vip6 }, []Announcement{
			{VIP: vip4, Services: []string{"web", "web-tls"}, Announce: true},
			{VIP: vip6, Services: []string{"web6"}, Announce: false, Reason: "web6 is not programmed in IPVS yet"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg.BGP.WithdrawWhen = tt.when
			got := Announcements(cfg, tt.health, tt.programmed)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Announcements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnnouncedServiceKeepsFailedServersAtWeightZero(t *testing.T) {
	cfg, diags := loadConfig("../../config/testdata/valid/bgp.hcl", "lb1")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	svc, _ := Service(&cfg.VirtualServers[0], func(_ string, s netip.AddrPort) bool { return s.Addr().String() != "198.51.100.2" })
	var weights []int
	for _, d := range svc.Destinations {
		weights = append(weights, d.Weight)
	}
	// Maglev with mh-fallback moves only a weight-0 server's flows; a
	// deleted server would reshuffle others and directors would disagree.
	if diff := cmp.Diff([]int{0, 1}, weights); diff != "" {
		t.Errorf("weights (-want +got):\n%s", diff)
	}
	if svc.Flags != ipvs.FlagSchedFlag1|ipvs.FlagSchedFlag2 {
		t.Errorf("flags = %#x, want mh-fallback|mh-port", svc.Flags)
	}
}

func TestWriteBGP(t *testing.T) {
	cfg, diags := loadConfig("../../config/testdata/valid/bgp.hcl", "lb3")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var b strings.Builder
	if err := WriteBGP(&b, cfg); err != nil {
		t.Fatal(err)
	}
	want := "bgp announce 203.0.113.10/32 next-hop self services web,web-tls\n" +
		"bgp announce 2001:db8:10::10/128 next-hop self services web6\n" +
		"bgp neighbor tor1 address 192.0.2.1 asn 65000 local-asn 65010 router-id auto\n" +
		"bgp neighbor tor1-v6 address 2001:db8::1 asn 65000 local-asn 65010 router-id auto\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteBGP (-want +got):\n%s", diff)
	}
}

// loadConfig reads a cluster file and resolves it for node.
func loadConfig(path, node string) (*config.Config, config.Diagnostics) {
	f, _, diags := config.NewLoader().Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return f.Resolve(node)
}
