package vip

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeAddrs is an interface table: the addresses on each interface, and
// every Add and Remove asked.
type fakeAddrs struct {
	on    map[string][]netip.Prefix
	calls []string
}

func newFakeAddrs() *fakeAddrs { return &fakeAddrs{on: make(map[string][]netip.Prefix)} }

func (f *fakeAddrs) Add(ifname string, vips []netip.Prefix) error {
	for _, p := range vips {
		f.calls = append(f.calls, "add "+ifname+" "+p.String())
		if !slices.Contains(f.on[ifname], p) {
			f.on[ifname] = append(f.on[ifname], p)
		}
	}
	return nil
}

func (f *fakeAddrs) Remove(ifname string, vips []netip.Prefix) error {
	for _, p := range vips {
		f.calls = append(f.calls, "remove "+ifname+" "+p.String())
		f.on[ifname] = slices.DeleteFunc(f.on[ifname], func(q netip.Prefix) bool { return q == p })
	}
	return nil
}

func (f *fakeAddrs) Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range vips {
		if !slices.Contains(f.on[ifname], p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// cmpAddrs compares netip values by value.
var cmpAddrs = cmpopts.EquateComparable(netip.Prefix{})

var (
	vip1 = netip.MustParsePrefix("192.0.2.100/32")
	vip2 = netip.MustParsePrefix("2001:db8::100/128")
	host = netip.MustParsePrefix("192.0.2.99/24")
)

func open(t *testing.T, k Addrs, path string) *Ledger {
	t.Helper()
	l, err := OpenLedger(k, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A run killed while MASTER leaves its VIPs on the interface; the next run
// removes them before anything else, and only them.
func TestLedgerReclaimRemovesWhatACrashedRunLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvsd.vips.json")
	k := newFakeAddrs()
	k.on["eth0"] = []netip.Prefix{host}

	first := open(t, k, path)
	if _, _, err := first.Reclaim(map[string][]netip.Prefix{"eth0": {vip1, vip2}}); err != nil {
		t.Fatal(err)
	}
	if err := first.Add("eth0", []netip.Prefix{vip1, vip2}); err != nil {
		t.Fatal(err)
	}
	// kill -9: nothing removed, the file stays.

	k.calls = nil
	second := open(t, k, path)
	removed, hostOwned, err := second.Reclaim(map[string][]netip.Prefix{"eth0": {vip1, vip2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Address{{"eth0", vip1}, {"eth0", vip2}}
	if diff := cmp.Diff(want, removed, cmpAddrs); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if len(hostOwned) != 0 {
		t.Errorf("host addresses %v, want none: the VIPs were lvsd's", hostOwned)
	}
	if diff := cmp.Diff([]netip.Prefix{host}, k.on["eth0"], cmpAddrs); diff != "" {
		t.Errorf("eth0 after the restart (-want +got):\n%s", diff)
	}
	// The record is empty now: a third start removes nothing.
	k.calls = nil
	if removed, _, _ := open(t, k, path).Reclaim(nil); len(removed) != 0 || len(k.calls) != 0 {
		t.Errorf("third start removed %v (calls %v), want nothing", removed, k.calls)
	}
}

// A VIP that the host already had is never removed: not by Remove when the
// instance leaves MASTER, not by the next start.
func TestLedgerLeavesTheHostsOwnAddress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvsd.vips.json")
	k := newFakeAddrs()
	k.on["eth0"] = []netip.Prefix{host}

	l := open(t, k, path)
	_, hostOwned, err := l.Reclaim(map[string][]netip.Prefix{"eth0": {host, vip1}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Address{{"eth0", host}}, hostOwned, cmpAddrs); diff != "" {
		t.Errorf("host addresses (-want +got):\n%s", diff)
	}
	both := []netip.Prefix{host, vip1}
	if err := l.Add("eth0", both); err != nil {
		t.Fatal(err)
	}
	if missing, _ := l.Missing("eth0", both); len(missing) != 0 {
		t.Errorf("missing %v after Add", missing)
	}
	// Someone deletes the host's address: not a VIP for lvsd to restore.
	k.on["eth0"] = slices.DeleteFunc(k.on["eth0"], func(p netip.Prefix) bool { return p == host })
	if missing, _ := l.Missing("eth0", both); len(missing) != 0 {
		t.Errorf("missing %v, want none: the host's address is not lvsd's to put back", missing)
	}
	k.on["eth0"] = append(k.on["eth0"], host)
	if err := l.Remove("eth0", both); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Prefix{host}, k.on["eth0"], cmpAddrs); diff != "" {
		t.Errorf("eth0 after leaving MASTER (-want +got):\n%s", diff)
	}
	for _, c := range k.calls {
		if c == "add eth0 "+host.String() || c == "remove eth0 "+host.String() {
			t.Errorf("the host's address was touched: %s", c)
		}
	}

	// Killed while holding vip1: the restart removes vip1, keeps the host's.
	if err := l.Add("eth0", both); err != nil {
		t.Fatal(err)
	}
	removed, _, err := open(t, k, path).Reclaim(map[string][]netip.Prefix{"eth0": both})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Address{{"eth0", vip1}}, removed, cmpAddrs); diff != "" {
		t.Errorf("removed at restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Prefix{host}, k.on["eth0"], cmpAddrs); diff != "" {
		t.Errorf("eth0 after the restart (-want +got):\n%s", diff)
	}
}

// The record is written before an address is added: a crash between the two
// leaves an entry for an absent address, never an address without one.
func TestLedgerRecordsBeforeAdding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvsd.vips.json")
	k := &recordingAddrs{fakeAddrs: newFakeAddrs(), path: path}
	l := open(t, k, path)
	if err := l.Add("eth0", []netip.Prefix{vip1}); err != nil {
		t.Fatal(err)
	}
	if !k.recordedFirst {
		t.Error("the address was added before the record named it")
	}
}

type recordingAddrs struct {
	*fakeAddrs
	path          string
	recordedFirst bool
}

func (r *recordingAddrs) Add(ifname string, vips []netip.Prefix) error {
	b, err := os.ReadFile(r.path)
	r.recordedFirst = err == nil && len(b) > 0 && string(b) != "[]\n"
	return r.fakeAddrs.Add(ifname, vips)
}

// A record that cannot be read is an error, not a guess.
func TestLedgerCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvsd.vips.json")
	if err := os.WriteFile(path, []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLedger(newFakeAddrs(), path, nil); err == nil {
		t.Error("OpenLedger accepted a corrupt record")
	}
}

// Adopt, at a reload, marks as the host's only addresses it does not know.
func TestLedgerAdoptKeepsWhatItKnows(t *testing.T) {
	k := newFakeAddrs()
	l := open(t, k, "")
	if _, _, err := l.Reclaim(nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Add("eth0", []netip.Prefix{vip1}); err != nil {
		t.Fatal(err)
	}
	k.on["eth1"] = []netip.Prefix{host}
	got, err := l.Adopt(map[string][]netip.Prefix{"eth0": {vip1}, "eth1": {host, vip2}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Address{{"eth1", host}}, got, cmpAddrs); diff != "" {
		t.Errorf("adopted (-want +got):\n%s", diff)
	}
	if err := l.Remove("eth0", []netip.Prefix{vip1}); err != nil || len(k.on["eth0"]) != 0 {
		t.Errorf("vip1 not removed by its owner: %v, %v", err, k.on["eth0"])
	}
}
