package vrrp

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestAccept(t *testing.T) {
	peerA := netip.MustParseAddr("192.0.2.11")
	peerB := netip.MustParseAddr("192.0.2.12")
	self := netip.MustParseAddr("192.0.2.10")
	good := func() Packet {
		return Packet{
			Advert: &Advert{
				Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 100,
				MaxAdvertInterval: time.Second,
				Addresses:         []netip.Addr{netip.MustParseAddr("192.0.2.100")},
			},
			Src: peerA, Dst: MulticastGroup(false), TTL: 255, IfIndex: 7,
		}
	}
	multicast := Filter{IfIndex: 7, VRID: 51, Version: 3, Own: []netip.Addr{self}}
	unicast := multicast
	unicast.Peers = []netip.Addr{self, peerA, peerB}
	v2pass := Filter{VRID: 51, Version: 2, AuthType: AuthSimple, AuthData: PasswordAuthData("secret1")}
	v2 := func(authType uint8, pass string) Packet {
		p := good()
		p.Advert.Version = 2
		p.Advert.AuthType = authType
		p.Advert.AuthData = PasswordAuthData(pass)
		return p
	}

	tests := []struct {
		name   string
		pkt    func() Packet
		filter Filter
		want   error // nil, or the sentinel the error must wrap
		reason DropReason
	}{
		{"good multicast", good, multicast, nil, ""},
		{"good unicast from a peer", func() Packet {
			p := good()
			p.Dst = self
			return p
		}, unicast, nil, ""},
		{"interface not checked when zero", func() Packet {
			p := good()
			p.IfIndex = 9
			return p
		}, Filter{VRID: 51, Version: 3}, nil, ""},
		{"good v2 with password", func() Packet { return v2(AuthSimple, "secret1") }, v2pass, nil, ""},
		{"ipv4-mapped source of a peer", func() Packet {
			p := good()
			p.Src = netip.AddrFrom16(peerB.As16())
			return p
		}, unicast, nil, ""},
		{"link-local source with zone", func() Packet {
			p := good()
			p.Src = netip.MustParseAddr("fe80::1%eth0")
			return p
		}, Filter{VRID: 51, Version: 3, Own: []netip.Addr{netip.MustParseAddr("fe80::1")}}, ErrOwnAdvert, DropOwn},

		{"other interface", func() Packet {
			p := good()
			p.IfIndex = 8
			return p
		}, multicast, ErrInterface, DropOther},
		{"ttl 64", func() Packet {
			p := good()
			p.TTL = 64
			return p
		}, multicast, ErrTTL, DropTTL},
		{"ttl 254", func() Packet {
			p := good()
			p.TTL = 254
			return p
		}, multicast, ErrTTL, DropTTL},
		{"ttl unknown", func() Packet {
			p := good()
			p.TTL = -1
			return p
		}, multicast, ErrTTL, DropTTL},
		{"ttl checked before vrid", func() Packet {
			p := good()
			p.TTL, p.Advert.VRID = 1, 52
			return p
		}, multicast, ErrTTL, DropTTL},
		{"wrong vrid", func() Packet {
			p := good()
			p.Advert.VRID = 52
			return p
		}, multicast, ErrVRID, DropVRID},
		{"v2 advert to v3 instance", func() Packet { return v2(AuthNone, "") }, multicast, ErrVersion, DropVersion},
		{"v3 advert to v2 instance", good, v2pass, ErrVersion, DropVersion},
		{"own advert", func() Packet {
			p := good()
			p.Src = self
			return p
		}, multicast, ErrOwnAdvert, DropOwn},
		{"own advert in unicast list is own, not peer", func() Packet {
			p := good()
			p.Src = self
			return p
		}, unicast, ErrOwnAdvert, DropOwn},
		{"unicast from a stranger", func() Packet {
			p := good()
			p.Src = netip.MustParseAddr("192.0.2.99")
			return p
		}, unicast, ErrNotPeer, DropOther},
		{"unicast mode still rejects multicast from a stranger", func() Packet {
			p := good()
			p.Src = netip.MustParseAddr("198.51.100.1")
			return p
		}, unicast, ErrNotPeer, DropOther},
		{"v2 wrong password", func() Packet { return v2(AuthSimple, "secret2") }, v2pass, ErrAuth, DropAuth},
		{"v2 no auth to password instance", func() Packet { return v2(AuthNone, "") }, v2pass, ErrAuth, DropAuth},
		{"v2 password to no-auth instance", func() Packet { return v2(AuthSimple, "secret1") },
			Filter{VRID: 51, Version: 2}, ErrAuth, DropAuth},
		{"no advert", func() Packet { return Packet{TTL: 255} }, multicast, errNoAdvert, DropOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Accept(tt.pkt(), tt.filter)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Accept() = %v, want nil", err)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("Accept() = %v, want an error wrapping %q", err, tt.want)
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("ReasonOf(Accept()) = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestAddressesMatch(t *testing.T) {
	a1 := netip.MustParseAddr("192.0.2.100")
	a2 := netip.MustParseAddr("192.0.2.101")
	a3 := netip.MustParseAddr("192.0.2.102")
	tests := []struct {
		name   string
		advert []netip.Addr
		vips   []netip.Addr
		want   bool
	}{
		{"same", []netip.Addr{a1, a2}, []netip.Addr{a1, a2}, true},
		{"other order", []netip.Addr{a2, a1}, []netip.Addr{a1, a2}, true},
		{"missing one", []netip.Addr{a1}, []netip.Addr{a1, a2}, false},
		{"extra one", []netip.Addr{a1, a2, a3}, []netip.Addr{a1, a2}, false},
		{"same count, different", []netip.Addr{a1, a3}, []netip.Addr{a1, a2}, false},
		{"duplicate hides a missing one", []netip.Addr{a1, a1}, []netip.Addr{a1, a2}, false},
		{"both empty", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AddressesMatch(&Advert{Addresses: tt.advert}, tt.vips); got != tt.want {
				t.Errorf("AddressesMatch(%v, %v) = %v, want %v", tt.advert, tt.vips, got, tt.want)
			}
		})
	}
}
