package ipvs

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSave(t *testing.T) {
	ap := netip.MustParseAddrPort
	services := []Service{
		{
			ServiceKey: ServiceKey{Protocol: UDP, Addr: ap("192.0.2.10:53")},
			Scheduler:  "rr", Netmask: 32,
			Destinations: []Destination{
				{Addr: ap("198.51.100.3:53"), Forward: Masquerade, Weight: 1},
			},
		},
		{
			ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("192.0.2.10:80")},
			Scheduler:  "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 24,
			Destinations: []Destination{
				{Addr: ap("198.51.100.20:80"), Forward: Route, Weight: 3},
				{Addr: ap("198.51.100.3:80"), Forward: Route, Weight: 0},
			},
		},
		{
			ServiceKey: ServiceKey{FWMark: 7, IPv6: true},
			Scheduler:  "sh", Flags: FlagPersistent, Timeout: 60 * time.Second, Netmask: 64,
			Destinations: []Destination{{Addr: ap("[2001:db8::2]:0"), Forward: Tunnel, Weight: 2}},
		},
		{
			ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("192.0.2.9:443")},
			Scheduler:  "mh", Flags: FlagPersistent, Timeout: 30 * time.Second, Netmask: 32,
		},
		{
			ServiceKey: ServiceKey{Protocol: UDP, Addr: ap("192.0.2.11:53")},
			Scheduler:  "mh", Flags: FlagOnePacket | FlagSchedFlag1 | FlagSchedFlag2, Netmask: 32,
			Destinations: []Destination{
				{Addr: ap("198.51.100.4:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080},
				{Addr: ap("198.51.100.5:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelRemoteChecksum},
				{Addr: ap("198.51.100.6:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
				{Addr: ap("198.51.100.7:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE},
			},
		},
		{
			ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("192.0.2.12:80")},
			Scheduler:  "wrr", Flags: FlagSchedFlag2 | FlagSchedFlag3, Netmask: 32,
		},
		{
			ServiceKey: ServiceKey{Protocol: SCTP, Addr: ap("[2001:db8::100]:3868")},
			Scheduler:  "lc", Netmask: 128,
			Destinations: []Destination{{Addr: ap("[2001:db8::5]:3868"), Forward: Masquerade, Weight: 1}},
		},
	}
	want := strings.Join([]string{
		"-A -t 192.0.2.9:443 -s mh -p 30",
		"-A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0",
		"-a -t 192.0.2.10:80 -r 198.51.100.3:80 -g -w 0",
		"-a -t 192.0.2.10:80 -r 198.51.100.20:80 -g -w 3",
		"-A -t 192.0.2.12:80 -s wrr -b flag-2,flag-3",
		"-A -u 192.0.2.10:53 -s rr",
		"-a -u 192.0.2.10:53 -r 198.51.100.3:53 -m -w 1",
		"-A -u 192.0.2.11:53 -s mh -o -b mh-fallback,mh-port",
		"-a -u 192.0.2.11:53 -r 198.51.100.4:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
		"-a -u 192.0.2.11:53 -r 198.51.100.5:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum",
		"-a -u 192.0.2.11:53 -r 198.51.100.6:53 -i -w 1 --tun-type gre --tun-csum",
		"-a -u 192.0.2.11:53 -r 198.51.100.7:53 -i -w 1 --tun-type gre --tun-nocsum",
		"-A --sctp-service [2001:db8::100]:3868 -s lc",
		"-a --sctp-service [2001:db8::100]:3868 -r [2001:db8::5]:3868 -m -w 1",
		"-A -f 7 -6 -s sh -p 60 -M 64",
		"-a -f 7 -6 -r [2001:db8::2]:0 -i -w 2 --tun-type ipip",
		"",
	}, "\n")
	var b strings.Builder
	if err := WriteSave(&b, services); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteSave (-want +got):\n%s", diff)
	}
}

func TestCompareAddrPortMatchesLibipvsWraparound(t *testing.T) {
	// 10.0.0.1 - 200.0.0.1 is above 2^31 as unsigned, so libipvs sorts
	// 200.0.0.1 first; plain numeric order would put 10.0.0.1 first.
	a := netip.MustParseAddrPort("10.0.0.1:80")
	b := netip.MustParseAddrPort("200.0.0.1:80")
	if got := compareAddrPort(a, b); got <= 0 {
		t.Errorf("compareAddrPort(%v, %v) = %d, want > 0 as libipvs", a, b, got)
	}
	if got := compareAddrPort(a, netip.MustParseAddrPort("10.0.0.2:80")); got >= 0 {
		t.Errorf("near addresses: got %d, want < 0", got)
	}
}
