package ipvstest

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/ipvs"
)

// TestAnswersAsTheKernel checks the answers the tests of the reconciler and
// the daemon rely on against what ip_vs_ctl.c returns for the same
// requests (ipvsadm shows the same errors: "Service already exists", "No
// such service", "No such destination").
func TestAnswersAsTheKernel(t *testing.T) {
	web := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddrPort("192.0.2.10:80")}
	mark := ipvs.ServiceKey{FWMark: 7}
	svc := func(k ipvs.ServiceKey) ipvs.Service {
		return ipvs.Service{ServiceKey: k, Scheduler: "wlc", Timeout: 300 * time.Second}
	}
	dest := func(addr string, w int) ipvs.Destination {
		return ipvs.Destination{Addr: netip.MustParseAddrPort(addr), Forward: ipvs.Route, Weight: w}
	}
	op := func(kind ipvs.OpKind, k ipvs.ServiceKey, d ipvs.Destination) ipvs.Op {
		return ipvs.Op{Kind: kind, Service: svc(k), Dest: d}
	}
	tests := []struct {
		name string
		op   ipvs.Op
		want error
	}{
		{"add a service", op(ipvs.AddService, web, ipvs.Destination{}), nil},
		{"add it again", op(ipvs.AddService, web, ipvs.Destination{}), syscall.EEXIST},
		{"add a destination", op(ipvs.AddDest, web, dest("198.51.100.2:80", 1)), nil},
		{"add a lower destination", op(ipvs.AddDest, web, dest("198.51.100.1:80", 1)), nil},
		{"add a destination again", op(ipvs.AddDest, web, dest("198.51.100.1:80", 1)), syscall.EEXIST},
		{"update a destination", op(ipvs.UpdateDest, web, dest("198.51.100.1:80", 5)), nil},
		{"update a missing destination", op(ipvs.UpdateDest, web, dest("198.51.100.9:80", 5)), syscall.ENOENT},
		{"delete a missing destination", op(ipvs.DelDest, web, dest("198.51.100.9:80", 1)), syscall.ENOENT},
		{"destination of a missing service", op(ipvs.AddDest, mark, dest("198.51.100.1:0", 1)), syscall.ESRCH},
		{"update a missing service", op(ipvs.UpdateService, mark, ipvs.Destination{}), syscall.ESRCH},
		{"delete a missing service", op(ipvs.DelService, mark, ipvs.Destination{}), syscall.ESRCH},
	}
	k := &Kernel{}
	for _, tt := range tests {
		res, err := k.Apply([]ipvs.Op{tt.op})
		if !errors.Is(err, tt.want) || !errors.Is(res[0].Err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Apply = %v (result %v), want %v", tt.name, err, res[0].Err, tt.want)
		}
	}
	k.SetActive("198.51.100.1:80", 4)
	got, err := k.Services()
	if err != nil {
		t.Fatal(err)
	}
	// The kernel reports every service hashed, and the table keeps the
	// destinations' counters; the dump lists them in address order.
	want := []ipvs.Service{{
		ServiceKey: web, Scheduler: "wlc", Timeout: 300 * time.Second, Flags: ipvs.FlagHashed,
		Destinations: []ipvs.Destination{
			{Addr: netip.MustParseAddrPort("198.51.100.1:80"), Forward: ipvs.Route, Weight: 5, ActiveConns: 4},
			{Addr: netip.MustParseAddrPort("198.51.100.2:80"), Forward: ipvs.Route, Weight: 1},
		},
	}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	// One request per operation, one for the dump and one per service.
	if requests, dumps, batches := k.Stats(); requests != len(tests)+2 || dumps != 1 || batches != len(tests) {
		t.Errorf("Stats = %d requests, %d dumps, %d batches; want %d, 1, %d", requests, dumps, batches, len(tests)+2, len(tests))
	}
}

func TestSyncDaemons(t *testing.T) {
	k := &Kernel{}
	master := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}
	if err := k.StartSyncDaemon(master); err != nil {
		t.Fatal(err)
	}
	if err := k.StartSyncDaemon(master); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second master: %v, want EEXIST", err)
	}
	if err := k.StopSyncDaemon(ipvs.SyncBackup); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stopping a backup that does not run: %v, want ESRCH", err)
	}
	if err := k.StopSyncDaemon(ipvs.SyncMaster); err != nil {
		t.Fatal(err)
	}
	want := []string{"start master eth1 5", "start master eth1 5", "stop backup", "stop master"}
	if diff := cmp.Diff(want, k.SyncCalls); diff != "" {
		t.Errorf("SyncCalls (-want +got):\n%s", diff)
	}
}
