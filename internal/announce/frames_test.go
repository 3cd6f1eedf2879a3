package announce

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// readPcap returns the frames of a little-endian, microsecond, Ethernet
// pcap file such as the lab's tcpdump writes.
func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian Ethernet pcap", path)
	}
	var frames [][]byte
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		off += 16
		if off+n > len(b) {
			t.Fatalf("%s: truncated record", path)
		}
		frames = append(frames, b[off:off+n])
		off += n
	}
	return frames
}

// firstFrame returns the first frame of the capture that match accepts.
func firstFrame(t *testing.T, path string, match func([]byte) bool) []byte {
	t.Helper()
	for _, f := range readPcap(t, path) {
		if match(f) {
			return f
		}
	}
	t.Fatalf("%s: no matching frame", path)
	return nil
}

func isGARP(f []byte) bool {
	return len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06 && bytes.Equal(f[28:32], f[38:42])
}

func isNA(f []byte) bool {
	return len(f) >= 62 && f[12] == 0x86 && f[13] == 0xdd && f[20] == 58 && f[54] == 136
}

// The frames must be byte for byte what keepalived sends, checksum
// included, so that neighbours treat lvsd and keepalived alike.
func TestFramesMatchKeepalived(t *testing.T) {
	t.Run("gratuitous ARP request", func(t *testing.T) {
		want := firstFrame(t, "testdata/keepalived-v3-ipv4.pcap", isGARP)
		mac := net.HardwareAddr(want[6:12])
		vip := netip.AddrFrom4([4]byte(want[28:32]))
		req, _, err := gratuitousARP(mac, vip)
		if err != nil {
			t.Fatal(err)
		}
		// keepalived's frame was captured on the sending host, before
		// the padding to 60 bytes that ours carries already.
		if len(req) != 60 || !bytes.Equal(req[:len(want)], want) || !bytes.Equal(req[len(want):], make([]byte, 60-len(want))) {
			t.Errorf("request\n got %s\nwant %s + zero padding", hex.EncodeToString(req), hex.EncodeToString(want))
		}
	})
	t.Run("unsolicited NA", func(t *testing.T) {
		want := firstFrame(t, "testdata/keepalived-v3-ipv6.pcap", isNA)
		mac := net.HardwareAddr(want[6:12])
		vip := netip.AddrFrom16([16]byte(want[22:38]))
		got, err := unsolicitedNA(mac, vip, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("NA\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want))
		}
	})
}

func TestAnnouncementFrames(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x1a, 0, 1, 0, 0}
	v4 := netip.MustParseAddr("192.0.2.100")
	v6 := netip.MustParseAddr("2001:db8::100")
	frames, err := announcementFrames(mac, []netip.Addr{v4, netip.AddrFrom16(netip.MustParseAddr("198.51.100.7").As16()), v6}, true)
	if err != nil {
		t.Fatal(err)
	}
	type arpView struct {
		Dst, Src string
		Op       arp.Operation
		SHA, THA string
		SPA, TPA netip.Addr
	}
	type naView struct {
		Dst, Src                    string
		HopLimit                    uint8
		IPSrc, IPDst                netip.Addr
		Router, Solicited, Override bool
		Target                      netip.Addr
		TLLA                        string
		ChecksumOK                  bool
	}
	var got []any
	for _, b := range frames {
		var f ethernet.Frame
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		switch f.EtherType {
		case ethernet.EtherTypeARP:
			var p arp.Packet
			if err := p.UnmarshalBinary(f.Payload); err != nil {
				t.Fatal(err)
			}
			got = append(got, arpView{f.Destination.String(), f.Source.String(), p.Operation,
				p.SenderHardwareAddr.String(), p.TargetHardwareAddr.String(), p.SenderIP, p.TargetIP})
		case ethernet.EtherTypeIPv6:
			ip6 := f.Payload
			src := netip.AddrFrom16([16]byte(ip6[8:24]))
			dst := netip.AddrFrom16([16]byte(ip6[24:40]))
			icmp := ip6[40 : 40+binary.BigEndian.Uint16(ip6[4:6])]
			m, err := ndp.ParseMessage(icmp)
			if err != nil {
				t.Fatal(err)
			}
			na := m.(*ndp.NeighborAdvertisement)
			var tlla string
			for _, o := range na.Options {
				if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
					tlla = lla.Addr.String()
				}
			}
			again, _ := ndp.MarshalMessageChecksum(na, src, dst)
			got = append(got, naView{f.Destination.String(), f.Source.String(), ip6[7], src, dst,
				na.Router, na.Solicited, na.Override, na.TargetAddress, tlla, bytes.Equal(again, icmp)})
		default:
			t.Fatalf("unexpected ethertype %v", f.EtherType)
		}
	}
	v4b := netip.MustParseAddr("198.51.100.7")
	bc := "ff:ff:ff:ff:ff:ff"
	want := []any{
		arpView{bc, mac.String(), arp.OperationRequest, mac.String(), bc, v4, v4},
		arpView{bc, mac.String(), arp.OperationReply, mac.String(), bc, v4, v4},
		arpView{bc, mac.String(), arp.OperationRequest, mac.String(), bc, v4b, v4b},
		arpView{bc, mac.String(), arp.OperationReply, mac.String(), bc, v4b, v4b},
		naView{"33:33:00:00:00:01", mac.String(), 255, v6, allNodes, true, false, true, v6, mac.String(), true},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}
