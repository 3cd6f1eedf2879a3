package ipvs

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

func TestDiff(t *testing.T) {
	ap := netip.MustParseAddrPort
	web := ServiceKey{Protocol: TCP, Addr: ap("192.0.2.10:80")}
	dns := ServiceKey{Protocol: UDP, Addr: ap("[2001:db8::53]:53")}
	mark := ServiceKey{FWMark: 3}
	foreign := ServiceKey{Protocol: TCP, Addr: ap("192.0.2.99:22")}
	rs1 := Destination{Addr: ap("198.51.100.1:80"), Forward: Route, Weight: 1}
	rs2 := Destination{Addr: ap("198.51.100.2:80"), Forward: Route, Weight: 1}
	rs3 := Destination{Addr: ap("198.51.100.3:80"), Forward: Route, Weight: 1}
	sorry := Destination{Addr: ap("198.51.100.50:80"), Forward: Masquerade, Weight: 1}
	svc := func(k ServiceKey, ds ...Destination) Service {
		return Service{ServiceKey: k, Scheduler: "wlc", Destinations: ds}
	}
	// kernel returns what the kernel reports for s: hashed flag, counters.
	kernel := func(s Service) Service {
		s.Flags |= FlagHashed
		s.Stats = Stats{Conns: 99}
		if s.Netmask == 0 {
			s.Netmask = 32
			if s.Family() == afInet6 {
				s.Netmask = 128
			}
		}
		ds := make([]Destination, len(s.Destinations))
		for i, d := range s.Destinations {
			d.ActiveConns, d.Stats = 4, Stats{InBytes: 1}
			ds[i] = d
		}
		s.Destinations = ds
		return s
	}
	bare := func(k ServiceKey) Service { return Service{ServiceKey: k, Scheduler: "wlc"} }
	mine := func(k ServiceKey) bool { return k != foreign }
	weight := func(d Destination, w int) Destination { d.Weight = w; return d }

	tests := []struct {
		name            string
		desired, actual []Service
		owned           func(ServiceKey) bool
		want            []Op
	}{
		{
			name: "empty both",
		},
		{
			name:    "steady state costs nothing, whatever the kernel's extra fields",
			desired: []Service{svc(web, rs2, rs1), svc(dns)},
			actual:  []Service{kernel(svc(dns)), kernel(svc(web, rs1, rs2))},
			owned:   mine,
		},
		{
			name:    "new service: service then its destinations in address order",
			desired: []Service{svc(web, rs2, rs1)},
			want: []Op{
				{Kind: AddService, Service: bare(web)},
				{Kind: AddDest, Service: bare(web), Dest: rs1},
				{Kind: AddDest, Service: bare(web), Dest: rs2},
			},
		},
		{
			name:    "one weight change is one op",
			desired: []Service{svc(web, rs1, weight(rs2, 0), rs3)},
			actual:  []Service{kernel(svc(web, rs1, rs2, rs3))},
			want:    []Op{{Kind: UpdateDest, Service: bare(web), Dest: weight(rs2, 0)}},
		},
		{
			name: "forwarding and thresholds are compared",
			desired: []Service{svc(web,
				Destination{Addr: rs1.Addr, Forward: Masquerade, Weight: 1},
				Destination{Addr: rs2.Addr, Forward: Route, Weight: 1, UpperThreshold: 10, LowerThreshold: 5})},
			actual: []Service{kernel(svc(web, rs1, rs2))},
			want: []Op{
				{Kind: UpdateDest, Service: bare(web), Dest: Destination{Addr: rs1.Addr, Forward: Masquerade, Weight: 1}},
				{Kind: UpdateDest, Service: bare(web), Dest: Destination{Addr: rs2.Addr, Forward: Route, Weight: 1, UpperThreshold: 10, LowerThreshold: 5}},
			},
		},
		{
			name: "tunnel encapsulation is compared",
			desired: []Service{svc(web,
				Destination{Addr: rs1.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080},
				Destination{Addr: rs2.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
				Destination{Addr: rs3.Addr, Forward: Tunnel, Weight: 1})},
			actual: []Service{kernel(svc(web,
				Destination{Addr: rs1.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6081},
				Destination{Addr: rs2.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE},
				Destination{Addr: rs3.Addr, Forward: Tunnel, Weight: 1}))},
			want: []Op{
				{Kind: UpdateDest, Service: bare(web), Dest: Destination{Addr: rs1.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080}},
				{Kind: UpdateDest, Service: bare(web), Dest: Destination{Addr: rs2.Addr, Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum}},
			},
		},
		{
			name: "one-packet and scheduler flags are compared",
			desired: []Service{
				{ServiceKey: web, Scheduler: "mh", Flags: FlagSchedFlag1 | FlagSchedFlag2},
				{ServiceKey: dns, Scheduler: "wlc", Flags: FlagOnePacket},
			},
			actual: []Service{kernel(Service{ServiceKey: dns, Scheduler: "wlc"}), kernel(Service{ServiceKey: web, Scheduler: "mh", Flags: FlagSchedFlag2})},
			want: []Op{
				{Kind: UpdateService, Service: Service{ServiceKey: web, Scheduler: "mh", Flags: FlagSchedFlag1 | FlagSchedFlag2}},
				{Kind: UpdateService, Service: Service{ServiceKey: dns, Scheduler: "wlc", Flags: FlagOnePacket}},
			},
		},
		{
			name:    "make before break: sorry server added before the last server goes",
			desired: []Service{svc(web, sorry)},
			actual:  []Service{kernel(svc(web, rs1, rs2))},
			want: []Op{
				{Kind: AddDest, Service: bare(web), Dest: sorry},
				{Kind: DelDest, Service: bare(web), Dest: rs1},
				{Kind: DelDest, Service: bare(web), Dest: rs2},
			},
		},
		{
			name:    "adds, then updates, then deletes within a service",
			desired: []Service{svc(web, weight(rs1, 5), rs3)},
			actual:  []Service{kernel(svc(web, rs1, rs2))},
			want: []Op{
				{Kind: AddDest, Service: bare(web), Dest: rs3},
				{Kind: UpdateDest, Service: bare(web), Dest: weight(rs1, 5)},
				{Kind: DelDest, Service: bare(web), Dest: rs2},
			},
		},
		{
			name:    "owned service no longer desired is deleted, after the additions",
			desired: []Service{svc(web, rs1)},
			actual:  []Service{kernel(svc(dns)), kernel(svc(mark))},
			owned:   mine,
			want: []Op{
				{Kind: AddService, Service: bare(web)},
				{Kind: AddDest, Service: bare(web), Dest: rs1},
				{Kind: DelService, Service: kernel(bare(dns))},
				{Kind: DelService, Service: kernel(bare(mark))},
			},
		},
		{
			name:    "a service lvsd does not own is never touched",
			desired: []Service{svc(web, rs1)},
			actual:  []Service{kernel(svc(web, rs1)), kernel(svc(foreign, rs2))},
			owned:   mine,
		},
		{
			name:   "nil owned owns nothing",
			actual: []Service{kernel(svc(web, rs1))},
		},
		{
			name: "scheduler, flags, timeout and netmask changes update the service",
			desired: []Service{
				{ServiceKey: web, Scheduler: "rr"},
				{ServiceKey: dns, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 64},
				{ServiceKey: mark, Scheduler: "sh", Flags: FlagSchedFlag1},
			},
			actual: []Service{
				kernel(bare(web)),
				kernel(Service{ServiceKey: dns, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second}),
				kernel(Service{ServiceKey: mark, Scheduler: "sh"}),
			},
			want: []Op{
				{Kind: UpdateService, Service: Service{ServiceKey: web, Scheduler: "rr"}},
				{Kind: UpdateService, Service: Service{ServiceKey: dns, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 64}},
				{Kind: UpdateService, Service: Service{ServiceKey: mark, Scheduler: "sh", Flags: FlagSchedFlag1}},
			},
		},
		{
			name: "timeout compared in whole seconds, netmask 0 is the full prefix",
			desired: []Service{
				{ServiceKey: web, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300*time.Second + 400*time.Millisecond},
				{ServiceKey: dns, Scheduler: "wlc", Netmask: 128},
			},
			actual: []Service{
				kernel(Service{ServiceKey: web, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second}),
				kernel(Service{ServiceKey: dns, Scheduler: "wlc"}),
			},
		},
		{
			name:    "timeout change",
			desired: []Service{{ServiceKey: web, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 600 * time.Second}},
			actual:  []Service{kernel(Service{ServiceKey: web, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300 * time.Second})},
			want:    []Op{{Kind: UpdateService, Service: Service{ServiceKey: web, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 600 * time.Second}}},
		},
		{
			name:    "fwmark keys match whatever protocol the config carries",
			desired: []Service{svc(ServiceKey{FWMark: 3, Protocol: TCP, Addr: ap("192.0.2.1:80")}, rs1)},
			actual:  []Service{kernel(svc(mark, rs1))},
			owned:   mine,
		},
		{
			name:    "fwmark services of the two families are distinct",
			desired: []Service{svc(ServiceKey{FWMark: 3, IPv6: true})},
			actual:  []Service{kernel(svc(mark))},
			owned:   mine,
			want: []Op{
				{Kind: AddService, Service: bare(ServiceKey{FWMark: 3, IPv6: true})},
				{Kind: DelService, Service: kernel(bare(mark))},
			},
		},
		{
			name:    "services come out in key order whatever the input order",
			desired: []Service{svc(mark), svc(dns), svc(web)},
			want: []Op{
				{Kind: AddService, Service: bare(web)},
				{Kind: AddService, Service: bare(dns)},
				{Kind: AddService, Service: bare(mark)},
			},
		},
		{
			name:    "a desired service listed twice counts once",
			desired: []Service{svc(web, rs1), svc(web, rs2)},
			want: []Op{
				{Kind: AddService, Service: bare(web)},
				{Kind: AddDest, Service: bare(web), Dest: rs1},
			},
		},
		{
			name:    "flushed table comes back whole",
			desired: []Service{svc(web, rs1, rs2)},
			actual:  nil,
			owned:   mine,
			want: []Op{
				{Kind: AddService, Service: bare(web)},
				{Kind: AddDest, Service: bare(web), Dest: rs1},
				{Kind: AddDest, Service: bare(web), Dest: rs2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.desired, tt.actual, tt.owned)
			// The kernel's flags and counters of a deleted service ride
			// along; only its key and settings matter.
			for i := range tt.want {
				if tt.want[i].Kind == DelService {
					s := tt.want[i].Service
					tt.want[i].Service = opService(&s, s.ServiceKey)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffDoesNotModifyInputs(t *testing.T) {
	desired := bigTable(3)
	desired[0].Destinations[0], desired[0].Destinations[3] = desired[0].Destinations[3], desired[0].Destinations[0]
	before := bigTable(3)
	before[0].Destinations[0], before[0].Destinations[3] = before[0].Destinations[3], before[0].Destinations[0]
	_ = Diff(desired, nil, nil)
	if diff := cmp.Diff(before, desired, cmpAddrs); diff != "" {
		t.Errorf("Diff sorted its input (-before +after):\n%s", diff)
	}
}

func BenchmarkDiff(b *testing.B) {
	desired := bigTable(5000)
	actual := bigTable(5000)
	for i := range actual {
		actual[i].Flags |= FlagHashed
		actual[i].Netmask = 32
	}
	owned := func(ServiceKey) bool { return true }
	b.ReportAllocs()
	for b.Loop() {
		if ops := Diff(desired, actual, owned); len(ops) != 0 {
			b.Fatalf("%d ops in steady state", len(ops))
		}
	}
}

// bigTable returns n TCP services of four DR destinations each.
func bigTable(n int) []Service {
	svcs := make([]Service, n)
	for i := range svcs {
		vip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		svcs[i] = Service{
			ServiceKey: ServiceKey{Protocol: TCP, Addr: netip.AddrPortFrom(vip, 80)},
			Scheduler:  "wlc",
		}
		for j := range 4 {
			rip := netip.AddrFrom4([4]byte{192, byte(j), byte(i >> 8), byte(i)})
			svcs[i].Destinations = append(svcs[i].Destinations, Destination{
				Addr: netip.AddrPortFrom(rip, 80), Forward: Route, Weight: 1,
			})
		}
	}
	return svcs
}

// BenchmarkDiffColdStart is a first start's diff: the whole table of 5,000
// services of four destinations against an empty kernel.
func BenchmarkDiffColdStart(b *testing.B) {
	desired := bigTable(5000)
	b.ReportAllocs()
	for b.Loop() {
		if ops := Diff(desired, nil, nil); len(ops) != 25000 {
			b.Fatalf("%d ops", len(ops))
		}
	}
}
