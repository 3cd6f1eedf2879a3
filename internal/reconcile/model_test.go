package reconcile

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

func TestAdvance(t *testing.T) {
	web := ipvs.Service{ServiceKey: webKey, Scheduler: "wlc", Flags: ipvs.FlagHashed, Netmask: 32,
		Stats: ipvs.Stats{Conns: 10},
		Destinations: []ipvs.Destination{
			{Addr: ap("198.51.100.1:80"), Forward: ipvs.Route, Weight: 1, ActiveConns: 3},
			{Addr: ap("198.51.100.2:80"), Forward: ipvs.Route, Weight: 2, ActiveConns: 4},
		}}
	webOp := ipvs.Service{ServiceKey: webKey, Scheduler: "wlc", Netmask: 32}
	dns := dnsService()
	ok := func(op ipvs.Op) ipvs.OpResult { return ipvs.OpResult{Op: op} }
	failed := func(op ipvs.Op) ipvs.OpResult { return ipvs.OpResult{Op: op, Err: syscall.EEXIST} }

	for _, tc := range []struct {
		name    string
		table   []ipvs.Service
		results []ipvs.OpResult
		want    []ipvs.Service
	}{
		{"nothing", []ipvs.Service{web}, nil, []ipvs.Service{web}},
		{"add service and destinations into order", []ipvs.Service{web}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: dnsKey, Scheduler: "rr", Netmask: 32}}),
			ok(ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: dnsKey}, Dest: dns.Destinations[1]}),
			ok(ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: dnsKey}, Dest: dns.Destinations[0]}),
		}, []ipvs.Service{dns, web}},
		{"update keeps counters", []ipvs.Service{web}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.UpdateService, Service: ipvs.Service{ServiceKey: webKey, Scheduler: "rr", Netmask: 32}}),
			ok(ipvs.Op{Kind: ipvs.UpdateDest, Service: webOp, Dest: ipvs.Destination{Addr: ap("198.51.100.2:80"), Forward: ipvs.Route, Weight: 0}}),
		}, []ipvs.Service{{ServiceKey: webKey, Scheduler: "rr", Netmask: 32, Stats: ipvs.Stats{Conns: 10},
			Destinations: []ipvs.Destination{
				{Addr: ap("198.51.100.1:80"), Forward: ipvs.Route, Weight: 1, ActiveConns: 3},
				{Addr: ap("198.51.100.2:80"), Forward: ipvs.Route, Weight: 0, ActiveConns: 4},
			}}}},
		{"delete destination, last one leaves nil", []ipvs.Service{dns}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.DelDest, Service: ipvs.Service{ServiceKey: dnsKey}, Dest: dns.Destinations[0]}),
			ok(ipvs.Op{Kind: ipvs.DelDest, Service: ipvs.Service{ServiceKey: dnsKey}, Dest: dns.Destinations[1]}),
		}, []ipvs.Service{{ServiceKey: dnsKey, Scheduler: "rr", Netmask: 32}}},
		{"delete service", []ipvs.Service{dns, web}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.DelService, Service: ipvs.Service{ServiceKey: dnsKey}}),
		}, []ipvs.Service{web}},
		{"delete then add again", []ipvs.Service{web}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.DelService, Service: webOp}),
			ok(ipvs.Op{Kind: ipvs.AddService, Service: webOp}),
		}, []ipvs.Service{webOp}},
		{"failed ops change nothing", []ipvs.Service{web}, []ipvs.OpResult{
			failed(ipvs.Op{Kind: ipvs.DelService, Service: webOp}),
			failed(ipvs.Op{Kind: ipvs.AddDest, Service: webOp, Dest: ipvs.Destination{Addr: ap("198.51.100.9:80")}}),
		}, []ipvs.Service{web}},
		{"ops on a missing service change nothing", []ipvs.Service{web}, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: dnsKey}, Dest: dns.Destinations[0]}),
			ok(ipvs.Op{Kind: ipvs.DelService, Service: ipvs.Service{ServiceKey: markKey}}),
		}, []ipvs.Service{web}},
		{"fwmark key normalised", nil, []ipvs.OpResult{
			ok(ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{FWMark: 7, Protocol: ipvs.TCP}, Scheduler: "sh", Timeout: time.Minute}}),
		}, []ipvs.Service{{ServiceKey: markKey, Scheduler: "sh", Timeout: time.Minute}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cloneServices(tc.table)
			got := advance(tc.table, tc.results)
			addrs := cmpopts.EquateComparable(netip.AddrPort{}, netip.Addr{})
			if diff := cmp.Diff(tc.want, got, addrs); diff != "" {
				t.Errorf("advance (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.table, addrs); diff != "" {
				t.Errorf("advance modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

// TestAdvanceMatchesKernel: the table advanced by the ops of a diff is
// what the fake kernel holds after the same ops, so the next diff from
// the remembered table is empty.
func TestAdvanceMatchesKernel(t *testing.T) {
	k := &ipvstest.Kernel{}
	k.AddByHand(handService())
	actual, _ := k.Services()
	want := desired("remove", down("198.51.100.3:80"))
	ops := ipvs.Diff(want, actual, nil)
	results, err := k.Apply(ops)
	if err != nil {
		t.Fatal(err)
	}
	model := advance(actual, results)
	if diff := cmp.Diff(k.Save(), ipvstest.Save(model)); diff != "" {
		t.Errorf("model (-kernel +model):\n%s", diff)
	}
	if again := ipvs.Diff(want, model, nil); len(again) != 0 {
		t.Errorf("diff against the model = %v, want none", opNames(again))
	}
}
