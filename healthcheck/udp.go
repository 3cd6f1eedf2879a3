package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// UDPParams describe a UDP check.
type UDPParams struct {
	Target netip.AddrPort
	// Payload is the datagram sent; it may be empty.
	Payload []byte
	// RequireReply makes a reply necessary: without it, silence until the
	// timeout passes, and only an ICMP error (port, host or network
	// unreachable) fails.
	RequireReply bool
	// Reply, if not empty, is what a reply must hold: the reply and Reply
	// are compared over the shorter of the two, as keepalived's UDP_CHECK
	// does (MinReply can demand the whole of it). Reply implies
	// RequireReply.
	Reply []byte
	// ReplyMask, if not nil, has Reply's length; a bit set in it is a bit
	// of the reply that is not compared (keepalived's X hex digit).
	ReplyMask []byte
	// MinReply and MaxReply bound a required reply's length; MaxReply 0
	// means no bound.
	MinReply, MaxReply int
	// Timeout bounds the check; 0 leaves only the caller's context.
	Timeout time.Duration
	// Source, if valid, is the address the datagram is sent from
	// (keepalived's bindto).
	Source netip.Addr
}

type udpChecker struct {
	p      UDPParams
	dialer net.Dialer
}

// maxDatagram is the largest UDP payload over IPv4 or IPv6 without jumbograms.
const maxDatagram = 65535

// NewUDP returns a Checker that sends one datagram to the target from a
// connected socket and waits for an answer, as keepalived's UDP_CHECK
// does. The socket asks for ICMP errors (IP_RECVERR), so a port, host or
// network unreachable ends the check at once as a failure. Without
// RequireReply a target that stays silent until the timeout passes: UDP
// has no handshake, and silence is what a healthy server that does not
// answer this payload looks like.
func NewUDP(p UDPParams) Checker {
	if len(p.Reply) > 0 {
		p.RequireReply = true
	}
	return &udpChecker{p: p, dialer: net.Dialer{Control: recvErrControl, LocalAddr: udpLocalAddr(p.Source)}}
}

// recvErrControl sets IP_RECVERR (IPV6_RECVERR) on a socket before it
// connects: without it Linux reports on a connected UDP socket only the
// ICMP errors it deems hard (port unreachable), not host or network
// unreachable.
func recvErrControl(network, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if network == "udp6" {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_RECVERR, 1)
	})
	return errors.Join(err, serr)
}

// String describes the check completely, so it can serve in a Job key.
func (c *udpChecker) String() string {
	return fmt.Sprintf("udp %s%s payload=%x require_reply=%t reply=%x mask=%x len=%d..%d timeout=%v",
		c.p.Target, fromOf(c.p.Source), c.p.Payload, c.p.RequireReply, c.p.Reply, c.p.ReplyMask, c.p.MinReply, c.p.MaxReply, c.p.Timeout)
}

// udpLocalAddr is a Dialer's LocalAddr for a datagram check's source
// address: nil, not a typed nil, when there is none.
func udpLocalAddr(source netip.Addr) net.Addr {
	if !source.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(source, 0))
}

// fromOf is " from=ADDR" for a check's source address, "" for none.
func fromOf(source netip.Addr) string {
	if !source.IsValid() {
		return ""
	}
	return " from=" + source.String()
}

func (c *udpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "udp", c.p.Target.String())
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	defer conn.Close()
	stop, err := bindDeadline(ctx, conn)
	defer stop()
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	if _, err := conn.Write(c.p.Payload); err != nil {
		return fail(start, describeUDPError(ctx, budget, err))
	}
	buf := make([]byte, maxDatagram)
	n, err := conn.Read(buf)
	if err != nil {
		err = readErr(ctx, err)
		switch {
		case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded):
			return fail(start, describeUDPError(ctx, budget, err))
		case c.p.RequireReply:
			return fail(start, fmt.Sprintf("no reply in %v", budget))
		}
		return pass(start, fmt.Sprintf("no reply and no ICMP error in %v", budget))
	}
	if !c.p.RequireReply {
		return pass(start, fmt.Sprintf("reply of %d bytes", n))
	}
	if ok, msg := c.judge(buf[:n]); !ok {
		return fail(start, msg)
	}
	return pass(start, fmt.Sprintf("reply of %d bytes", n))
}

// judge decides whether a reply is the one required.
func (c *udpChecker) judge(reply []byte) (ok bool, msg string) {
	if len(reply) < c.p.MinReply {
		return false, fmt.Sprintf("reply of %d bytes, shorter than %d", len(reply), c.p.MinReply)
	}
	if c.p.MaxReply > 0 && len(reply) > c.p.MaxReply {
		return false, fmt.Sprintf("reply of %d bytes, longer than %d", len(reply), c.p.MaxReply)
	}
	for i := range min(len(reply), len(c.p.Reply)) {
		diff := reply[i] ^ c.p.Reply[i]
		if c.p.ReplyMask != nil {
			diff &^= c.p.ReplyMask[i]
		}
		if diff != 0 {
			return false, fmt.Sprintf("unexpected reply: byte %d is %#02x, want %#02x", i, reply[i], c.p.Reply[i])
		}
	}
	return true, ""
}

// describeUDPError names the ICMP error behind a failed send or receive,
// which on a UDP socket is the only way a target says no.
func describeUDPError(ctx context.Context, budget time.Duration, err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "port unreachable"
	}
	return describeError(ctx, budget, err)
}
