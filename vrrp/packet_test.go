package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// advertCmpOpts compares Adverts field by field; netip.Addr has no Equal
// method, so it is compared with ==.
func advertCmpOpts(ignore ...string) cmp.Options {
	opts := cmp.Options{cmp.Comparer(func(x, y netip.Addr) bool { return x == y })}
	if len(ignore) > 0 {
		opts = append(opts, cmpopts.IgnoreFields(Advert{}, ignore...))
	}
	return opts
}

// advertFixChecksum rewrites the checksum of a crafted message so that a test
// reaches the check behind it. The pseudo-header is used for version 3 when
// src and dst fit the family; other combinations keep a message-only sum.
func advertFixChecksum(b []byte, src, dst netip.Addr, ipv6 bool) {
	if len(b) < advertHeaderLen {
		return
	}
	b[6], b[7] = 0, 0
	var sum uint32
	if b[0]>>4 == 3 {
		if s, d, err := advertFamily(src, dst, ipv6); err == nil {
			sum = advertPseudoSum(s, d, len(b), ipv6)
		}
	}
	binary.BigEndian.PutUint16(b[6:8], ^checksumFold(checksumAdd(sum, b)))
}

// noAddressAdvert is a version 3 advert from src to dst for VRID 51 at
// priority 254 with Count IPvX Addr 0 and no address, its checksum valid:
// what a backup that wants to take over, or a hostile host, might send.
func noAddressAdvert(src, dst netip.Addr) []byte {
	b := []byte{0x31, 51, 254, 0, 0x00, 100, 0, 0}
	advertFixChecksum(b, src, dst, src.Is6() && !src.Is4In6())
	return b
}

// TestCaptureAdverts parses every advert keepalived sent in the lab captures,
// checks its fields against the capture's README, and re-marshals it to the
// identical bytes, checksum included.
func TestCaptureAdverts(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.11")
	tests := []struct {
		file     string
		src, dst netip.Addr
		ipv6     bool
		n        int // adverts in the capture; the last one has priority 0
		want     Advert
	}{
		{
			file: "keepalived-v2-pass.pcap", src: v4, dst: MulticastGroup(false), n: 2,
			want: Advert{
				Version: 2, Type: TypeAdvertisement, VRID: 51, Priority: 110, MaxAdvertInterval: time.Second,
				AuthType: AuthSimple, AuthData: PasswordAuthData("secret1"),
				Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")},
			},
		},
		{
			file: "keepalived-v3-ipv4.pcap", src: v4, dst: MulticastGroup(false), n: 7,
			want: Advert{
				Version: 3, Type: TypeAdvertisement, VRID: 52, Priority: 120, MaxAdvertInterval: 500 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
			},
		},
		{
			file: "keepalived-v3-ipv6.pcap", src: netip.MustParseAddr("fe80::9c2b:b4ff:fe3e:d84"), dst: MulticastGroup(true), ipv6: true, n: 7,
			want: Advert{
				Version: 3, Type: TypeAdvertisement, VRID: 53, Priority: 130, MaxAdvertInterval: 500 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")},
			},
		},
		{
			file: "keepalived-v3-unicast.pcap", src: v4, dst: netip.MustParseAddr("192.0.2.12"), n: 7,
			want: Advert{
				Version: 3, Type: TypeAdvertisement, VRID: 54, Priority: 140, MaxAdvertInterval: 500 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			adverts := pcapAdverts(t, filepath.Join("testdata", tt.file))
			if len(adverts) != tt.n {
				t.Fatalf("%d adverts in the capture, want %d", len(adverts), tt.n)
			}
			for i, p := range adverts {
				if p.ip.src != tt.src || p.ip.dst != tt.dst || p.ip.ipv6 != tt.ipv6 || p.ip.ttl != AdvertTTL {
					t.Errorf("frame %d: IP %s -> %s ipv6=%v ttl=%d, want %s -> %s ipv6=%v ttl=%d",
						p.frame, p.ip.src, p.ip.dst, p.ip.ipv6, p.ip.ttl, tt.src, tt.dst, tt.ipv6, AdvertTTL)
				}
				got, err := ParseAdvert(p.ip.payload, p.ip.src, p.ip.dst, p.ip.ipv6)
				if err != nil {
					t.Fatalf("frame %d: ParseAdvert: %v", p.frame, err)
				}
				want := tt.want
				want.Checksum = binary.BigEndian.Uint16(p.ip.payload[6:8])
				if i == len(adverts)-1 {
					want.Priority = 0 // keepalived's clean stop (RFC 5798 §6.4.3)
				}
				if diff := cmp.Diff(&want, got, advertCmpOpts()); diff != "" {
					t.Errorf("frame %d: advert mismatch (-want +got):\n%s", p.frame, diff)
				}
				out, err := got.Marshal(p.ip.src, p.ip.dst)
				if err != nil {
					t.Fatalf("frame %d: Marshal: %v", p.frame, err)
				}
				if !bytes.Equal(out, p.ip.payload) {
					t.Errorf("frame %d: re-marshalled advert differs\n got %x\nwant %x", p.frame, out, p.ip.payload)
				}
			}
		})
	}
}

// TestCaptureChecksumScope checks what each version's checksum covers: the
// version 3 pseudo-header holds the actual destination (the unicast peer,
// not the multicast group), while version 2 sums the VRRP message alone.
func TestCaptureChecksumScope(t *testing.T) {
	unicast := pcapAdverts(t, filepath.Join("testdata", "keepalived-v3-unicast.pcap"))[0]
	if _, err := ParseAdvert(unicast.ip.payload, unicast.ip.src, MulticastGroup(false), false); !errors.Is(err, ErrChecksum) {
		t.Errorf("v3 unicast advert checked against 224.0.0.18: error %v, want %v", err, ErrChecksum)
	}
	if _, err := ParseAdvert(unicast.ip.payload, netip.MustParseAddr("192.0.2.99"), unicast.ip.dst, false); !errors.Is(err, ErrChecksum) {
		t.Errorf("v3 advert checked against another source: error %v, want %v", err, ErrChecksum)
	}

	v2 := pcapAdverts(t, filepath.Join("testdata", "keepalived-v2-pass.pcap"))[0]
	if _, err := ParseAdvert(v2.ip.payload, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), false); err != nil {
		t.Errorf("v2 advert with other IP addresses: %v, want no error (no pseudo-header in version 2)", err)
	}
	a := Advert{Version: 2, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}
	x, err := a.Marshal(netip.MustParseAddr("10.0.0.2"), MulticastGroup(false))
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.Marshal(netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatalf("v2 Marshal without IP addresses: %v", err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("v2 Marshal depends on src/dst: %x vs %x", x, y)
	}
}

// TestCaptureAnnouncements summarises the gratuitous ARPs and neighbour
// advertisements keepalived sent on becoming master, the behaviour the
// announcer mirrors: five per virtual address, ARP requests with sender =
// target = VIP from the interface's MAC, IPv6 NAs with Override to ff02::1.
func TestCaptureAnnouncements(t *testing.T) {
	tests := []struct {
		file string
		want map[string]int // "kind addr" -> count
	}{
		{"keepalived-v2-pass.pcap", map[string]int{"arp-request 192.0.2.100": 5, "arp-request 192.0.2.101": 5}},
		{"keepalived-v3-ipv4.pcap", map[string]int{"arp-request 192.0.2.100": 5}},
		{"keepalived-v3-ipv6.pcap", map[string]int{"na 2001:db8::100": 5}},
		{"keepalived-v3-unicast.pcap", map[string]int{"arp-request 192.0.2.100": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := map[string]int{}
			for _, a := range pcapAnnouncements(t, filepath.Join("testdata", tt.file)) {
				got[a.kind+" "+a.addr.String()]++
				if !bytes.Equal(a.linkAddr, a.srcMAC) {
					t.Errorf("%s %s: announced MAC %x, frame sent from %x", a.kind, a.addr, a.linkAddr, a.srcMAC)
				}
				if a.kind == "na" && (!a.override || a.dst != netip.MustParseAddr("ff02::1") || a.hopLimit != 255) {
					t.Errorf("NA for %s: override=%v dst=%s hop limit=%d, want override to ff02::1 with hop limit 255", a.addr, a.override, a.dst, a.hopLimit)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("announcements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAdvertErrors(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.11"), MulticastGroup(false)
	src6, dst6 := netip.MustParseAddr("fe80::1"), MulticastGroup(true)
	vip4, vip6 := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")

	marshal := func(a Advert, src, dst netip.Addr) []byte {
		t.Helper()
		b, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("building test packet: %v", err)
		}
		return b
	}
	v3 := marshal(Advert{Version: 3, VRID: 52, Priority: 120, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{vip4}}, src4, dst4)
	v3ipv6 := marshal(Advert{Version: 3, VRID: 53, Priority: 130, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{vip6}}, src6, dst6)
	v2 := marshal(Advert{Version: 2, VRID: 51, Priority: 110, MaxAdvertInterval: time.Second, AuthType: AuthSimple, AuthData: PasswordAuthData("secret1"), Addresses: []netip.Addr{vip4, vip4.Next()}}, src4, dst4)

	// edit returns a copy of b changed by f, with the checksum fixed when
	// fix is set so that the check under test is the one that fails.
	edit := func(b []byte, fix bool, f func([]byte) []byte) []byte {
		c := f(bytes.Clone(b))
		if fix {
			advertFixChecksum(c, src4, dst4, false)
		}
		return c
	}

	noAddrV3 := noAddressAdvert(src4, dst4)
	noAddrV3IPv6 := noAddressAdvert(src6, dst6)
	noAddrV2 := edit(v2, true, func(b []byte) []byte {
		b[3] = 0
		return append(b[:advertHeaderLen], b[len(b)-advertAuthLen:]...)
	})

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		ipv6     bool
		want     error
		reason   DropReason
	}{
		{"empty", nil, src4, dst4, false, ErrTooShort, DropLength},
		{"header cut", v3[:7], src4, dst4, false, ErrTooShort, DropLength},
		{"v2 without auth data", edit(v2, true, func(b []byte) []byte { b[3] = 1; return b[:12] }), src4, dst4, false, ErrTooShort, DropLength},
		{"version 0", edit(v3, true, func(b []byte) []byte { b[0] = 0x01; return b }), src4, dst4, false, ErrVersion, DropVersion},
		{"version 1", edit(v3, true, func(b []byte) []byte { b[0] = 0x11; return b }), src4, dst4, false, ErrVersion, DropVersion},
		{"version 4", edit(v3, true, func(b []byte) []byte { b[0] = 0x41; return b }), src4, dst4, false, ErrVersion, DropVersion},
		{"v2 over IPv6", v2, src6, dst6, true, ErrVersion, DropVersion},
		{"type 0", edit(v3, true, func(b []byte) []byte { b[0] = 0x30; return b }), src4, dst4, false, ErrType, DropType},
		{"type 2", edit(v3, true, func(b []byte) []byte { b[0] = 0x32; return b }), src4, dst4, false, ErrType, DropType},
		{"odd trailing byte", edit(v3, true, func(b []byte) []byte { return append(b, 0) }), src4, dst4, false, ErrLength, DropLength},
		{"IPv4 address over IPv6", v3, src6, dst6, true, ErrLength, DropLength},
		{"v2 auth data cut", edit(v2, true, func(b []byte) []byte { return b[:len(b)-4] }), src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"count 2, one address", edit(v3, true, func(b []byte) []byte { b[3] = 2; return b }), src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"count 0, one address", edit(v3, true, func(b []byte) []byte { b[3] = 0; return b }), src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"count 1, two addresses", edit(v3, true, func(b []byte) []byte { return append(b, 192, 0, 2, 101) }), src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"v2 count 3, two addresses", edit(v2, true, func(b []byte) []byte { b[3] = 3; return b }), src4, dst4, false, ErrAddrCount, DropAddrCount},
		// RFC 5798 §5.2.5: the minimum Count IPvX Addr is 1. A master
		// must not yield to an advert that names no address, even one
		// with a valid checksum and priority 254.
		{"RFC 5798 §5.2.5: v3 count 0, no address", noAddrV3, src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"RFC 5798 §5.2.5: v3 IPv6 count 0, no address", noAddrV3IPv6, src6, dst6, true, ErrAddrCount, DropAddrCount},
		// RFC 3768 §5.3.9: a version 2 advert carries one or more
		// addresses too.
		{"RFC 3768 §5.3.9: v2 count 0, no address", noAddrV2, src4, dst4, false, ErrAddrCount, DropAddrCount},
		{"checksum flipped", edit(v3, false, func(b []byte) []byte { b[7] ^= 1; return b }), src4, dst4, false, ErrChecksum, DropChecksum},
		{"priority changed in flight", edit(v3, false, func(b []byte) []byte { b[2] = 255; return b }), src4, dst4, false, ErrChecksum, DropChecksum},
		{"v2 priority changed in flight", edit(v2, false, func(b []byte) []byte { b[2] = 255; return b }), src4, dst4, false, ErrChecksum, DropChecksum},
		{"v3 other source", v3, netip.MustParseAddr("192.0.2.12"), dst4, false, ErrChecksum, DropChecksum},
		{"v3 IPv6 other destination", v3ipv6, src6, netip.MustParseAddr("ff02::1"), true, ErrChecksum, DropChecksum},
		{"v3 interval 0", edit(v3, true, func(b []byte) []byte { b[4], b[5] = 0, 0; return b }), src4, dst4, false, ErrInterval, DropInterval},
		{"v3 interval 0, reserved bits set", edit(v3, true, func(b []byte) []byte { b[4], b[5] = 0xf0, 0; return b }), src4, dst4, false, ErrInterval, DropInterval},
		{"v2 interval 0", edit(v2, true, func(b []byte) []byte { b[5] = 0; return b }), src4, dst4, false, ErrInterval, DropInterval},
		{"IPv6 source for IPv4", v3, src6, dst4, false, ErrAddrFamily, DropOther},
		{"IPv4 destination for IPv6", v3ipv6, src6, dst4, true, ErrAddrFamily, DropOther},
		{"IPv4-mapped source for IPv6", v3ipv6, netip.AddrFrom16(src4.As16()), dst6, true, ErrAddrFamily, DropOther},
		{"no source", v3, netip.Addr{}, dst4, false, ErrAddrFamily, DropOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := Advert{Version: 3, VRID: 9, Addresses: []netip.Addr{vip6}}
			a := before
			a.Addresses = slices.Clone(before.Addresses)
			err := a.Unmarshal(tt.b, tt.src, tt.dst, tt.ipv6)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal error %v, want %v", err, tt.want)
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("ReasonOf(%v) = %q, want %q", err, got, tt.reason)
			}
			if diff := cmp.Diff(before, a, advertCmpOpts()); diff != "" {
				t.Errorf("Unmarshal changed the advert on error (-want +got):\n%s", diff)
			}
			if p, err := ParseAdvert(tt.b, tt.src, tt.dst, tt.ipv6); p != nil || !errors.Is(err, tt.want) {
				t.Errorf("ParseAdvert = %v, %v; want nil, %v", p, err, tt.want)
			}
		})
	}
}

// TestParseAdvertAccepts covers packets that look odd but are valid.
func TestParseAdvertAccepts(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.11"), MulticastGroup(false)
	tests := []struct {
		name     string
		b        []byte // checksum fixed before parsing
		src, dst netip.Addr
		want     Advert
	}{
		{
			// Rsvd is ignored on receipt (RFC 5798 §5.2.6).
			name: "v3 reserved bits set",
			b:    []byte{0x31, 7, 100, 1, 0xa0, 0x64, 0, 0, 10, 0, 0, 1},
			src:  src4, dst: dst4,
			want: Advert{Version: 3, Type: 1, VRID: 7, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		},
		{
			name: "v3 largest interval",
			b:    []byte{0x31, 7, 100, 1, 0x0f, 0xff, 0, 0, 10, 0, 0, 1},
			src:  src4, dst: dst4,
			want: Advert{Version: 3, Type: 1, VRID: 7, Priority: 100, MaxAdvertInterval: 40950 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		},
		{
			name: "v2 largest interval, no auth",
			b:    []byte{0x21, 7, 100, 1, 0, 255, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
			src:  src4, dst: dst4,
			want: Advert{Version: 2, Type: 1, VRID: 7, Priority: 100, MaxAdvertInterval: 255 * time.Second, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		},
		{
			name: "IPv4-mapped source and destination",
			b:    []byte{0x31, 7, 100, 1, 0x00, 0x64, 0, 0, 10, 0, 0, 1},
			src:  netip.AddrFrom16(src4.As16()), dst: netip.AddrFrom16(dst4.As16()),
			want: Advert{Version: 3, Type: 1, VRID: 7, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(tt.b)
			advertFixChecksum(b, tt.src, tt.dst, false)
			got, err := ParseAdvert(b, tt.src, tt.dst, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got, advertCmpOpts("Checksum"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("advert mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalAdvertErrors(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.11"), MulticastGroup(false)
	src6, dst6 := netip.MustParseAddr("fe80::1"), MulticastGroup(true)
	vip4, vip6 := []netip.Addr{netip.MustParseAddr("192.0.2.100")}, []netip.Addr{netip.MustParseAddr("2001:db8::100")}
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}

	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		want     error
	}{
		{"version 0", Advert{MaxAdvertInterval: time.Second, Addresses: vip4}, src4, dst4, ErrVersion},
		{"version 4", Advert{Version: 4, MaxAdvertInterval: time.Second, Addresses: vip4}, src4, dst4, ErrVersion},
		{"type 2", Advert{Version: 3, Type: 2, MaxAdvertInterval: time.Second, Addresses: vip4}, src4, dst4, ErrType},
		{"v2 interval 0", Advert{Version: 2, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v2 interval 1.5s", Advert{Version: 2, MaxAdvertInterval: 1500 * time.Millisecond, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v2 interval 256s", Advert{Version: 2, MaxAdvertInterval: 256 * time.Second, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v3 interval 0", Advert{Version: 3, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v3 interval 5ms", Advert{Version: 3, MaxAdvertInterval: 5 * time.Millisecond, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v3 interval 1.005s", Advert{Version: 3, MaxAdvertInterval: 1005 * time.Millisecond, Addresses: vip4}, src4, dst4, ErrInterval},
		{"v3 interval 40.96s", Advert{Version: 3, MaxAdvertInterval: 40960 * time.Millisecond, Addresses: vip4}, src4, dst4, ErrInterval},
		{"256 addresses", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: many}, src4, dst4, ErrAddrCount},
		{"no address", Advert{Version: 3, MaxAdvertInterval: time.Second}, src4, dst4, ErrAddrCount},
		{"v2 no address", Advert{Version: 2, MaxAdvertInterval: time.Second}, src4, dst4, ErrAddrCount},
		{"IPv6 VIP over IPv4", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: vip6}, src4, dst4, ErrAddrFamily},
		{"IPv4 VIP over IPv6", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: vip4}, src6, dst6, ErrAddrFamily},
		{"v2 IPv6 VIP", Advert{Version: 2, MaxAdvertInterval: time.Second, Addresses: vip6}, src4, dst4, ErrAddrFamily},
		{"zero VIP", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{{}}}, src4, dst4, ErrAddrFamily},
		{"mixed families", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: vip4}, src4, dst6, ErrAddrFamily},
		{"no source", Advert{Version: 3, MaxAdvertInterval: time.Second, Addresses: vip4}, netip.Addr{}, dst4, ErrAddrFamily},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			out, err := tt.a.AppendMarshal(prefix, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendMarshal error %v, want %v", err, tt.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Errorf("AppendMarshal on error returned %q, want the buffer unchanged", out)
			}
			if b, err := tt.a.Marshal(tt.src, tt.dst); b != nil || !errors.Is(err, tt.want) {
				t.Errorf("Marshal = %x, %v; want nil, %v", b, err, tt.want)
			}
		})
	}
}

// TestMarshalAdvertRoundTrip marshals adverts at the limits of each field and
// parses them back.
func TestMarshalAdvertRoundTrip(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")
	src6, dst6 := netip.MustParseAddr("fe80::1"), MulticastGroup(true)
	many6 := make([]netip.Addr, 255)
	for i := range many6 {
		many6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		wantLen  int
	}{
		{"v2 255s", Advert{Version: 2, VRID: 255, Priority: 255, MaxAdvertInterval: 255 * time.Second, AuthType: AuthSimple, AuthData: PasswordAuthData("longer than eight"),
			Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, src4, dst4, 20},
		{"v3 10ms", Advert{Version: 3, VRID: 1, Priority: 1, MaxAdvertInterval: 10 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, src4, dst4, 12},
		{"v3 40.95s", Advert{Version: 3, VRID: 1, Priority: 0, MaxAdvertInterval: 40950 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, src4, dst4, 12},
		{"v3 IPv4-mapped VIP", Advert{Version: 3, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1")}}, src4, dst4, 12},
		{"v3 255 IPv6 VIPs", Advert{Version: 3, VRID: 9, Priority: 100, MaxAdvertInterval: time.Second, Addresses: many6}, src6, dst6, 8 + 255*16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tt.wantLen {
				t.Errorf("marshalled %d bytes, want %d", len(b), tt.wantLen)
			}
			got, err := ParseAdvert(b, tt.src, tt.dst, tt.src.Is6())
			if err != nil {
				t.Fatal(err)
			}
			want := tt.a
			want.Type = TypeAdvertisement
			want.Checksum = binary.BigEndian.Uint16(b[6:8])
			want.Addresses = slices.Clone(want.Addresses)
			for i, ip := range want.Addresses {
				if !tt.src.Is6() {
					want.Addresses[i] = ip.Unmap()
				}
			}
			if diff := cmp.Diff(&want, got, advertCmpOpts()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckAuth(t *testing.T) {
	pass := PasswordAuthData("secret1")
	v2 := Advert{Version: 2, AuthType: AuthSimple, AuthData: pass}
	tests := []struct {
		name     string
		a        Advert
		authType uint8
		authData [8]byte
		want     error
	}{
		{"v2 same password", v2, AuthSimple, pass, nil},
		{"v2 other password", v2, AuthSimple, PasswordAuthData("secret2"), ErrAuth},
		{"v2 password, none configured", v2, AuthNone, [8]byte{}, ErrAuth},
		{"v2 none, password configured", Advert{Version: 2}, AuthSimple, pass, ErrAuth},
		{"v2 none, none configured", Advert{Version: 2, AuthData: pass}, AuthNone, [8]byte{}, nil},
		{"v2 AH compares the type only", Advert{Version: 2, AuthType: AuthAH, AuthData: pass}, AuthAH, [8]byte{}, nil},
		{"v3 has no authentication", Advert{Version: 3}, AuthSimple, pass, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.CheckAuth(tt.authType, tt.authData)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckAuth error %v, want %v", err, tt.want)
			}
			if tt.want != nil && ReasonOf(err) != DropAuth {
				t.Errorf("ReasonOf(%v) = %q, want %q", err, ReasonOf(err), DropAuth)
			}
		})
	}
}

func TestPasswordAuthData(t *testing.T) {
	tests := []struct {
		in   string
		want [8]byte
	}{
		{"", [8]byte{}},
		{"secret1", [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}},
		{"12345678", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}},
		{"123456789", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}},
	}
	for _, tt := range tests {
		if got := PasswordAuthData(tt.in); got != tt.want {
			t.Errorf("PasswordAuthData(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReasonOf(t *testing.T) {
	tests := []struct {
		err  error
		want DropReason
	}{
		{nil, ""},
		{ErrTooShort, DropLength},
		{ErrLength, DropLength},
		{ErrAddrCount, DropAddrCount},
		{ErrVersion, DropVersion},
		{ErrType, DropType},
		{ErrChecksum, DropChecksum},
		{ErrInterval, DropInterval},
		{ErrTTL, DropTTL},
		{ErrVRID, DropVRID},
		{ErrAuth, DropAuth},
		{ErrOwnAdvert, DropOwn},
		{ErrAddrFamily, DropOther},
		{errors.New("something else"), DropOther},
	}
	seen := map[DropReason]bool{}
	for _, tt := range tests {
		// The receive path wraps the sentinels with context.
		wrapped := tt.err
		if tt.err != nil {
			wrapped = fmt.Errorf("instance VI_1 from 192.0.2.11: %w", tt.err)
		}
		if got := ReasonOf(wrapped); got != tt.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", wrapped, got, tt.want)
		}
		seen[tt.want] = true
	}
	for _, r := range DropReasons() {
		if !seen[r] {
			t.Errorf("DropReasons lists %q, which no error maps to", r)
		}
	}
	if n := len(DropReasons()); n != len(seen)-1 { // "" is not a reason
		t.Errorf("DropReasons has %d entries, errors map to %d reasons", n, len(seen)-1)
	}
}

func TestAdvertString(t *testing.T) {
	tests := []struct {
		a    Advert
		want string
	}{
		{
			Advert{Version: 3, VRID: 52, Priority: 120, MaxAdvertInterval: 500 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}},
			"v3 vrid 52 prio 120 intvl 500ms addrs [192.0.2.100 192.0.2.101]",
		},
		{
			Advert{Version: 2, VRID: 51, Priority: 0, MaxAdvertInterval: time.Second, AuthType: AuthSimple},
			"v2 vrid 51 prio 0 intvl 1s auth 1 addrs []",
		},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestMulticastGroup(t *testing.T) {
	if got := MulticastGroup(false).String(); got != "224.0.0.18" {
		t.Errorf("IPv4 group %s, want 224.0.0.18", got)
	}
	if got := MulticastGroup(true).String(); got != "ff02::12" {
		t.Errorf("IPv6 group %s, want ff02::12", got)
	}
}

// benchAdverts returns one captured advert per kind for the benchmarks.
func benchAdverts(b *testing.B) map[string]pcapAdvert {
	b.Helper()
	out := map[string]pcapAdvert{}
	for name, file := range map[string]string{
		"v2":      "keepalived-v2-pass.pcap",
		"v3-ipv4": "keepalived-v3-ipv4.pcap",
		"v3-ipv6": "keepalived-v3-ipv6.pcap",
	} {
		out[name] = pcapAdverts(b, filepath.Join("testdata", file))[0]
	}
	return out
}

func BenchmarkParseAdvert(b *testing.B) {
	for _, name := range []string{"v2", "v3-ipv4", "v3-ipv6"} {
		p := benchAdverts(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.ip.payload)))
			for b.Loop() {
				if _, err := ParseAdvert(p.ip.payload, p.ip.src, p.ip.dst, p.ip.ipv6); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/reuse", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.ip.payload)))
			var a Advert
			for b.Loop() {
				if err := a.Unmarshal(p.ip.payload, p.ip.src, p.ip.dst, p.ip.ipv6); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshalAdvert(b *testing.B) {
	for _, name := range []string{"v2", "v3-ipv4", "v3-ipv6"} {
		p := benchAdverts(b)[name]
		a, err := ParseAdvert(p.ip.payload, p.ip.src, p.ip.dst, p.ip.ipv6)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.ip.payload)))
			for b.Loop() {
				if _, err := a.Marshal(p.ip.src, p.ip.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.ip.payload)))
			buf := make([]byte, 0, 64)
			for b.Loop() {
				if buf, err = a.AppendMarshal(buf[:0], p.ip.src, p.ip.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestChecksumAllOnes covers the one message in 65536 whose other words sum
// to 0xffff: in one's complement both 0x0000 and 0xffff verify. Marshal
// writes 0x0000 (the plain complement, as keepalived computes it) and
// ParseAdvert accepts either.
func TestChecksumAllOnes(t *testing.T) {
	a := Advert{Version: 2, VRID: 1, Priority: 100, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{netip.IPv4Unspecified()}}
	b, err := a.Marshal(netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	// Choose the address's first word so the message sums to 0xffff.
	rest := checksumFold(checksumAdd(0, append(append([]byte{}, b[:6]...), b[8:]...)))
	x := 0xffff - rest
	a.Addresses[0] = netip.AddrFrom4([4]byte{byte(x >> 8), byte(x), 0, 0})

	b, err = a.Marshal(netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint16(b[6:8]); got != 0 {
		t.Fatalf("checksum %#04x, want 0x0000", got)
	}
	b[6], b[7] = 0xff, 0xff
	if _, err := ParseAdvert(b, netip.Addr{}, netip.Addr{}, false); err != nil {
		t.Errorf("checksum 0xffff of the same message: %v", err)
	}
}

// PeekVRID reads the VRID of messages that do not decode, as long as the
// octet is there and the version says it is a VRID.
func TestPeekVRID(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		want   uint8
		wantOK bool
	}{
		{"empty", nil, 0, false},
		{"version octet only", []byte{0x31}, 0, false},
		{"v3 cut after the VRID", []byte{0x31, 51}, 51, true},
		{"v3 bad checksum", []byte{0x31, 52, 100, 1, 0, 100, 0xde, 0xad, 192, 0, 2, 100}, 52, true},
		{"v2", []byte{0x21, 53}, 53, true},
		{"version 4", []byte{0x41, 54, 100}, 0, false},
		{"version 0", []byte{0x01, 55, 100}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PeekVRID(tt.b)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("PeekVRID(%x) = %d, %v; want %d, %v", tt.b, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
