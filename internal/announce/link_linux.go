package announce

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/mdlayher/packet"
)

// LinkSender sends announcements as raw Ethernet frames on an AF_PACKET
// socket. Building the frames itself, instead of using the kernel's ARP and
// ICMPv6 sockets, lets it send from the VIP with the exact flags and hop
// limit above whatever state the interface's IPv6 addresses are in.
//
// It works in the network namespace of the calling thread, and opens and
// closes its socket for every announcement: an announcement is rare, and a
// socket kept open would pin an interface that may be deleted meanwhile.
type LinkSender struct{}

// Announce sends one round of announcements at once: for each virtual
// address a gratuitous ARP request and reply, or an unsolicited neighbour
// advertisement (the prefix length does not matter).
// It does not block, so ctx only stops it between frames.
func (LinkSender) Announce(ctx context.Context, ifname string, vips []netip.Prefix) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("announcing on %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("announcing on %s: not an Ethernet interface (hardware address %q)", ifname, ifi.HardwareAddr)
	}
	addrs := make([]netip.Addr, len(vips))
	for i, p := range vips {
		addrs[i] = p.Addr()
	}
	frames, err := announcementFrames(ifi.HardwareAddr, addrs, ipv6Forwarding(ifname))
	if err != nil {
		return err
	}
	// Protocol 0: the socket only sends and is never handed a received
	// frame.
	c, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return fmt.Errorf("announcing on %s: %w", ifname, err)
	}
	defer c.Close()
	for _, f := range frames {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The destination is in the frame; the address only names
		// the interface and the link-layer destination for the
		// kernel's bookkeeping.
		if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}); err != nil {
			return fmt.Errorf("announcing on %s: %w", ifname, err)
		}
	}
	return nil
}

// ipv6Forwarding reports whether the interface forwards IPv6, which makes
// this router a router in the NA's sense. /proc/sys/net shows the network
// namespace of the calling thread.
func ipv6Forwarding(ifname string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
