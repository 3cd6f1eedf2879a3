package status

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type sourceFunc func() Document

func (f sourceFunc) Status() Document { return f() }

// fakeReloader records every reload and answers what it was told to.
type fakeReloader struct {
	mu      sync.Mutex
	calls   int
	applied bool
	diags   string
	err     error
}

func (r *fakeReloader) Reload(context.Context) (bool, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.applied, r.diags, r.err
}

func (r *fakeReloader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// shortTempDir returns a directory with a short path: a unix socket's path
// must fit in 108 bytes and t.TempDir embeds the test's name.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "lvsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// serve runs Serve in the background until the test ends and waits for
// the socket to answer.
func serve(t *testing.T, path string, src Source, rel Reloader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenAndServe(ctx, path, src, rel) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	waitFor(t, path, done)
}

func waitFor(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Dial rather than stat: a stale socket file exists before Serve
		// replaces it.
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Serve returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket %s did not answer", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServeStatusRoundTrip(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "run", "lvsd.sock")
	doc := sampleDocument()
	serve(t, path, sourceFunc(func() Document { return doc }), nil)

	got, err := Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// The wire form drops the metric-only fields and converts times to UTC.
	want := doc.wire()
	for i := range want.VRRPInstances {
		want.VRRPInstances[i].TransitionsTo = nil
	}
	for i := range want.VirtualServers {
		for j := range want.VirtualServers[i].RealServers {
			want.VirtualServers[i].RealServers[j].BytesIn = 0
			want.VirtualServers[i].RealServers[j].BytesOut = 0
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestSocketAndDirectoryModes(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "run")
	path := filepath.Join(dir, "lvsd.sock")
	serve(t, path, sourceFunc(Document{}.wire), nil)

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", di.Mode().Perm())
	}
	// Nothing but the socket is left in the directory (no temporary name).
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "lvsd.sock" {
		t.Errorf("directory holds %v, want only lvsd.sock", ents)
	}
}

func TestServeRemovesSocketOnStop(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "lvsd.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenAndServe(ctx, path, sourceFunc(Document{}.wire), nil) }()
	waitFor(t, path, done)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after stop: %v", err)
	}
}

func TestServeReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "lvsd.sock")
	// A socket file nobody listens on, as a killed daemon leaves it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()

	serve(t, path, sourceFunc(func() Document { return Document{Cluster: "fresh"} }), nil)
	d, err := Get(context.Background(), path)
	if err != nil || d.Cluster != "fresh" {
		t.Errorf("Get = %q, %v; want the new daemon", d.Cluster, err)
	}
}

func TestServeRefusesLiveSocketAndOtherFiles(t *testing.T) {
	dir := shortTempDir(t)
	live := filepath.Join(dir, "live.sock")
	serve(t, live, sourceFunc(Document{}.wire), nil)
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{live, "in use"},
		{plain, "not a socket"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			err := listenAndServe(context.Background(), tc.path, sourceFunc(Document{}.wire), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve on %s: %v; want an error containing %q", tc.path, err, tc.want)
			}
			if _, err := os.Lstat(tc.path); err != nil {
				t.Errorf("%s was removed: %v", tc.path, err)
			}
		})
	}
	if _, err := Get(context.Background(), live); err != nil {
		t.Errorf("the first daemon no longer answers: %v", err)
	}
}

func TestReload(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rel         *fakeReloader
		wantApplied bool
		wantDiags   string
		wantErr     string
	}{
		{name: "applied", rel: &fakeReloader{applied: true}, wantApplied: true},
		{name: "rejected", rel: &fakeReloader{diags: "web.hcl:5:10: vrid must be 1..255\n"},
			wantDiags: "web.hcl:5:10: vrid must be 1..255\n"},
		{name: "failed", rel: &fakeReloader{err: errors.New("reading web.hcl: permission denied")},
			wantErr: "reading web.hcl: permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(shortTempDir(t), "lvsd.sock")
			serve(t, path, sourceFunc(Document{}.wire), tc.rel)
			applied, diags, err := Reload(context.Background(), path)
			if applied != tc.wantApplied || diags != tc.wantDiags {
				t.Errorf("Reload = %v, %q; want %v, %q", applied, diags, tc.wantApplied, tc.wantDiags)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Reload error %v, want %q", err, tc.wantErr)
			}
			if n := tc.rel.count(); n != 1 {
				t.Errorf("reloader called %d times, want 1", n)
			}
		})
	}
}

func TestReloadWithoutReloader(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "lvsd.sock")
	serve(t, path, sourceFunc(Document{}.wire), nil)
	if _, _, err := Reload(context.Background(), path); err == nil || !strings.Contains(err.Error(), "cannot reload") {
		t.Errorf("Reload = %v, want an error saying the daemon cannot reload", err)
	}
}

func TestUnreachable(t *testing.T) {
	dir := shortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	for _, tc := range []struct{ name, path, cause string }{
		{"missing", filepath.Join(dir, "none.sock"), "no such file or directory"},
		{"stale", stale, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Get(context.Background(), tc.path)
			var ue *UnreachableError
			if !errors.As(err, &ue) {
				t.Fatalf("Get: %v (%T), want *UnreachableError", err, err)
			}
			want := "cannot reach the daemon at " + tc.path + ": " + tc.cause
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if _, _, err := Reload(context.Background(), tc.path); !errors.As(err, &ue) {
				t.Errorf("Reload: %v, want *UnreachableError", err)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	h := Handler(sourceFunc(Document{}.wire), nil)
	for _, target := range []string{"/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/goroutine"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		body := rec.Body.Bytes()
		// A profile is gzipped protocol buffers.
		if rec.Code != http.StatusOK || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
			t.Errorf("GET %s: status %d, %d bytes starting %q; want 200 and a gzipped profile", target, rec.Code, len(body), body[:min(len(body), 16)])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/pprof/heap", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /debug/pprof/heap: status %d, want %d", rec.Code, http.StatusMethodNotAllowed)
	}
}

// listenAndServe binds the control socket at path and answers on it until
// ctx ends, as the daemon does in two steps.
func listenAndServe(ctx context.Context, path string, src Source, rel Reloader) error {
	c, err := ListenControl(path)
	if err != nil {
		return err
	}
	return c.Serve(ctx, src, rel)
}
