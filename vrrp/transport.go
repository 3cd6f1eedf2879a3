//go:build linux

// Transport: VRRP advertisements over raw IP protocol 112 sockets, one
// socket per interface and IP version (RFC 5798 §5.1, RFC 3768 §5.1).

package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// tosInternetControl is the IPv4 TOS and IPv6 traffic class keepalived and
// most routers give routing-protocol traffic (IP precedence 6,
// "internetwork control"), so that QoS on the path queues adverts ahead of
// data.
const tosInternetControl = 0xc0

// Packet is one received VRRP packet with the IP facts the receive checks
// need.
type Packet struct {
	// Advert is the decoded advertisement; nil when decoding failed.
	Advert *Advert
	// Src and Dst are the IP source and destination, without zone.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the packet arrived with, or -1
	// when the kernel did not report it.
	TTL int
	// IfIndex is the index of the interface the packet arrived on, or 0
	// when the kernel did not report it.
	IfIndex int
	// VRID is the Virtual Rtr ID the message names (PeekVRID), set also
	// when the message did not decode; 0, which no virtual router has,
	// when it cannot be read.
	VRID uint8
}

// Option changes how ListenIPv4 and ListenIPv6 set up a Conn.
type Option func(*connConfig)

type connConfig struct {
	src     netip.Addr
	noGroup bool
}

// WithSource makes the Conn send from src instead of the interface's first
// IPv4 address or its IPv6 link-local address. src must be configured on the
// interface. A unicast instance passes the unicast_peers entry that is its
// own, so the peers' source filter recognises it.
func WithSource(src netip.Addr) Option {
	return func(c *connConfig) { c.src = src }
}

// WithoutMulticast makes the Conn not join the VRRP multicast group: a
// unicast instance then sees only adverts addressed to it, not every VRID on
// the segment.
func WithoutMulticast() Option {
	return func(c *connConfig) { c.noGroup = true }
}

// Conn sends and receives VRRP packets on one interface over one IP version.
//
// The socket is bound to the interface (SO_BINDTODEVICE) so it never sees
// adverts of another segment, joins 224.0.0.18 or ff02::12 on that interface
// only, and has IP_MULTICAST_ALL off so groups joined by other sockets of the
// host are not delivered to it. Multicast loopback is off: a router never
// needs its own adverts back. Every packet leaves with TTL or hop limit 255,
// unicast included (RFC 5798 §5.1.1.3, §5.1.2.3).
//
// IPv6 checksum: IPV6_CHECKSUM is explicitly disabled. With it set to
// offset 6 the kernel would fill in and verify the checksum, but it would
// also drop bad packets silently, and lvsd counts every dropped packet by
// reason. The Conn sends from an address it chooses itself (IPV6_PKTINFO),
// so it knows the pseudo-header and Advert.Marshal computes the checksum;
// ParseAdvert verifies it on receipt exactly as for IPv4.
//
// Send may be called concurrently with Receive; Receive must be called from
// one goroutine at a time.
type Conn struct {
	ifi  *net.Interface
	ipv6 bool
	src  netip.Addr
	pc   net.PacketConn
	p4   *ipv4.PacketConn
	p6   *ipv6.PacketConn

	mu   sync.Mutex // guards wbuf
	wbuf []byte
}

// ListenIPv4 opens a VRRP socket for IPv4 on the named interface. It must run
// in the network namespace of the interface; the socket stays there.
func ListenIPv4(ifname string, opts ...Option) (*Conn, error) {
	return listen(ifname, false, opts)
}

// ListenIPv6 opens a VRRP socket for IPv6 on the named interface. It must run
// in the network namespace of the interface; the socket stays there.
func ListenIPv6(ifname string, opts ...Option) (*Conn, error) {
	return listen(ifname, true, opts)
}

func listen(ifname string, ipv6 bool, opts []Option) (*Conn, error) {
	var cfg connConfig
	for _, o := range opts {
		o(&cfg)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket on %s: %w", ifname, err)
	}
	src := cfg.src
	if !src.IsValid() {
		if src, err = interfaceSource(ifi, ipv6); err != nil {
			return nil, err
		}
	} else if ipv6 != (src.Is6() && !src.Is4In6()) {
		return nil, fmt.Errorf("vrrp socket on %s: source %s is not IPv%d: %w", ifname, src, advertIPVersion(ipv6), ErrAddrFamily)
	}
	src = src.Unmap().WithZone("")

	network, laddr := "ip4:112", "0.0.0.0"
	if ipv6 {
		network, laddr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = setupSocket(int(fd), ifname, ipv6) })
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket on %s: %w", ifname, err)
	}
	c := &Conn{ifi: ifi, ipv6: ipv6, src: src, pc: pc}
	if ipv6 {
		err = c.setup6(cfg)
	} else {
		err = c.setup4(cfg)
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("vrrp socket on %s: %w", ifname, err)
	}
	return c, nil
}

// setupSocket sets the options that must hold before the socket receives
// anything.
func setupSocket(fd int, ifname string, ipv6 bool) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		return fmt.Errorf("binding to device: %w", err)
	}
	if ipv6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0); err != nil {
			return fmt.Errorf("clearing IPV6_MULTICAST_ALL: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, -1); err != nil {
			return fmt.Errorf("clearing IPV6_CHECKSUM: %w", err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
		return fmt.Errorf("clearing IP_MULTICAST_ALL: %w", err)
	}
	return nil
}

// sockStep is one socket option to set, named for the error message.
type sockStep struct {
	what string
	do   func() error
}

func runSteps(steps []sockStep) error {
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("setting %s: %w", s.what, err)
		}
	}
	return nil
}

func (c *Conn) setup4(cfg connConfig) error {
	p := ipv4.NewPacketConn(c.pc)
	c.p4 = p
	group := &net.IPAddr{IP: MulticastGroup(false).AsSlice()}
	steps := []sockStep{
		{"ttl", func() error { return p.SetTTL(AdvertTTL) }},
		{"multicast ttl", func() error { return p.SetMulticastTTL(AdvertTTL) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(c.ifi) }},
		{"tos", func() error { return p.SetTOS(tosInternetControl) }},
		{"control messages", func() error {
			return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		}},
	}
	if !cfg.noGroup {
		steps = append(steps, sockStep{"membership of " + group.String(), func() error { return p.JoinGroup(c.ifi, group) }})
	}
	return runSteps(steps)
}

func (c *Conn) setup6(cfg connConfig) error {
	p := ipv6.NewPacketConn(c.pc)
	c.p6 = p
	group := &net.IPAddr{IP: MulticastGroup(true).AsSlice()}
	steps := []sockStep{
		{"hop limit", func() error { return p.SetHopLimit(AdvertTTL) }},
		{"multicast hop limit", func() error { return p.SetMulticastHopLimit(AdvertTTL) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(c.ifi) }},
		{"traffic class", func() error { return p.SetTrafficClass(tosInternetControl) }},
		{"control messages", func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
	}
	if !cfg.noGroup {
		steps = append(steps, sockStep{"membership of " + group.String(), func() error { return p.JoinGroup(c.ifi, group) }})
	}
	return runSteps(steps)
}

// interfaceSource picks the address adverts are sent from: the first IPv4
// address of the interface (the kernel lists primary addresses before
// secondary ones, and lvsd adds its /32 VIPs only after it has listened), or
// the first IPv6 link-local address, which RFC 5798 §5.1.2.1 requires as the
// source of IPv6 adverts.
func interfaceSource(ifi *net.Interface, ipv6 bool) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !ipv6 && ip.Is4() {
			return ip, nil
		}
		if ipv6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	want := "IPv4 address"
	if ipv6 {
		want = "IPv6 link-local address"
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no %s to send VRRP adverts from", ifi.Name, want)
}

// Source returns the address adverts are sent from.
func (c *Conn) Source() netip.Addr { return c.src }

// IfIndex returns the index of the interface the Conn is bound to.
func (c *Conn) IfIndex() int { return c.ifi.Index }

// IPv6 reports whether the Conn carries IPv6.
func (c *Conn) IPv6() bool { return c.ipv6 }

// Send sends the advert to dst: the group MulticastGroup returns, or one
// unicast peer (call Send once per peer; version 3 checksums differ per
// destination).
func (c *Conn) Send(a *Advert, dst netip.Addr) error {
	dst = dst.Unmap().WithZone("")
	if dst.Is6() != c.ipv6 {
		return fmt.Errorf("sending vrrp advert to %s on IPv%d socket: %w", dst, advertIPVersion(c.ipv6), ErrAddrFamily)
	}
	if c.ipv6 && a.Version == 2 {
		// RFC 3768 defines version 2 for IPv4 only; Marshal does not
		// know the transport, so the check is here.
		return fmt.Errorf("sending vrrp version 2 advert over IPv6: %w", ErrVersion)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := a.AppendMarshal(c.wbuf[:0], c.src, dst)
	if err != nil {
		return fmt.Errorf("encoding vrrp advert for %s: %w", dst, err)
	}
	c.wbuf = b
	if c.ipv6 {
		cm := &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}
		// No zone on a link-local destination: the interface comes
		// from IPV6_PKTINFO and SO_BINDTODEVICE. A zone name would be
		// resolved through the Go runtime's interface cache, which
		// may hold another network namespace's indexes.
		_, err = c.p6.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	} else {
		cm := &ipv4.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}
		_, err = c.p4.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	}
	if err != nil {
		return fmt.Errorf("sending vrrp advert to %s on %s: %w", dst, c.ifi.Name, err)
	}
	return nil
}

// Receive waits for the next VRRP packet, reads it into buf and decodes it.
// buf should hold the largest advert, 8+8+255×16 bytes.
//
// An error from the socket (net.ErrClosed after Close, a deadline) comes
// with a zero Packet. A packet that does not decode comes with its Src, Dst,
// TTL, IfIndex and VRID filled in, a nil Advert and an error wrapping one of
// the codec's sentinels, so the caller can count it with ReasonOf and go on
// reading. Receive does not apply the configuration checks: see Accept.
func (c *Conn) Receive(buf []byte) (Packet, error) {
	p := Packet{TTL: -1}
	var (
		n   int
		src net.Addr
		err error
	)
	if c.ipv6 {
		var cm *ipv6.ControlMessage
		n, cm, src, err = c.p6.ReadFrom(buf)
		if err == nil && cm != nil {
			p.TTL, p.IfIndex = cm.HopLimit, cm.IfIndex
			p.Dst = ipToAddr(cm.Dst)
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = c.p4.ReadFrom(buf)
		if err == nil && cm != nil {
			p.TTL, p.IfIndex = cm.TTL, cm.IfIndex
			p.Dst = ipToAddr(cm.Dst)
		}
	}
	if err != nil {
		return Packet{}, fmt.Errorf("reading vrrp packet on %s: %w", c.ifi.Name, err)
	}
	p.VRID, _ = PeekVRID(buf[:n])
	if ia, ok := src.(*net.IPAddr); ok {
		p.Src = ipToAddr(ia.IP)
	}
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return p, fmt.Errorf("vrrp packet on %s without source or destination address: %w", c.ifi.Name, errNoAddress)
	}
	a, err := ParseAdvert(buf[:n], p.Src, p.Dst, c.ipv6)
	if err != nil {
		return p, fmt.Errorf("vrrp packet from %s on %s: %w", p.Src, c.ifi.Name, err)
	}
	p.Advert = a
	return p, nil
}

// errNoAddress is a packet whose addresses the kernel did not report; it
// should never happen and is counted as DropOther.
var errNoAddress = errors.New("missing packet address")

// Pending reports whether a packet waits in the socket's receive queue
// (SIOCINQ), so that a Receive would return at once. A backup whose
// Master_Down_Timer runs out asks it: on a busy machine the goroutine that
// reads the socket may not have run since the master's advert arrived.
func (c *Conn) Pending() (bool, error) {
	sc, ok := c.pc.(syscall.Conn)
	if !ok {
		return false, fmt.Errorf("vrrp socket on %s: no file descriptor", c.ifi.Name)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		return false, err
	}
	if ierr != nil {
		return false, fmt.Errorf("vrrp socket on %s: SIOCINQ: %w", c.ifi.Name, ierr)
	}
	return n > 0, nil
}

// SetReadDeadline sets the deadline of Receive.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }

// Close closes the socket; a blocked Receive returns an error wrapping
// net.ErrClosed.
func (c *Conn) Close() error { return c.pc.Close() }

func ipToAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}
