package healthcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ICMP protocol numbers (IANA), as icmp.ParseMessage wants them.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// pingPayload is how many bytes of data an echo request carries: a token
// that tells this check's replies from any other's, and room for nothing
// else. keepalived sends 128 bytes; the size tests no more than 16 do.
const pingPayload = 16

// pingSocket is how a ping check opens its socket.
type pingSocket int

const (
	// pingAuto tries an unprivileged ICMP datagram socket and falls back
	// to a raw one when net.ipv4.ping_group_range does not allow it (its
	// default allows no group, root's included).
	pingAuto pingSocket = iota
	pingDatagram
	pingRaw
)

type pingChecker struct {
	target  netip.Addr
	source  netip.Addr
	timeout time.Duration
	socket  pingSocket
	seq     atomic.Uint32
}

// NewPing returns a Checker that sends one ICMP echo request (ICMPv6 for
// an IPv6 target) and passes on the matching echo reply, as keepalived's
// PING_CHECK does. A reply matches by identifier, sequence number and
// data, so replies to other checks or to ping(8) on the same host are
// ignored, as are other ICMP messages, but a destination unreachable
// quoting this request fails the check at once.
//
// The socket is an unprivileged ICMP datagram socket where
// net.ipv4.ping_group_range allows one, otherwise a raw socket, which
// needs CAP_NET_RAW. source, when valid, is the requests' source address,
// one of the target's family on this host (keepalived's bindto).
func NewPing(target, source netip.Addr, timeout time.Duration) Checker {
	return &pingChecker{target: target, source: source, timeout: timeout}
}

// String describes the check completely, so it can serve in a Job key.
func (c *pingChecker) String() string {
	return fmt.Sprintf("ping %s timeout=%v%s", c.target, c.timeout, fromOf(c.source))
}

func (c *pingChecker) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.timeout)
	defer cancel()

	conn, raw, err := c.open()
	if err != nil {
		return fail(start, err.Error())
	}
	defer conn.Close()
	stop, err := bindDeadline(ctx, conn)
	defer stop()
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}

	req := echoRequest{seq: uint16(c.seq.Add(1)), data: make([]byte, pingPayload)}
	_, _ = rand.Read(req.data)
	var dst net.Addr
	if raw {
		// A raw socket's identifier is the check's own; a datagram
		// socket's is its local port, which the kernel writes in and
		// filters replies by.
		req.id = uint16(binary.BigEndian.Uint16(req.data))
		dst = &net.IPAddr{IP: c.target.AsSlice(), Zone: c.target.Zone()}
	} else {
		req.id = uint16(conn.LocalAddr().(*net.UDPAddr).Port)
		dst = &net.UDPAddr{IP: c.target.AsSlice(), Zone: c.target.Zone()}
	}
	if _, err := conn.WriteTo(req.marshal(c.target.Is6()), dst); err != nil {
		return fail(start, describeError(ctx, budget, readErr(ctx, err)))
	}

	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			err = readErr(ctx, err)
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
				return fail(start, fmt.Sprintf("no echo reply in %v", budget))
			}
			return fail(start, describeError(ctx, budget, err))
		}
		switch v := req.judge(c.target.Is6(), buf[:n]); v {
		case echoReply:
			return pass(start, "echo reply")
		case echoIgnored:
		default:
			return fail(start, fmt.Sprintf("%s (ICMP from %s)", v, addrOf(from)))
		}
	}
}

// addrOf is the address of a packet's sender.
func addrOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	}
	return fmt.Sprint(a)
}

// open opens the check's socket; raw tells which kind it is.
func (c *pingChecker) open() (conn net.PacketConn, raw bool, err error) {
	if c.socket != pingRaw {
		conn, err = listenICMPDatagram(c.target.Is6(), c.source)
		if err == nil || c.socket == pingDatagram || !(errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
			return conn, false, err
		}
	}
	network, laddr := "ip4:icmp", "0.0.0.0"
	if c.target.Is6() {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	if c.source.IsValid() {
		laddr = c.source.String()
	}
	conn, err = net.ListenPacket(network, laddr)
	if err != nil {
		return nil, true, fmt.Errorf("opening a raw ICMP socket (needs CAP_NET_RAW): %w", err)
	}
	if c.target.Is6() {
		// The kernel hands a raw ICMPv6 socket every ICMPv6 message
		// (neighbour discovery, router adverts); only two kinds matter.
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		f.Accept(ipv6.ICMPTypeDestinationUnreachable)
		if err := ipv6.NewPacketConn(conn).SetICMPFilter(&f); err != nil {
			conn.Close()
			return nil, true, fmt.Errorf("setting the ICMPv6 filter: %w", err)
		}
	}
	return conn, true, nil
}

// listenICMPDatagram opens an unprivileged ICMP (ICMPv6) datagram socket.
// Not icmp.ListenPacket: its socket lacks SOCK_CLOEXEC, and would leak into
// the commands that exec checks start meanwhile.
// It is bound to source when that is valid.
func listenICMPDatagram(v6 bool, source netip.Addr) (net.PacketConn, error) {
	family, proto, sa := unix.AF_INET, unix.IPPROTO_ICMP, unix.Sockaddr(&unix.SockaddrInet4{})
	if v6 {
		family, proto, sa = unix.AF_INET6, unix.IPPROTO_ICMPV6, &unix.SockaddrInet6{}
	}
	if source.IsValid() {
		if v6 {
			sa = &unix.SockaddrInet6{Addr: source.As16()}
		} else {
			sa = &unix.SockaddrInet4{Addr: source.As4()}
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return nil, fmt.Errorf("opening an ICMP datagram socket: %w", os.NewSyscallError("socket", err))
	}
	// Without IP_RECVERR the kernel drops the ICMP errors about a ping
	// socket's requests; with it, they fail the next read.
	level, opt := unix.SOL_IP, unix.IP_RECVERR
	if v6 {
		level, opt = unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting IP_RECVERR on an ICMP datagram socket: %w", os.NewSyscallError("setsockopt", err))
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding an ICMP datagram socket: %w", os.NewSyscallError("bind", err))
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer f.Close()
	return net.FilePacketConn(f)
}

// echoRequest is one echo request as sent.
type echoRequest struct {
	id, seq uint16
	data    []byte
}

func (r echoRequest) marshal(v6 bool) []byte {
	m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(r.id), Seq: int(r.seq), Data: r.data}}
	if v6 {
		// The kernel fills in an ICMPv6 checksum, which covers a
		// pseudo-header only it knows for sure.
		m.Type = ipv6.ICMPTypeEchoRequest
	}
	b, _ := m.Marshal(nil)
	return b
}

// echoVerdict is what one received ICMP message means to a ping check.
type echoVerdict int

const (
	// echoIgnored: not about this request (another check's reply, a
	// request, neighbour discovery, garbage).
	echoIgnored echoVerdict = iota
	// echoReply: the reply to this request.
	echoReply
	// echoUnreachable: a destination unreachable quoting this request.
	echoUnreachable
)

func (v echoVerdict) String() string {
	switch v {
	case echoIgnored:
		return "ignored"
	case echoReply:
		return "echo reply"
	case echoUnreachable:
		return "destination unreachable"
	}
	return "?"
}

// judge decides what an ICMP message b (IPv4 header stripped) means for r.
func (r echoRequest) judge(v6 bool, b []byte) echoVerdict {
	proto := protoICMP
	if v6 {
		proto = protoICMPv6
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil {
		return echoIgnored
	}
	switch m.Type {
	case ipv4.ICMPTypeEchoReply, ipv6.ICMPTypeEchoReply:
		e, ok := m.Body.(*icmp.Echo)
		if ok && e.ID == int(r.id) && e.Seq == int(r.seq) && bytes.Equal(e.Data, r.data) {
			return echoReply
		}
	case ipv4.ICMPTypeDestinationUnreachable, ipv6.ICMPTypeDestinationUnreachable:
		if u, ok := m.Body.(*icmp.DstUnreach); ok && r.quotedIn(v6, u.Data) {
			return echoUnreachable
		}
	}
	return echoIgnored
}

// quotedIn reports whether an ICMP error's quoted datagram (its IP header
// and the start of its payload, RFC 792, RFC 4443 §3.1) is this request.
func (r echoRequest) quotedIn(v6 bool, q []byte) bool {
	var echo []byte
	if v6 {
		// The fixed header; a check's request has no extension headers.
		if len(q) < ipv6.HeaderLen || q[6] != protoICMPv6 {
			return false
		}
		echo = q[ipv6.HeaderLen:]
	} else {
		if len(q) < ipv4.HeaderLen || q[9] != protoICMP {
			return false
		}
		hl := int(q[0]&0x0f) * 4
		if hl < ipv4.HeaderLen || len(q) < hl {
			return false
		}
		echo = q[hl:]
	}
	want := byte(ipv4.ICMPTypeEcho)
	if v6 {
		want = byte(ipv6.ICMPTypeEchoRequest)
	}
	return len(echo) >= 8 && echo[0] == want &&
		binary.BigEndian.Uint16(echo[4:]) == r.id && binary.BigEndian.Uint16(echo[6:]) == r.seq
}
