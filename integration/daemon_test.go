package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/internal/vrrpd"
)

// Two real `lvsd run` processes elect a master over a lab LAN, fail over,
// hand over on SIGTERM and reload.

var lvsdBin struct {
	once sync.Once
	path string
	err  error
}

// buildLVSD builds cmd/lvsd once per test binary, static, as it is shipped.
func buildLVSD(t *testing.T) string {
	t.Helper()
	lvsdBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "lvsd-bin-")
		if err != nil {
			lvsdBin.err = err
			return
		}
		lvsdBin.path = filepath.Join(dir, "lvsd")
		cmd := exec.Command("go", "build", "-o", lvsdBin.path, "github.com/lvsd/lvsd/cmd/lvsd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			lvsdBin.err = fmt.Errorf("go build ./cmd/lvsd: %v\n%s", err, out)
		}
	})
	if lvsdBin.err != nil {
		t.Fatal(lvsdBin.err)
	}
	return lvsdBin.path
}

// daemonConfig is a VRRP-only cluster: it needs no IPVS, so it runs on the
// host kernel. A 100 ms advert interval keeps failovers well under a second.
const daemonConfig = `cluster = "itest"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat = 2
    delay  = "0s"
  }
}

# A second router on the same interface, mastered by b: both share one
# socket per director, and neither counts the other's adverts as drops.
vrrp_instance "VI_2" {
  interface       = "eth0"
  vrid            = 52
  advert_interval = "100ms"
  priorities      = { "b" = 200 }
  virtual_ips     = ["192.0.2.101/32"]
}

# IPv6 (RFC 5798 over ff02::12, from the link-local address): its own
# socket, since the family differs.
vrrp_instance "VI_3" {
  interface       = "eth0"
  vrid            = 53
  advert_interval = "100ms"
  virtual_ips     = ["2001:db8::100/128"]
}

status {
  metrics_listen = ""
}
`

type director struct {
	name   string
	host   *lab.Host
	socket string
	proc   *lab.Proc
}

func startDirector(t *testing.T, bin, cfg string, d *director) {
	t.Helper()
	d.proc = d.host.Start(bin, "run", "-c", cfg, "--node", d.name, "--socket", d.socket)
}

func statusOf(t *testing.T, d *director) (status.Document, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return status.Get(ctx, d.socket)
}

// waitState polls the director's status until VI_1 is in state.
func waitState(t *testing.T, d *director, state string, within time.Duration) status.Document {
	t.Helper()
	return waitInstance(t, d, "VI_1", state, within)
}

// waitInstance polls the director's status until the instance is in state.
func waitInstance(t *testing.T, d *director, name, state string, within time.Duration) status.Document {
	t.Helper()
	deadline := time.Now().Add(within)
	last := "not running"
	for {
		doc, err := statusOf(t, d)
		if err != nil {
			last = err.Error()
		}
		if in, ok := findInstance(doc, name); ok {
			last = in.State
			if last == state {
				return doc
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not %s within %v (last: %s)", d.name, name, state, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func findInstance(doc status.Document, name string) (status.Instance, bool) {
	for _, in := range doc.VRRPInstances {
		if in.Name == name {
			return in, true
		}
	}
	return status.Instance{}, false
}

func hasVIP(t *testing.T, d *director) bool {
	t.Helper()
	return hasAddr(t, d, "192.0.2.100/32")
}

func hasAddr(t *testing.T, d *director, cidr string) bool {
	t.Helper()
	out := d.host.MustExec(t, "ip", "-o", "addr", "show", "dev", "eth0")
	return strings.Contains(out, " "+cidr+" ")
}

func lvsdCmd(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("lvsd %v: %v", args, err)
	}
	return string(out), 0
}

func TestDaemonVRRPPair(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go")
	bin := buildLVSD(t)
	lan := lab.NewLAN(t, "a", "b")
	lan.AddAddr("a", "192.0.2.1/24")
	lan.AddAddr("b", "192.0.2.2/24")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(cfg, []byte(daemonConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &director{name: "a", host: lan.Host("a"), socket: filepath.Join(dir, "a.sock")}
	b := &director{name: "b", host: lan.Host("b"), socket: filepath.Join(dir, "b.sock")}
	startDirector(t, bin, cfg, b)
	startDirector(t, bin, cfg, a)

	// (a) The higher priority wins and holds the VIP.
	waitState(t, a, status.StateMaster, 5*time.Second)
	waitState(t, b, status.StateBackup, 5*time.Second)
	if !hasVIP(t, a) {
		t.Fatal("a is MASTER but has no 192.0.2.100 on eth0")
	}
	if hasVIP(t, b) {
		t.Fatal("b is BACKUP but has 192.0.2.100 on eth0")
	}
	waitInstance(t, b, "VI_2", status.StateMaster, 5*time.Second)
	waitInstance(t, a, "VI_2", status.StateBackup, 5*time.Second)
	waitInstance(t, a, "VI_3", status.StateMaster, 5*time.Second)
	waitInstance(t, b, "VI_3", status.StateBackup, 5*time.Second)
	if !hasAddr(t, a, "2001:db8::100/128") || hasAddr(t, b, "2001:db8::100/128") {
		t.Error("the IPv6 VIP is not on the VI_3 master alone")
	}

	t.Run("instances sharing an interface drop nothing", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond) // three more adverts of each
		for _, d := range []*director{a, b} {
			doc, err := statusOf(t, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range doc.VRRPInstances {
				if in.AdvertsReceived == 0 && in.State == status.StateBackup {
					t.Errorf("%s %s: BACKUP without adverts received", d.name, in.Name)
				}
				for reason, n := range in.Dropped {
					if n != 0 {
						t.Errorf("%s %s: %d packets dropped as %q", d.name, in.Name, n, reason)
					}
				}
			}
		}
	})

	t.Run("status document has every field", func(t *testing.T) {
		out, code := lvsdCmd(t, bin, "status", "--json", "--socket", a.socket)
		if code != 0 {
			t.Fatalf("lvsd status --json exit %d: %s", code, out)
		}
		checkStatusFields(t, out)
	})

	t.Run("a VIP deleted by hand is put back at once", func(t *testing.T) {
		before := waitState(t, a, status.StateMaster, time.Second)
		a.host.MustExec(t, "ip", "addr", "del", "192.0.2.100/32", "dev", "eth0")
		deleted := time.Now()
		// The address watch puts it back on the deletion's notification;
		// the periodic check alone would take up to
		// vrrpd.DefaultVIPCheckInterval.
		bound := time.Second
		for !hasVIP(t, a) {
			if time.Since(deleted) > bound {
				t.Fatalf("192.0.2.100 not back on a's eth0 %v after its deletion (periodic check every %v)", bound, vrrpd.DefaultVIPCheckInterval)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("192.0.2.100 back %v after its deletion", time.Since(deleted).Round(time.Millisecond))
		after := waitState(t, a, status.StateMaster, time.Second)
		for i := range before.VRRPInstances {
			if got, want := after.VRRPInstances[i].Transitions, before.VRRPInstances[i].Transitions; got != want {
				t.Errorf("%s: transitions after a VIP deletion = %d, want %d", before.VRRPInstances[i].Name, got, want)
			}
		}
	})

	// Reloads that do not touch the election change nothing on the wire:
	// no transition, no announcement out of schedule.
	for _, tc := range []struct {
		name string
		edit func(src string) string
	}{
		{"comment-only reload changes nothing", func(src string) string {
			return src + "\n# a comment added by the test\n"
		}},
		{"garp and notify reload changes nothing", func(src string) string {
			return strings.Replace(src, "    repeat = 2\n    delay  = \"0s\"\n  }\n",
				"    repeat = 3\n    delay  = \"0s\"\n    refresh = \"1h\"\n  }\n  notify {\n    master = [\"true\"]\n  }\n", 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := waitState(t, a, status.StateMaster, time.Second)
			arp := lan.Capture(t, "arp")
			src, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			edited := tc.edit(string(src))
			if edited == string(src) {
				t.Fatal("the edit changed nothing")
			}
			if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, code := lvsdCmd(t, bin, "reload", "--socket", a.socket); code != 0 {
				t.Fatalf("lvsd reload exit %d, want 0: %s", code, out)
			}
			time.Sleep(700 * time.Millisecond) // several advert intervals
			after := waitState(t, a, status.StateMaster, time.Second)
			for i := range before.VRRPInstances {
				if got, want := after.VRRPInstances[i].Transitions, before.VRRPInstances[i].Transitions; got != want {
					t.Errorf("%s: transitions after the reload = %d, want %d", before.VRRPInstances[i].Name, got, want)
				}
			}
			if !after.Config.LoadedAt.After(before.Config.LoadedAt) {
				t.Errorf("loaded_at %v not after %v", after.Config.LoadedAt, before.Config.LoadedAt)
			}
			for _, f := range arp.Stop() {
				if strings.Contains(f.Text, "192.0.2.10") { // .100 and .101
					t.Errorf("announcement after the reload: %s", f.Text)
				}
			}
		})
	}

	t.Run("broken reload is rejected and changes nothing", func(t *testing.T) {
		good, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(cfg, good, 0o644)
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(good), "vrid            = 51", "vrid = 51 51", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := lvsdCmd(t, bin, "reload", "--socket", a.socket)
		if code != 1 {
			t.Fatalf("lvsd reload of a broken file exit %d, want 1: %s", code, out)
		}
		if !regexp.MustCompile(`lvsd\.hcl:\d+:\d+: `).MatchString(out) {
			t.Errorf("reload output lacks FILE:LINE:COL diagnostics:\n%s", out)
		}
		doc := waitState(t, a, status.StateMaster, time.Second)
		if doc.Config.LastReloadError == nil {
			t.Error("last_reload_error is null after a rejected reload")
		}
		if !hasVIP(t, a) {
			t.Error("a lost the VIP after a rejected reload")
		}
	})

	t.Run("carrier loss puts the master in FAULT", func(t *testing.T) {
		if err := lan.Unplug("a"); err != nil {
			t.Fatal(err)
		}
		waitState(t, a, status.StateFault, 2*time.Second)
		waitState(t, b, status.StateMaster, 2*time.Second)
		if hasVIP(t, a) || hasAddr(t, a, "2001:db8::100/128") {
			t.Error("a kept its VIPs in FAULT")
		}
		if err := lan.Plug("a"); err != nil {
			t.Fatal(err)
		}
		// Back to BACKUP, then preemption by the higher priority.
		waitState(t, a, status.StateMaster, 3*time.Second)
		waitState(t, b, status.StateBackup, 2*time.Second)
		if !hasVIP(t, a) {
			t.Error("a is MASTER again but has no VIP")
		}
	})

	t.Run("SIGTERM hands over with priority 0", func(t *testing.T) {
		vrrp := lan.Capture(t, "ip proto 112")
		arp := lan.Capture(t, "arp")
		start := time.Now()
		if err := a.proc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.proc.Done():
		case <-time.After(3 * time.Second):
			t.Fatal("lvsd did not exit within 3 s of SIGTERM")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("lvsd took %v to stop, want at most 2 s", took)
		}
		if err := a.proc.Err(); err != nil {
			t.Errorf("lvsd exit after SIGTERM: %v, want status 0", err)
		}
		if _, err := vrrp.WaitMatch(time.Second, `192\.0\.2\.1 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51, prio 0,`); err != nil {
			t.Errorf("no priority-0 advert from the stopping master: %v", err)
		}
		waitState(t, b, status.StateMaster, 2*time.Second)
		if !hasVIP(t, b) {
			t.Error("b is MASTER but has no VIP")
		}
		// The new master announces the VIP with its own MAC: the capture
		// that saw nothing after the comment-only reload does see this.
		if _, err := arp.WaitMatch(time.Second, regexp.QuoteMeta(b.host.MAC())+`.*Request who-has 192\.0\.2\.100 .*tell 192\.0\.2\.100`); err != nil {
			t.Errorf("no gratuitous ARP from the new master (%s): %v\n%v", b.host.MAC(), err, arp.Lines())
		}
		if hasVIP(t, a) {
			t.Error("the stopped director still has the VIP")
		}
	})

	t.Run("SIGKILL of the master fails over", func(t *testing.T) {
		startDirector(t, bin, cfg, a)
		waitState(t, a, status.StateMaster, 5*time.Second)
		waitState(t, b, status.StateBackup, 2*time.Second)
		a.proc.Kill()
		waitState(t, b, status.StateMaster, 2*time.Second)
		if !hasVIP(t, b) {
			t.Error("b is MASTER after the failover but has no VIP")
		}
	})

	if err := b.proc.Stop(3 * time.Second); err != nil {
		t.Errorf("stopping b: %v", err)
	}
}

// checkStatusFields checks the JSON of `lvsd status --json` against the
// documented field list, by name, so a renamed field fails.
func checkStatusFields(t *testing.T, out string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	need := func(where string, m map[string]any, keys ...string) {
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", where, k)
			}
		}
	}
	need("document", doc, "cluster", "node", "version", "config", "vrrp_instances", "virtual_servers")
	if c, ok := doc["config"].(map[string]any); ok {
		need("config", c, "file", "loaded_at", "last_reload_error")
	}
	insts, _ := doc["vrrp_instances"].([]any)
	if len(insts) != 3 {
		t.Fatalf("vrrp_instances has %d entries, want 3", len(insts))
	}
	in, _ := insts[0].(map[string]any)
	need("vrrp_instances[0]", in, "name", "state", "vrid", "interface", "version", "priority",
		"effective_priority", "master_address", "virtual_ips", "since", "transitions",
		"adverts_sent", "adverts_received", "dropped")
	if doc["cluster"] != "itest" || doc["node"] != "a" || in["state"] != "MASTER" || in["master_address"] != "192.0.2.1" {
		t.Errorf("document says cluster %v node %v state %v master %v; want itest a MASTER 192.0.2.1",
			doc["cluster"], doc["node"], in["state"], in["master_address"])
	}
}

// daemonIPVSConfig has one director with a virtual server: two DR real
// servers, one answering and one not, checked every 200 ms.
const daemonIPVSConfig = `cluster = "vmtest"

node "a" {
  priority = 150
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  virtual_ips     = ["192.0.2.100/32"]
}

virtual_server "web" {
  address   = "192.0.2.100:80"
  scheduler = "rr"
  health_check "tcp" {
    interval = "200ms"
    timeout  = "100ms"
    rise     = 1
    fall     = 1
  }
  real_server "192.0.2.10:80" {}
  real_server "192.0.2.11:80" {}
}

ipvs {
  reconcile_interval = "1s"
}

status {
  metrics_listen = ""
}
`

// daemonIPVSScript runs lvsd in the VM against the real IPVS kernel and
// checks it with ipvsadm, the independent oracle: a checked server joins
// only once it answers, a table flushed by hand comes back, a server that
// stops answering leaves, and SIGTERM removes lvsd's services and exits 0.
const daemonIPVSScript = `set -e
modprobe ip_vs
/sbin/ip link set lo up
/sbin/ip netns add rs
/sbin/ip link add eth0 type veth peer name rs0
/sbin/ip link set rs0 netns rs
/sbin/ip addr add 192.0.2.1/24 dev eth0
/sbin/ip link set eth0 up
/sbin/ip -n rs addr add 192.0.2.10/24 dev rs0
/sbin/ip -n rs link set rs0 up
/sbin/ip -n rs link set lo up
mkdir -p /tmp/www && echo ok > /tmp/www/index.html
/sbin/ip netns exec rs busybox httpd -f -p 80 -h /tmp/www &
httpd=$!

# until: poll a condition for up to 5 s.
until_ok() {
	i=0
	while ! eval "$1"; do
		i=$((i+1))
		[ $i -ge 50 ] && { echo "TIMEOUT: $1"; ipvsadm -S -n; return 1; }
		sleep 0.1
	done
}

lvsd run -c /etc/lvsd/vm.hcl --node a --socket /run/lvsd.sock &
lvsd=$!
until_ok 'ipvsadm -S -n | grep -q -- "-r 192.0.2.10:80"'
ipvsadm -S -n
if ipvsadm -S -n | grep -q 192.0.2.11; then echo "FAIL: the silent server is in IPVS"; exit 10; fi
until_ok 'lvsd status --socket /run/lvsd.sock | grep -q MASTER'
lvsd status --socket /run/lvsd.sock

ipvsadm -C
until_ok 'ipvsadm -S -n | grep -q -- "-r 192.0.2.10:80"'
echo "DRIFT-REPAIRED"

kill $httpd
until_ok '! ipvsadm -S -n | grep -q -- "-r 192.0.2.10:80"'
echo "FAILED-SERVER-REMOVED"

kill -TERM $lvsd
set +e
wait $lvsd
status=$?
set -e
echo "LVSD-EXIT=$status"
[ $status -eq 0 ] || exit 11
if ipvsadm -S -n | grep -q .; then echo "FAIL: services left after the stop"; ipvsadm -S -n; exit 12; fi
if /sbin/ip addr show dev eth0 | grep -q 192.0.2.100; then echo "FAIL: VIP left after the stop"; exit 13; fi
echo DAEMON-IPVS-OK
`

// TestDaemonIPVSInVM runs `lvsd run` with a virtual server on Debian's
// cloud kernel, which has IPVS (the host kernel has none).
func TestDaemonIPVSInVM(t *testing.T) {
	vm.Require(t)
	bin := buildLVSD(t)
	cfg := filepath.Join(t.TempDir(), "vm.hcl")
	if err := os.WriteFile(cfg, []byte(daemonIPVSConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	res := vm.Must(t, vm.Config{
		Files:   map[string]string{vm.GuestLVSD: bin, "/etc/lvsd/vm.hcl": cfg},
		Script:  daemonIPVSScript,
		Timeout: 2 * time.Minute,
	})
	if res.ExitCode != 0 || !strings.Contains(res.Output, "DAEMON-IPVS-OK") {
		t.Fatalf("the script failed with status %d (see the console above)", res.ExitCode)
	}
	for _, want := range []string{
		"-A -t 192.0.2.100:80 -s rr",
		"-a -t 192.0.2.100:80 -r 192.0.2.10:80 -g -w 1",
		"DRIFT-REPAIRED", "FAILED-SERVER-REMOVED", "LVSD-EXIT=0",
	} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("console lacks %q", want)
		}
	}
}
