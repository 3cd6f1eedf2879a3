package healthcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
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
	p      HTTPParams
	url    string
	urlErr error
	client *http.Client
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
func NewHTTP(p HTTPParams) Checker {
	c := &httpChecker{p: p}
	scheme := "http"
	if p.HTTPS {
		scheme = "https"
	}
	path := p.Path
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// The request target is parsed on its own and the address set
	// afterwards, so that an IPv6 zone ("fe80::1%eth0") is escaped properly
	// and a path such as "//other.host/" cannot change where we connect.
	u, err := url.ParseRequestURI(path)
	if err != nil {
		c.urlErr = fmt.Errorf("invalid path %q: %w", p.Path, err)
	} else {
		u.Scheme = scheme
		u.Host = p.Target.String()
		c.url = u.String()
	}

	tlsConf := &tls.Config{
		InsecureSkipVerify: p.TLSSkipVerify, //nolint:gosec // the operator asked for it per check
		RootCAs:            p.RootCAs,
		MinVersion:         tls.VersionTLS12,
	}
	if p.Host != "" {
		tlsConf.ServerName = hostOnly(p.Host)
	}
	transport := &http.Transport{
		// Proxy stays nil: a health check talks to the real server itself.
		DialContext:            (&net.Dialer{}).DialContext,
		TLSClientConfig:        tlsConf,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxBody,
	}
	c.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
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
	start := time.Now()
	if c.urlErr != nil {
		return fail(start, c.urlErr.Error())
	}
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fail(start, err.Error())
	}
	if c.p.Host != "" {
		req.Host = c.p.Host
	}
	req.Close = true // sends "Connection: close"
	req.Header.Set("User-Agent", "lvsd-healthcheck")

	resp, err := c.client.Do(req)
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	defer resp.Body.Close()

	if !c.statusOK(resp.StatusCode) {
		return fail(start, fmt.Sprintf("HTTP %d, want %s", resp.StatusCode, c.wantStatus()))
	}
	// The body is read even when its content does not matter: a server that
	// resets or stalls half-way through its answer is not healthy.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fail(start, fmt.Sprintf("HTTP %d, reading body: %s", resp.StatusCode, describeError(ctx, budget, err)))
	}
	if c.p.BodyContains != "" && !bytes.Contains(body, []byte(c.p.BodyContains)) {
		return fail(start, fmt.Sprintf("HTTP %d, body lacks %q", resp.StatusCode, c.p.BodyContains))
	}
	return pass(start, fmt.Sprintf("HTTP %d", resp.StatusCode))
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
