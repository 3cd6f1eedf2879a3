package integration

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
)

// The shipped systemd unit (examples/systemd) and the daemon's side of
// sd_notify(3), checked against systemd's own verifier and a stand-in
// service manager.

const (
	unitPath = "../examples/systemd/lvsd.service"
	// unitBinary is where the unit expects lvsd.
	unitBinary = "/usr/local/bin/lvsd"
)

// unitFile is a systemd unit: section -> key -> values in file order.
type unitFile map[string]map[string][]string

// readUnit parses the subset of systemd.syntax(7) the shipped unit uses:
// sections, KEY=VALUE lines, comments. A continuation line is an error, so
// a unit that grows one makes this parser grow too.
func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasSuffix(line, `\`):
			t.Fatalf("%s:%d: continuation lines are not supported here", path, n)
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// commandOf returns the argv of an Exec line of the unit with lvsd at bin
// and ${VAR}/$VAR expanded from env.
func commandOf(t *testing.T, line, bin string, env map[string]string) []string {
	t.Helper()
	argv := strings.Fields(line)
	if len(argv) == 0 || argv[0] != unitBinary {
		t.Fatalf("command %q does not run %s", line, unitBinary)
	}
	argv[0] = bin
	for i := range argv[1:] {
		argv[i+1] = os.Expand(argv[i+1], func(k string) string {
			v, ok := env[k]
			if !ok {
				t.Fatalf("command %q uses $%s, which the test does not set", line, k)
			}
			return v
		})
	}
	return argv
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, unitPath)
	svc := u["Service"]
	if svc == nil {
		t.Fatal("the unit has no [Service] section")
	}

	t.Run("settings", func(t *testing.T) {
		want := map[string][]string{
			"Type":                  {"notify"},
			"NotifyAccess":          {"main"},
			"ExecReload":            {"/bin/kill -HUP $MAINPID"},
			"Restart":               {"on-failure"},
			"ProtectKernelModules":  {"yes"},
			"CapabilityBoundingSet": {"CAP_NET_ADMIN CAP_NET_RAW"},
			"AmbientCapabilities":   {"CAP_NET_ADMIN CAP_NET_RAW"},
		}
		got := map[string][]string{}
		for k := range want {
			got[k] = svc[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("unit settings (-want +got):\n%s", diff)
		}
		// The watchdog must be armed: lvsd pings at half of it.
		if w := svc["WatchdogSec"]; len(w) != 1 || w[0] == "0" {
			t.Errorf("WatchdogSec = %q, want one non-zero value", w)
		}
		for _, k := range []string{"ExecStartPre", "ExecStart"} {
			if len(svc[k]) != 1 || !strings.HasPrefix(svc[k][0], unitBinary+" ") {
				t.Errorf("%s = %q, want one command running %s", k, svc[k], unitBinary)
			}
		}
	})

	t.Run("ip_vs is loaded at boot, not by the service", func(t *testing.T) {
		unit, err := os.ReadFile(unitPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "modules-load-ipvs.conf") {
			t.Error("the unit's comments do not point at modules-load-ipvs.conf, which ProtectKernelModules=yes makes necessary")
		}
		conf, err := os.ReadFile(filepath.Join(filepath.Dir(unitPath), "modules-load-ipvs.conf"))
		if err != nil {
			t.Fatal(err)
		}
		// modules-load.d(5): one module per line, # and ; start comments.
		var mods []string
		for _, l := range strings.Split(string(conf), "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' && l[0] != ';' {
				mods = append(mods, l)
			}
		}
		if diff := cmp.Diff([]string{"ip_vs"}, mods); diff != "" {
			t.Errorf("modules-load-ipvs.conf modules (-want +got):\n%s", diff)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			lab.Missing(t, "systemd-analyze not found (package systemd; run .ci/install-deps.sh): %v", err)
		}
		// verify checks that every command exists and is executable: the
		// unit is copied beside a freshly built lvsd, under its own name.
		bin := buildLVSD(t)
		src, err := os.ReadFile(unitPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(src), unitBinary) < 2 {
			t.Fatalf("the unit names %s fewer than twice (ExecStartPre, ExecStart)", unitBinary)
		}
		unit := filepath.Join(t.TempDir(), "lvsd.service")
		if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(src), unitBinary, bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "systemd-analyze", "verify", unit)
		// Without a system manager to talk to it would try the bus first.
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		// Dependencies from the host's own units may draw notes of their
		// own; nothing may be said about this unit.
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "lvsd") {
				t.Errorf("systemd-analyze verify: %s", l)
			}
		}
	})

	t.Run("ExecStartPre accepts a valid config", func(t *testing.T) {
		bin := buildLVSD(t)
		cfg := filepath.Join(t.TempDir(), "lvsd.hcl")
		if err := os.WriteFile(cfg, []byte(notifyConfig(t.TempDir())), 0o644); err != nil {
			t.Fatal(err)
		}
		argv := commandOf(t, svc["ExecStartPre"][0], bin, map[string]string{"LVSD_CONFIG": cfg})
		if out, code := lvsdCmd(t, argv[0], argv[1:]...); code != 0 {
			t.Errorf("%q exit %d, want 0:\n%s", argv, code, out)
		}
	})
}

// notifyConfig is a one-node VRRP-only director: no IPVS needed.
func notifyConfig(dir string) string {
	return `cluster = "sdtest"

node "a" {
  priority = 150
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat = 1
    delay  = "0s"
  }
}

status {
  socket         = "` + filepath.Join(dir, "lvsd.sock") + `"
  metrics_listen = ""
}
`
}

// datagram is one notification as the stand-in service manager got it.
type datagram struct {
	at   time.Time
	text string
}

// TestSystemdNotify runs the unit's ExecStart under a stand-in service
// manager: a unixgram socket named by NOTIFY_SOCKET, a watchdog armed with
// WATCHDOG_USEC, then the unit's reload (SIGHUP) and stop (SIGTERM).
func TestSystemdNotify(t *testing.T) {
	lab.RequireRoot(t, "ip", "env", "go")
	bin := buildLVSD(t)
	u := readUnit(t, unitPath)
	lan := lab.NewLAN(t, "a")
	lan.AddAddr("a", "192.0.2.1/24")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(cfg, []byte(notifyConfig(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A path socket: unlike an abstract one it is reachable from the
	// lab's network namespace.
	sockPath := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan datagram, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			at := time.Now()
			// One datagram may carry several newline-separated assignments.
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l != "" {
					got <- datagram{at, l}
				}
			}
		}
	}()
	var log []string
	var all []datagram
	// seen reports whether a notification matching want has come already.
	seen := func(want func(string) bool) bool {
		return slices.ContainsFunc(all, func(d datagram) bool { return want(d.text) })
	}
	// next waits for a notification matching want, recording all.
	next := func(within time.Duration, want func(string) bool) (datagram, bool) {
		deadline := time.After(within)
		for {
			select {
			case d, ok := <-got:
				if !ok {
					return datagram{}, false
				}
				log = append(log, d.text)
				all = append(all, d)
				if want(d.text) {
					return d, true
				}
			case <-deadline:
				return datagram{}, false
			}
		}
	}
	is := func(s string) func(string) bool { return func(x string) bool { return x == s } }

	const watchdog = 200 * time.Millisecond
	argv := commandOf(t, u["Service"]["ExecStart"][0], bin, map[string]string{"LVSD_CONFIG": cfg})
	env := []string{"env", "NOTIFY_SOCKET=" + sockPath, "WATCHDOG_USEC=200000", "LVSD_CONFIG=" + cfg}
	proc := lan.Host("a").Start(append(env, argv...)...)

	ready, ok := next(10*time.Second, is("READY=1"))
	if !ok {
		t.Fatalf("no READY=1 within 10 s; got %q", log)
	}
	// A STATUS= line may come before READY=1 or after it.
	isStatus := func(s string) bool { return strings.HasPrefix(s, "STATUS=") }
	if !seen(isStatus) {
		if _, ok := next(5*time.Second, isStatus); !ok {
			t.Fatalf("no STATUS= line; got %q", log)
		}
	}
	// The status line follows the instance: it becomes master alone.
	if !seen(is("STATUS=VI_1 MASTER")) {
		if _, ok := next(5*time.Second, is("STATUS=VI_1 MASTER")); !ok {
			t.Errorf("no STATUS=VI_1 MASTER within 5 s; got %q", log)
		}
	}

	// At least two pings within a second of READY (every 100 ms: half of
	// WATCHDOG_USEC). Collect everything up to then, then count.
	end := ready.at.Add(time.Second)
	next(time.Until(end)+50*time.Millisecond, func(string) bool { return false })
	var pings []time.Time
	for _, d := range all {
		if d.text == "WATCHDOG=1" && d.at.After(ready.at) && !d.at.After(end) {
			pings = append(pings, d.at)
		}
	}
	if len(pings) < 2 {
		t.Errorf("%d WATCHDOG=1 within a second of READY=1 with WATCHDOG_USEC=%d; got %q", len(pings), watchdog.Microseconds(), log)
	}

	// ExecReload: SIGHUP reloads the file and the daemon carries on.
	socket := filepath.Join(dir, "lvsd.sock")
	before, err := getDoc(socket)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := getDoc(socket)
		if err == nil && after.Config.LoadedAt.After(before.Config.LoadedAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload within 5 s (loaded_at %v; %v)", before.Config.LoadedAt, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := next(2*time.Second, is("WATCHDOG=1")); !ok {
		t.Errorf("no WATCHDOG=1 after the reload; got %q", log)
	}

	// Stop: STOPPING=1, then a clean exit.
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := next(3*time.Second, is("STOPPING=1")); !ok {
		t.Errorf("no STOPPING=1 within 3 s of SIGTERM; got %q", log)
	}
	select {
	case <-proc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lvsd did not exit within 5 s of SIGTERM")
	}
	if err := proc.Err(); err != nil {
		t.Errorf("lvsd exit after SIGTERM: %v, want status 0", err)
	}
	// Everything it sent was a known assignment (sd_notify(3)).
	for _, s := range log {
		k, _, _ := strings.Cut(s, "=")
		if !slices.Contains([]string{"READY", "STATUS", "WATCHDOG", "STOPPING", "RELOADING", "MONOTONIC_USEC"}, k) {
			t.Errorf("unexpected notification %q", s)
		}
	}
}

func getDoc(socket string) (status.Document, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return status.Get(ctx, socket)
}
