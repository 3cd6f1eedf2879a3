package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/announce"
)

// These tests send gratuitous ARPs and unsolicited neighbour advertisements
// with announce.LinkSender on a lab LAN and check them on the wire and in a
// client's neighbour table.

// ethernetBroadcast is the destination of the probe frames below.
var ethernetBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// allNodes is ff02::1, where an unsolicited neighbour advertisement goes.
var allNodes = netip.MustParseAddr("ff02::1")

// sniffer captures every frame on an interface with an AF_PACKET socket,
// as a third machine on the segment would see it.
type sniffer struct {
	c    *packet.Conn
	done chan struct{}

	mu     sync.Mutex
	frames [][]byte
}

func sniff(t *testing.T, h *lab.Host, ifname string) *sniffer {
	t.Helper()
	s := &sniffer{done: make(chan struct{})}
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		if s.c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil); err != nil {
			return err
		}
		return s.c.SetPromiscuous(true)
	})
	if err != nil {
		t.Fatalf("capturing on %s in %s: %v", ifname, h.Name, err)
	}
	go func() {
		defer close(s.done)
		buf := make([]byte, 2048)
		for {
			n, _, err := s.c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.frames = append(s.frames, append([]byte(nil), buf[:n]...))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *sniffer) stop() {
	s.c.Close()
	<-s.done
}

// from returns the frames captured so far whose Ethernet source is mac.
func (s *sniffer) from(mac net.HardwareAddr) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, f := range s.frames {
		if len(f) >= 14 && net.HardwareAddr(f[6:12]).String() == mac.String() {
			out = append(out, f)
		}
	}
	return out
}

// etherTypeProbe is the IEEE 802 local experimental EtherType: frames of
// it mean nothing to any host, so they can probe the segment.
const etherTypeProbe = 0x88b5

// waitForwarding returns once a probe frame from each host has reached the
// sniffer. A segment fresh out of the lab may drop the first frames while
// the bridge brings its ports to forwarding, and the test counts frames.
func waitForwarding(t *testing.T, obs *sniffer, hosts ...*lab.Host) {
	t.Helper()
	for _, h := range hosts {
		mac, err := net.ParseMAC(h.MAC())
		if err != nil {
			t.Fatal(err)
		}
		probe, err := (&ethernet.Frame{
			Destination: ethernetBroadcast, Source: mac,
			EtherType: etherTypeProbe, Payload: []byte("lvsd lab probe"),
		}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var c *packet.Conn
		if err := h.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			c, err = packet.Listen(ifi, packet.Raw, 0, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		seen := func() bool {
			for _, f := range obs.from(mac) {
				if binary.BigEndian.Uint16(f[12:14]) == etherTypeProbe {
					return true
				}
			}
			return false
		}
		deadline := time.Now().Add(3 * time.Second)
		for !seen() {
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("no probe from %s reached the observer", h.Name)
			}
			if _, err := c.WriteTo(probe, &packet.Addr{HardwareAddr: ethernetBroadcast}); err != nil {
				c.Close()
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close()
	}
}

func TestLinkSenderOnTheWire(t *testing.T) {
	lan := lab.NewLAN(t, "m", "c")
	lan.AddAddr("m", "192.0.2.10/24")
	lan.AddAddr("m", "192.0.2.100/32")
	lan.AddAddr("m", "2001:db8::100/128")
	lan.AddAddr("c", "192.0.2.20/24")
	lan.AddAddr("c", "2001:db8::20/64")
	m, c := lan.Host("m"), lan.Host("c")
	mac, err := net.ParseMAC(m.MAC())
	if err != nil {
		t.Fatal(err)
	}
	vip4 := netip.MustParseAddr("192.0.2.100")
	vip6 := netip.MustParseAddr("2001:db8::100")

	// The client still believes the VIPs are at the old master's MAC.
	const oldMAC = "02:00:00:00:00:99"
	c.MustExec(t, "ip", "neigh", "replace", vip4.String(), "lladdr", oldMAC, "dev", "eth0", "nud", "stale")
	c.MustExec(t, "ip", "-6", "neigh", "replace", vip6.String(), "lladdr", oldMAC, "dev", "eth0", "nud", "stale")
	for _, ip := range []netip.Addr{vip4, vip6} {
		if out := c.MustExec(t, "ip", "neigh", "show", ip.String(), "dev", "eth0"); !strings.Contains(out, oldMAC) {
			t.Fatalf("stale entry for %s not set up: %q", ip, out)
		}
	}

	obs := sniff(t, lan.Observer, lan.Iface(lab.ObserverName))
	waitForwarding(t, obs, m, c)
	const repeat = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Do(func() error {
		for i := range repeat {
			if i > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			if err := (announce.LinkSender{}).Announce(ctx, "eth0", []netip.Prefix{netip.PrefixFrom(vip4, 32), netip.PrefixFrom(vip6, 128)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Wait until the observer has every announcement (or give up after 3 s).
	// The frames from m also hold the probes and whatever else its stack
	// sends (MLD reports, duplicate address detection), so the wait counts
	// announcements, not frames.
	var tl announcements
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		tl = tally(obs.from(mac), mac, vip4, vip6)
		if tl.requests >= repeat && tl.replies >= repeat && tl.nas >= repeat || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range tl.problems {
		t.Error(p)
	}
	if tl.requests != repeat || tl.replies != repeat || tl.nas != repeat {
		t.Errorf("observer saw %d ARP requests, %d ARP replies, %d NAs from %s; want %d of each", tl.requests, tl.replies, tl.nas, mac, repeat)
	}

	// The client's neighbour table now points at the new master.
	for _, ip := range []netip.Addr{vip4, vip6} {
		out := c.MustExec(t, "ip", "neigh", "show", ip.String(), "dev", "eth0")
		if !strings.Contains(out, "lladdr "+mac.String()) {
			t.Errorf("client's entry for %s after the announcement: %q, want lladdr %s", ip, strings.TrimSpace(out), mac)
		}
	}
}

func TestLinkSenderErrors(t *testing.T) {
	lan := lab.NewLAN(t, "m")
	m := lan.Host("m")
	err := m.Do(func() error {
		return announce.LinkSender{}.Announce(context.Background(), "nosuch0", []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32")})
	})
	if err == nil {
		t.Error("Announce on a missing interface succeeded")
	}
	// Loopback has no Ethernet address to announce.
	err = m.Do(func() error {
		return announce.LinkSender{}.Announce(context.Background(), "lo", []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32")})
	})
	if err == nil || !strings.Contains(err.Error(), "not an Ethernet interface") {
		t.Errorf("Announce on lo = %v, want a not-Ethernet error", err)
	}
}

// announcements counts the gratuitous ARPs and unsolicited neighbour
// advertisements among frames, and describes any that is not as it should be.
type announcements struct {
	requests, replies, nas int
	problems               []string
}

func tally(frames [][]byte, mac net.HardwareAddr, vip4, vip6 netip.Addr) announcements {
	var a announcements
	for _, b := range frames {
		var f ethernet.Frame
		if err := f.UnmarshalBinary(b); err != nil {
			a.problems = append(a.problems, fmt.Sprintf("undecodable frame %x: %v", b, err))
			continue
		}
		switch f.EtherType {
		case ethernet.EtherTypeARP:
			var p arp.Packet
			if err := p.UnmarshalBinary(f.Payload); err != nil {
				a.problems = append(a.problems, fmt.Sprintf("undecodable ARP %x: %v", f.Payload, err))
				continue
			}
			if f.Destination.String() != "ff:ff:ff:ff:ff:ff" || p.SenderHardwareAddr.String() != mac.String() ||
				p.SenderIP != vip4 || p.TargetIP != vip4 {
				a.problems = append(a.problems, fmt.Sprintf("ARP %v to %s: sender %s %s target %s, want broadcast, sender %s, sender = target = %s",
					p.Operation, f.Destination, p.SenderHardwareAddr, p.SenderIP, p.TargetIP, mac, vip4))
			}
			switch p.Operation {
			case arp.OperationRequest:
				a.requests++
			case arp.OperationReply:
				a.replies++
			}
		case ethernet.EtherTypeIPv6:
			ip6 := f.Payload
			if len(ip6) < 40 || ip6[6] != 58 {
				continue // not ICMPv6: not ours to check
			}
			icmp := ip6[40 : 40+binary.BigEndian.Uint16(ip6[4:6])]
			msg, err := ndp.ParseMessage(icmp)
			if err != nil {
				continue // other ICMPv6 (a router solicitation, MLD)
			}
			na, ok := msg.(*ndp.NeighborAdvertisement)
			if !ok {
				continue
			}
			a.nas++
			src := netip.AddrFrom16([16]byte(ip6[8:24]))
			dst := netip.AddrFrom16([16]byte(ip6[24:40]))
			var tlla string
			for _, o := range na.Options {
				if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Target {
					tlla = l.Addr.String()
				}
			}
			if dst != allNodes || ip6[7] != 255 || !na.Override || na.Solicited || na.TargetAddress != vip6 || tlla != mac.String() {
				a.problems = append(a.problems, fmt.Sprintf("NA %s -> %s hop limit %d override %v solicited %v target %s TLLA %q; want -> ff02::1, 255, override, not solicited, %s, %s",
					src, dst, ip6[7], na.Override, na.Solicited, na.TargetAddress, tlla, vip6, mac))
			}
		}
	}
	return a
}
