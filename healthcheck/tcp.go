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
	timeout time.Duration
}

// NewTCP returns a Checker that connects to target and closes the connection
// at once, as keepalived's TCP_CHECK does. The three-way handshake is the
// whole test: a server that accepts and then never answers passes, because
// the kernel completed the handshake on its behalf. Use an HTTP check to
// catch a hung application. timeout bounds the connect; 0 leaves only the
// caller's context.
func NewTCP(target netip.AddrPort, timeout time.Duration) Checker {
	return &tcpChecker{target: target, timeout: timeout}
}

// String describes the check completely, so it can serve in a Job key.
func (c *tcpChecker) String() string {
	return fmt.Sprintf("tcp %s timeout=%v", c.target, c.timeout)
}

func (c *tcpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.target.String())
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	// A plain close (FIN) rather than an abortive one: a reset would show up
	// as an error in the server's logs on every check.
	_ = conn.Close()
	return pass(start, "connected")
}
