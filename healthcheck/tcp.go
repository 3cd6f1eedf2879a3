package healthcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// tcpChecker passes when a TCP connection to the target is established.
type tcpChecker struct {
	target  netip.AddrPort
	source  netip.Addr
	timeout time.Duration
	// nc is the check as the event loop runs it; nil for a target with an
	// IPv6 zone, which goes through package net.
	nc *netCheck
}

// NewTCP returns a Checker that connects to target and closes the connection
// at once, as keepalived's TCP_CHECK does, though with a reset (see
// abortClose). The three-way handshake is the whole test: a server that
// accepts and then never answers passes, because the kernel completed the
// handshake on its behalf. Use an HTTP check to catch a hung application.
// timeout bounds the connect; 0 leaves only the caller's context. source,
// when valid, is the connection's source address (keepalived's bindto).
func NewTCP(target netip.AddrPort, source netip.Addr, timeout time.Duration) Checker {
	c := &tcpChecker{target: target, source: source, timeout: timeout}
	if target.Addr().Zone() == "" {
		c.nc = &netCheck{addr: target, source: source, timeout: timeout}
	}
	return c
}

func (c *tcpChecker) netCheck() *netCheck { return c.nc }

// String describes the check completely, so it can serve in a Job key.
func (c *tcpChecker) String() string {
	if c.source.IsValid() {
		return fmt.Sprintf("tcp %s from=%s timeout=%v", c.target, c.source, c.timeout)
	}
	return fmt.Sprintf("tcp %s timeout=%v", c.target, c.timeout)
}

func (c *tcpChecker) Check(ctx context.Context) Result {
	if c.nc != nil {
		return runNetCheck(ctx, c.nc)
	}
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.timeout)
	defer cancel()
	// No TCP keep-alive: the connection lives for one handshake, and
	// enabling it would cost setsockopt calls on every check.
	d := net.Dialer{KeepAlive: -1, LocalAddr: localAddr(c.source)}
	conn, err := d.DialContext(ctx, "tcp", c.target.String())
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	abortClose(conn)
	return pass(start, "connected")
}

// abortClose closes a check's connection abortively: with SO_LINGER set to
// 0 the kernel sends RST and frees the socket at once, as HAProxy's checks
// do. An orderly close costs a FIN and an ACK each way, and leaves whichever
// end closed first in TIME_WAIT for a minute: at thousands of checks a
// second, thousands of packets and tens of thousands of TIME_WAIT sockets,
// all kernel CPU and memory on the director or the real servers. The check
// has learnt all it tests before closing, so the reset changes no verdict;
// the price is that a server may log a reset for a connection it accepted.
func abortClose(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		// A failure only means an orderly close instead.
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// localAddr is a Dialer's LocalAddr for a check's source address: nil,
// not a typed nil, when there is none.
func localAddr(source netip.Addr) net.Addr {
	if !source.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(source, 0))
}
