package healthcheck

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

const (
	// shortTimeout is for cases that must time out; longTimeout for the
	// others, so that a loaded machine cannot turn their specific failure
	// (or success) into a timeout.
	shortTimeout = 500 * time.Millisecond
	longTimeout  = 5 * time.Second
	// slack is how late past its timeout a check may return; the race
	// detector on a busy two-core machine needs some.
	slack = time.Second
	rise  = 2
	fall  = 3
)

// startHTTP serves h on addr ("127.0.0.2:0"), in TLS with conf if it is not
// nil, and returns the server's address.
func startHTTP(t *testing.T, addr string, conf *tls.Config, h http.Handler) netip.AddrPort {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog
	srv.Listener.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	if conf != nil {
		srv.TLS = conf
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return netip.MustParseAddrPort(ln.Addr().String())
}

// quietLog swallows the servers' complaints about the clients the tests
// make misbehave (TLS failures, resets).
var quietLog = log.New(io.Discard, "", 0)

func text(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestHTTPCheck(t *testing.T) {
	pki := newPKI(t, []string{"www.example.test"}, []net.IP{net.ParseIP("127.0.0.3")})
	serverTLS := func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{pki.leaf}}
	}

	tests := []struct {
		name    string
		params  func(t *testing.T) HTTPParams
		timeout time.Duration // 0: longTimeout
		wantOK  bool
		wantMsg string // regular expression
	}{
		{
			name: "healthy",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, text(200, "all ok\n"))
				return HTTPParams{Target: ap, Path: "/healthz", BodyContains: "ok"}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "healthy on another loopback address with an expected 503",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.2:0", nil, text(503, "maintenance"))
				return HTTPParams{Target: ap, ExpectStatus: []int{503}}
			},
			wantOK: true, wantMsg: "HTTP 503",
		},
		{
			name: "informational answers before the real one",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"+
						"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
				})}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "invalid Host",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, text(200, "ok"))
				return HTTPParams{Target: ap, Host: "a b\r\nX-Injected: 1"}
			},
			wantMsg: "invalid Host",
		},
		{
			name: "refused",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: closedPort(t, "127.0.0.1")}
			},
			wantMsg: "connection refused",
		},
		{
			name: "accepts and never answers",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", hang)}
			},
			timeout: shortTimeout,
			wantMsg: "timed out after 500ms",
		},
		{
			name: "answers too slowly",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-time.After(2 * time.Second):
					case <-r.Context().Done():
					}
					io.WriteString(w, "too late")
				}))
				return HTTPParams{Target: ap}
			},
			timeout: shortTimeout,
			wantMsg: "timed out after 500ms",
		},
		{
			name: "headers in time, body too slowly",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Length", "100")
					io.WriteString(w, "part")
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				}))
				return HTTPParams{Target: ap}
			},
			timeout: shortTimeout,
			wantMsg: "timed out after 500ms",
		},
		{
			name: "wrong status",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: startHTTP(t, "127.0.0.1:0", nil, text(500, "oops"))}
			},
			wantMsg: "HTTP 500, want 2xx",
		},
		{
			name: "status outside the expected list",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, text(204, ""))
				return HTTPParams{Target: ap, ExpectStatus: []int{200}}
			},
			wantMsg: `HTTP 204, want \[200\]`,
		},
		{
			name: "redirect is not followed",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, http.RedirectHandler("/elsewhere", http.StatusFound))
				return HTTPParams{Target: ap}
			},
			wantMsg: "HTTP 302",
		},
		{
			name: "wrong body",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, text(200, "database down"))
				return HTTPParams{Target: ap, BodyContains: "ok"}
			},
			wantMsg: `body lacks "ok"`,
		},
		{
			name: "endless body is read only up to the limit",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					chunk := []byte(strings.Repeat("x", 4096))
					for r.Context().Err() == nil {
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}))
				return HTTPParams{Target: ap}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "reset in the middle of the headers",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
					time.Sleep(20 * time.Millisecond)
					resetClose(c)
				})}
			},
			// Which error wins depends on whether the client has read the
			// partial header line when the RST arrives.
			wantMsg: "connection reset|malformed MIME header",
		},
		{
			name: "reset in the middle of the body",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok but")
					time.Sleep(20 * time.Millisecond)
					resetClose(c)
				})}
			},
			wantMsg: "reading body",
		},
		{
			name: "closed before a complete response",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				})}
			},
			wantMsg: "connection closed before a complete response",
		},
		{
			name: "garbage instead of HTTP",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02garbage\r\n\r\n")
					hang(c, done)
				})}
			},
			wantMsg: "malformed HTTP",
		},
		{
			name: "garbage without end",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
					readRequestHead(c)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Junk: ")
					junk := []byte(strings.Repeat("a", 4096))
					for {
						select {
						case <-done:
							return
						default:
						}
						if _, err := c.Write(junk); err != nil {
							return
						}
					}
				})}
			},
			wantMsg: "header",
		},
		{
			name: "https against a plain HTTP server",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.1:0", nil, text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, TLSSkipVerify: true}
			},
			wantMsg: "HTTP response to HTTPS client",
		},
		{
			name: "TLS handshake failure: no common protocol version",
			params: func(t *testing.T) HTTPParams {
				conf := serverTLS()
				conf.MaxVersion = tls.VersionTLS11
				ap := startHTTP(t, "127.0.0.1:0", conf, text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, TLSSkipVerify: true}
			},
			wantMsg: "protocol version",
		},
		{
			name: "TLS server that accepts and never answers",
			params: func(t *testing.T) HTTPParams {
				return HTTPParams{Target: rawServer(t, "127.0.0.1:0", hang), HTTPS: true}
			},
			timeout: shortTimeout,
			wantMsg: "timed out after 500ms",
		},
		{
			name: "unknown CA without skip-verify",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.3:0", serverTLS(), text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, Host: "www.example.test"}
			},
			wantMsg: "unknown authority",
		},
		{
			name: "unknown CA with skip-verify",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.3:0", serverTLS(), text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, Host: "www.example.test", TLSSkipVerify: true}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "trusted CA, name matches Host",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.3:0", serverTLS(), text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, Host: "www.example.test", RootCAs: pki.caPool}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "trusted CA, no Host: the certificate must name the IP",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.3:0", serverTLS(), text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, RootCAs: pki.caPool}
			},
			wantOK: true, wantMsg: "HTTP 200",
		},
		{
			name: "trusted CA, name does not match Host",
			params: func(t *testing.T) HTTPParams {
				ap := startHTTP(t, "127.0.0.3:0", serverTLS(), text(200, "ok"))
				return HTTPParams{Target: ap, HTTPS: true, Host: "other.example.test", RootCAs: pki.caPool}
			},
			wantMsg: "certificate is valid for",
		},
	}
	for _, tc := range tests {
		for _, d := range drivers {
			t.Run(tc.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				timeout := cmp.Or(tc.timeout, longTimeout)
				p := tc.params(t)
				p.Timeout = timeout
				c := NewHTTP(p)
				results, got := d.drive(t, c, startHealth(tc.wantOK), rise, fall, max(rise, fall), timeout)
				want := wantObservations(tc.wantOK, rise, fall)
				if diff := gocmp.Diff(want, got[:len(want)]); diff != "" {
					t.Errorf("health after each check (-want +got):\n%s", diff)
				}
				for i, r := range results {
					if r.OK != tc.wantOK || !regexp.MustCompile(tc.wantMsg).MatchString(r.Message) {
						t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tc.wantOK, tc.wantMsg)
					}
					if r.Duration > timeout+slack {
						t.Errorf("check %d took %v, want at most %v", i+1, r.Duration, timeout+slack)
					}
					if r.At.IsZero() {
						t.Errorf("check %d has no start time", i+1)
					}
				}
			})
		}
	}
}

// TestHTTPSendsHostSNIAndCloses checks what goes on the wire: the Host
// header and the TLS server name come from Host, the request asks to close
// the connection, and every check opens a new one.
func TestHTTPSendsHostSNIAndCloses(t *testing.T) {
	pki := newPKI(t, []string{"www.example.test"}, nil)
	var (
		mu       sync.Mutex
		sni      []string
		hosts    []string
		closes   []bool
		newConns int
	)
	conf := &tls.Config{
		Certificates: []tls.Certificate{pki.leaf},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			sni = append(sni, hello.ServerName)
			mu.Unlock()
			return nil, nil
		},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		closes = append(closes, r.Close)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = quietLog
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			newConns++
			mu.Unlock()
		}
	}
	srv.TLS = conf
	srv.StartTLS()
	defer srv.Close()

	c := NewHTTP(HTTPParams{
		Target:  netip.MustParseAddrPort(srv.Listener.Addr().String()),
		HTTPS:   true,
		Host:    "www.example.test:8443",
		RootCAs: pki.caPool,
		Timeout: time.Second,
	})
	const n = 3
	for i := range n {
		if r := c.Check(t.Context()); !r.OK {
			t.Fatalf("check %d failed: %s", i+1, r.Message)
		}
	}
	srv.Close() // waits for the handlers, so the records are complete

	mu.Lock()
	defer mu.Unlock()
	type wire struct {
		SNI, Hosts []string
		Closes     []bool
		NewConns   int
	}
	want := wire{
		SNI:      []string{"www.example.test", "www.example.test", "www.example.test"},
		Hosts:    []string{"www.example.test:8443", "www.example.test:8443", "www.example.test:8443"},
		Closes:   []bool{true, true, true},
		NewConns: n,
	}
	got := wire{SNI: sni, Hosts: hosts, Closes: closes, NewConns: newConns}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("what the server saw (-want +got):\n%s", diff)
	}
}

// TestHTTPCheckHonoursContext checks that a deadline from the caller shorter
// than the check's own timeout wins.
func TestHTTPCheckHonoursContext(t *testing.T) {
	ap := rawServer(t, "127.0.0.1:0", hang)
	c := NewHTTP(HTTPParams{Target: ap, Timeout: time.Hour})
	ctx, cancel := contextWithTimeout(t, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := c.Check(ctx)
	if r.OK {
		t.Fatalf("check against a silent server passed: %s", r.Message)
	}
	if el := time.Since(start); el > 200*time.Millisecond+slack {
		t.Errorf("check returned after %v, want about 200ms", el)
	}
}

func TestHTTPString(t *testing.T) {
	c := NewHTTP(HTTPParams{
		Target: netip.MustParseAddrPort("192.0.2.1:80"), Path: "/h", Host: "a.test",
		ExpectStatus: []int{200, 204}, BodyContains: "ok", Timeout: time.Second,
	})
	want := `http 192.0.2.1:80 path="/h" host="a.test" status=[200 204] body="ok" skip_verify=false ca=system timeout=1s`
	if got := fmt.Sprint(c); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func BenchmarkHTTPCheck(b *testing.B) {
	srv := httptest.NewServer(text(200, "ok"))
	defer srv.Close()
	c := NewHTTP(HTTPParams{
		Target:       netip.MustParseAddrPort(srv.Listener.Addr().String()),
		BodyContains: "ok",
		Timeout:      time.Second,
	})
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Check(b.Context()); !r.OK {
			b.Fatalf("check failed: %s", r.Message)
		}
	}
}

func TestHTTPCheckIPv6AndPaths(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" "+r.RequestURI)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	zoned := netip.AddrPortFrom(ap.Addr().WithZone("lo"), ap.Port())

	tests := []struct {
		target netip.AddrPort
		path   string
		want   string
	}{
		{ap, "", ap.String() + " /"},
		{ap, "healthz", ap.String() + " /healthz"},
		{ap, "/status?full=1&x=%20", ap.String() + " /status?full=1&x=%20"},
		{ap, "//other.example/x", ap.String() + " //other.example/x"},
		// The zone selects the interface to dial; it never goes on the
		// wire in the Host header.
		{zoned, "/z", ap.String() + " /z"},
	}
	for _, tc := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		r := NewHTTP(HTTPParams{Target: tc.target, Path: tc.path, Timeout: longTimeout}).Check(t.Context())
		if !r.OK {
			t.Errorf("check of %s path %q failed: %s", tc.target, tc.path, r.Message)
			continue
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("check of %s path %q: server saw %q, want %q", tc.target, tc.path, got, tc.want)
		}
	}
}
