package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/internal/status"
	"go.uber.org/goleak"
)

type fakeDaemon struct {
	doc status.Document

	mu      sync.Mutex
	reloads int
	applied bool
	diags   string
}

func (f *fakeDaemon) Status() status.Document { return f.doc }

func (f *fakeDaemon) Reload(context.Context) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return f.applied, f.diags, nil
}

func (f *fakeDaemon) reloadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}

// daemonDocument covers every case of the plain output: a master and a
// faulted instance, an address service with a healthy server, a quiescent
// one, one removed from IPVS and one on its way up, and a fwmark service
// that lost quorum.
func daemonDocument() status.Document {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	reloadErr := "/etc/lvsd/web.hcl:5:10: vrid must be 1..255\n    vrid = 300\n"
	return status.Document{
		Cluster: "web", Node: "director-a", Version: "0.1.0",
		Config: status.Config{File: "/etc/lvsd/web.hcl", LoadedAt: at("2026-11-21T10:00:00Z"), LastReloadError: &reloadErr},
		VRRPInstances: []status.Instance{
			{
				Name: "VI_1", State: status.StateMaster, VRID: 51, Interface: "eth0", Version: 3,
				Priority: 150, EffectivePriority: 150, MasterAddress: "10.10.10.11",
				VirtualIPs: []string{"10.10.10.100/32", "10.10.10.101/32"}, Since: at("2026-11-21T10:00:03.5Z"),
				Transitions: 2, AdvertsSent: 120, AdvertsReceived: 0, Dropped: map[string]uint64{"ttl": 0, "checksum": 0},
			},
			{
				Name: "VI_INTERNAL", State: status.StateFault, VRID: 52, Interface: "eth1", Version: 2,
				Priority: 100, EffectivePriority: 90, VirtualIPs: []string{"192.168.1.1/24"},
				Since: at("2026-11-21T10:05:00Z"), Transitions: 1, AdvertsReceived: 40,
				Dropped: map[string]uint64{"ttl": 3, "auth": 1, "checksum": 0},
			},
		},
		VRRPInterfaces: []status.VRRPInterface{
			{Interface: "eth0", Dropped: map[string]uint64{"vrid": 2, "checksum": 0}},
			{Interface: "eth1", Dropped: map[string]uint64{"vrid": 0}},
		},
		VirtualServers: []status.VirtualServer{
			{
				Name: "web", Address: "10.10.10.100:80", Protocol: "tcp", Scheduler: "wlc", Method: "dr", QuorumMet: true,
				RealServers: []status.RealServer{
					{Address: "10.10.10.12:80", Healthy: true, ConfiguredWeight: 1, Weight: 1, InIPVS: true,
						LastCheck:   &status.Check{OK: true, At: at("2026-11-21T10:06:00Z"), DurationMS: 1.3, Message: "HTTP 200"},
						ActiveConns: 12, InactiveConns: 3},
					{Address: "10.10.10.13:80", Healthy: false, ConfiguredWeight: 1, Weight: 0, InIPVS: true,
						LastCheck:   &status.Check{OK: false, At: at("2026-11-21T10:06:01Z"), DurationMS: 0.2, Message: "connection refused"},
						ActiveConns: 0, InactiveConns: 1},
					{Address: "10.10.10.14:80", Healthy: true, ConfiguredWeight: 2, Weight: 2, InIPVS: true,
						LastCheck: &status.Check{OK: false, At: at("2026-11-21T10:06:02Z"), DurationMS: 2000, Message: "timeout"}},
					{Address: "10.10.10.15:80", Healthy: false, ConfiguredWeight: 1, Weight: 0, InIPVS: false,
						LastCheck: &status.Check{OK: true, At: at("2026-11-21T10:06:03Z"), DurationMS: 0.9, Message: "HTTP 200"}},
				},
			},
			{
				Name: "mail", Address: status.FwmarkAddress(5), Protocol: "tcp", Scheduler: "rr", Method: "nat",
				QuorumMet: false, SorryServerActive: true,
				RealServers: []status.RealServer{
					{Address: "192.168.1.20:25", Healthy: false, ConfiguredWeight: 1, InIPVS: false},
					{Address: "192.168.1.50:25", Healthy: true, ConfiguredWeight: 1, Weight: 1, InIPVS: true},
				},
			},
		},
	}
}

// startDaemon serves a fake daemon on a fresh socket until the test ends.
func startDaemon(t *testing.T, d *fakeDaemon) string {
	t.Helper()
	// Registered first, so it runs last: after Serve has stopped.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir, err := os.MkdirTemp("", "lvsd") // short: a socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "lvsd.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c, err := status.ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- c.Serve(ctx, d, d) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return path
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon socket never answered: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatusPlainGolden(t *testing.T) {
	path := startDaemon(t, &fakeDaemon{doc: daemonDocument()})
	out, errOut, code := run(t, "status", "--socket", path)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	golden := filepath.Join("testdata", "status.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), out); diff != "" {
		t.Errorf("lvsd status (-want +got):\n%s", diff)
	}
}

func TestStatusJSON(t *testing.T) {
	d := &fakeDaemon{doc: daemonDocument()}
	path := startDaemon(t, d)
	out, errOut, code := run(t, "status", "--json", "--socket", path)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var got status.Document
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not a status document: %v\n%s", err, out)
	}
	if diff := cmp.Diff(d.doc, got); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	if !strings.Contains(out, "\n  \"cluster\": \"web\",\n") {
		t.Errorf("output is not indented JSON:\n%s", out)
	}
}

func TestStatusSocketFromEnvironment(t *testing.T) {
	path := startDaemon(t, &fakeDaemon{doc: status.Document{Cluster: "from-env"}})
	var o, e bytes.Buffer
	env := testEnv(&o, &e)
	env.Getenv = func(k string) string {
		if k == "LVSD_SOCKET" {
			return path
		}
		return ""
	}
	if code := Main(env, []string{"status"}); code != exitOK || !strings.Contains(o.String(), "cluster from-env") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, o.String(), e.String())
	}
}

func TestStatusUnreachable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nobody.sock")
	for _, args := range [][]string{
		{"status", "--socket", path},
		{"status", "--json", "--socket", path},
		{"reload", "--socket", path},
	} {
		t.Run(strings.Join(args[:len(args)-2], " "), func(t *testing.T) {
			out, errOut, code := run(t, args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			want := "lvsd: cannot reach the daemon at " + path + ": no such file or directory; is lvsd running?\n"
			if errOut != want {
				t.Errorf("stderr %q, want %q", errOut, want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

func TestReloadCommand(t *testing.T) {
	for _, tc := range []struct {
		name           string
		applied        bool
		diags          string
		code           int
		stdout, stderr string
	}{
		{name: "applied", applied: true, code: 0, stdout: "lvsd: config reloaded\n"},
		{name: "rejected", diags: "/etc/lvsd/web.hcl:5:10: vrid must be 1..255", code: 1,
			stderr: "lvsd: the new config was rejected; the daemon keeps running the old one\n/etc/lvsd/web.hcl:5:10: vrid must be 1..255\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDaemon{applied: tc.applied, diags: tc.diags}
			path := startDaemon(t, d)
			out, errOut, code := run(t, "reload", "--socket", path)
			if code != tc.code || out != tc.stdout || errOut != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
			if n := d.reloadCount(); n != 1 {
				t.Errorf("daemon reloaded %d times, want 1", n)
			}
		})
	}
}

func TestDaemonSocketIsPrivate(t *testing.T) {
	path := startDaemon(t, &fakeDaemon{})
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s has mode %v, want a socket with 0600", path, fi.Mode())
	}
}

func TestHealthColumn(t *testing.T) {
	check := func(ok bool, ms float64, msg string) *status.Check {
		return &status.Check{OK: ok, DurationMS: ms, Message: msg}
	}
	for _, tc := range []struct {
		name string
		rs   status.RealServer
		want string
	}{
		{"no checks configured", status.RealServer{Healthy: true}, "up"},
		{"waiting for first check", status.RealServer{}, "DOWN (not checked yet)"},
		{"up", status.RealServer{Healthy: true, LastCheck: check(true, 1.25, "HTTP 200")}, "up (HTTP 200, 1.2ms)"},
		{"down", status.RealServer{LastCheck: check(false, 2000, "timeout")}, "DOWN (timeout, 2.00s)"},
		{"falling", status.RealServer{Healthy: true, LastCheck: check(false, 0.3, "connection refused")}, "up, last check failed (connection refused, 0.3ms)"},
		{"rising", status.RealServer{LastCheck: check(true, 0.5, "")}, "DOWN, last check passed (0.5ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := health(tc.rs); got != tc.want {
				t.Errorf("health = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatusPlainBGP(t *testing.T) {
	var b strings.Builder
	writeBGP(&b, &status.BGP{
		ASN: 65010, RouterID: "192.0.2.11",
		Sessions: []status.BGPSession{{Neighbor: "tor1", Address: "192.0.2.1", State: "ESTABLISHED", Up: true, Since: "2026-01-02T03:04:05Z"}},
		Routes: []status.BGPRoute{
			{Prefix: "203.0.113.10/32", Announced: true},
			{Prefix: "203.0.113.11/32", Reason: "no healthy real server in api"},
		},
	})
	want := "BGP  AS 65010  router-id 192.0.2.11\n" +
		"  neighbor tor1         192.0.2.1            ESTABLISHED since 2026-01-02T03:04:05Z\n" +
		"  route 203.0.113.10/32          announced\n" +
		"  route 203.0.113.11/32          withdrawn (no healthy real server in api)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeBGP (-want +got):\n%s", diff)
	}
	b.Reset()
	writeBGP(&b, nil)
	if b.Len() != 0 {
		t.Errorf("writeBGP(nil) = %q, want nothing", b.String())
	}
}
