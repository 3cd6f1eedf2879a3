package healthcheck

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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
	// Source, when valid, is the local address of the connection
	// (keepalived's bindto).
	Source netip.Addr
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
	// URLs, when not empty, are the requests of the check, each on a
	// connection of its own, one after another; every one must pass.
	// Path, ExpectStatus and BodyContains are then not used.
	URLs []URL
}

// URL is one request of an HTTP check and what its response must be.
type URL struct {
	// Path is the request target, with an optional query; "" means "/".
	Path string
	// ExpectStatus lists the passing status codes; empty means 200..299.
	ExpectStatus []int
	// Digest, when not empty, is the hex MD5 of the whole body (keepalived's
	// genhash); a body of maxBody bytes or more fails, as it is not read
	// to its end.
	Digest string
	// BodyContains, when not empty, must appear in the first 64 KiB of the
	// body.
	BodyContains string
}

// request is one URL of a check, ready to send.
type request struct {
	u URL
	// head is the whole request, built once: every check sends the same
	// bytes.
	head []byte
}

type httpChecker struct {
	p HTTPParams
	// addr is what is dialed: the target with its IPv6 zone, if any.
	addr string
	reqs []request
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

// NewHTTP returns a Checker that sends "GET Path" (or each of URLs) to the
// target and passes when the status is expected and the body contains
// BodyContains and has the Digest asked for.
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
		dialer: net.Dialer{KeepAlive: -1, LocalAddr: localAddr(p.Source)},
	}
	urls := p.URLs
	if len(urls) == 0 {
		urls = []URL{{Path: p.Path, ExpectStatus: p.ExpectStatus, BodyContains: p.BodyContains}}
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
	for _, u := range urls {
		head, err := requestHead(u.Path, host)
		if err != nil {
			c.err = err
			return c
		}
		u.Digest = strings.ToLower(u.Digest)
		c.reqs = append(c.reqs, request{u: u, head: head})
	}

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
	if !p.HTTPS && p.Target.Addr().Zone() == "" && len(c.reqs) == 1 {
		r := &c.reqs[0]
		c.nc = &netCheck{addr: p.Target, source: p.Source, timeout: p.Timeout, request: r.head, judge: r.judge}
	}
	return c
}

// requestHead builds the request for path, sent to host.
func requestHead(path, host string) ([]byte, error) {
	orig := path
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
		return nil, fmt.Errorf("invalid path %q: %w", orig, err)
	}
	// RFC 9112 §3: request line, then Host (required in HTTP/1.1), then
	// "Connection: close" (§9.6) so the server ends the exchange.
	return []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: lvsd-healthcheck\r\nConnection: close\r\n\r\n"), nil
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
	var what string
	if len(p.URLs) == 0 {
		what = fmt.Sprintf("path=%q host=%q status=%v body=%q", p.Path, p.Host, p.ExpectStatus, p.BodyContains)
	} else {
		what = fmt.Sprintf("host=%q", p.Host)
		for _, u := range p.URLs {
			what += fmt.Sprintf(" url=(path=%q status=%v digest=%q body=%q)", u.Path, u.ExpectStatus, strings.ToLower(u.Digest), u.BodyContains)
		}
	}
	if p.Source.IsValid() {
		what += " from=" + p.Source.String()
	}
	return fmt.Sprintf("%s %s %s skip_verify=%t ca=%s timeout=%v",
		kind, p.Target, what, p.TLSSkipVerify, ca, p.Timeout)
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

	var msg string
	for i := range c.reqs {
		r := &c.reqs[i]
		ok, m, err := c.exchange(ctx, budget, r)
		if err != nil {
			m = describeHTTPError(ctx, budget, err)
		}
		if len(c.reqs) > 1 {
			m = r.u.Path + ": " + m
		}
		if err != nil || !ok {
			return fail(start, m)
		}
		msg = m
	}
	if len(c.reqs) > 1 {
		msg = fmt.Sprintf("%d urls pass", len(c.reqs))
	}
	return pass(start, msg)
}

func (c *httpChecker) netCheck() *netCheck { return c.nc }

// httpError is a failure of the exchange whose message is final.
type httpError string

func (e httpError) Error() string { return string(e) }

// exchange runs one request on a fresh connection through package net and
// judges the response: the path of TLS checks and of targets with an IPv6
// zone. The others take the event loop's (see netLoop), with the same
// parser and verdicts.
func (c *httpChecker) exchange(ctx context.Context, budget time.Duration, req *request) (ok bool, msg string, err error) {
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
	if _, err := conn.Write(req.head); err != nil {
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
			ok, msg := req.judge(r)
			return ok, msg, nil
		case len(*buf) > maxRaw:
			return false, "", httpError(fmt.Sprintf("HTTP %d, reading body: response too large", r.status))
		}
	}
}

// judge gives the verdict on a complete response.
func (q *request) judge(r response) (bool, string) {
	if !statusOK(q.u.ExpectStatus, r.status) {
		return false, fmt.Sprintf("HTTP %d, want %s", r.status, wantStatus(q.u.ExpectStatus))
	}
	if !bodyContains(r.body, q.u.BodyContains) {
		return false, fmt.Sprintf("HTTP %d, body lacks %q", r.status, q.u.BodyContains)
	}
	if q.u.Digest != "" {
		if len(r.body) >= maxBody {
			return false, fmt.Sprintf("HTTP %d, body of %d KiB or more: too long for a digest", r.status, maxBody>>10)
		}
		if got := BodyDigest(r.body); got != q.u.Digest {
			return false, fmt.Sprintf("HTTP %d, body digest %s, want %s", r.status, got, q.u.Digest)
		}
	}
	return true, statusMessage(r.status)
}

// BodyDigest is the digest of a body as keepalived's genhash computes it:
// its MD5, in lower-case hex.
func BodyDigest(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
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

func statusOK(expect []int, code int) bool {
	if len(expect) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(expect, code)
}

func wantStatus(expect []int) string {
	if len(expect) == 0 {
		return "2xx"
	}
	return fmt.Sprint(expect)
}
