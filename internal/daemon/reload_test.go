package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/status"
)

const baseConfig = `cluster = "web"

node "a" {
  priority = 150
}
node "b" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["192.0.2.100/32"]
}

vrrp_instance "VI_2" {
  interface   = "eth1"
  vrid        = 52
  virtual_ips = ["198.51.100.100/32"]
}

virtual_server "web" {
  address = "192.0.2.100:80"
  health_check "tcp" {}
  real_server "192.0.2.10:80" {}
}
`

// mustConfig parses and resolves src for node, failing the test on any
// diagnostic.
func mustConfig(t *testing.T, src, node string) *config.Config {
	t.Helper()
	f, diags := config.NewLoader().Parse("test.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("parse: %v\n%s", diags, src)
	}
	cfg, diags := f.Resolve(node)
	if diags.HasErrors() {
		t.Fatalf("resolve: %v\n%s", diags, src)
	}
	return cfg
}

// edit applies old→new replacements to the base config; each old string
// must occur.
func edit(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(src, pairs[i]) {
			t.Fatalf("edit: %q not in config", pairs[i])
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

func TestPlanReload(t *testing.T) {
	const group = `
vrrp_sync_group "G1" {
  instances = ["VI_1", "VI_2"]
}
`
	tests := []struct {
		name     string
		old, new string
		stopped  []string
		want     reloadPlan
	}{
		{
			name: "same file",
			old:  baseConfig, new: baseConfig,
			want: reloadPlan{},
		},
		{
			name: "comment and layout only",
			old:  baseConfig,
			new: edit(t, baseConfig, `cluster = "web"`, "# the web cluster\ncluster   =   \"web\"  # name",
				`vrid        = 51`, "vrid = 51 // VRID"),
			want: reloadPlan{},
		},
		{
			name: "new real server: only the services",
			old:  baseConfig,
			new:  edit(t, baseConfig, `real_server "192.0.2.10:80" {}`, "real_server \"192.0.2.10:80\" {}\n  real_server \"192.0.2.11:80\" {}"),
			want: reloadPlan{Services: true},
		},
		{
			name: "this node's priority: UpdatePriority only",
			old:  baseConfig,
			new:  edit(t, baseConfig, `vrid        = 51`, "vrid = 51\n  priorities = { \"a\" = 200 }"),
			want: reloadPlan{Priority: []priorityChange{{Name: "VI_1", Priority: 200}}},
		},
		{
			name: "node default priority: every instance",
			old:  baseConfig,
			new:  edit(t, baseConfig, "priority = 150", "priority = 160"),
			want: reloadPlan{Priority: []priorityChange{{Name: "VI_1", Priority: 160}, {Name: "VI_2", Priority: 160}}},
		},
		{
			name: "another node's priority: nothing here",
			old:  baseConfig,
			new:  edit(t, baseConfig, "priority = 100", "priority = 120"),
			want: reloadPlan{},
		},
		{
			name: "interface change restarts the instance",
			old:  baseConfig,
			new:  edit(t, baseConfig, `interface   = "eth1"`, `interface = "eth2"`),
			want: reloadPlan{Restart: []string{"VI_2"}},
		},
		{
			name: "virtual IP and priority change: restart wins",
			old:  baseConfig,
			new: edit(t, baseConfig, `"198.51.100.100/32"`, `"198.51.100.101/32"`,
				`vrid        = 52`, "vrid = 52\n  priorities = { \"a\" = 201 }"),
			want: reloadPlan{Restart: []string{"VI_2"}},
		},
		{
			name: "garp change: in place",
			old:  baseConfig,
			new:  edit(t, baseConfig, `vrid        = 51`, "vrid = 51\n  garp {\n    repeat = 3\n  }"),
			want: reloadPlan{InPlace: []string{"VI_1"}},
		},
		{
			name: "notify change: in place",
			old:  baseConfig,
			new:  edit(t, baseConfig, `vrid        = 52`, "vrid = 52\n  notify {\n    master = [\"/bin/true\"]\n  }"),
			want: reloadPlan{InPlace: []string{"VI_2"}},
		},
		{
			name: "handover and priority change: both in place",
			old:  baseConfig,
			new: edit(t, baseConfig, `vrid        = 51`,
				"vrid = 51\n  priorities = { \"a\" = 201 }\n  handover = \"release\"\n  notify {\n    backup = [\"/bin/true\"]\n  }"),
			want: reloadPlan{Priority: []priorityChange{{Name: "VI_1", Priority: 201}}, InPlace: []string{"VI_1"}},
		},
		{
			name: "instance added and removed",
			old:  baseConfig,
			new:  edit(t, baseConfig, `"VI_2"`, `"VI_3"`),
			want: reloadPlan{Start: []string{"VI_3"}, Stop: []string{"VI_2"}},
		},
		{
			name: "sync group formed: its members restart",
			old:  baseConfig,
			new:  baseConfig + group,
			want: reloadPlan{Restart: []string{"VI_1", "VI_2"}},
		},
		{
			name: "sync group member changes: the whole group restarts",
			old:  baseConfig + group,
			new:  edit(t, baseConfig+group, `"198.51.100.100/32"`, `"198.51.100.101/32"`),
			want: reloadPlan{Restart: []string{"VI_1", "VI_2"}},
		},
		{
			name: "sync group member priority: in place",
			old:  baseConfig + group,
			new:  edit(t, baseConfig+group, `vrid        = 52`, "vrid = 52\n  priorities = { \"a\" = 201 }"),
			want: reloadPlan{Priority: []priorityChange{{Name: "VI_2", Priority: 201}}},
		},
		{
			name: "an instance that is not running starts again",
			old:  baseConfig, new: baseConfig, stopped: []string{"VI_2"},
			want: reloadPlan{Restart: []string{"VI_2"}},
		},
		{
			name: "a sync group member that is not running: the whole group",
			old:  baseConfig + group, new: baseConfig + group, stopped: []string{"VI_1"},
			want: reloadPlan{Restart: []string{"VI_1", "VI_2"}},
		},
		{
			name: "ipvs settings",
			old:  baseConfig,
			new:  baseConfig + "\nipvs {\n  reconcile_interval = \"30s\"\n}\n",
			want: reloadPlan{IPVS: true},
		},
		{
			name: "status settings",
			old:  baseConfig,
			new:  baseConfig + "\nstatus {\n  metrics_listen = \"\"\n}\n",
			want: reloadPlan{Status: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := mustConfig(t, tt.old, "a")
			new := mustConfig(t, tt.new, "a")
			got := planReload(old, new, tt.stopped)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("planReload (-want +got):\n%s", diff)
			}
		})
	}
}

// A reload that changes only the garp block and the notify commands is
// applied in place (README, Reload): the master stays MASTER with the
// same socket, announces nothing out of schedule, and the next transition
// runs the new command.
func TestRunReloadNotifyAndGARPInPlace(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	oldMark, newMark := filepath.Join(dir, "old-fault"), filepath.Join(dir, "new-fault")
	src := fmt.Sprintf(`cluster = "unit"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
  garp {
    repeat = 1
    delay  = "0s"
  }
  notify {
    fault = ["touch", %q]
  }
}
status {
  metrics_listen = ""
}
`, oldMark)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, src, sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	eventually(t, time.Second, "the first announcement", func() bool { return sys.ann.count() == 1 })
	before := h.instance()

	changed := strings.Replace(strings.Replace(src, oldMark, newMark, 1), `delay  = "0s"`, `delay  = "0s"
    refresh = "1h"`, 1)
	h.write(changed)
	applied, diags, err := h.d.Reload(context.Background())
	if !applied || err != nil {
		t.Fatalf("reload: applied %v, diagnostics %q, err %v", applied, diags, err)
	}
	time.Sleep(100 * time.Millisecond) // five advert intervals
	after := h.instance()
	if after.State != status.StateMaster || after.Transitions != before.Transitions {
		t.Errorf("after a notify and garp reload: state %s, transitions %d → %d; want MASTER, unchanged",
			after.State, before.Transitions, after.Transitions)
	}
	if n := sys.ann.count(); n != 1 {
		t.Errorf("%d announcement rounds after the reload, want still 1", n)
	}
	if n := len(sys.transports); n != 1 {
		t.Errorf("%d sockets opened, want 1 (the instance kept running)", n)
	}

	sys.setLink("eth0", false)
	eventually(t, time.Second, "FAULT", func() bool { return h.instance().State == status.StateFault })
	eventually(t, 2*time.Second, "the new fault command", func() bool {
		_, err := os.Stat(newMark)
		return err == nil
	})
	if _, err := os.Stat(oldMark); err == nil {
		t.Error("the fault command of the old config ran")
	}
	h.stop()
}

// TestReloadRefusesHostileFiles reloads files that would crash, hang or
// exhaust a naive reader (100,000 nested brackets, a FIFO without a
// writer, /dev/zero): each reload is rejected with its diagnostics, at
// once, and the daemon keeps running its old config untouched.
func TestReloadRefusesHostileFiles(t *testing.T) {
	verifyNoLeaks(t)
	src := strings.Replace(runConfig, "PORT", fmt.Sprint(freePort(t)), 1)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, src, sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	before := h.instance()
	loadedAt := h.d.Status().Config.LoadedAt

	replace := func(make func(path string) error) {
		t.Helper()
		if err := os.Remove(h.file); err != nil {
			t.Fatal(err)
		}
		if err := make(h.file); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		setup func()
		want  string // a regular expression on the diagnostics
	}{
		{"deep nesting", func() {
			h.write(src + "\nx = " + strings.Repeat("[", 100_000) + "\n")
		}, `^.*lvsd\.hcl:\d+:\d+: nested more than 64 levels deep`},
		{"FIFO", func() {
			replace(func(p string) error { return syscall.Mkfifo(p, 0o600) })
		}, `lvsd\.hcl: reading config: is a FIFO, not a regular file`},
		{"/dev/zero", func() {
			replace(func(p string) error { return os.Symlink("/dev/zero", p) })
		}, `lvsd\.hcl: reading config: is a device, not a regular file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			type result struct {
				applied bool
				diags   string
				err     error
			}
			done := make(chan result, 1)
			go func() {
				applied, diags, err := h.d.Reload(context.Background())
				done <- result{applied, diags, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Reload did not return within 5 s")
			}
			if r.applied || r.err != nil || !regexp.MustCompile(tt.want).MatchString(r.diags) {
				t.Fatalf("reload: applied %v, err %v, diagnostics %q; want rejected with %s", r.applied, r.err, r.diags, tt.want)
			}
			doc := h.d.Status()
			if doc.Config.LastReloadError == nil || *doc.Config.LastReloadError != r.diags {
				t.Errorf("last_reload_error = %v, want the diagnostics", doc.Config.LastReloadError)
			}
			if !doc.Config.LoadedAt.Equal(loadedAt) {
				t.Errorf("loaded_at moved from %v to %v", loadedAt, doc.Config.LoadedAt)
			}
			if in := h.instance(); in.State != status.StateMaster || in.Transitions != before.Transitions || in.Priority != before.Priority {
				t.Errorf("after the rejected reload: %+v, want it as before: %+v", in, before)
			}
		})
	}

	// The old file back: the daemon still reloads.
	replace(func(p string) error { return os.WriteFile(p, []byte(src), 0o644) })
	if applied, diags, err := h.d.Reload(context.Background()); !applied || err != nil {
		t.Fatalf("reload of the good file: applied %v, diagnostics %q, err %v", applied, diags, err)
	}
	var m strings.Builder
	if err := h.d.Metrics().WriteText(&m); err != nil {
		t.Fatal(err)
	}
	if want := `lvsd_config_reloads_total{result="rejected"} 3`; !strings.Contains(m.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestReloadIncludedFiles reloads a config whose instance is in an
// included file: a reload of unchanged files keeps the running Config
// without building another, a change in the included file is applied, a
// mistake there is rejected at its line, and going back to the running
// files after a rejected reload applies them again.
func TestReloadIncludedFiles(t *testing.T) {
	verifyNoLeaks(t)
	incDir := t.TempDir()
	inc := filepath.Join(incDir, "vrrp.hcl")
	instance := `vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
}
`
	writeInc := func(text string) {
		t.Helper()
		if err := os.WriteFile(inc, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeInc(instance)
	src := fmt.Sprintf("cluster = \"unit\"\ninclude = [%q]\nstatus {\n  metrics_listen = \"\"\n}\n", filepath.Join(incDir, "*.hcl"))
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, src, sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	running := func() *config.Config {
		h.d.mu.Lock()
		defer h.d.mu.Unlock()
		return h.d.cfg
	}
	reload := func(wantApplied bool) string {
		t.Helper()
		applied, diags, err := h.d.Reload(context.Background())
		if applied != wantApplied || wantApplied && err != nil {
			t.Fatalf("reload: applied %v, diagnostics %q, err %v; want applied %v", applied, diags, err, wantApplied)
		}
		return diags
	}

	first := running()
	reload(true)
	if running() != first {
		t.Error("a reload of unchanged files built a new Config")
	}

	writeInc(strings.Replace(instance, `"20ms"`, `"30ms"`, 1))
	reload(true)
	if got := running().VRRPInstances[0].AdvertInterval; got != 30*time.Millisecond {
		t.Errorf("advert interval after the reload = %v, want 30ms", got)
	}

	writeInc(strings.Replace(instance, `vrid            = 51`, `vrid            = 0`, 1))
	if diags := reload(false); !strings.Contains(diags, "vrrp.hcl:3:21: vrid must be between 1 and 255") {
		t.Errorf("diagnostics %q do not name the included file's line", diags)
	}

	writeInc(strings.Replace(instance, `"20ms"`, `"30ms"`, 1))
	before := running()
	reload(true)
	if running() == before {
		t.Error("the reload after a rejected one did not apply the files again")
	}
	if doc := h.d.Status(); doc.Config.LastReloadError != nil {
		t.Errorf("the status still reports the rejected reload: %q", *doc.Config.LastReloadError)
	}
	h.stop()
}

// TestReloadFreesMemoryOnlyAfterBigParse checks that a reload hands memory
// back to the system after it parsed much (bigLoad), and not when little
// of a big file changed: a collection of the whole heap after every reload
// of a big file would cost more than the reload.
func TestReloadFreesMemoryOnlyAfterBigParse(t *testing.T) {
	verifyNoLeaks(t)
	var frees atomic.Int32
	saved := freeInBackground
	freeInBackground = func() { frees.Add(1) }
	t.Cleanup(func() { freeInBackground = saved })

	// Enough services, each with a long comment, to pass bigLoad.
	file := func(weight int) string {
		var b strings.Builder
		b.WriteString("cluster = \"unit\"\nstatus {\n  metrics_listen = \"\"\n}\n")
		pad := strings.Repeat("x", 1000)
		for i := 0; b.Len() < bigLoad+bigLoad/4; i++ {
			fmt.Fprintf(&b, "# %s\nvirtual_server \"vs%d\" {\n  address = \"10.0.%d.%d:80\"\n  method  = \"nat\"\n  real_server \"172.16.%d.%d:8080\" { weight = %d }\n}\n",
				pad, i, i>>8, i&255, i>>8, i&255, weight)
		}
		return b.String()
	}
	sys := newFakeSystem(nil, "10.0.0.1", "eth0")
	h := startDaemon(t, file(1), sys)
	eventually(t, 10*time.Second, "READY", func() bool { return h.sd.has("READY=1") })

	one := strings.Replace(file(1), "weight = 1 }", "weight = 2 }", 1)
	h.reload(one, "reload of one weight")
	if n := frees.Load(); n != 0 {
		t.Errorf("a reload of one changed service handed memory back %d times, want 0", n)
	}
	h.reload(file(3), "reload of a file changed throughout")
	if n := frees.Load(); n != 1 {
		t.Errorf("a reload of a big file changed throughout handed memory back %d times, want 1", n)
	}
}

// oneInstanceSrc is one instance, alone on its segment, so MASTER.
const oneInstanceSrc = `cluster = "unit"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
}
status {
  metrics_listen = ""
}
`

// TestReloadRefusesMissingInterface reloads an instance onto an interface
// the director does not have: the reload is refused before anything
// changes, and the instance keeps running as it was.
func TestReloadRefusesMissingInterface(t *testing.T) {
	verifyNoLeaks(t)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, oneInstanceSrc, sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	before := h.instance()

	h.write(strings.Replace(oneInstanceSrc, `"eth0"`, `"eth9"`, 1))
	applied, report, err := h.d.Reload(context.Background())
	if applied || err == nil || !strings.Contains(report, "vrrp_instance VI_1: interface eth9 does not exist: create it or fix interface in "+h.file) {
		t.Fatalf("reload onto eth9: applied %v, report %q, err %v; want refused, naming the interface", applied, report, err)
	}
	after := h.instance()
	if after.State != status.StateMaster || after.Interface != "eth0" || after.Transitions != before.Transitions || after.Since != before.Since {
		t.Errorf("after the refused reload: %s on %s, %d transitions since %v; want MASTER on eth0, %d since %v",
			after.State, after.Interface, after.Transitions, after.Since, before.Transitions, before.Since)
	}
	sys.mu.Lock()
	sockets := len(sys.transports)
	sys.mu.Unlock()
	if sockets != 1 {
		t.Errorf("%d sockets opened, want 1 (nothing restarted)", sockets)
	}
	h.stop()
}

// TestReloadPutsBackStoppedInstances moves an instance to an interface
// whose socket the system refuses: the reload fails, the stopped instance
// runs again with its previous configuration and becomes MASTER again, and
// the status keeps the previous config. When the put-back fails too, a
// reload of the running file starts the instance; the moved file applies
// once the socket opens.
func TestReloadPutsBackStoppedInstances(t *testing.T) {
	verifyNoLeaks(t)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0", "eth1")
	h := startDaemon(t, oneInstanceSrc, sys)
	eventually(t, 2*time.Second, "MASTER", func() bool { return h.instance().State == status.StateMaster })
	before := h.instance()
	loadedAt := h.d.Status().Config.LoadedAt

	refused := errors.New("socket refused")
	sys.refuse("eth1", refused)
	moved := strings.Replace(oneInstanceSrc, `"eth0"`, `"eth1"`, 1)
	h.write(moved)
	applied, report, err := h.d.Reload(context.Background())
	if applied || !errors.Is(err, refused) || !strings.Contains(report, "socket refused") {
		t.Fatalf("reload with the socket refused: applied %v, report %q, err %v; want failed with the socket's error", applied, report, err)
	}
	eventually(t, 2*time.Second, "the put-back instance MASTER", func() bool {
		in := h.instance()
		return in.State == status.StateMaster && in.Interface == "eth0" && in.Since.After(before.Since)
	})
	if got := h.d.Status().Config.LoadedAt; !got.Equal(loadedAt) {
		t.Errorf("the failed reload changed loaded_at: %v, was %v", got, loadedAt)
	}

	// With eth0 refused too, the instance cannot be put back: the
	// report says so, and a reload of the running file starts it.
	sys.refuse("eth0", refused)
	applied, report, err = h.d.Reload(context.Background())
	if applied || !strings.Contains(report, "the stopped instances could not start again") {
		t.Fatalf("reload with both sockets refused: applied %v, report %q, err %v; want failed, saying the instance is not back", applied, report, err)
	}
	if n := len(h.d.Status().VRRPInstances); n != 0 {
		t.Fatalf("%d instances run after a failed put-back, want 0", n)
	}
	sys.refuse("eth0", nil)
	h.reload(oneInstanceSrc, "reload of the running file")
	eventually(t, 2*time.Second, "MASTER on eth0 again", func() bool {
		in := h.instance()
		return in.State == status.StateMaster && in.Interface == "eth0"
	})

	sys.refuse("eth1", nil)
	h.reload(moved, "the moved file once the socket opens")
	eventually(t, 2*time.Second, "MASTER on eth1", func() bool {
		in := h.instance()
		return in.State == status.StateMaster && in.Interface == "eth1"
	})
	h.stop()
}

// TestReloadFailureChangesNothingElse fails a reload that restarts an
// instance and also changes a virtual server and a track script: the
// virtual server keeps its real servers, the script keeps its state (its
// fall count of 1000 still covers a failing run, where a script started
// afresh would take its first result at once), and the put-back instance
// runs the notify commands of the running config, which an earlier reload
// changed in place.
func TestReloadFailureChangesNothingElse(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	flag, runs := filepath.Join(dir, "flag"), filepath.Join(dir, "runs")
	oldMark, newMark := filepath.Join(dir, "old-master"), filepath.Join(dir, "new-master")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`cluster = "unit"
track_script "chk" {
  command  = ["/bin/sh", "-c", "echo >> %s; test -e %s"]
  interval = "200ms"
  weight   = -30
  fall     = 1000
}
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "20ms"
  virtual_ips     = ["192.0.2.100/32"]
  track_script "chk" {}
  notify {
    master = ["touch", %q]
  }
}
virtual_server "web" {
  address = "192.0.2.100:80"
  real_server "192.0.2.11:80" {}
}
status {
  metrics_listen = ""
}
`, runs, flag, oldMark)
	countRuns := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "\n")
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0", "eth1")
	h := startDaemon(t, src, sys)
	eventually(t, 10*time.Second, "MASTER with the script's first result, a pass", func() bool {
		if h.instance().State != status.StateMaster {
			return false // and the tracker may not be there yet
		}
		h.d.track.mu.Lock()
		ok, known := h.d.track.ok["chk"]
		h.d.track.mu.Unlock()
		return known && ok
	})
	eventually(t, 2*time.Second, "the first master command", func() bool {
		_, err := os.Stat(oldMark)
		return err == nil
	})

	// The notify commands change in place.
	running := strings.Replace(src, oldMark, newMark, 1)
	h.reload(running, "notify reload")
	before := h.instance()
	if err := os.Remove(oldMark); err != nil {
		t.Fatal(err)
	}
	dests := sys.kernel.dests()

	// The script fails from now on; the reload that fails moves the
	// instance, adds a real server and changes the script.
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	sys.refuse("eth1", errors.New("socket refused"))
	h.write(edit(t, running, `"eth0"`, `"eth1"`,
		`real_server "192.0.2.11:80" {}`, "real_server \"192.0.2.11:80\" {}\n  real_server \"192.0.2.12:80\" {}",
		`"200ms"`, `"300ms"`))
	if applied, report, err := h.d.Reload(context.Background()); applied || err == nil {
		t.Fatalf("the failing reload: applied %v, report %q, err %v; want failed", applied, report, err)
	}
	eventually(t, 2*time.Second, "the put-back instance MASTER", func() bool {
		in := h.instance()
		return in.State == status.StateMaster && in.Since.After(before.Since)
	})
	eventually(t, 2*time.Second, "the put-back master's command", func() bool {
		_, err := os.Stat(newMark)
		return err == nil
	})
	if _, err := os.Stat(oldMark); err == nil {
		t.Error("the put-back instance ran the master command of the config before the in-place reload")
	}

	// Three failing runs after the reload: the kept state still counts
	// them towards its fall of 1000. (On a loaded machine a run can take
	// a second to start; a run cut by its timeout fails too.)
	after := countRuns()
	eventually(t, 15*time.Second, "three failing runs", func() bool { return countRuns() >= after+3 })
	if p := h.instance().EffectivePriority; p != 100 {
		t.Errorf("effective priority %d after failing runs, want 100: the script lost its state", p)
	}
	if got := sys.kernel.dests(); !slices.Equal(got, dests) {
		t.Errorf("the kernel's real servers after the failed reload: %v, want %v", got, dests)
	}
	if vs := h.d.Status().VirtualServers; len(vs) != 1 || len(vs[0].RealServers) != 1 {
		t.Errorf("status virtual servers after the failed reload: %+v, want web with one real server", vs)
	}
	h.stop()
}
