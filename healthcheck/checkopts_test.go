package healthcheck

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// sourceRecorder is a TCP server that sends the source address of every
// connection it accepts on addrs.
type sourceRecorder struct {
	addrs chan netip.Addr
}

func (s *sourceRecorder) handle(c net.Conn, _ <-chan struct{}) {
	select {
	case s.addrs <- netip.MustParseAddrPort(c.RemoteAddr().String()).Addr():
	default: // more than the test waits for
	}
	// An HTTP request, if any, gets a minimal answer.
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if head := readRequestHead(c); head != "" {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}
}

// sources waits for n connections (a check that reset its connection may
// return before the server accepts it) and returns their sources.
func (s *sourceRecorder) sources(t *testing.T, n int) []netip.Addr {
	var out []netip.Addr
	for range n {
		select {
		case a := <-s.addrs:
			out = append(out, a)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d connections reached the server, want %d", len(out), n)
		}
	}
	return out
}

// TestCheckBindTo checks that tcp and http checks, on both of their paths,
// connect from the source address asked for, and that a source address
// the host does not have fails the check at once.
func TestCheckBindTo(t *testing.T) {
	src := netip.MustParseAddr("127.0.0.3")
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			checks := map[string]func(target netip.AddrPort, source netip.Addr) Checker{
				"tcp": func(target netip.AddrPort, source netip.Addr) Checker { return NewTCP(target, source, longTimeout) },
				"http": func(target netip.AddrPort, source netip.Addr) Checker {
					return NewHTTP(HTTPParams{Target: target, Source: source, Timeout: longTimeout})
				},
				// Two urls take package net's path, not the event loop's.
				"http two urls": func(target netip.AddrPort, source netip.Addr) Checker {
					return NewHTTP(HTTPParams{Target: target, Source: source, Timeout: longTimeout, URLs: []URL{{Path: "/a"}, {Path: "/b"}}})
				},
			}
			for name, mk := range checks {
				t.Run(name, func(t *testing.T) {
					rec := &sourceRecorder{addrs: make(chan netip.Addr, 100)}
					target := rawServer(t, "127.0.0.1:0", rec.handle)
					results, _ := d.drive(t, mk(target, src), Health{}, 1, 1, 2, longTimeout)
					for i, r := range results {
						if !r.OK {
							t.Errorf("check %d failed: %s", i+1, r.Message)
						}
					}
					conns := 2
					if name == "http two urls" {
						conns = 4
					}
					for _, a := range rec.sources(t, conns) {
						if a != src {
							t.Errorf("connection from %s, want %s", a, src)
						}
					}

					// 192.0.2.1 (TEST-NET-1) is on no interface of the host.
					results, _ = d.drive(t, mk(target, netip.MustParseAddr("192.0.2.1")), Health{}, 1, 1, 1, longTimeout)
					if r := results[0]; r.OK || !strings.Contains(r.Message, "assign requested address") || r.Duration > slack {
						t.Errorf("check from a foreign address = {OK: %t, Message: %q, Duration: %v}, want a quick failure to bind", r.OK, r.Message, r.Duration)
					}
				})
			}
		})
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestHTTPURLs checks a check of several urls, with digests and bodies,
// against a real server, on both of the check's paths: one url runs on the
// event loop, several on package net.
func TestHTTPURLs(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/a", text(200, "alpha"))
	mux.Handle("/b", text(200, "beta"))
	mux.Handle("/down", text(503, "down"))
	mux.Handle("/big", text(200, strings.Repeat("x", maxBody)))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		resetClose(c)
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		c.Close()
	})
	srv := startHTTP(t, "127.0.0.1:0", nil, mux)

	tests := []struct {
		name    string
		urls    []URL
		wantOK  bool
		wantMsg string
	}{
		{"one url with its digest", []URL{{Path: "/a", Digest: md5hex("alpha")}}, true, "^HTTP 200$"},
		{"digest in upper case", []URL{{Path: "/a", Digest: strings.ToUpper(md5hex("alpha"))}}, true, "^HTTP 200$"},
		{"one url, wrong digest", []URL{{Path: "/a", Digest: md5hex("beta")}}, false,
			"^HTTP 200, body digest " + md5hex("alpha") + ", want " + md5hex("beta") + "$"},
		{"every url passes", []URL{{Path: "/a", Digest: md5hex("alpha")}, {Path: "/b", BodyContains: "et"}, {Path: "/down", ExpectStatus: []int{503}}}, true, "^3 urls pass$"},
		{"the second url's digest is wrong", []URL{{Path: "/a"}, {Path: "/b", Digest: md5hex("alpha")}}, false, "^/b: HTTP 200, body digest"},
		{"the second url's status is wrong", []URL{{Path: "/a"}, {Path: "/down"}}, false, `^/down: HTTP 503, want 2xx$`},
		{"body lacks the text", []URL{{Path: "/a"}, {Path: "/b", BodyContains: "alpha"}}, false, `^/b: HTTP 200, body lacks "alpha"$`},
		{"a body too long to digest", []URL{{Path: "/a"}, {Path: "/big", Digest: md5hex(strings.Repeat("x", maxBody))}}, false, "^/big: HTTP 200, body of 64 KiB or more: too long for a digest$"},
		{"a slow url times out", []URL{{Path: "/a"}, {Path: "/slow"}}, false, `^/slow: HTTP 200, reading body: timed out after 500ms$`},
		{"a slow url alone times out", []URL{{Path: "/slow"}}, false, `^HTTP 200, reading body: timed out after 500ms$`},
		{"a reset", []URL{{Path: "/a"}, {Path: "/reset"}}, false, `^/reset: connection (reset|closed before a complete response)$`},
		{"garbage", []URL{{Path: "/a"}, {Path: "/garbage"}}, false, `^/garbage: malformed HTTP response "SSH-2.0`},
	}
	for _, d := range drivers {
		for _, tc := range tests {
			t.Run(d.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := NewHTTP(HTTPParams{Target: srv, URLs: tc.urls, Timeout: shortTimeout})
				results, _ := d.drive(t, c, Health{}, 1, 1, 2, shortTimeout)
				for i, r := range results {
					if r.OK != tc.wantOK || !regexp.MustCompile(tc.wantMsg).MatchString(r.Message) {
						t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tc.wantOK, tc.wantMsg)
					}
					if r.Duration > shortTimeout+slack {
						t.Errorf("check %d took %v, more than its timeout %v", i+1, r.Duration, shortTimeout)
					}
				}
			})
		}
	}
}

// TestHTTPURLsHungServer checks that a server that accepts and never
// answers fails a check of several urls once, within the check's timeout:
// the timeout bounds the whole check, not each url.
func TestHTTPURLsHungServer(t *testing.T) {
	srv := rawServer(t, "127.0.0.1:0", hang)
	c := NewHTTP(HTTPParams{Target: srv, URLs: []URL{{Path: "/a"}, {Path: "/b"}}, Timeout: shortTimeout})
	results, _ := drive(t, c, Health{}, 1, 1, 1, shortTimeout)
	r := results[0]
	if r.OK || r.Message != "/a: timed out after 500ms" || r.Duration < shortTimeout || r.Duration > shortTimeout+slack {
		t.Errorf("check = {OK: %t, Message: %q, Duration: %v}, want one failure %q within %v", r.OK, r.Message, r.Duration, "/a: timed out after 500ms", shortTimeout+slack)
	}
}

// TestExecDynamicWeight checks keepalived's misc_dynamic rule: exit 0
// passes with the configured weight, 1 fails, 2..255 pass with weight
// status − 2; without it every status but 0 fails.
func TestExecDynamicWeight(t *testing.T) {
	tests := []struct {
		code     string
		dynamic  bool
		ok       bool
		weighted bool
		weight   int
	}{
		{"0", true, true, false, 0},
		{"1", true, false, false, 0},
		{"2", true, true, true, 0},
		{"7", true, true, true, 5},
		{"255", true, true, true, 253},
		{"7", false, false, false, 0},
		{"0", false, true, false, 0},
	}
	for _, tc := range tests {
		c := NewExec(ExecParams{Argv: []string{"sh", "-c", "exit " + tc.code}, Timeout: longTimeout, DynamicWeight: tc.dynamic})
		r := c.Check(t.Context())
		if r.OK != tc.ok || r.Weighted != tc.weighted || r.Weight != tc.weight {
			t.Errorf("exit %s (dynamic %t) = {OK: %t, Weighted: %t, Weight: %d, %q}, want {%t, %t, %d}",
				tc.code, tc.dynamic, r.OK, r.Weighted, r.Weight, r.Message, tc.ok, tc.weighted, tc.weight)
		}
	}
	// A hung command is one failure within its timeout, dynamic or not.
	c := NewExec(ExecParams{Argv: []string{"sleep", "100"}, Timeout: shortTimeout, DynamicWeight: true})
	if r := c.Check(t.Context()); r.OK || r.Weighted || r.Duration > shortTimeout+slack {
		t.Errorf("hung command = {OK: %t, Weighted: %t, Duration: %v}, want a failure within %v", r.OK, r.Weighted, r.Duration, shortTimeout+slack)
	}
}

// weightChecker passes with the weights of its script in turn (-1: with
// no weight of its own, -2: a failure); the last one repeats.
type weightChecker struct {
	mu     sync.Mutex
	n      int
	script []int
}

func (c *weightChecker) Check(context.Context) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.script[min(c.n, len(c.script)-1)]
	c.n++
	switch w {
	case -2:
		return Result{Message: "broken"}
	case -1:
		return Result{OK: true}
	}
	return Result{OK: true, Weighted: true, Weight: w}
}

// TestSchedulerReportsWeightChanges checks that a healthy target whose
// check asks for another weight is reported as changed, and that a
// failure below fall keeps the last weight.
func TestSchedulerReportsWeightChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type rep struct {
			Healthy, Weighted, Changed bool
			Weight                     int
		}
		var mu sync.Mutex
		var got []rep
		s := NewScheduler(func(_ string, _ Result, h Health, changed bool) {
			mu.Lock()
			got = append(got, rep{h.Healthy, h.Weighted, changed, h.Weight})
			mu.Unlock()
		})
		c := &weightChecker{script: []int{5, 5, 7, -2, 7, -1, -1}}
		mustSet(t, s, Job{Key: "w", Checker: c, Interval: time.Second, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 2})
		stop := start(t, s)
		time.Sleep(7*time.Second + 500*time.Millisecond)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		want := []rep{
			{true, true, true, 5},
			{true, true, false, 5},
			{true, true, true, 7},
			{true, true, false, 7}, // a failure below fall
			{true, true, false, 7},
			{true, false, true, 0}, // back to the configured weight
			{true, false, false, 0},
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := gocmp.Diff(want, got[:min(len(got), len(want))]); diff != "" {
			t.Errorf("reports (-want +got):\n%s", diff)
		}
	})
}

// TestSchedulerRetry checks retry and delay_before_retry: a failed try of
// a healthy target is tried again RetryDelay later, the tries of a round
// count once towards rise and fall and are reported once, the next round
// keeps the grid, and an unhealthy target is not retried.
func TestSchedulerRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		s := NewScheduler(rec.record)
		c := &fakeChecker{script: []bool{
			true,               // round 0: up (rise 1)
			false, false, true, // round 1: a pass on the third try
			false, false, false, // round 2: one failure, still up (fall 2)
			false, false, false, // round 3: a second failure: down
			false, // round 4: down, not retried
			true,  // round 5: up
		}}
		const interval, delay = 10 * time.Second, time.Second
		mustSet(t, s, Job{Key: "r", Checker: c, Interval: interval, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 2, Retry: 2, RetryDelay: delay})
		stop := start(t, s)
		time.Sleep(interval) // past the start-up jitter
		first := c.Calls()[0].Sub(rec.epoch)
		time.Sleep(first + 5*interval + interval/2 - interval)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for _, ct := range c.Calls() {
			at = append(at, ct.Sub(rec.epoch)-first)
		}
		I, d := interval, delay
		wantAt := []time.Duration{0, I, I + d, I + 2*d, 2 * I, 2*I + d, 2*I + 2*d, 3 * I, 3*I + d, 3*I + 2*d, 4 * I, 5 * I}
		if diff := gocmp.Diff(wantAt, at); diff != "" {
			t.Errorf("tries, from the first (-want +got):\n%s", diff)
		}
		want := []report{
			{"r", first, true, true, true},
			{"r", first + I + 2*d, true, true, false},
			{"r", first + 2*I + 2*d, false, true, false},
			{"r", first + 3*I + 2*d, false, false, true},
			{"r", first + 4*I, false, false, false},
			{"r", first + 5*I, true, true, true},
		}
		if diff := gocmp.Diff(want, rec.For("r")); diff != "" {
			t.Errorf("reports (-want +got):\n%s", diff)
		}
	})
}

// TestSchedulerRetryHungTarget checks retry against a real hung server
// on the event loop: every try times out on its own timeout, and the round
// is one failure after retry+1 timeouts and retry delays.
func TestSchedulerRetryHungTarget(t *testing.T) {
	// The first connection is answered, so the target is healthy; every
	// later one hangs.
	var answered sync.Once
	target := rawServer(t, "127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
		first := false
		answered.Do(func() { first = true })
		if first {
			readRequestHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			return
		}
		hang(c, done)
	})
	done := make(chan Result, 1)
	var began time.Time
	s := NewScheduler(func(_ string, r Result, h Health, _ bool) {
		switch {
		case r.OK:
			// From when the pass was due, on the job's grid, from
			// which the next round is due one interval later: its
			// report comes after it by however long it took, which
			// on a busy machine is more than the loop's batching.
			began = r.Due
		case began.IsZero():
		default:
			select {
			case done <- r:
			default:
			}
		}
	})
	const timeout, delay = 200 * time.Millisecond, 100 * time.Millisecond
	const interval = time.Second
	mustSet(t, s, Job{Key: "h", Checker: NewHTTP(HTTPParams{Target: target}), Interval: interval, Timeout: timeout,
		Rise: 1, Fall: 1, Retry: 2, RetryDelay: delay})
	stop := start(t, s)
	defer stop()
	select {
	case r := <-done:
		// The failed round was due an interval after the pass (it may
		// start early by the loop's batching) and took three timeouts
		// and two delays.
		el := time.Since(began)
		if min := interval + 3*timeout + 2*delay - 200*time.Millisecond; el < min || el > min+slack || r.Message != "timed out after 200ms" {
			t.Errorf("failure reported %v after the pass: %q; want a timeout after about %v", el, r.Message, interval+3*timeout+2*delay)
		}
		if got := s.Snapshot()["h"].Health; got.Healthy || got.Failures != 1 {
			t.Errorf("health = %+v, want one failure", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no report")
	}
}

// TestHTTPSURLs checks a check of several urls over TLS, each on its own
// verified connection, from a source address of its own.
func TestHTTPSURLs(t *testing.T) {
	pki := newPKI(t, []string{"www.example.test"}, nil)
	mux := http.NewServeMux()
	mux.Handle("/a", text(200, "alpha"))
	mux.Handle("/b", text(200, "beta"))
	rec := &sourceRecorder{addrs: make(chan netip.Addr, 100)}
	srv := startHTTP(t, "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.leaf},
		// The handshake's hook sees every connection's source.
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case rec.addrs <- netip.MustParseAddrPort(h.Conn.RemoteAddr().String()).Addr():
			default:
			}
			return nil, nil
		},
	}, mux)
	src := netip.MustParseAddr("127.0.0.4")
	for _, tc := range []struct {
		name    string
		urls    []URL
		wantOK  bool
		wantMsg string
	}{
		{"both pass", []URL{{Path: "/a", Digest: md5hex("alpha")}, {Path: "/b", Digest: md5hex("beta")}}, true, "^2 urls pass$"},
		{"the second fails", []URL{{Path: "/a", Digest: md5hex("alpha")}, {Path: "/b", Digest: md5hex("alpha")}}, false, "^/b: HTTP 200, body digest " + md5hex("beta") + ", want " + md5hex("alpha") + "$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewHTTP(HTTPParams{Target: srv, HTTPS: true, Host: "www.example.test", RootCAs: pki.caPool, Source: src, URLs: tc.urls, Timeout: longTimeout})
			r := c.Check(t.Context())
			if r.OK != tc.wantOK || !regexp.MustCompile(tc.wantMsg).MatchString(r.Message) {
				t.Errorf("check = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", r.OK, r.Message, tc.wantOK, tc.wantMsg)
			}
			for _, a := range rec.sources(t, 2) {
				if a != src {
					t.Errorf("connection from %s, want %s", a, src)
				}
			}
		})
	}
}

// TestTypeCheckBindTo checks that udp, dns and smtp checks send from the
// source address asked for, and that one the host does not have fails the
// check at once.
func TestTypeCheckBindTo(t *testing.T) {
	src := netip.MustParseAddr("127.0.0.3")
	// recordingUDP answers every datagram with reply(req) and records its
	// source.
	recordingUDP := func(t *testing.T, reply func([]byte) []byte) (netip.AddrPort, <-chan netip.Addr) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		from := make(chan netip.Addr, 10)
		go func() {
			buf := make([]byte, 1500)
			for {
				n, addr, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				from <- addr.(*net.UDPAddr).AddrPort().Addr().Unmap()
				_, _ = pc.WriteTo(reply(buf[:n]), addr)
			}
		}()
		return netip.MustParseAddrPort(pc.LocalAddr().String()), from
	}
	echo := func(b []byte) []byte { return b }
	checks := map[string]func(t *testing.T, source netip.Addr) (Checker, <-chan netip.Addr){
		"udp": func(t *testing.T, source netip.Addr) (Checker, <-chan netip.Addr) {
			target, from := recordingUDP(t, echo)
			return NewUDP(UDPParams{Target: target, Source: source, Payload: []byte("ping"), RequireReply: true, Timeout: longTimeout}), from
		},
		"dns": func(t *testing.T, source netip.Addr) (Checker, <-chan netip.Addr) {
			target, from := recordingUDP(t, answerOf)
			return NewDNS(DNSParams{Target: target, Source: source, Type: "A", Name: "www.example.test", Timeout: longTimeout}), from
		},
		"smtp": func(t *testing.T, source netip.Addr) (Checker, <-chan netip.Addr) {
			rec := &sourceRecorder{addrs: make(chan netip.Addr, 10)}
			target := rawServer(t, "127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
				rec.addrs <- netip.MustParseAddrPort(c.RemoteAddr().String()).Addr()
				smtpServer("220 ready\r\n", "250 hello\r\n", "")(c, done)
			})
			return NewSMTP(SMTPParams{Target: target, Source: source, Timeout: longTimeout}), rec.addrs
		},
	}
	for name, mk := range checks {
		t.Run(name, func(t *testing.T) {
			c, from := mk(t, src)
			if !strings.Contains(c.(fmt.Stringer).String(), " from=127.0.0.3 ") {
				t.Errorf("String() = %q, want the source address in it", c.(fmt.Stringer).String())
			}
			ctx, cancel := contextWithTimeout(t, longTimeout)
			defer cancel()
			if r := c.Check(ctx); !r.OK {
				t.Errorf("check failed: %s", r.Message)
			}
			select {
			case a := <-from:
				if a != src {
					t.Errorf("sent from %s, want %s", a, src)
				}
			case <-time.After(longTimeout):
				t.Fatal("the server saw nothing")
			}

			// 192.0.2.1 (TEST-NET-1) is on no interface of the host.
			c, _ = mk(t, netip.MustParseAddr("192.0.2.1"))
			if r := c.Check(ctx); r.OK || !strings.Contains(r.Message, "assign requested address") || r.Duration > slack {
				t.Errorf("check from a foreign address = {OK: %t, Message: %q, Duration: %v}, want a quick failure to bind", r.OK, r.Message, r.Duration)
			}
		})
	}
}
