package healthcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer accepts TCP connections on addr and gives each to handle. The
// done channel closes when the test ends; handlers that hang must return
// when it does. Cleanup closes the listener and waits for every handler.
func rawServer(t *testing.T, addr string, handle func(c net.Conn, done <-chan struct{})) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c, done)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

// hang holds a connection open, reading and discarding, until the test ends.
func hang(c net.Conn, done <-chan struct{}) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
			c.Close()
		case <-stop:
		}
	}()
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// readRequestHead reads until the blank line that ends an HTTP request head.
func readRequestHead(c net.Conn) string {
	var sb strings.Builder
	buf := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !strings.HasSuffix(sb.String(), "\r\n\r\n") {
		if _, err := c.Read(buf); err != nil {
			break
		}
		sb.Write(buf)
	}
	return sb.String()
}

// resetClose closes c abortively: SO_LINGER 0 makes the kernel send RST.
func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T, ip string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return ap
}

// testPKI is a private CA and a server certificate it signed.
type testPKI struct {
	caPool *x509.CertPool
	leaf   tls.Certificate
}

// newPKI makes a CA and a certificate for the given DNS names and IPs.
func newPKI(t *testing.T, dnsNames []string, ips []net.IP) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lvsd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "lvsd test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{caPool: pool, leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// observation is one step of driving a checker through Health.Observe.
type observation struct {
	Healthy, Changed bool
}

// drive runs c n times, folding each result into h, and returns the results
// and the health after each check. Each check gets its own deadline of
// timeout plus three seconds, so a checker that ignores its own timeout
// shows up as a slow result rather than a hung test.
func drive(t *testing.T, c Checker, h Health, rise, fall, n int, timeout time.Duration) ([]Result, []observation) {
	t.Helper()
	var results []Result
	var obs []observation
	for range n {
		ctx, cancel := context.WithTimeout(t.Context(), timeout+3*time.Second)
		r := c.Check(ctx)
		cancel()
		var changed bool
		h, changed = h.Observe(r.OK, rise, fall)
		results = append(results, r)
		obs = append(obs, observation{Healthy: h.Healthy, Changed: changed})
	}
	return results, obs
}

// driveFunc runs a check n times; drive and driveScheduled are the two.
type driveFunc func(t *testing.T, c Checker, h Health, rise, fall, n int, timeout time.Duration) ([]Result, []observation)

// drivers are the two paths a check takes: Check called directly, and a
// Scheduler's run, whose loop runs TCP and plain HTTP checks on sockets of
// its own. Checker tests run every case through both.
var drivers = []struct {
	name  string
	drive driveFunc
}{
	{"direct", drive},
	{"scheduled", driveScheduled},
}

// driveScheduled is drive through a Scheduler: one job checked back to
// back (a short interval), its first n results folded into h.
func driveScheduled(t *testing.T, c Checker, h Health, rise, fall, n int, timeout time.Duration) ([]Result, []observation) {
	t.Helper()
	got := make(chan Result, n)
	s := NewScheduler(func(_ string, r Result, _ Health, _ bool) {
		select {
		case got <- r:
		default:
		}
	})
	job := Job{Key: "check", Checker: c, Interval: 20 * time.Millisecond, Timeout: timeout, Rise: 1, Fall: 1}
	if err := s.Set([]Job{job}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var results []Result
	limit := time.After(time.Duration(n) * (timeout + 3*time.Second))
	for len(results) < n {
		select {
		case r := <-got:
			results = append(results, r)
		case <-limit:
			cancel()
			<-done
			t.Fatalf("the Scheduler reported %d of %d checks in time", len(results), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var obs []observation
	for _, r := range results {
		var changed bool
		h, changed = h.Observe(r.OK, rise, fall)
		obs = append(obs, observation{Healthy: h.Healthy, Changed: changed})
	}
	return results, obs
}

// wantObservations is what drive must return: a passing target, starting
// unhealthy, becomes healthy on exactly the rise-th check; a failing one,
// starting healthy, becomes unhealthy on exactly the fall-th.
func wantObservations(ok bool, rise, fall int) []observation {
	var out []observation
	if ok {
		for i := 1; i <= rise; i++ {
			out = append(out, observation{Healthy: i == rise, Changed: i == rise})
		}
		return out
	}
	for i := 1; i <= fall; i++ {
		out = append(out, observation{Healthy: i != fall, Changed: i == fall})
	}
	return out
}

// startHealth is where drive starts for a case expected to pass or fail.
func startHealth(ok bool) Health {
	if ok {
		return Health{}
	}
	return Health{Healthy: true, Passes: 10}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
