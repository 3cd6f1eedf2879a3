package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/ipvs"
)

// testLogger writes the daemon's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// verifyNoLeaks checks, after every other cleanup of the test (which
// stops the daemon), that no goroutine started since is left.
func verifyNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort returns a loopback port that nothing listens on (now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// pairHeader names the unit cluster and its two directors, a preferred.
const pairHeader = `cluster = "unit"
node "a" {
  priority = 150
}
node "b" {
  priority = 100
}
`

const runConfig = `cluster = "unit"

node "a" {
  priority = 150
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    delay = "0s"
  }
}

virtual_server "web" {
  address = "192.0.2.100:80"
  method  = "nat"
  health_check "tcp" {
    interval = "20ms"
    timeout  = "10ms"
    rise     = 1
    fall     = 1
  }
  real_server "127.0.0.1:PORT" {}
  real_server "127.0.0.2:80" { # exec
    health_check "exec" {
      command  = ["true"]
      interval = "300ms"
      timeout  = "250ms"
      rise     = 1
    }
  }
  real_server "127.0.0.3:80" {}
}

ipvs {
  reconcile_interval = "1s"
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "VI_1"
  }
}

status {
  metrics_listen = ""
}
`

type runHarness struct {
	t      *testing.T
	file   string
	sys    *fakeSystem
	sd     *recordingNotifier
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, src string, sys *fakeSystem) *runHarness {
	t.Helper()
	return startDaemonAs(t, src, sys, "a")
}

func startDaemonAs(t *testing.T, src string, sys *fakeSystem, node string) *runHarness {
	t.Helper()
	dir := t.TempDir()
	h := &runHarness{t: t, file: filepath.Join(dir, "lvsd.hcl"), sys: sys, sd: &recordingNotifier{}, done: make(chan error, 1)}
	h.write(src)
	h.d = New(Options{
		ConfigFile: h.file, Node: node, Socket: filepath.Join(dir, "lvsd.sock"),
		Logger: testLogger(t), Notifier: h.sd, sys: sys,
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return at cleanup")
		}
	})
	return h
}

func (h *runHarness) write(src string) {
	h.t.Helper()
	if err := os.WriteFile(h.file, []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// reload writes src and reloads it; the reload must apply.
func (h *runHarness) reload(src, what string) {
	h.t.Helper()
	h.write(src)
	if applied, report, err := h.d.Reload(context.Background()); !applied || err != nil {
		h.t.Fatalf("%s: applied %v, report %q, err %v", what, applied, report, err)
	}
}

func (h *runHarness) instance() status.Instance {
	doc := h.d.Status()
	if len(doc.VRRPInstances) != 1 {
		return status.Instance{}
	}
	return doc.VRRPInstances[0]
}

func (h *runHarness) stop() time.Duration {
	h.t.Helper()
	start := time.Now()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Fatalf("Run after a clean stop: %v", err)
		}
	case <-time.After(3 * time.Second):
		h.t.Fatal("Run did not return within 3 s of the stop")
	}
	h.done <- nil // for the cleanup
	return time.Since(start)
}

func TestRunHealthVRRPReloadStop(t *testing.T) {
	verifyNoLeaks(t)
	port := freePort(t)
	src := strings.Replace(runConfig, "PORT", fmt.Sprint(port), 1)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, src, sys)
	checked := fmt.Sprintf("127.0.0.1:%d w1", port)

	// Checked servers start unhealthy and join once they pass;
	// READY follows the first reconcile.
	eventually(t, 2*time.Second, "READY=1", func() bool { return h.sd.has("READY=1") })
	eventually(t, 10*time.Second, "the exec-checked server rises", func() bool {
		return slices.Contains(sys.kernel.dests(), "127.0.0.2:80 w1")
	})
	time.Sleep(100 * time.Millisecond) // five check intervals of the refused server
	if diff := cmp.Diff([]string{"127.0.0.2:80 w1"}, sys.kernel.dests()); diff != "" {
		t.Fatalf("kernel table while 127.0.0.1:%d refuses (-want +got):\n%s", port, diff)
	}
	if sys.sysctls != 1 {
		t.Errorf("sysctls applied %d times, want 1", sys.sysctls)
	}

	// The server comes up: one health change, one table change.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
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
			c.Close()
		}
	}()
	eventually(t, 2*time.Second, "the TCP-checked server joins IPVS", func() bool {
		return slices.Contains(sys.kernel.dests(), checked)
	})
	doc := h.d.Status()
	rs := doc.VirtualServers[0].RealServers[0]
	if !rs.Healthy || !rs.InIPVS || rs.Weight != 1 || rs.LastCheck == nil || !rs.LastCheck.OK {
		t.Errorf("status of the risen server: %+v", rs)
	}

	// Alone on the segment, the instance becomes MASTER and adds the VIP.
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	eventually(t, time.Second, "VIP on eth0", func() bool { return len(sys.vips.on("eth0")) == 1 })
	// The IPVS sync daemon follows VI_1: backup, then master.
	eventually(t, time.Second, "sync daemon in the master role", func() bool {
		return slices.Contains(sys.kernel.syncCalls(), "start master")
	})
	before := h.instance()
	rounds := sys.ann.count()

	// A priority-only reload: same instance, no transition, no GARP, no
	// new socket.
	h.write(strings.Replace(src, "vrid            = 51", "vrid = 51\n  priorities = { \"a\" = 200 }", 1))
	applied, diags, err := h.d.Reload(context.Background())
	if !applied || err != nil || diags != "" {
		t.Fatalf("priority reload: applied %v, diagnostics %q, err %v", applied, diags, err)
	}
	after := h.instance()
	if after.Priority != 200 || after.Transitions != before.Transitions || after.State != status.StateMaster {
		t.Errorf("after a priority reload: priority %d transitions %d→%d state %s; want 200, unchanged, MASTER",
			after.Priority, before.Transitions, after.Transitions, after.State)
	}
	time.Sleep(60 * time.Millisecond) // three advert intervals
	if got := sys.ann.count(); got != rounds {
		t.Errorf("announcement rounds %d → %d after a priority-only reload", rounds, got)
	}
	if n := len(sys.transports); n != 1 {
		t.Errorf("%d sockets opened, want 1 (the instance kept running)", n)
	}

	// A broken file is rejected and changes nothing.
	h.write(src + "\nbogus = 1\n")
	applied, diags, err = h.d.Reload(context.Background())
	if applied || err != nil || !regexp.MustCompile(`lvsd\.hcl:\d+:\d+: `).MatchString(diags) {
		t.Fatalf("broken reload: applied %v, err %v, diagnostics %q; want rejected with FILE:LINE:COL", applied, err, diags)
	}
	doc = h.d.Status()
	if doc.Config.LastReloadError == nil || *doc.Config.LastReloadError != diags {
		t.Errorf("last_reload_error = %v, want the diagnostics", doc.Config.LastReloadError)
	}
	if in := h.instance(); in.Priority != 200 || in.State != status.StateMaster {
		t.Errorf("after a rejected reload: %+v", in)
	}

	// A real server removed: only IPVS changes; the error clears.
	removed := strings.Replace(strings.Replace(src, "vrid            = 51", "vrid = 51\n  priorities = { \"a\" = 200 }", 1),
		"real_server \"127.0.0.2:80\" { # exec", "real_server \"127.0.0.4:80\" { # exec", 1)
	h.reload(removed, "reload removing a server")
	eventually(t, time.Second, "127.0.0.2 leaves IPVS", func() bool {
		return !slices.Contains(sys.kernel.dests(), "127.0.0.2:80 w1")
	})
	if d := sys.kernel.dests(); !slices.Contains(d, checked) {
		t.Errorf("the reload lost the health of the unchanged server: %v", d)
	}
	if doc := h.d.Status(); doc.Config.LastReloadError != nil {
		t.Errorf("last_reload_error after a good reload: %q", *doc.Config.LastReloadError)
	}
	if in := h.instance(); in.Transitions != before.Transitions {
		t.Errorf("a services-only reload caused %d transitions", in.Transitions-before.Transitions)
	}

	// A reload that leaves ipvs {} alone does not touch the sysctls; one
	// that changes it sets them again.
	sys.mu.Lock()
	n := sys.sysctls
	sys.mu.Unlock()
	if n != 1 {
		t.Errorf("sysctls applied %d times after reloads that kept ipvs {}, want 1", n)
	}
	h.reload(strings.Replace(removed, `reconcile_interval = "1s"`, `reconcile_interval = "2s"`, 1), "reload changing ipvs {}")
	sys.mu.Lock()
	n = sys.sysctls
	sys.mu.Unlock()
	if n != 2 {
		t.Errorf("sysctls applied %d times after a reload changing ipvs {}, want 2", n)
	}

	// Interface down: FAULT, VIP removed; up again: back to MASTER.
	sys.setLink("eth0", false)
	eventually(t, time.Second, "FAULT", func() bool { return h.instance().State == status.StateFault })
	if v := sys.vips.on("eth0"); len(v) != 0 {
		t.Errorf("VIPs in FAULT: %v", v)
	}
	sys.setLink("eth0", true)
	eventually(t, 2*time.Second, "MASTER again", func() bool { return h.instance().State == status.StateMaster })

	// Metrics come from the same sources.
	var m strings.Builder
	if err := h.d.Metrics().WriteText(&m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`lvsd_vrrp_state{instance="VI_1"} 2`,
		`lvsd_vrrp_transitions_total{instance="VI_1",to="FAULT"} 1`,
		fmt.Sprintf(`lvsd_realserver_healthy{server="127.0.0.1:%d",service="web"} 1`, port),
		fmt.Sprintf(`lvsd_healthcheck_duration_seconds_count{server="127.0.0.1:%d",service="web"}`, port),
		`lvsd_ipvs_operations_total{op="add_destination"}`,
		`lvsd_ipvs_reconcile_seconds_count`,
		`lvsd_config_reloads_total{result="applied"} 3`,
		`lvsd_config_reloads_total{result="rejected"} 1`,
	} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", m.String())
	}

	// The control socket answers.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	sdoc, err := status.Get(ctx, filepath.Join(filepath.Dir(h.file), "lvsd.sock"))
	cancel()
	if err != nil || sdoc.Cluster != "unit" || sdoc.Node != "a" {
		t.Errorf("status over the socket: %+v, %v", sdoc.Config, err)
	}

	// Stop: VIPs removed, lvsd's services removed (cleanup_on_exit), the
	// sockets closed, within 2 s.
	if took := h.stop(); took > 2*time.Second {
		t.Errorf("stop took %v, want at most 2 s", took)
	}
	if v := sys.vips.on("eth0"); len(v) != 0 {
		t.Errorf("VIPs after the stop: %v", v)
	}
	if n := sys.kernel.services(); n != 0 {
		t.Errorf("%d IPVS services after the stop, want 0 (cleanup_on_exit)", n)
	}
	if n := sys.openTransports(); n != 0 {
		t.Errorf("%d VRRP sockets open after the stop", n)
	}
	if calls := sys.kernel.syncCalls(); !slices.Contains(calls, "stop master") {
		t.Errorf("sync daemon calls %v: the master daemon was not stopped", calls)
	}
	if !h.sd.has("STOPPING=1") {
		t.Error("systemd was not told STOPPING=1")
	}
	if _, _, err := h.d.Reload(context.Background()); !errors.Is(err, errNotRunning) {
		t.Errorf("Reload after the stop: %v, want errNotRunning", err)
	}
}

func TestRunStartFailures(t *testing.T) {
	const vrrpOnly = `cluster = "unit"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["192.0.2.100/32"]
}
status {
  metrics_listen = ""
}
`
	const withIPVS = vrrpOnly + `
virtual_server "web" {
  address = "192.0.2.100:80"
  real_server "192.0.2.10:80" {}
}
`
	tests := []struct {
		name    string
		src     string
		ifaces  []string
		ipvsErr error
		check   func(t *testing.T, err error)
	}{
		{
			name: "config error", src: vrrpOnly + "\nbogus = 1\n", ifaces: []string{"eth0"},
			check: func(t *testing.T, err error) {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("error %v is not a *ConfigError", err)
				}
				if !regexp.MustCompile(`lvsd\.hcl:\d+:\d+: `).MatchString(ce.Report()) {
					t.Errorf("report lacks FILE:LINE:COL: %q", ce.Report())
				}
			},
		},
		{
			name: "missing interface", src: vrrpOnly, ifaces: []string{"eth1"},
			check: func(t *testing.T, err error) {
				var ce *ConfigError
				if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "interface eth0 does not exist") {
					t.Errorf("error %v, want a start-up error naming the missing interface", err)
				}
			},
		},
		{
			name: "no IPVS with virtual servers", src: withIPVS, ifaces: []string{"eth0"}, ipvsErr: ipvs.ErrNotAvailable,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ipvs.ErrNotAvailable) || !strings.Contains(err.Error(), "modprobe ip_vs") {
					t.Errorf("error %v, want one saying to load ip_vs", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", tt.ifaces...)
			sys.ipvsErr = tt.ipvsErr
			dir := t.TempDir()
			file := filepath.Join(dir, "lvsd.hcl")
			if err := os.WriteFile(file, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			d := New(Options{ConfigFile: file, Socket: filepath.Join(dir, "s"), Logger: testLogger(t), Notifier: &recordingNotifier{}, sys: sys})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := d.Run(ctx)
			if ctx.Err() != nil {
				t.Fatal("Run did not fail at start-up")
			}
			tt.check(t, err)
			if n := sys.openTransports(); n != 0 {
				t.Errorf("%d VRRP sockets left open after a failed start", n)
			}
		})
	}
}

// A VRRP-only configuration never touches IPVS, so it runs on a kernel
// without it.
func TestRunVRRPOnlyWithoutIPVS(t *testing.T) {
	verifyNoLeaks(t)
	src := oneInstanceSrc
	// Notify commands run without a shell: the test asks for one
	// explicitly to append to a file.
	log := filepath.Join(t.TempDir(), "notify.log")
	notify := func(state string) string {
		return fmt.Sprintf("[\"/bin/sh\", \"-c\", \"echo %s >> %s\"]", state, log)
	}
	src = strings.Replace(src, "  virtual_ips     = [\"192.0.2.100/32\"]\n", "  virtual_ips     = [\"192.0.2.100/32\"]\n  notify {\n"+
		"    master = "+notify("master")+"\n    backup = "+notify("backup")+"\n    stop = "+notify("stop")+"\n  }\n", 1)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	sys.ipvsErr = ipvs.ErrNotAvailable
	h := startDaemon(t, src, sys)
	eventually(t, time.Second, "READY=1 at once", func() bool { return h.sd.has("READY=1") })
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	if len(h.d.Status().VirtualServers) != 0 {
		t.Error("virtual servers in a VRRP-only status")
	}
	// The commands run concurrently, so either may finish first.
	eventually(t, 2*time.Second, "backup and master notify commands", func() bool {
		b, _ := os.ReadFile(log)
		return string(b) == "backup\nmaster\n" || string(b) == "master\nbackup\n"
	})
	h.stop()
	if n := sys.kernel.services(); n != 0 {
		t.Error("the VRRP-only daemon programmed IPVS")
	}
	// The stop command ran before Run returned.
	if b, _ := os.ReadFile(log); !strings.HasSuffix(string(b), "\nstop\n") {
		t.Errorf("notify log %q, want backup and master, then stop", b)
	}
}

// Two directors on one segment: the higher priority wins, and on a stop
// the master sends priority 0 so the backup takes over at once.
func TestRunPairHandover(t *testing.T) {
	verifyNoLeaks(t)
	src := pairHeader + `vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
}
status {
  metrics_listen = ""
}
`
	seg := &fakeSegment{}
	sysA := newFakeSystem(seg, "192.0.2.1", "eth0")
	sysB := newFakeSystem(seg, "192.0.2.2", "eth0")
	b := startDaemonAs(t, src, sysB, "b")
	a := startDaemonAs(t, src, sysA, "a")
	eventually(t, 3*time.Second, "a MASTER", func() bool { return a.instance().State == status.StateMaster })
	eventually(t, 3*time.Second, "b BACKUP", func() bool {
		in := b.instance()
		return in.State == status.StateBackup && in.MasterAddress == "192.0.2.1"
	})
	// The status shows a transition before its actions are done: b may
	// have been MASTER for a moment if a started slowly.
	eventually(t, time.Second, "the VIP on a only", func() bool {
		return len(sysB.vips.on("eth0")) == 0 && len(sysA.vips.on("eth0")) == 1
	})

	start := time.Now()
	a.cancel()
	// RFC 5798 §6.4.2: on priority 0 the backup waits Skew_Time only
	// (about 60 ms here), not Master_Down_Interval (about 360 ms).
	eventually(t, 300*time.Millisecond, "b MASTER soon after a's priority-0 advert", func() bool {
		return b.instance().State == status.StateMaster
	})
	t.Logf("b took over %v after the stop", time.Since(start))
	a.done <- <-a.done // wait for a; leave the value for the cleanup
	var zero bool
	for _, adv := range sysA.transports[0].adverts() {
		if adv.Priority == 0 {
			zero = true
		}
	}
	if !zero {
		t.Error("the stopping master sent no priority-0 advert")
	}
	if len(sysA.vips.on("eth0")) != 0 || len(sysB.vips.on("eth0")) != 1 {
		t.Errorf("VIPs after the handover: a %v, b %v; want b only", sysA.vips.on("eth0"), sysB.vips.on("eth0"))
	}
	b.stop()
}

// A unicast instance sends from its own unicast_peers entry, on a socket
// that does not join the multicast group, and elects against the peer.
func TestRunUnicastPeers(t *testing.T) {
	verifyNoLeaks(t)
	src := pairHeader + `vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "50ms"
  unicast_peers   = ["192.0.2.1", "192.0.2.2"]
  virtual_ips     = ["192.0.2.100/32"]
}
status {
  metrics_listen = ""
}
`
	seg := &fakeSegment{}
	sysA := newFakeSystem(seg, "192.0.2.1", "eth0")
	sysB := newFakeSystem(seg, "192.0.2.2", "eth0")
	a := startDaemonAs(t, src, sysA, "a")
	b := startDaemonAs(t, src, sysB, "b")
	eventually(t, 3*time.Second, "a MASTER, b BACKUP", func() bool {
		return a.instance().State == status.StateMaster && b.instance().State == status.StateBackup
	})
	a.d.muxes.mu.Lock()
	var keys []muxKey
	for k := range a.d.muxes.all {
		keys = append(keys, k)
	}
	a.d.muxes.mu.Unlock()
	want := []muxKey{{ifname: "eth0", unicast: true, src: netip.MustParseAddr("192.0.2.1")}}
	if diff := cmp.Diff(want, keys, cmp.AllowUnexported(muxKey{}), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("sockets (-want +got):\n%s", diff)
	}
	// Adverts go to the peer only, never to ourselves.
	dsts := sysA.transports[0].destinations()
	if len(dsts) == 0 {
		t.Error("the master sent no adverts")
	}
	for _, d := range dsts {
		if d != netip.MustParseAddr("192.0.2.2") {
			t.Errorf("advert sent to %v, want only the peer 192.0.2.2", d)
		}
	}
	b.stop()
	a.stop()
}

// A second daemon on the socket of a running one refuses to start before
// any of its instances runs.
func TestRunRefusesBusySocket(t *testing.T) {
	verifyNoLeaks(t)
	src := `cluster = "unit"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "50ms"
  virtual_ips     = ["192.0.2.100/32"]
}
status {
  metrics_listen = ""
}
`
	first := startDaemon(t, src, newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0"))
	eventually(t, 2*time.Second, "first daemon ready", func() bool { return first.sd.has("READY=1") })

	sys := newFakeSystem(&fakeSegment{}, "192.0.2.2", "eth0")
	second := New(Options{
		ConfigFile: first.file, Node: "a", Socket: filepath.Join(filepath.Dir(first.file), "lvsd.sock"),
		Logger: testLogger(t), Notifier: &recordingNotifier{}, sys: sys,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := second.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "another lvsd answers") {
		t.Fatalf("second daemon: %v, want a refusal naming the busy socket", err)
	}
	if len(sys.transports) != 0 {
		t.Error("the refused daemon opened VRRP sockets")
	}
	if err := second.Run(ctx); err == nil {
		t.Error("Run ran twice")
	}
	first.stop()
}

// A daemon that cannot bind its metrics port fails its start without ever
// telling systemd it is ready, and leaves no socket or instance behind.
func TestRunBindsBeforeReady(t *testing.T) {
	verifyNoLeaks(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	src := fmt.Sprintf(`cluster = "unit"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "50ms"
  virtual_ips     = ["192.0.2.100/32"]
}
status {
  metrics_listen = %q
}
`, taken.Addr().String())
	dir := t.TempDir()
	file := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	sd := &recordingNotifier{}
	socket := filepath.Join(dir, "lvsd.sock")
	d := New(Options{ConfigFile: file, Socket: socket, Logger: testLogger(t), Notifier: sd, sys: sys})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = d.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("Run did not fail at start-up")
	}
	if err == nil || !strings.Contains(err.Error(), "listening for metrics on "+taken.Addr().String()) {
		t.Errorf("Run: %v, want the metrics port named", err)
	}
	if sd.has("READY=1") {
		t.Error("READY=1 sent by a daemon that failed to start")
	}
	if n := sys.openTransports(); n != 0 {
		t.Errorf("%d VRRP sockets left open after a failed start", n)
	}
	if _, err := os.Stat(socket); err == nil {
		t.Error("the control socket was left behind")
	}
}

// TestStartPhases: the "ready" line times the start-up in phases, the
// IPVS ones only where there is IPVS to program.
func TestStartPhases(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := startPhases{start: t0, parts: t0.Add(300 * time.Millisecond), load: 200 * time.Millisecond, ipvs: 50 * time.Millisecond}
	if got, want := fmt.Sprint(p.attrs(t0.Add(1500*time.Millisecond))), "[took 1.5s load 200ms ipvs_setup 50ms first_round 1.2s]"; got != want {
		t.Errorf("attrs = %s, want %s", got, want)
	}
	p = startPhases{start: t0, parts: t0.Add(30 * time.Millisecond), load: 20 * time.Millisecond}
	if got, want := fmt.Sprint(p.attrs(t0.Add(40*time.Millisecond))), "[took 40ms load 20ms]"; got != want {
		t.Errorf("attrs without IPVS = %s, want %s", got, want)
	}
}

// TestStartupRegimeEnds checks that the collector, left to the soft memory
// limit alone during the start-up, gets its pacing back once the daemon is
// ready: a start that forgot would run with GOGC off for good.
func TestStartupRegimeEnds(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	src := strings.Replace(runConfig, "PORT", "9", 1)
	h := startDaemon(t, src, newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0"))
	eventually(t, 2*time.Second, "READY=1", func() bool { return h.sd.has("READY=1") })
	eventually(t, 2*time.Second, "GOGC back at 100", func() bool {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p == 100
	})
}
