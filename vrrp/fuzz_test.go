package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseAdvert feeds ParseAdvert arbitrary packets, seeded with every
// advert of the keepalived captures. A packet is hostile input: parsing must
// never panic, every error must carry a drop reason, and whatever parses must
// marshal back to a packet that parses to the same advert.
//
// With fixChecksum set the harness repairs the checksum first, so the fuzzer
// explores the checks behind it instead of stopping at ErrChecksum.
func FuzzParseAdvert(f *testing.F) {
	for _, path := range pcapCaptures(f) {
		for _, p := range pcapAdverts(f, path) {
			f.Add(p.ip.payload, p.ip.src.AsSlice(), p.ip.dst.AsSlice(), p.ip.ipv6, false)
			// The same packet with the checksum repaired, and with the
			// reserved bits of version 3 set.
			if p.ip.payload[0]>>4 == 3 {
				b := bytes.Clone(p.ip.payload)
				b[4] |= 0xf0
				f.Add(b, p.ip.src.AsSlice(), p.ip.dst.AsSlice(), p.ip.ipv6, true)
			}
		}
	}
	f.Add([]byte{0x21, 1, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{10, 0, 0, 1}, []byte{224, 0, 0, 18}, true, true)
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, false, true)
	// No address at all, checksum valid (RFC 5798 §5.2.5 wants at least
	// one): it must be dropped, not obeyed.
	src4, group4 := netip.MustParseAddr("192.0.2.12"), MulticastGroup(false)
	f.Add(noAddressAdvert(src4, group4), src4.AsSlice(), group4.AsSlice(), false, false)

	f.Fuzz(func(t *testing.T, b, srcBytes, dstBytes []byte, ipv6, fixChecksum bool) {
		src, _ := netip.AddrFromSlice(srcBytes)
		dst, _ := netip.AddrFromSlice(dstBytes)
		if fixChecksum {
			b = bytes.Clone(b)
			advertFixChecksum(b, src, dst, ipv6)
		}

		a, err := ParseAdvert(b, src, dst, ipv6)
		if err != nil {
			if r := ReasonOf(err); r == DropOther && !errors.Is(err, ErrAddrFamily) {
				t.Fatalf("error %v has no drop reason", err)
			}
			return
		}
		if got := binary.BigEndian.Uint16(b[6:8]); a.Checksum != got {
			t.Errorf("Checksum %#04x, packet has %#04x", a.Checksum, got)
		}

		out, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("parsed advert %v does not marshal: %v", a, err)
		}
		// Only the checksum and version 3's reserved bits (ignored on
		// receipt, sent as zero) may differ. The checksum may because a
		// message whose other words sum to 0xffff verifies with 0x0000
		// and with 0xffff; Marshal writes 0x0000, like keepalived.
		want := bytes.Clone(b)
		if a.Version == 3 {
			want[4] &= 0x0f
		}
		if len(out) != len(want) || !bytes.Equal(out[:6], want[:6]) || !bytes.Equal(out[8:], want[8:]) {
			t.Fatalf("re-marshalled advert differs beyond the checksum\n got %x\nwant %x", out, want)
		}
		again, err := ParseAdvert(out, src, dst, ipv6)
		if err != nil {
			t.Fatalf("re-marshalled advert %x does not parse: %v", out, err)
		}
		if diff := cmp.Diff(a, again, advertCmpOpts("Checksum")); diff != "" {
			t.Fatalf("round trip changed the advert (-first +second):\n%s", diff)
		}
	})
}
