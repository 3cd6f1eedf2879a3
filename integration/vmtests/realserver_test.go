//go:build vm

// These tests run realserver.Up and Down (what `lvsd realserver` does)
// against a kernel with IPIP and IPv6 tunnels, inside the lab VM. The host
// kernel of the lab machines has no ipip module, so the TUN path can only
// be tried here. Each test works in network namespaces of its own.

package vmtests

import (
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/realserver"
	"github.com/lvsd/lvsd/internal/sysctl"
)

// enterNewNetns moves the test goroutine, locked to its thread, into a new
// network namespace with lo up, and back when the test ends. Subtests run
// on other goroutines, so the tests below use none.
func enterNewNetns(t *testing.T) netns.NsHandle {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("current namespace: %v", err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("new namespace: %v", err)
	}
	t.Cleanup(func() {
		ns.Close()
		// If the thread cannot go back it stays locked, and the runtime
		// ends it with the goroutine rather than reuse it elsewhere.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		orig.Close()
	})
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("setting lo up: %v", err)
	}
	return ns
}

// inNetns runs f on a thread of its own inside ns; an invalid ns (netns.None)
// means the thread's own namespace, for f to leave.
func inNetns(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if ns.IsOpen() {
			if err := netns.Set(ns); err != nil {
				errc <- err
				return
			}
		}
		err = f()
		// A thread that cannot go back stays locked and ends with the
		// goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// newNetns creates a network namespace without entering it.
func newNetns(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := inNetns(netns.None(), func() error {
		var err error
		ns, err = netns.New()
		return err
	})
	if err != nil {
		t.Fatalf("new namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func realserverKernel(t *testing.T) *realserver.Kernel {
	t.Helper()
	k, err := realserver.NewKernel(sysctl.Root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// nsState lists every link with its flags and addresses, and every
// net.ipv4.conf sysctl, of the calling thread's namespace.
func nsState(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range links {
		a := l.Attrs()
		lines = append(lines, fmt.Sprintf("link %s %s %s", a.Name, l.Type(), a.Flags))
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ad := range addrs {
			lines = append(lines, fmt.Sprintf("addr %s %s flags %#x scope %d", a.Name, ad.IPNet, ad.Flags, ad.Scope))
		}
	}
	root := filepath.Join(sysctl.Root, "net/ipv4/conf")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // write-only or refused: not state we can compare
		}
		lines = append(lines, strings.TrimPrefix(p, root+"/")+" = "+strings.TrimSpace(string(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

func mustSysctl(t *testing.T, key, value string) {
	t.Helper()
	if err := sysctl.Write(sysctl.Root, key, value); err != nil {
		t.Fatal(err)
	}
}

// ensureTunnels makes sure the fallback tunnel devices exist in the
// namespace (loading the modules if needed), so a test can compare the
// namespace before and after exactly: a module's fallback device, once
// loaded, cannot be deleted.
func ensureTunnels(t *testing.T, k *realserver.Kernel) {
	t.Helper()
	s, err := k.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{realserver.TunnelV4, realserver.TunnelV6} {
		if _, ok := s.Links[dev]; !ok {
			if err := k.Apply(realserver.Change{Kind: realserver.LinkCreate, Link: dev}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// roundTrip runs up, up and down and requires the namespace back exactly.
func roundTrip(t *testing.T, k *realserver.Kernel, req realserver.Request, check func(realserver.Snapshot)) {
	t.Helper()
	before := nsState(t)
	applied, rec, err := realserver.Up(k, req, realserver.Record{})
	if err != nil {
		t.Fatalf("up: %v (applied %v)", err, applied)
	}
	t.Logf("up: %v", applied)
	s, err := k.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	check(s)
	again, rec2, err := realserver.Up(k, req, rec)
	if err != nil || len(again) != 0 {
		t.Errorf("second up = %v, %v; want no change", again, err)
	}
	applied, notes, next, err := realserver.Down(k, req, &rec2)
	if err != nil {
		t.Fatalf("down: %v (applied %v)", err, applied)
	}
	t.Logf("down: %v %v", applied, notes)
	if !next.Empty() {
		t.Errorf("record after down: %+v", next)
	}
	if diff := cmp.Diff(before, nsState(t)); diff != "" {
		t.Errorf("namespace after up, up, down (-before +after):\n%s", diff)
	}
}

// hostPrefix is a as a single-address prefix, as realserver puts VIPs on
// a device.
func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// hasPrefix reports whether the link holds p.
func hasPrefix(l realserver.Link, p netip.Prefix) bool { return slices.Contains(l.Addrs, p) }

// isVIP reports whether a could be a VIP that realserver added: neither
// loopback nor link-local, which the kernel puts on devices by itself.
func isVIP(a netip.Addr) bool { return !a.IsLoopback() && !a.IsLinkLocalUnicast() }

var (
	vmV4 = netip.MustParseAddr("192.0.2.100")
	vmV6 = netip.MustParseAddr("2001:db8::100")
)

func TestRealServerKernelDR(t *testing.T) {
	vm.RequireGuest(t)
	enterNewNetns(t)
	k := realserverKernel(t)
	mustSysctl(t, "net.ipv4.conf.all.arp_ignore", "0")
	mustSysctl(t, "net.ipv4.conf.all.arp_announce", "1")
	roundTrip(t, k, realserver.Request{Method: realserver.DR, VIPs: []netip.Addr{vmV4, vmV6}}, func(s realserver.Snapshot) {
		for _, p := range []netip.Prefix{hostPrefix(vmV4), hostPrefix(vmV6)} {
			if !hasPrefix(s.Links[realserver.Loopback], p) {
				t.Errorf("lo lacks %s after up: %v", p, s.Links[realserver.Loopback].Addrs)
			}
		}
		if got := s.Sysctls["net.ipv4.conf.all.arp_ignore"] + "," + s.Sysctls["net.ipv4.conf.all.arp_announce"]; got != "1,2" {
			t.Errorf("arp_ignore,arp_announce = %s after up, want 1,2", got)
		}
	})
}

// TestRealServerKernelTUNCreatesTunnels starts from a namespace without tunnel
// devices if the modules are not loaded yet (the first test of a fresh
// VM), so up has to make them.
func TestRealServerKernelTUNCreatesTunnels(t *testing.T) {
	vm.RequireGuest(t)
	enterNewNetns(t)
	k := realserverKernel(t)
	req := realserver.Request{Method: realserver.TUN, VIPs: []netip.Addr{vmV4, vmV6}}
	applied, rec, err := realserver.Up(k, req, realserver.Record{})
	if err != nil {
		t.Fatalf("up: %v (applied %v)", err, applied)
	}
	t.Logf("up: %v", applied)
	s, err := k.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for dev, p := range map[string]netip.Prefix{realserver.TunnelV4: hostPrefix(vmV4), realserver.TunnelV6: hostPrefix(vmV6)} {
		if l, ok := s.Links[dev]; !ok || !l.Up || !hasPrefix(l, p) {
			t.Errorf("%s after up: %+v (exists %v), want up with %s", dev, l, ok, p)
		}
	}
	for _, key := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.tunl0.rp_filter"} {
		if s.Sysctls[key] != "0" {
			t.Errorf("%s = %q after up, want 0", key, s.Sysctls[key])
		}
	}
	if _, _, next, err := realserver.Down(k, req, &rec); err != nil || !next.Empty() {
		t.Fatalf("down: %v, record %+v", err, next)
	}
	s, err = k.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{realserver.TunnelV4, realserver.TunnelV6} {
		// The fallback devices outlive a delete; down leaves them down.
		if l, ok := s.Links[dev]; ok && (l.Up || slices.ContainsFunc(l.Addrs, func(p netip.Prefix) bool { return isVIP(p.Addr()) })) {
			t.Errorf("%s after down: %+v, want gone or down without VIPs", dev, l)
		}
	}
}

func TestRealServerKernelTUNRoundTrip(t *testing.T) {
	vm.RequireGuest(t)
	enterNewNetns(t)
	k := realserverKernel(t)
	ensureTunnels(t, k)
	// Strict reverse-path filtering, as many distributions set it: up has
	// to lift it and down to put it back.
	mustSysctl(t, "net.ipv4.conf.all.rp_filter", "1")
	mustSysctl(t, "net.ipv4.conf.tunl0.rp_filter", "1")
	roundTrip(t, k, realserver.Request{Method: realserver.TUN, VIPs: []netip.Addr{vmV4, vmV6}}, func(s realserver.Snapshot) {
		if !s.Links[realserver.TunnelV4].Up || !hasPrefix(s.Links[realserver.TunnelV4], hostPrefix(vmV4)) {
			t.Errorf("tunl0 after up: %+v", s.Links[realserver.TunnelV4])
		}
		if !s.Links[realserver.TunnelV6].Up || !hasPrefix(s.Links[realserver.TunnelV6], hostPrefix(vmV6)) {
			t.Errorf("ip6tnl0 after up: %+v", s.Links[realserver.TunnelV6])
		}
		for _, key := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.tunl0.rp_filter"} {
			if s.Sysctls[key] != "0" {
				t.Errorf("%s = %q after up, want 0", key, s.Sysctls[key])
			}
		}
	})
}

// TestRealServerKernelTUNForwarding sends UDP datagrams to the VIPs through an IPIP
// and an IPv6-in-IPv6 tunnel from a "director" namespace, the way IPVS
// forwards with -i, and expects the real server to answer from the VIP
// directly. With strict rp_filter back on tunl0 the IPv4 datagram must go
// unanswered: that is why up clears it.
func TestRealServerKernelTUNForwarding(t *testing.T) {
	vm.RequireGuest(t)
	enterNewNetns(t)
	dirNS := newNetns(t)
	k := realserverKernel(t)
	mustSysctl(t, "net.ipv4.conf.all.rp_filter", "1")
	mustSysctl(t, "net.ipv4.conf.default.rp_filter", "1")

	// The real server's eth0 and the director's dir0 share a link.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "dir0", PeerNamespace: netlink.NsFd(dirNS)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth: %v", err)
	}
	if err := linkUpWithAddr("eth0", "198.51.100.10/24", "2001:db8:1::10/64"); err != nil {
		t.Fatal(err)
	}
	err := inNetns(dirNS, func() error {
		for _, key := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"} {
			// The replies come from the VIP, which the director routes
			// into the tunnel: it must not filter them.
			if err := sysctl.Write(sysctl.Root, key, "0"); err != nil {
				return err
			}
		}
		if err := linkUpWithAddr("lo"); err != nil {
			return err
		}
		if err := linkUpWithAddr("dir0", "198.51.100.1/24", "2001:db8:1::1/64"); err != nil {
			return err
		}
		tunnels := []struct {
			link netlink.Link
			vip  netip.Addr
		}{
			{&netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: "lvstun4"}, Local: net.ParseIP("198.51.100.1"), Remote: net.ParseIP("198.51.100.10"), PMtuDisc: 1}, vmV4},
			{&netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: "lvstun6"}, Local: net.ParseIP("2001:db8:1::1"), Remote: net.ParseIP("2001:db8:1::10"), Ttl: 64}, vmV6},
		}
		for _, tun := range tunnels {
			name := tun.link.Attrs().Name
			if err := netlink.LinkAdd(tun.link); err != nil {
				return fmt.Errorf("adding the director's tunnel %s: %w", name, err)
			}
			if err := linkUpWithAddr(name); err != nil {
				return err
			}
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			p := hostPrefix(tun.vip)
			dst := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
			if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}); err != nil {
				return fmt.Errorf("routing %s into %s: %w", p, name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("setting up the director: %v", err)
	}

	req := realserver.Request{Method: realserver.TUN, VIPs: []netip.Addr{vmV4, vmV6}}
	if _, _, err := realserver.Up(k, req, realserver.Record{}); err != nil {
		t.Fatalf("up: %v", err)
	}
	clients := map[netip.Addr]*net.UDPConn{}
	for _, vip := range req.VIPs {
		serveEcho(t, vip)
		if err := inNetns(dirNS, func() error {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(vip, 9999)))
			clients[vip] = c
			return err
		}); err != nil {
			t.Fatalf("director socket: %v", err)
		}
		t.Cleanup(func() { clients[vip].Close() })
		if err := echoWithin(clients[vip], "through the tunnel", 5*time.Second); err != nil {
			t.Errorf("after up, %s does not answer through the tunnel: %v", vip, err)
		}
	}

	mustSysctl(t, "net.ipv4.conf.tunl0.rp_filter", "1")
	if err := echo(clients[vmV4], "filtered"); err == nil {
		t.Error("with rp_filter=1 on tunl0 the VIP still answers: the check sees nothing")
	}
	mustSysctl(t, "net.ipv4.conf.tunl0.rp_filter", "0")
	if err := echoWithin(clients[vmV4], "again", 5*time.Second); err != nil {
		t.Errorf("rp_filter back to 0: %v", err)
	}
}

// serveEcho answers UDP datagrams on vip:9999 until the test ends; bound
// to the VIP, so the replies come from it.
func serveEcho(t *testing.T, vip netip.Addr) {
	t.Helper()
	srv, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(vip, 9999)))
	if err != nil {
		t.Fatalf("listening on the VIP: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
}

// echo sends msg and waits half a second for it to come back.
func echo(c *net.UDPConn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if string(buf[:n]) == msg {
			return nil
		}
	}
}

// echoWithin sends msg every half second until it comes back, for at most
// d: the first datagrams may wait for neighbour discovery, which a busy
// emulated guest can take longer than half a second to finish.
func echoWithin(c *net.UDPConn, msg string, d time.Duration) error {
	var err error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if err = echo(c, msg); err == nil {
			return nil
		}
	}
	return err
}

// linkUpWithAddr sets a link of the calling thread's namespace up, with
// the addresses given (IPv6 without duplicate address detection: the lab
// has no duplicates, and the tests need not wait).
func linkUpWithAddr(name string, cidrs ...string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	for _, cidr := range cidrs {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return err
		}
		if a.IP.To4() == nil {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(l, a); err != nil {
			return fmt.Errorf("adding %s to %s: %w", cidr, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("setting %s up: %w", name, err)
	}
	return nil
}
