package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// maxBody bounds how much of a response body a check reads. A health page is
// small; a server that streams without end must not keep the check busy or
// fill the director's memory.
const maxBody = 64 << 10

// HTTPParams describe an HTTP or HTTPS check.
type HTTPParams struct {
	// Target is the address connected to, whatever Host says.
	Target netip.AddrPort
	// HTTPS selects TLS.
	HTTPS bool
	// Path is the request target, with an optional query; "" means "/".
	Path string
	// Host is sent as the Host header and as the TLS server name (SNI), and
	// is the name the certificate is verified against. "" means the target's
	// IP address, which is then also what the certificate must name.
	Host string
	// ExpectStatus lists the passing status codes; empty means 200..299.
	ExpectStatus []int
	// BodyContains, when not empty, must appear in the first 64 KiB of the
	// body.
	BodyContains string
	// TLSSkipVerify accepts any certificate (self-signed, expired, wrong
	// name). The handshake itself must still succeed.
	TLSSkipVerify bool
	// Timeout bounds the whole exchange: connect, TLS handshake, request,
	// headers and body. 0 leaves only the caller's context.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil means the system pool.
	RootCAs *x509.CertPool
}

type httpChecker struct {
	p HTTPParams
	// addr is what is dialed: the target with its IPv6 zone, if any.
	addr string
	// head is the whole request, built once: every check sends the same
	// bytes.
	head []byte
	// tlsConf is shared by every check of this target (a tls.Config is
	// safe for concurrent use once built); nil for plain HTTP.
	tlsConf *tls.Config
	dialer  net.Dialer
	// nc is the check as the event loop runs it; nil for TLS and for a
	// target with an IPv6 zone, which go through package net.
	nc *netCheck
	// err, when set, fails every check: the parameters cannot make a valid
	// request.
	err error
}

// NewHTTP returns a Checker that sends "GET Path" to the target and passes
// when the status is expected and the body contains BodyContains.
//
// Every check opens a fresh connection and closes it afterwards ("Connection:
// close", no keep-alive pool): reusing a connection would hide a server that
// no longer accepts new ones, and an idle pool of thousands of targets would
// cost file descriptors for nothing. Redirects are not followed (a 3xx fails
// unless listed in ExpectStatus), proxies from the environment are ignored,
// and only HTTP/1.1 is spoken.
//
// The exchange is written directly on the connection rather than through
// net/http's Client: its Transport spends two goroutines, several channels
// and a connection pool on every request, all for reuse a health check must
// not do, and at thousands of checks a second that overhead cost more CPU
// than the TCP work itself. net/http still parses the response.
func NewHTTP(p HTTPParams) Checker {
	c := &httpChecker{
		p:    p,
		addr: p.Target.String(),
		// A check lasts a second or so; TCP keep-alive probes would never
		// fire and only cost setsockopt calls.
		dialer: net.Dialer{KeepAlive: -1},
	}
	path := p.Path
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// The request target is parsed on its own, so a path such as
	// "//other.host/" cannot change where we connect, and is sent in its
	// escaped form.
	u, err := url.ParseRequestURI(path)
	if err != nil {
		c.err = fmt.Errorf("invalid path %q: %w", p.Path, err)
		return c
	}
	// The Host header never carries an IPv6 zone: the zone only selects the
	// interface to dial and means nothing to the server.
	host := p.Host
	if host == "" {
		host = netip.AddrPortFrom(p.Target.Addr().WithZone(""), p.Target.Port()).String()
	}
	if !httpguts.ValidHostHeader(host) {
		c.err = fmt.Errorf("invalid Host %q", host)
		return c
	}
	// RFC 9112 §3: request line, then Host (required in HTTP/1.1), then
	// "Connection: close" (§9.6) so the server ends the exchange.
	c.head = []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: lvsd-healthcheck\r\nConnection: close\r\n\r\n")

	if p.HTTPS {
		c.tlsConf = &tls.Config{
			InsecureSkipVerify: p.TLSSkipVerify, //nolint:gosec // the operator asked for it per check
			RootCAs:            p.RootCAs,
			MinVersion:         tls.VersionTLS12,
			// Without Host the certificate must name the target's IP
			// address; crypto/tls verifies an IP ServerName against the
			// certificate's IP SANs and sends no SNI for it.
			ServerName: p.Target.Addr().WithZone("").String(),
		}
		if p.Host != "" {
			c.tlsConf.ServerName = hostOnly(p.Host)
		}
	}
	if !p.HTTPS && p.Target.Addr().Zone() == "" {
		c.nc = &netCheck{addr: p.Target, timeout: p.Timeout, request: c.head, judge: c.judge}
	}
	return c
}

// hostOnly strips a port from a Host value for use as a TLS server name.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// String describes the check completely, so it can serve in a Job key.
func (c *httpChecker) String() string {
	p := c.p
	kind := "http"
	if p.HTTPS {
		kind = "https"
	}
	ca := "system"
	if p.RootCAs != nil {
		ca = "custom"
	}
	return fmt.Sprintf("%s %s path=%q host=%q status=%v body=%q skip_verify=%t ca=%s timeout=%v",
		kind, p.Target, p.Path, p.Host, p.ExpectStatus, p.BodyContains, p.TLSSkipVerify, ca, p.Timeout)
}

func (c *httpChecker) Check(ctx context.Context) Result {
	if c.nc != nil {
		return runNetCheck(ctx, c.nc)
	}
	start := time.Now()
	if c.err != nil {
		return fail(start, c.err.Error())
	}
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()

	ok, msg, err := c.exchange(ctx, budget)
	if err != nil {
		return fail(start, describeHTTPError(ctx, budget, err))
	}
	return Result{OK: ok, Message: msg, At: start, Duration: time.Since(start)}
}

func (c *httpChecker) netCheck() *netCheck { return c.nc }

// httpError is a failure of the exchange whose message is final.
type httpError string

func (e httpError) Error() string { return string(e) }

// exchange runs one request on a fresh connection through package net and
// judges the response: the path of TLS checks and of targets with an IPv6
// zone. The others take the event loop's (see netLoop), with the same
// parser and verdicts.
func (c *httpChecker) exchange(ctx context.Context, budget time.Duration) (ok bool, msg string, err error) {
	// Not Dialer.DialTCP: given no local address it binds to port 0 before
	// connecting, and bind's search for a free port, with thousands in
	// TIME_WAIT, costs more than the whole rest of the check.
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return false, "", err
	}
	// Closed with a reset, not a FIN: see abortClose. By then the exchange
	// is over (or has failed), so the reset changes nothing the check
	// tests; the server has usually closed its end already.
	defer abortClose(conn)
	// The check's hard timeout: the deadline bounds every read and write,
	// and cancellation (the job removed, the daemon stopping) cuts a
	// blocked one short at once.
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return false, "", err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if c.tlsConf != nil {
		tc := tls.Client(conn, c.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			var rh tls.RecordHeaderError
			if errors.As(err, &rh) && rh.Conn != nil && string(rh.RecordHeader[:]) == "HTTP/" {
				return false, "", httpError("server gave HTTP response to HTTPS client")
			}
			return false, "", err
		}
		conn = tc
	}
	if _, err := conn.Write(c.head); err != nil {
		return false, "", err
	}

	buf := getBuf()
	defer putBuf(buf)
	for {
		if len(*buf) == cap(*buf) {
			*buf = slices.Grow(*buf, len(*buf))
		}
		n, err := conn.Read((*buf)[len(*buf):cap(*buf)])
		*buf = (*buf)[:len(*buf)+n]
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			msg := describeError(ctx, budget, err)
			if r, _, perr := parseResponse(*buf, false); perr == nil && r.status != 0 {
				msg = fmt.Sprintf("HTTP %d, reading body: %s", r.status, msg)
			}
			return false, "", httpError(msg)
		}
		r, more, err := parseResponse(*buf, eof)
		switch {
		case err != nil:
			return false, "", err
		case !more:
			ok, msg := c.judge(r)
			return ok, msg, nil
		case len(*buf) > maxRaw:
			return false, "", httpError(fmt.Sprintf("HTTP %d, reading body: response too large", r.status))
		}
	}
}

// judge gives the verdict on a complete response.
func (c *httpChecker) judge(r response) (bool, string) {
	if !c.statusOK(r.status) {
		return false, fmt.Sprintf("HTTP %d, want %s", r.status, c.wantStatus())
	}
	if !bodyContains(r.body, c.p.BodyContains) {
		return false, fmt.Sprintf("HTTP %d, body lacks %q", r.status, c.p.BodyContains)
	}
	return true, statusMessage(r.status)
}

// statusMessages are the messages of passing checks, made once: at
// thousands of checks a second a Sprintf each is garbage for nothing.
var statusMessages = func() (m [600]string) {
	for code := 100; code < len(m); code++ {
		m[code] = fmt.Sprintf("HTTP %d", code)
	}
	return m
}()

func statusMessage(code int) string {
	if code >= 100 && code < len(statusMessages) {
		return statusMessages[code]
	}
	return fmt.Sprintf("HTTP %d", code)
}

// describeHTTPError is describeError for exchange's errors: its own
// messages are final, and an I/O error after the context ended is the
// context's doing, a deadline or a cancellation, whatever the connection
// reported.
func describeHTTPError(ctx context.Context, budget time.Duration, err error) string {
	var he httpError
	if errors.As(err, &he) {
		return string(he)
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return describeError(ctx, budget, err)
}

func (c *httpChecker) statusOK(code int) bool {
	if len(c.p.ExpectStatus) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(c.p.ExpectStatus, code)
}

func (c *httpChecker) wantStatus() string {
	if len(c.p.ExpectStatus) == 0 {
		return "2xx"
	}
	return fmt.Sprint(c.p.ExpectStatus)
}
