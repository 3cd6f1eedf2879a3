package announce

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// hopLimitND is the hop limit of every Neighbor Discovery message; a
// receiver drops anything else, since only a packet from the link itself
// can carry it (RFC 4861 §7.1.2).
const hopLimitND = 255

var (
	ethernetBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// allNodes is ff02::1, the destination of an unsolicited neighbour
	// advertisement (RFC 4861 §7.2.6), and its Ethernet mapping
	// 33:33:00:00:00:01 (RFC 2464 §7).
	allNodes    = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// announcementFrames returns the Ethernet frames of one announcement of every
// address: for IPv4 a gratuitous ARP request and a gratuitous ARP reply, for
// IPv6 one unsolicited neighbour advertisement. router sets the NA's Router
// flag.
func announcementFrames(mac net.HardwareAddr, vips []netip.Addr, router bool) ([][]byte, error) {
	var frames [][]byte
	for _, ip := range vips {
		ip = ip.Unmap().WithZone("")
		if ip.Is4() {
			req, rep, err := gratuitousARP(mac, ip)
			if err != nil {
				return nil, err
			}
			frames = append(frames, req, rep)
			continue
		}
		na, err := unsolicitedNA(mac, ip, router)
		if err != nil {
			return nil, err
		}
		frames = append(frames, na)
	}
	return frames, nil
}

// gratuitousARP returns a broadcast ARP request and a broadcast ARP reply
// that both say "vip is at mac": sender and target protocol address are the
// VIP, the target hardware address is the broadcast address.
//
// Both kinds go out because neighbours differ in which they learn from:
// RFC 5227 §3 explains why the request is the better-received form, while
// some routers and older stacks only update their cache from a reply. Linux
// treats either as gratuitous (arp_is_garp: target IP = sender IP, and for a
// reply a broadcast target hardware address), so the reply's target hardware
// address is the broadcast one too. keepalived sends the request form with
// the same broadcast target hardware address.
func gratuitousARP(mac net.HardwareAddr, vip netip.Addr) (request, reply []byte, err error) {
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		p, err := arp.NewPacket(op, mac, vip, ethernetBroadcast, vip)
		if err != nil {
			return nil, nil, fmt.Errorf("building gratuitous ARP for %s: %w", vip, err)
		}
		body, err := p.MarshalBinary()
		if err != nil {
			return nil, nil, fmt.Errorf("building gratuitous ARP for %s: %w", vip, err)
		}
		f := &ethernet.Frame{
			Destination: ethernetBroadcast,
			Source:      mac,
			EtherType:   ethernet.EtherTypeARP,
			Payload:     body,
		}
		b, err := f.MarshalBinary()
		if err != nil {
			return nil, nil, fmt.Errorf("building gratuitous ARP for %s: %w", vip, err)
		}
		if op == arp.OperationRequest {
			request = b
		} else {
			reply = b
		}
	}
	return request, reply, nil
}

// unsolicitedNA returns an Ethernet frame carrying an unsolicited neighbour
// advertisement for vip (RFC 4861 §7.2.6): to ff02::1, hop limit 255,
// Solicited clear, Override set so that neighbours replace the cached
// link-layer address of the old master, and a Target Link-Layer Address
// option with mac.
//
// The IPv6 source is the VIP itself, as keepalived sends it: it is an address
// of the interface once the master has added it, and unlike a link-local
// source it is there even on an interface whose link-local address is
// still tentative.
//
// The Router flag must tell the truth (RFC 4861 §7.2.5: a neighbour that sees
// it clear removes the sender from its default router list), so it follows
// IPv6 forwarding on the interface, as in keepalived.
func unsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router:        router,
		Solicited:     false,
		Override:      true,
		TargetAddress: vip,
		Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac},
		},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, vip, allNodes)
	if err != nil {
		return nil, fmt.Errorf("building neighbour advertisement for %s: %w", vip, err)
	}
	ip6 := make([]byte, 40, 40+len(icmp))
	ip6[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(ip6[4:6], uint16(len(icmp)))
	ip6[6] = 58 // next header: ICMPv6
	ip6[7] = hopLimitND
	src, dst := vip.As16(), allNodes.As16()
	copy(ip6[8:24], src[:])
	copy(ip6[24:40], dst[:])
	f := &ethernet.Frame{
		Destination: allNodesMAC,
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     append(ip6, icmp...),
	}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("building neighbour advertisement for %s: %w", vip, err)
	}
	return b, nil
}
