package vrrp

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsd/lvsd/integration/lab"
)

// These tests run the transport for real: each builds a LAN of network
// namespaces on a bridge (integration/lab) and needs root. Under CI=true a
// missing prerequisite fails them.

func listenIn(t *testing.T, h *lab.Host, ifname string, ipv6 bool, opts ...Option) *Conn {
	t.Helper()
	var c *Conn
	err := h.Do(func() error {
		var err error
		if ipv6 {
			c, err = ListenIPv6(ifname, opts...)
		} else {
			c, err = ListenIPv4(ifname, opts...)
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
func tryReceive(c *Conn, vrid uint8, timeout time.Duration) (Packet, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return Packet{}, err
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
func deliver(t *testing.T, c1, c2 *Conn, a *Advert, dst netip.Addr) Packet {
	t.Helper()
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		if err = c1.Send(a, dst); err != nil {
			t.Fatal(err)
		}
		var p Packet
		if p, err = tryReceive(c2, a.VRID, 200*time.Millisecond); err == nil {
			return p
		}
	}
	t.Fatalf("advert vrid %d to %s never received: %v", a.VRID, dst, err)
	return Packet{}
}

var cmpAdvert = cmp.Options{cmpopts.IgnoreFields(Advert{}, "Checksum"), cmpopts.EquateComparable(netip.Addr{})}

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
		advert  Advert
		auth    string
	}{
		{name: "v2 ipv4 multicast with password", auth: "secret1", advert: Advert{
			Version: 2, VRID: 51, Priority: 110, MaxAdvertInterval: time.Second,
			AuthType: AuthSimple, AuthData: PasswordAuthData("secret1"),
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")},
		}},
		{name: "v3 ipv4 multicast", advert: Advert{
			Version: 3, VRID: 52, Priority: 120, MaxAdvertInterval: 500 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v2 ipv4 unicast", unicast: true, advert: Advert{
			Version: 2, VRID: 53, Priority: 100, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v3 ipv4 unicast", unicast: true, advert: Advert{
			Version: 3, VRID: 54, Priority: 100, MaxAdvertInterval: 100 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
		}},
		{name: "v3 ipv6 multicast", ipv6: true, advert: Advert{
			Version: 3, VRID: 55, Priority: 130, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")},
		}},
		{name: "v3 ipv6 unicast", ipv6: true, unicast: true, advert: Advert{
			Version: 3, VRID: 56, Priority: 130, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("2001:db8::101")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts1, opts2 []Option
			src1, dst := r1v4, MulticastGroup(tt.ipv6)
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
				opts1 = []Option{WithSource(src1), WithoutMulticast()}
				opts2 = []Option{WithSource(dst), WithoutMulticast()}
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
			want.Type = TypeAdvertisement
			if diff := cmp.Diff(&want, got.Advert, cmpAdvert); diff != "" {
				t.Errorf("received advert (-want +got):\n%s", diff)
			}
			if got.Src != c1.Source() || got.Dst != dst || got.TTL != 255 || got.IfIndex != c2.IfIndex() {
				t.Errorf("received src %s dst %s ttl %d ifindex %d, want %s %s 255 %d",
					got.Src, got.Dst, got.TTL, got.IfIndex, c1.Source(), dst, c2.IfIndex())
			}
			f := Filter{
				IfIndex: c2.IfIndex(), VRID: tt.advert.VRID, Version: tt.advert.Version,
				AuthType: tt.advert.AuthType, AuthData: PasswordAuthData(tt.auth),
				Own: []netip.Addr{c2.Source()},
			}
			if tt.unicast {
				f.Peers = peers
			}
			if err := Accept(got, f); err != nil {
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
				c1 := listenIn(t, r1, "eth0", ipv6, withSendTTL(64))
				c2 := listenIn(t, r2, "eth0", ipv6)
				a := &Advert{Version: 3, VRID: 60, Priority: 100, MaxAdvertInterval: time.Second}
				if ipv6 {
					a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
				} else {
					a.Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.100")}
				}
				dst := MulticastGroup(ipv6)
				if unicast {
					dst = c2.Source()
				}
				got := deliver(t, c1, c2, a, dst)
				if got.TTL != 64 {
					t.Fatalf("received ttl %d, want 64", got.TTL)
				}
				err := Accept(got, Filter{IfIndex: c2.IfIndex(), VRID: 60, Version: 3, Own: []netip.Addr{c2.Source()}})
				if !errors.Is(err, ErrTTL) || ReasonOf(err) != DropTTL {
					t.Fatalf("Accept() = %v (reason %q), want ErrTTL", err, ReasonOf(err))
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
			a := &Advert{Version: 3, VRID: 61, Priority: 100, MaxAdvertInterval: time.Second}
			if ipv6 {
				a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
			} else {
				a.Addresses = []netip.Addr{netip.MustParseAddr("198.51.100.100")}
			}
			for _, dst := range []netip.Addr{MulticastGroup(ipv6), second.Source()} {
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
			a := &Advert{Version: 3, VRID: 62, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
			if ipv6 {
				a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
			}
			// Sent again until it is queued: the bridge may lose the
			// first frames of a fresh LAN.
			queued := false
			for deadline := time.Now().Add(3 * time.Second); !queued && time.Now().Before(deadline); {
				if err := sender.Send(a, MulticastGroup(ipv6)); err != nil {
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
	v3 := &Advert{Version: 3, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	v3six := &Advert{Version: 3, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")}}
	v2 := &Advert{Version: 2, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second}

	tests := []struct {
		name string
		c    *Conn
		a    *Advert
		dst  netip.Addr
		want error
	}{
		{"IPv6 destination on an IPv4 conn", c4, v3, MulticastGroup(true), ErrAddrFamily},
		{"IPv4 destination on an IPv6 conn", c6, v3six, MulticastGroup(false), ErrAddrFamily},
		{"version 2 over IPv6", c6, v2, MulticastGroup(true), ErrVersion},
		{"IPv6 VIP in an IPv4 advert", c4, v3six, MulticastGroup(false), ErrAddrFamily},
		{"zero interval", c4, &Advert{Version: 3, VRID: 1, Addresses: v3.Addresses}, MulticastGroup(false), ErrInterval},
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
		if _, err := ListenIPv4("nosuch0"); err == nil {
			t.Error("ListenIPv4 on a missing interface succeeded")
		}
		if _, err := ListenIPv4("lo", WithSource(netip.MustParseAddr("2001:db8::1"))); !errors.Is(err, ErrAddrFamily) {
			t.Errorf("ListenIPv4 with an IPv6 source = %v, want ErrAddrFamily", err)
		}
		if _, err := ListenIPv4(bare); err == nil || !strings.Contains(err.Error(), "has no IPv4 address") {
			t.Errorf("ListenIPv4 on an interface without address = %v, want a no-address error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
