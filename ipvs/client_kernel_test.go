//go:build vm

// These tests program a real IPVS kernel. They run inside the project's VM
// lab (go test -tags vm), where ip_vs is loaded and the tests are root; a
// missing prerequisite there is a failure, never a skip.

package ipvs

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mdnetlink "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// kernelNetNS creates a network namespace of its own for one test, with a
// veth pair "lvs0"/"lvs1" up, 198.51.100.254/24 and 2001:db8:1::fe/64 on
// lvs0 (an IPv4 destination needs a route), and returns its descriptor.
// The namespace goes when the descriptor is closed.
func kernelNetNS(t *testing.T) int {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result)
	go func() {
		// The thread changes namespace; if it cannot come back it stays
		// locked and dies with this goroutine.
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("creating a network namespace: %v", r.err)
	}
	t.Cleanup(func() { _ = unix.Close(r.fd) })

	h, err := netlink.NewHandleAt(netns.NsHandle(r.fd), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in the namespace: %v", err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lvs0"}, PeerName: "lvs1"}); err != nil {
		t.Fatalf("adding veth: %v", err)
	}
	for _, name := range []string{"lo", "lvs1", "lvs0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatalf("setting %s up: %v", name, err)
		}
	}
	l, _ := h.LinkByName("lvs0")
	for _, cidr := range []string{"198.51.100.254/24", "2001:db8:1::fe/64"} {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			t.Fatal(err)
		}
		a.Flags = unix.IFA_F_NODAD
		if err := h.AddrAdd(l, a); err != nil {
			t.Fatalf("adding %s: %v", cidr, err)
		}
	}
	// A default route makes any IPv4 destination unicast (bigTable's).
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatalf("adding default route: %v", err)
	}
	// The route of a fresh address can lag its netlink acknowledgement.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rs, err := h.RouteGet(net.ParseIP("198.51.100.1"))
		if err == nil && len(rs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route to 198.51.100.1: %v", err)
		}
	}
	return r.fd
}

func kernelClient(t *testing.T) *Client {
	t.Helper()
	c, _ := kernelClientNS(t)
	return c
}

func kernelClientNS(t *testing.T) (*Client, int) {
	t.Helper()
	ns := kernelNetNS(t)
	c, err := dial(&mdnetlink.Config{NetNS: ns})
	if err != nil {
		t.Fatalf("dialing IPVS in the test's namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Flush()
		_ = c.Close()
	})
	return c, ns
}

// kernelTable has a service of every kind lvsd programs.
func kernelTable() []Service {
	ap := netip.MustParseAddrPort
	return []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("192.0.2.10:80")}, Scheduler: "wlc",
			Destinations: []Destination{
				{Addr: ap("198.51.100.1:80"), Forward: Route, Weight: 1},
				{Addr: ap("198.51.100.2:8080"), Forward: Masquerade, Weight: 3, UpperThreshold: 100, LowerThreshold: 50},
				{Addr: ap("198.51.100.3:80"), Forward: Tunnel, Weight: 2},
			}},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: ap("192.0.2.10:53")}, Scheduler: "sh",
			Flags: FlagPersistent | FlagSchedFlag1 | FlagSchedFlag2, Timeout: 600 * time.Second, Netmask: 24,
			Destinations: []Destination{{Addr: ap("198.51.100.4:53"), Forward: Route, Weight: 1}}},
		{ServiceKey: ServiceKey{Protocol: SCTP, Addr: ap("192.0.2.10:3868")}, Scheduler: "rr",
			Destinations: []Destination{{Addr: ap("198.51.100.5:3868"), Forward: Masquerade, Weight: 1}}},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("[2001:db8::10]:443")}, Scheduler: "lc",
			Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 64,
			Destinations: []Destination{
				{Addr: ap("[2001:db8:1::1]:443"), Forward: Route, Weight: 1},
				{Addr: ap("[2001:db8:1::2]:443"), Forward: Masquerade, Weight: 0},
			}},
		{ServiceKey: ServiceKey{FWMark: 7}, Scheduler: "wrr",
			Destinations: []Destination{{Addr: ap("198.51.100.6:0"), Forward: Route, Weight: 5}}},
		{ServiceKey: ServiceKey{FWMark: 7, IPv6: true}, Scheduler: "rr", Flags: FlagOnePacket,
			Destinations: []Destination{{Addr: ap("[2001:db8:1::6]:0"), Forward: Route, Weight: 1}}},
	}
}

// settings keeps what lvsd programs, dropping what the kernel adds.
func settings(svcs []Service) []Service {
	out := make([]Service, 0, len(svcs))
	for i := range svcs {
		s := opService(&svcs[i], svcs[i].ServiceKey.Normalize())
		s.Flags &^= FlagHashed
		s.Netmask = fullNetmask(&s)
		for j := range sortedDests(svcs[i].Destinations) {
			s.Destinations = append(s.Destinations, opDest(&sortedDests(svcs[i].Destinations)[j]))
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return out
}

func all(ServiceKey) bool { return true }

func TestKernelProgramAndReadBack(t *testing.T) {
	c := kernelClient(t)
	info, err := c.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version == 0 || info.ConnTableSize == 0 {
		t.Errorf("Info = %+v", info)
	}

	desired := kernelTable()
	actual, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	if len(actual) != 0 {
		t.Fatalf("fresh namespace has %d services", len(actual))
	}
	ops := Diff(desired, actual, all)
	if _, err := c.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	if diff := cmp.Diff(settings(desired), settings(got), cmpNetip); diff != "" {
		t.Errorf("table read back (-want +got):\n%s", diff)
	}
	for _, s := range got {
		if s.Flags&FlagHashed == 0 {
			t.Errorf("%s: kernel flags %#x lack hashed", s.ServiceKey, s.Flags)
		}
	}
	if ops := Diff(desired, got, all); len(ops) != 0 {
		t.Errorf("steady state Diff = %v, want nothing", ops)
	}

	// A service at a time: the list, each service's destinations, and
	// nothing (no error) for a service the kernel does not have.
	list, err := c.ListServices()
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	for i := range list {
		if list[i].Destinations != nil {
			t.Errorf("ListServices: %s has destinations", list[i].ServiceKey)
		}
		if list[i].Destinations, err = c.Destinations(list[i].ServiceKey); err != nil {
			t.Fatalf("Destinations(%s): %v", list[i].ServiceKey, err)
		}
	}
	if diff := cmp.Diff(settings(got), settings(list), cmpNetip); diff != "" {
		t.Errorf("table read a service at a time (-Services +ListServices and Destinations):\n%s", diff)
	}
	missing := ServiceKey{Protocol: TCP, Addr: netip.MustParseAddrPort("192.0.2.250:81")}
	if ds, err := c.Destinations(missing); ds != nil || err != nil {
		t.Errorf("Destinations of a missing service = %v, %v; want none, no error", ds, err)
	}
}

func TestKernelWeightUpdateIsOneRequest(t *testing.T) {
	c := kernelClient(t)
	desired := kernelTable()
	if _, err := c.Apply(Diff(desired, nil, all)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	desired[0].Destinations[1].Weight = 0
	actual, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	ops := Diff(desired, actual, all)
	if len(ops) != 1 || ops[0].Kind != UpdateDest {
		t.Fatalf("Diff = %v, want one destination update", ops)
	}
	before := c.Requests()
	if _, err := c.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	got, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(settings(desired), settings(got), cmpNetip); diff != "" {
		t.Errorf("table after update (-want +got):\n%s", diff)
	}
}

func TestKernelDeleteAndOwnership(t *testing.T) {
	c := kernelClient(t)
	table := kernelTable()
	if _, err := c.Apply(Diff(table, nil, all)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// lvsd owns all but the fwmark services; it wants the first service
	// with one destination fewer and nothing else.
	owned := func(k ServiceKey) bool { return k.FWMark == 0 }
	desired := table[:1:1]
	desired[0].Destinations = desired[0].Destinations[:2]
	actual, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(Diff(desired, actual, owned)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	want := settings(append([]Service{desired[0]}, kernelTable()[4:]...))
	if diff := cmp.Diff(want, settings(got), cmpNetip); diff != "" {
		t.Errorf("table after deletes (-want +got):\n%s", diff)
	}

	// The kernel's refusal names the op.
	res, err := c.Apply([]Op{{Kind: AddService, Service: desired[0]}})
	if !errors.Is(err, unix.EEXIST) || res[0].Err == nil {
		t.Fatalf("adding an existing service: %v", err)
	}
	if want := "adding service tcp 192.0.2.10:80: file exists"; res[0].Err.Error() != want {
		t.Errorf("error = %q, want %q", res[0].Err, want)
	}
}

func TestKernelTimeouts(t *testing.T) {
	c := kernelClient(t)
	before, err := c.Timeouts()
	if err != nil {
		t.Fatalf("Timeouts: %v", err)
	}
	if err := c.SetTimeouts(Timeouts{TCP: 901 * time.Second, UDP: 31 * time.Second}); err != nil {
		t.Fatalf("SetTimeouts: %v", err)
	}
	got, err := c.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	want := Timeouts{TCP: 901 * time.Second, TCPFin: before.TCPFin, UDP: 31 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Timeouts (-want +got):\n%s", diff)
	}
}

func TestKernelSyncDaemon(t *testing.T) {
	c := kernelClient(t)
	if err := c.StartSyncDaemon(SyncDaemon{State: SyncMaster, Interface: "lvs0", SyncID: 9}); err != nil {
		t.Fatalf("StartSyncDaemon master: %v", err)
	}
	t.Cleanup(func() { _ = c.StopSyncDaemon(SyncMaster) })
	if err := c.StartSyncDaemon(SyncDaemon{State: SyncBackup, Interface: "lvs0", SyncID: 9}); err != nil {
		t.Fatalf("StartSyncDaemon backup: %v", err)
	}
	t.Cleanup(func() { _ = c.StopSyncDaemon(SyncBackup) })
	ds, err := c.SyncDaemons()
	if err != nil {
		t.Fatalf("SyncDaemons: %v", err)
	}
	var states []SyncState
	for _, d := range ds {
		states = append(states, d.State)
		if d.Interface != "lvs0" || d.SyncID != 9 {
			t.Errorf("daemon %+v, want lvs0 sync id 9", d)
		}
	}
	if diff := cmp.Diff([]SyncState{SyncMaster, SyncBackup}, states); diff != "" {
		t.Errorf("daemon states (-want +got):\n%s", diff)
	}
	if err := c.StopSyncDaemon(SyncMaster); err != nil {
		t.Fatalf("StopSyncDaemon: %v", err)
	}
	ds, err = c.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != SyncBackup {
		t.Errorf("daemons after stopping the master: %+v", ds)
	}
}

func TestKernelFlushAndRequestCount(t *testing.T) {
	c := kernelClient(t)
	if _, err := c.Apply(Diff(kernelTable(), nil, all)); err != nil {
		t.Fatal(err)
	}
	before := c.Requests()
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Requests() - before; n != uint64(1+len(svcs)) {
		t.Errorf("Services made %d requests, want %d", n, 1+len(svcs))
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if svcs, err := c.Services(); err != nil || len(svcs) != 0 {
		t.Errorf("after Flush: %d services, %v", len(svcs), err)
	}
}

func TestKernelLargeTable(t *testing.T) {
	c := kernelClient(t)
	// 10,000 operations: many batches, each filling the socket buffers.
	desired := bigTable(2000)
	start := time.Now()
	results, err := c.Apply(Diff(desired, nil, all))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Logf("%d ops applied in %v", len(results), time.Since(start))
	start = time.Now()
	actual, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	t.Logf("%d services read in %v", len(actual), time.Since(start))
	if ops := Diff(desired, actual, all); len(ops) != 0 {
		t.Fatalf("steady state: %d ops, first %v", len(ops), ops[0])
	}
	desired[1234].Destinations[1].Weight = 7
	ops := Diff(desired, actual, all)
	before := c.Requests()
	if _, err := c.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(ops) != 1 || c.Requests()-before != 1 {
		t.Errorf("one weight change: %d ops, %d requests; want 1 and 1", len(ops), c.Requests()-before)
	}
	actual, err = c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if ops := Diff(desired, actual, all); len(ops) != 0 {
		t.Errorf("after the weight change: %v", ops)
	}
}

// runIn runs a command with its network namespace set to ns: a child
// inherits the namespace of the thread that forks it.
func runIn(t *testing.T, ns int, name string, args ...string) string {
	t.Helper()
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, err}
			return
		}
		out, err := exec.Command(name, args...).CombinedOutput()
		ch <- result{out, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, r.err, r.out)
	}
	return string(r.out)
}

// TestKernelMatchesIpvsadm reads the programmed table with ipvsadm, an
// independent decoder: a mistake made the same way in this package's
// encoder and decoder would pass the read-back tests, not this one.
func TestKernelMatchesIpvsadm(t *testing.T) {
	if _, err := exec.LookPath("ipvsadm"); err != nil {
		t.Fatalf("ipvsadm is part of the VM lab: %v", err)
	}
	c, ns := kernelClientNS(t)
	if _, err := c.Apply(Diff(kernelTable(), nil, all)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	out := runIn(t, ns, "ipvsadm", "-S", "-n")
	t.Logf("ipvsadm -S -n:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, want := range [][]string{
		{"-A -t 192.0.2.10:80 ", "-s wlc"},
		{"-a -t 192.0.2.10:80 -r 198.51.100.1:80 ", "-g", "-w 1"},
		{"-a -t 192.0.2.10:80 -r 198.51.100.2:8080 ", "-m", "-w 3"},
		{"-a -t 192.0.2.10:80 -r 198.51.100.3:80 ", "-i", "-w 2"},
		{"-A -u 192.0.2.10:53 ", "-s sh", "sh-fallback", "sh-port", "-p 600", "-M 255.255.255.0"},
		{"-A --sctp-service 192.0.2.10:3868 ", "-s rr"},
		{"-A -t [2001:db8::10]:443 ", "-s lc", "-p 300", "-M 64"},
		{"-a -t [2001:db8::10]:443 -r [2001:db8:1::2]:443 ", "-m", "-w 0"},
		{"-A -f 7 -s ", "-s wrr"},
		{"-a -f 7 -r 198.51.100.6:0 ", "-g", "-w 5"},
		{"-A -f 7 -6 ", "-s rr", "-o"},
	} {
		found := false
		for _, l := range lines {
			if !strings.HasPrefix(l, want[0]) {
				continue
			}
			found = true
			for _, part := range want[1:] {
				if !strings.Contains(l, part) {
					t.Errorf("%q lacks %q", l, part)
				}
			}
		}
		if !found {
			t.Errorf("no line starts with %q", want[0])
		}
	}

	// The save format has no thresholds; the listing has.
	out = runIn(t, ns, "ipvsadm", "-L", "-n", "--thresholds")
	t.Logf("ipvsadm -Ln --thresholds:\n%s", out)
	found := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		// "-> RemoteAddress:Port Uthreshold Lthreshold ActiveConn InActConn"
		if len(f) >= 4 && f[1] == "198.51.100.2:8080" {
			found = true
			if diff := cmp.Diff([]string{"100", "50"}, f[2:4]); diff != "" {
				t.Errorf("thresholds line %q (-want +got):\n%s", l, diff)
			}
		}
	}
	if !found {
		t.Error("ipvsadm does not list 198.51.100.2:8080")
	}
}

// TestKernelBatchErrors checks that the kernel goes on after a failed
// request of a batch and that each answer reaches its op.
func TestKernelBatchErrors(t *testing.T) {
	c := kernelClient(t)
	ap := netip.MustParseAddrPort
	svc := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: ap("192.0.2.20:80")}, Scheduler: "rr"}
	rs := func(a string) Destination { return Destination{Addr: ap(a), Forward: Route, Weight: 1} }
	if _, err := c.Apply([]Op{{Kind: AddService, Service: svc}, {Kind: AddDest, Service: svc, Dest: rs("198.51.100.1:80")}}); err != nil {
		t.Fatal(err)
	}
	ops := []Op{
		{Kind: AddDest, Service: svc, Dest: rs("198.51.100.2:80")},
		{Kind: AddDest, Service: svc, Dest: rs("198.51.100.1:80")},
		{Kind: DelDest, Service: svc, Dest: rs("198.51.100.9:80")},
		{Kind: DelService, Service: Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: ap("192.0.2.20:53")}}},
		{Kind: AddService, Service: Service{ServiceKey: ServiceKey{FWMark: 1}, Scheduler: "nosuch"}},
		{Kind: AddDest, Service: svc, Dest: rs("198.51.100.3:80")},
	}
	before := c.Requests()
	results, err := c.Apply(ops)
	if err == nil {
		t.Fatal("Apply reported no error")
	}
	if n := c.Requests() - before; n != uint64(len(ops)) {
		t.Errorf("%d requests, want %d", n, len(ops))
	}
	var got []string
	for _, r := range results {
		if r.Err == nil {
			got = append(got, "ok")
		} else {
			got = append(got, r.Err.Error())
		}
	}
	want := []string{
		"ok",
		"adding destination 198.51.100.1:80 to tcp 192.0.2.20:80: file exists",
		"deleting destination 198.51.100.9:80 from tcp 192.0.2.20:80: destination does not exist",
		"deleting service udp 192.0.2.20:53: service does not exist",
		"adding service fwmark 1: scheduler or persistence engine not found (is its ip_vs_* module available?)",
		"ok",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 1 || len(svcs[0].Destinations) != 3 {
		t.Errorf("table after the batch: %+v", svcs)
	}
}
