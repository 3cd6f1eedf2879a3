package cli

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
)

func TestDigest(t *testing.T) {
	page := "<html>up</html>\n"
	sum := md5.Sum([]byte(page))
	want := hex.EncodeToString(sum[:])
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			io.WriteString(w, page)
		case "/host":
			io.WriteString(w, r.Host)
		case "/big":
			io.WriteString(w, strings.Repeat("x", 70<<10))
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		}
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()

	t.Run("http", func(t *testing.T) {
		out, errOut, code := run(t, "digest", srv.URL+"/healthz")
		if code != exitOK || out != want+"\n" || errOut != "HTTP 200, 16 bytes of body\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, want)
		}
		// The digest printed is the one a check accepts.
		c := healthcheck.NewHTTP(healthcheck.HTTPParams{
			Target:  netip.MustParseAddrPort(srv.Listener.Addr().String()),
			URLs:    []healthcheck.URL{{Path: "/healthz", Digest: strings.TrimSpace(out)}},
			Timeout: 2 * time.Second,
		})
		if r := c.Check(context.Background()); !r.OK {
			t.Errorf("a check with the printed digest failed: %s", r.Message)
		}
	})
	t.Run("host header", func(t *testing.T) {
		out, _, code := run(t, "digest", "--host", "www.example.com", srv.URL+"/host")
		sum := md5.Sum([]byte("www.example.com"))
		if code != exitOK || out != hex.EncodeToString(sum[:])+"\n" {
			t.Errorf("exit %d, stdout %q: the server did not see Host www.example.com", code, out)
		}
	})
	t.Run("redirect not followed", func(t *testing.T) {
		_, errOut, code := run(t, "digest", srv.URL+"/moved")
		if code != exitOK || !strings.HasPrefix(errOut, "HTTP 302,") {
			t.Errorf("exit %d, stderr %q; want the 302 itself", code, errOut)
		}
	})
	t.Run("https needs --skip-verify for a self-signed server", func(t *testing.T) {
		_, errOut, code := run(t, "digest", tlsSrv.URL+"/healthz")
		if code != exitConfig || !strings.Contains(errOut, "certificate") {
			t.Errorf("exit %d, stderr %q; want a certificate error", code, errOut)
		}
		out, _, code := run(t, "digest", "--skip-verify", tlsSrv.URL+"/healthz")
		if code != exitOK || out != want+"\n" {
			t.Errorf("--skip-verify: exit %d, stdout %q; want %q", code, out, want)
		}
	})
	t.Run("a body too long for a check", func(t *testing.T) {
		_, errOut, code := run(t, "digest", srv.URL+"/big")
		if code != exitOK || !strings.Contains(errOut, "digests bodies under 64 KiB only") {
			t.Errorf("exit %d, stderr %q; want a warning", code, errOut)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, errOut, code := run(t, "digest", "--timeout", "300ms", srv.URL+"/slow")
		if el := time.Since(start); code != exitConfig || !strings.Contains(errOut, "deadline exceeded") || el > 2*time.Second {
			t.Errorf("exit %d after %v, stderr %q; want a timeout after 300ms", code, el, errOut)
		}
	})
	t.Run("hung server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		_, _, code := run(t, "digest", "--timeout", "300ms", "http://"+ln.Addr().String()+"/")
		if code != exitConfig {
			t.Errorf("exit %d, want %d", code, exitConfig)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"digest"}, {"digest", "ftp://x/"}, {"digest", "a", "b"}} {
			if _, _, code := run(t, args...); code != exitStart {
				t.Errorf("%q: exit %d, want %d", args, code, exitStart)
			}
		}
	})
}
