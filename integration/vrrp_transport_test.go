package integration

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/vrrp"
)

// These tests run the VRRP transport (vrrp.Conn) for real: each builds a
// LAN of network namespaces on a bridge and needs root. Under CI=true a
// missing prerequisite fails them.

func listenIn(t *testing.T, h *lab.Host, ifname string, ipv6 bool, opts ...vrrp.Option) *vrrp.Conn {
	t.Helper()
	var c *vrrp.Conn
	err := h.Do(func() error {
		var err error
		if ipv6 {
			c, err = vrrp.ListenIPv6(ifname, opts...)
		} else {
			c, err = vrrp.ListenIPv4(ifname, opts...)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listening in %s on %s: %v", h.Name, ifname, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tryReceive returns the next packet that decodes and has the given VRID,
// or the error that ended the wait (a timeout after timeout).
func tryReceive(c *vrrp.Conn, vrid uint8, timeout time.Duration) (vrrp.Packet, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return vrrp.Packet{}, err
	}
	buf := make([]byte, 4096)
	for {
		p, err := c.Receive(buf)
		if err != nil && p.Src.IsValid() {
			continue // a packet that did not decode: not ours
		}
		if err != nil {
			return p, err
		}
		if p.Advert.VRID == vrid {
			return p, nil
		}
	}
}

// deliver sends the advert from c1 to dst until c2 receives it, once every
// 200 ms for at most 3 s, as a master repeats its adverts. A segment fresh
// out of the lab may lose the very first frames while the bridge brings its
// ports to forwarding; that is no fault of the transport.
func deliver(t *testing.T, c1, c2 *vrrp.Conn, a *vrrp.Advert, dst netip.Addr) vrrp.Packet {
	t.Helper()
	return deliverBy(t, func() error { return c1.Send(a, dst) }, c2, a.VRID, dst)
}

// deliverBy calls send until c2 receives an advert of vrid, as deliver does.
func deliverBy(t *testing.T, send func() error, c2 *vrrp.Conn, vrid uint8, dst netip.Addr) vrrp.Packet {
	t.Helper()
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		if err = send(); err != nil {
			t.Fatal(err)
		}
		var p vrrp.Packet
		if p, err = tryReceive(c2, vrid, 200*time.Millisecond); err == nil {
			return p
		}
	}
	t.Fatalf("advert vrid %d to %s never received: %v", vrid, dst, err)
	return vrrp.Packet{}
}

// sendWithTTL sends the advert from the host's ifname on a raw socket of
// its own with the given TTL or hop limit, from src to dst; the bytes are
// the vrrp package's encoding. A vrrp.Conn always sends with 255, so this
// is how a test makes a packet that looks as if it crossed a router.
func sendWithTTL(h *lab.Host, ifname string, a *vrrp.Advert, src, dst netip.Addr, ttl int) error {
	b, err := a.Marshal(src, dst)
	if err != nil {
		return err
	}
	return h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		network, laddr := "ip4:112", "0.0.0.0"
		if dst.Is6() {
			network, laddr = "ip6:112", "::"
		}
		pc, err := net.ListenPacket(network, laddr)
		if err != nil {
			return err
		}
		defer pc.Close()
		to := &net.IPAddr{IP: dst.AsSlice()}
		if dst.Is6() {
			p := ipv6.NewPacketConn(pc)
			if err := p.SetHopLimit(ttl); err != nil {
				return err
			}
			if err := p.SetMulticastHopLimit(ttl); err != nil {
				return err
			}
			_, err = p.WriteTo(b, &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: ifi.Index}, to)
			return err
		}
		p := ipv4.NewPacketConn(pc)
		if err := p.SetTTL(ttl); err != nil {
			return err
		}
		if err := p.SetMulticastTTL(ttl); err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		_, err = p.WriteTo(b, &ipv4.ControlMessage{Src: src.AsSlice(), IfIndex: ifi.Index}, to)
		return err
	})
}

// linkLocal returns the IPv6 link-local address of the host's ifname.
func linkLocal(t *testing.T, h *lab.Host, ifname string) netip.Addr {
	t.Helper()
	var ll netip.Addr
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
					ll = ip
					return nil
				}
			}
		}
		return fmt.Errorf("no IPv6 link-local address on %s", ifname)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ll
}

var cmpAdvert = cmp.Options{cmpopts.IgnoreFields(vrrp.Advert{}, "Checksum"), cmpopts.EquateComparable(netip.Addr{})}

func TestTransportExchange(t *testing.T) {
	lan := lab.NewLAN(t, "r1", "r2")
	lan.AddAddr("r1", "192.0.2.11/24")
	lan.AddAddr("r2", "192.0.2.12/24")
	lan.AddAddr("r1", "2001:db8::11/64")
	lan.AddAddr("r2", "2001:db8::12/64")
	r1, r2 := lan.Host("r1"), lan.Host("r2")
	r1v4 := netip.MustParseAddr("192.0.2.11")
	r2v4 := netip.MustParseAddr("192.0.2.12")
	r1v6 := netip.MustParseAddr("2001:db8::11")
	r2v6 := netip.MustParseAddr("2001:db8::12")

	tests := []struct {
		name    string
		ipv6    bool
		unicast bool
		advert  vrrp.Advert
		auth    string
	}{
		{name: "v2 ipv4 multicast with password", auth: "secret1", advert: vrrp.Advert{
			Version: 2, VRID: 51, Priority: 110, MaxAdvertInterval: time.Second,
			AuthType: vrrp.AuthSimple, AuthData: vrrp.PasswordAuthData("secret1"),
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")},
		}},
		{name: "v3 ipv4 multicast", advert: vrrp.Advert{
			Version: 3, VRID: 52, Priority: 120, MaxAdvertInterval: 500 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v2 ipv4 unicast", unicast: true, advert: vrrp.Advert{
			Version: 2, VRID: 53, Priority: 100, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v3 ipv4 unicast", unicast: true, advert: vrrp.Advert{
			Version: 3, VRID: 54, Priority: 100, MaxAdvertInterval: 100 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v3 ipv6 multicast", ipv6: true, advert: vrrp.Advert{
			Version: 3, VRID: 55, Priority: 130, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")},
		}},
		{name: "v3 ipv6 unicast", ipv6: true, unicast: true, advert: vrrp.Advert{
			Version: 3, VRID: 56, Priority: 130, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("2001:db8::101")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts1, opts2 []vrrp.Option
			src1, dst := r1v4, vrrp.MulticastGroup(tt.ipv6)
			peers := []netip.Addr{r1v4, r2v4}
			if tt.ipv6 {
				src1 = r1v6
				peers = []netip.Addr{r1v6, r2v6}
			}
			if tt.unicast {
				dst = r2v4
				if tt.ipv6 {
					dst = r2v6
				}
				opts1 = []vrrp.Option{vrrp.WithSource(src1), vrrp.WithoutMulticast()}
				opts2 = []vrrp.Option{vrrp.WithSource(dst), vrrp.WithoutMulticast()}
			}
			c1 := listenIn(t, r1, "eth0", tt.ipv6, opts1...)
			c2 := listenIn(t, r2, "eth0", tt.ipv6, opts2...)
			if tt.unicast && c1.Source() != src1 {
				t.Fatalf("sender source %s, want %s", c1.Source(), src1)
			}
			if !tt.unicast {
				// The default source: the first IPv4 address, or the
				// link-local address for IPv6 (RFC 5798 §5.1.2.1).
				if tt.ipv6 && !c1.Source().IsLinkLocalUnicast() {
					t.Fatalf("IPv6 sender source %s is not link-local", c1.Source())
				}
				if !tt.ipv6 && c1.Source() != r1v4 {
					t.Fatalf("IPv4 sender source %s, want %s", c1.Source(), r1v4)
				}
			}

			sent := tt.advert
			got := deliver(t, c1, c2, &sent, dst)

			want := tt.advert
			want.Type = vrrp.TypeAdvertisement
			if diff := cmp.Diff(&want, got.Advert, cmpAdvert); diff != "" {
				t.Errorf("received advert (-want +got):\n%s", diff)
			}
			if got.Src != c1.Source() || got.Dst != dst || got.TTL != 255 || got.IfIndex != c2.IfIndex() {
				t.Errorf("received src %s dst %s ttl %d ifindex %d, want %s %s 255 %d",
					got.Src, got.Dst, got.TTL, got.IfIndex, c1.Source(), dst, c2.IfIndex())
			}
			f := vrrp.Filter{
				IfIndex: c2.IfIndex(), VRID: tt.advert.VRID, Version: tt.advert.Version,
				AuthType: tt.advert.AuthType, AuthData: vrrp.PasswordAuthData(tt.auth),
				Own: []netip.Addr{c2.Source()},
			}
			if tt.unicast {
				f.Peers = peers
			}
			if err := vrrp.Accept(got, f); err != nil {
				t.Errorf("Accept() = %v, want nil", err)
			}

			// Multicast loopback is off: the sender never reads its
			// own advert back.
			if p, err := tryReceive(c1, tt.advert.VRID, 300*time.Millisecond); err == nil {
				t.Errorf("sender received its own advert from %s", p.Src)
			} else if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("sender receive: %v, want a timeout", err)
			}
		})
	}
}

func TestTransportRejectsTTL(t *testing.T) {
	lan := lab.NewLAN(t, "r1", "r2")
	lan.AddAddr("r1", "192.0.2.11/24")
	lan.AddAddr("r2", "192.0.2.12/24")
	r1, r2 := lan.Host("r1"), lan.Host("r2")

	for _, ipv6 := range []bool{false, true} {
		name := "ipv4"
		if ipv6 {
			name = "ipv6"
		}
		for _, unicast := range []bool{false, true} {
			name := name
			if unicast {
				name += " unicast"
			}
			t.Run(name, func(t *testing.T) {
				// The sender sets TTL 64 on both unicast and
				// multicast, as a packet that crossed routers would
				// arrive.
				c2 := listenIn(t, r2, "eth0", ipv6)
				src := netip.MustParseAddr("192.0.2.11")
				if ipv6 {
					src = linkLocal(t, r1, "eth0")
				}
				a := &vrrp.Advert{Version: 3, VRID: 60, Priority: 100, MaxAdvertInterval: time.Second}
				if ipv6 {
					a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
				} else {
					a.Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.100")}
				}
				dst := vrrp.MulticastGroup(ipv6)
				if unicast {
					dst = c2.Source()
				}
				got := deliverBy(t, func() error { return sendWithTTL(r1, "eth0", a, src, dst, 64) }, c2, a.VRID, dst)
				if got.TTL != 64 {
					t.Fatalf("received ttl %d, want 64", got.TTL)
				}
				err := vrrp.Accept(got, vrrp.Filter{IfIndex: c2.IfIndex(), VRID: 60, Version: 3, Own: []netip.Addr{c2.Source()}})
				if !errors.Is(err, vrrp.ErrTTL) || vrrp.ReasonOf(err) != vrrp.DropTTL {
					t.Fatalf("Accept() = %v (reason %q), want ErrTTL", err, vrrp.ReasonOf(err))
				}
			})
		}
	}
}

func TestTransportBoundToInterface(t *testing.T) {
	lan := lab.NewLAN(t, "r1", "r2")
	lan2 := lan.NewLAN("r1", "r2")
	lan.AddAddr("r1", "192.0.2.11/24")
	lan.AddAddr("r2", "192.0.2.12/24")
	lan2.AddAddr("r1", "198.51.100.11/24")
	lan2.AddAddr("r2", "198.51.100.12/24")
	r1, r2 := lan.Host("r1"), lan.Host("r2")

	for _, ipv6 := range []bool{false, true} {
		name := "ipv4"
		if ipv6 {
			name = "ipv6"
		}
		t.Run(name, func(t *testing.T) {
			first := listenIn(t, r2, lan.Iface("r2"), ipv6)
			second := listenIn(t, r2, lan2.Iface("r2"), ipv6)
			sender := listenIn(t, r1, lan2.Iface("r1"), ipv6)
			a := &vrrp.Advert{Version: 3, VRID: 61, Priority: 100, MaxAdvertInterval: time.Second}
			if ipv6 {
				a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
			} else {
				a.Addresses = []netip.Addr{netip.MustParseAddr("198.51.100.100")}
			}
			for _, dst := range []netip.Addr{vrrp.MulticastGroup(ipv6), second.Source()} {
				// The conn on the second LAN sees the advert, so it
				// was on the wire ...
				got := deliver(t, sender, second, a, dst)
				if got.IfIndex != second.IfIndex() {
					t.Errorf("advert to %s: ifindex %d, want %d", dst, got.IfIndex, second.IfIndex())
				}
				// ... and the conn bound to the first interface does
				// not, although the same host received it.
				if p, err := tryReceive(first, 61, 300*time.Millisecond); err == nil {
					t.Errorf("conn on %s received the advert to %s sent on the other LAN (ifindex %d)", lan.Iface("r2"), dst, p.IfIndex)
				} else if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("receive on %s: %v, want a timeout", lan.Iface("r2"), err)
				}
			}
		})
	}
}

// Pending sees a packet the kernel queued before anything reads it, and
// nothing once it has been read.
func TestTransportPending(t *testing.T) {
	lan := lab.NewLAN(t, "r1", "r2")
	lan.AddAddr("r1", "192.0.2.11/24")
	lan.AddAddr("r2", "192.0.2.12/24")
	lan.AddAddr("r1", "2001:db8::11/64")
	lan.AddAddr("r2", "2001:db8::12/64")
	for _, ipv6 := range []bool{false, true} {
		name := "ipv4"
		if ipv6 {
			name = "ipv6"
		}
		t.Run(name, func(t *testing.T) {
			sender := listenIn(t, lan.Host("r1"), "eth0", ipv6)
			c := listenIn(t, lan.Host("r2"), "eth0", ipv6)
			if got, err := c.Pending(); err != nil || got {
				t.Fatalf("Pending before any advert: %v, %v; want false", got, err)
			}
			a := &vrrp.Advert{Version: 3, VRID: 62, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
			if ipv6 {
				a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
			}
			// Sent again until it is queued: the bridge may lose the
			// first frames of a fresh LAN.
			queued := false
			for deadline := time.Now().Add(3 * time.Second); !queued && time.Now().Before(deadline); {
				if err := sender.Send(a, vrrp.MulticastGroup(ipv6)); err != nil {
					t.Fatal(err)
				}
				for wait := time.Now().Add(200 * time.Millisecond); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
					got, err := c.Pending()
					if err != nil {
						t.Fatal(err)
					}
					if got {
						queued = true
						break
					}
				}
			}
			if !queued {
				t.Fatal("Pending never reported the advert sent to the group")
			}
			if _, err := tryReceive(c, 62, time.Second); err != nil {
				t.Fatalf("receiving the queued advert: %v", err)
			}
			// Copies sent before the first was seen are read too; then
			// the queue is empty.
			for {
				if _, err := tryReceive(c, 62, 300*time.Millisecond); err != nil {
					break
				}
			}
			if got, err := c.Pending(); err != nil || got {
				t.Errorf("Pending after reading every advert: %v, %v; want false", got, err)
			}
		})
	}
}

func TestTransportSetupAndSendErrors(t *testing.T) {
	lan := lab.NewLAN(t, "r1")
	lan.AddAddr("r1", "192.0.2.11/24")
	r1 := lan.Host("r1")
	c4 := listenIn(t, r1, "eth0", false)
	c6 := listenIn(t, r1, "eth0", true)
	v3 := &vrrp.Advert{Version: 3, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	v3six := &vrrp.Advert{Version: 3, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")}}
	v2 := &vrrp.Advert{Version: 2, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second}

	tests := []struct {
		name string
		c    *vrrp.Conn
		a    *vrrp.Advert
		dst  netip.Addr
		want error
	}{
		{"IPv6 destination on an IPv4 conn", c4, v3, vrrp.MulticastGroup(true), vrrp.ErrAddrFamily},
		{"IPv4 destination on an IPv6 conn", c6, v3six, vrrp.MulticastGroup(false), vrrp.ErrAddrFamily},
		{"version 2 over IPv6", c6, v2, vrrp.MulticastGroup(true), vrrp.ErrVersion},
		{"IPv6 VIP in an IPv4 advert", c4, v3six, vrrp.MulticastGroup(false), vrrp.ErrAddrFamily},
		{"zero interval", c4, &vrrp.Advert{Version: 3, VRID: 1, Addresses: v3.Addresses}, vrrp.MulticastGroup(false), vrrp.ErrInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.Send(tt.a, tt.dst); !errors.Is(err, tt.want) {
				t.Errorf("Send() = %v, want an error wrapping %q", err, tt.want)
			}
		})
	}

	// Listening needs the interface and, for the default source, an
	// address on it.
	bare := lan.Attach("r1") // a second interface with no address at all
	err := r1.Do(func() error {
		if _, err := vrrp.ListenIPv4("nosuch0"); err == nil {
			t.Error("ListenIPv4 on a missing interface succeeded")
		}
		if _, err := vrrp.ListenIPv4("lo", vrrp.WithSource(netip.MustParseAddr("2001:db8::1"))); !errors.Is(err, vrrp.ErrAddrFamily) {
			t.Errorf("ListenIPv4 with an IPv6 source = %v, want ErrAddrFamily", err)
		}
		if _, err := vrrp.ListenIPv4(bare); err == nil || !strings.Contains(err.Error(), "has no IPv4 address") {
			t.Errorf("ListenIPv4 on an interface without address = %v, want a no-address error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTransportKeepalived checks the transport against a real peer: a
// keepalived master's adverts pass Receive and Accept, and keepalived
// accepts ours, which it shows by giving up MASTER to our higher priority.
func TestTransportKeepalived(t *testing.T) {
	lab.RequireRoot(t, "keepalived", "ip")
	tests := []struct {
		name    string
		ipv6    bool
		version int
		auth    string
		vip     string
	}{
		{"v2 ipv4 with password", false, 2, "secret1", "192.0.2.100"},
		{"v3 ipv4", false, 3, "", "192.0.2.100"},
		{"v3 ipv6", true, 3, "", "2001:db8::100"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vrid := uint8(70 + i)
			lan := lab.NewLAN(t, "ka", "us")
			lan.AddAddr("ka", "192.0.2.11/24")
			lan.AddAddr("us", "192.0.2.12/24")
			ka := lan.Host("ka")
			us := listenIn(t, lan.Host("us"), "eth0", tt.ipv6)
			vip := netip.MustParseAddr(tt.vip)
			bits := 32
			if tt.ipv6 {
				bits = 128
			}

			auth := ""
			if tt.auth != "" {
				auth = fmt.Sprintf("authentication {\n    auth_type PASS\n    auth_pass %s\n  }", tt.auth)
			}
			dir := t.TempDir()
			conf := fmt.Sprintf(`global_defs {
  router_id ka
}
vrrp_instance VI {
  state MASTER
  interface eth0
  virtual_router_id %d
  priority 100
  advert_int 1
  version %d
  %s
  virtual_ipaddress {
    %s/%d
  }
}
`, vrid, tt.version, auth, vip, bits)
			file := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			proc := ka.Start("keepalived", "--vrrp", "-n", "-l", "-D", "-f", file,
				"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"))

			// keepalived's advert reaches us and passes every check.
			got, err := tryReceive(us, vrid, 8*time.Second)
			if err != nil {
				t.Fatalf("no advert from keepalived: %v\n%s", err, proc.Output())
			}
			want := &vrrp.Advert{
				Version: tt.version, Type: vrrp.TypeAdvertisement, VRID: vrid, Priority: 100,
				MaxAdvertInterval: time.Second, Addresses: []netip.Addr{vip},
			}
			if tt.auth != "" {
				want.AuthType, want.AuthData = vrrp.AuthSimple, vrrp.PasswordAuthData(tt.auth)
			}
			if diff := cmp.Diff(want, got.Advert, cmpAdvert); diff != "" {
				t.Errorf("keepalived's advert (-want +got):\n%s", diff)
			}
			f := vrrp.Filter{IfIndex: us.IfIndex(), VRID: vrid, Version: tt.version, Own: []netip.Addr{us.Source()}}
			if tt.auth != "" {
				f.AuthType, f.AuthData = vrrp.AuthSimple, vrrp.PasswordAuthData(tt.auth)
			}
			if err := vrrp.Accept(got, f); err != nil {
				t.Errorf("Accept(keepalived's advert) = %v", err)
			}
			if !vrrp.AddressesMatch(got.Advert, []netip.Addr{vip}) {
				t.Errorf("keepalived's addresses %v, want [%s]", got.Advert.Addresses, vip)
			}

			// Our adverts at priority 200 make keepalived step down and
			// remove the VIP: it accepted them (TTL, checksum, auth).
			ours := *want
			ours.Priority = 200
			deadline := time.Now().Add(8 * time.Second)
			for {
				if err := us.Send(&ours, vrrp.MulticastGroup(tt.ipv6)); err != nil {
					t.Fatal(err)
				}
				addrs := ka.MustExec(t, "ip", "-o", "addr", "show", "dev", "eth0")
				// It was master (it sent the advert above), so a
				// BACKUP line after the last MASTER line is the step
				// down, not its start-up.
				log := proc.Output()
				m := strings.LastIndex(log, "Entering MASTER STATE")
				if m >= 0 && strings.Contains(log[m:], "Entering BACKUP STATE") && !strings.Contains(addrs, " "+vip.String()+"/") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("keepalived did not give way to our priority 200 adverts; addresses:\n%s\nlog:\n%s", addrs, proc.Output())
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
