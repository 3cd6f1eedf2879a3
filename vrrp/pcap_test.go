package vrrp

// A small reader for the classic libpcap files in testdata/ (what
// `tcpdump -w` writes): enough to pull IPv4/IPv6 packets, ARP and neighbour
// advertisements out of Ethernet or Linux cooked (SLL, SLL2) captures.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// Link types of the pcap header (https://www.tcpdump.org/linktypes.html).
const (
	pcapLinkEthernet = 1
	pcapLinkSLL      = 113
	pcapLinkSLL2     = 276
)

const (
	pcapEtherIPv4 = 0x0800
	pcapEtherARP  = 0x0806
	pcapEtherVLAN = 0x8100
	pcapEtherIPv6 = 0x86dd
)

// pcapFrame is one captured frame with its link layer removed.
type pcapFrame struct {
	etherType uint16
	srcMAC    []byte // nil for cooked captures without one
	payload   []byte // starts at the network header
}

// pcapReadFile reads every frame of a classic pcap file.
func pcapReadFile(path string) ([]pcapFrame, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: %d bytes, no pcap header", path, len(data))
	}
	var order binary.ByteOrder
	switch m := binary.LittleEndian.Uint32(data); m {
	case 0xa1b2c3d4, 0xa1b23c4d: // microsecond and nanosecond timestamps
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: magic %#08x is not classic pcap (pcapng is not supported)", path, m)
	}
	link := order.Uint32(data[20:24]) & 0x0fffffff // upper bits carry FCS flags
	var frames []pcapFrame
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("%s: truncated record header at %d", path, off)
		}
		incl := int(order.Uint32(data[off+8:]))
		orig := int(order.Uint32(data[off+12:]))
		off += 16
		if incl > len(data)-off {
			return nil, fmt.Errorf("%s: record at %d claims %d bytes, %d left", path, off, incl, len(data)-off)
		}
		if incl != orig {
			return nil, fmt.Errorf("%s: record at %d truncated by the snap length (%d of %d bytes)", path, off, incl, orig)
		}
		f, err := pcapDecodeLink(link, data[off:off+incl])
		if err != nil {
			return nil, fmt.Errorf("%s: record at %d: %w", path, off, err)
		}
		frames = append(frames, f)
		off += incl
	}
	return frames, nil
}

func pcapDecodeLink(link uint32, b []byte) (pcapFrame, error) {
	switch link {
	case pcapLinkEthernet:
		if len(b) < 14 {
			return pcapFrame{}, errors.New("short ethernet header")
		}
		f := pcapFrame{srcMAC: b[6:12], etherType: binary.BigEndian.Uint16(b[12:14]), payload: b[14:]}
		for f.etherType == pcapEtherVLAN && len(f.payload) >= 4 {
			f.etherType = binary.BigEndian.Uint16(f.payload[2:4])
			f.payload = f.payload[4:]
		}
		return f, nil
	case pcapLinkSLL:
		if len(b) < 16 {
			return pcapFrame{}, errors.New("short SLL header")
		}
		f := pcapFrame{etherType: binary.BigEndian.Uint16(b[14:16]), payload: b[16:]}
		if n := int(binary.BigEndian.Uint16(b[4:6])); n == 6 {
			f.srcMAC = b[6:12]
		}
		return f, nil
	case pcapLinkSLL2:
		if len(b) < 20 {
			return pcapFrame{}, errors.New("short SLL2 header")
		}
		f := pcapFrame{etherType: binary.BigEndian.Uint16(b[0:2]), payload: b[20:]}
		if b[11] == 6 {
			f.srcMAC = b[12:18]
		}
		return f, nil
	default:
		return pcapFrame{}, fmt.Errorf("link type %d not supported", link)
	}
}

// pcapIP is an IPv4 or IPv6 packet: the header fields the VRRP receive path
// sees, and the upper-layer payload.
type pcapIP struct {
	ipv6     bool
	src, dst netip.Addr
	ttl      uint8 // TTL or hop limit
	proto    uint8 // protocol or next header (no extension headers are followed)
	payload  []byte
}

// pcapDecodeIP returns the IP packet of an IPv4 or IPv6 frame. Ethernet
// padding after the IP total length is cut off.
func pcapDecodeIP(f pcapFrame) (pcapIP, bool, error) {
	b := f.payload
	switch f.etherType {
	case pcapEtherIPv4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return pcapIP{}, false, errors.New("bad IPv4 header")
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || total > len(b) {
			return pcapIP{}, false, fmt.Errorf("IPv4 header length %d, total %d, frame %d", ihl, total, len(b))
		}
		return pcapIP{
			src:     netip.AddrFrom4([4]byte(b[12:16])),
			dst:     netip.AddrFrom4([4]byte(b[16:20])),
			ttl:     b[8],
			proto:   b[9],
			payload: b[ihl:total],
		}, true, nil
	case pcapEtherIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return pcapIP{}, false, errors.New("bad IPv6 header")
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if 40+plen > len(b) {
			return pcapIP{}, false, fmt.Errorf("IPv6 payload length %d, frame %d", plen, len(b))
		}
		return pcapIP{
			ipv6:    true,
			src:     netip.AddrFrom16([16]byte(b[8:24])),
			dst:     netip.AddrFrom16([16]byte(b[24:40])),
			ttl:     b[7],
			proto:   b[6],
			payload: b[40 : 40+plen],
		}, true, nil
	default:
		return pcapIP{}, false, nil
	}
}

// pcapCaptures lists the reference captures in testdata/; the test fails if
// they are missing, so a lost fixture cannot turn the capture tests into
// no-ops.
func pcapCaptures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d captures in testdata, want the 4 keepalived captures", len(files))
	}
	return files
}

// pcapAdvert is a VRRP packet found in a capture.
type pcapAdvert struct {
	frame int // index in the capture, for messages
	ip    pcapIP
}

// pcapAdverts returns every VRRP packet of a capture.
func pcapAdverts(t testing.TB, path string) []pcapAdvert {
	t.Helper()
	frames, err := pcapReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []pcapAdvert
	for i, f := range frames {
		ip, ok, err := pcapDecodeIP(f)
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, i, err)
		}
		if ok && ip.proto == IPProtocol {
			out = append(out, pcapAdvert{frame: i, ip: ip})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no VRRP packets", path)
	}
	return out
}

// pcapAnnouncement is a gratuitous ARP or an unsolicited neighbour
// advertisement found in a capture.
type pcapAnnouncement struct {
	kind     string // "arp-request", "arp-reply" or "na"
	addr     netip.Addr
	override bool // NA Override flag
	dst      netip.Addr
	hopLimit uint8
	linkAddr []byte // ARP sender hardware address or NA target link-layer option
	srcMAC   []byte
}

// pcapAnnouncements returns the gratuitous ARPs (sender = target address) and
// the neighbour advertisements of a capture; ordinary ARP resolution is left
// out.
func pcapAnnouncements(t testing.TB, path string) []pcapAnnouncement {
	t.Helper()
	frames, err := pcapReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []pcapAnnouncement
	for i, f := range frames {
		if f.etherType == pcapEtherARP {
			b := f.payload
			// Ethernet/IPv4 ARP (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4.
			if len(b) < 28 || binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != pcapEtherIPv4 || b[4] != 6 || b[5] != 4 {
				t.Fatalf("%s frame %d: not an Ethernet/IPv4 ARP packet", path, i)
			}
			sender := netip.AddrFrom4([4]byte(b[14:18]))
			target := netip.AddrFrom4([4]byte(b[24:28]))
			if sender != target {
				continue
			}
			kind := "arp-request"
			if binary.BigEndian.Uint16(b[6:8]) == 2 {
				kind = "arp-reply"
			}
			out = append(out, pcapAnnouncement{kind: kind, addr: sender, linkAddr: b[8:14], srcMAC: f.srcMAC})
			continue
		}
		ip, ok, err := pcapDecodeIP(f)
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, i, err)
		}
		// ICMPv6 type 136 is a neighbour advertisement (RFC 4861 §4.4).
		if !ok || !ip.ipv6 || ip.proto != 58 || len(ip.payload) < 24 || ip.payload[0] != 136 {
			continue
		}
		na := pcapAnnouncement{
			kind:     "na",
			addr:     netip.AddrFrom16([16]byte(ip.payload[8:24])),
			override: ip.payload[4]&0x20 != 0,
			dst:      ip.dst,
			hopLimit: ip.ttl,
			srcMAC:   f.srcMAC,
		}
		for opts := ip.payload[24:]; len(opts) >= 8 && opts[1] != 0 && int(opts[1])*8 <= len(opts); opts = opts[int(opts[1])*8:] {
			if opts[0] == 2 { // target link-layer address
				na.linkAddr = opts[2:8]
			}
		}
		out = append(out, na)
	}
	return out
}
