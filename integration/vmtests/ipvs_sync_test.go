//go:build vm

package vmtests

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/reconcile"
)

// TestIPVSSyncDaemonFollowsRole drives the connection-sync daemon through
// the reconciler's roles, as the VRRP driver does on its transitions, and
// reads the kernel's daemons back with ipvsadm: exactly the daemon of the
// role runs, with the configured interface and sync id.
func TestIPVSSyncDaemonFollowsRole(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "d")
	lan.AddAddr("d", "192.0.2.1/24")
	d := lan.Host("d")

	// An hour: every change below must come from SetSyncRole's wake-up,
	// not from a periodic round.
	cfg := reconcile.Settings{Interval: time.Hour, Sync: &reconcile.SyncSettings{Interface: "eth0", SyncID: 7}}
	r := startReconciler(t, dialIPVS(t, d), cfg, slog.LevelInfo, nil)
	if got := daemons(t, d); got != "" {
		t.Fatalf("sync daemons before any role: %q, want none", got)
	}

	// ipvsadm 1.31 adds the kernel's defaults for what lvsd leaves
	// unset: the multicast group, port and TTL, and a packet size that
	// fits eth0's 1500-byte MTU.
	const (
		defaults = ", maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
		master   = "master sync daemon (mcast=eth0, syncid=7" + defaults
		backup   = "backup sync daemon (mcast=eth0, syncid=7" + defaults
	)
	for _, step := range []struct {
		role reconcile.SyncRole
		want string
	}{
		{reconcile.SyncMaster, master},
		{reconcile.SyncBackup, backup},
		{reconcile.SyncMaster, master},
		{reconcile.SyncNone, ""},
		{reconcile.SyncBackup, backup},
		{reconcile.SyncNone, ""},
	} {
		r.SetSyncRole(step.role)
		waitDaemons(t, d, step.want)
	}
}

// waitDaemons polls ipvsadm -L --daemon in h until it prints want.
func waitDaemons(t *testing.T, h *lab.Host, want string) {
	t.Helper()
	start := time.Now()
	for {
		got := daemons(t, h)
		if got == want {
			t.Logf("%q after %v", strings.TrimSpace(got), time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("ipvsadm -L --daemon after 10s (-want +got):\n%s", cmp.Diff(want, got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// daemons is what ipvsadm -L --daemon prints in h's namespace.
func daemons(t *testing.T, h *lab.Host) string {
	t.Helper()
	return h.MustExec(t, "ipvsadm", "-L", "--daemon")
}

// TestIPVSSyncDaemonOptions starts the sync daemon with every multicast
// option of sync_daemon, from a cluster file, and reads it back with
// ipvsadm; then a reload that drops the options restarts the daemon on
// the kernel's defaults.
func TestIPVSSyncDaemonOptions(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "d")
	lan.AddAddr("d", "192.0.2.1/24")
	d := lan.Host("d")

	f, diags := config.NewLoader().Parse("sync.hcl", []byte(`cluster = "c"
vrrp_instance "VI" {
  interface   = "eth0"
  vrid        = 1
  virtual_ips = ["192.0.2.100/32"]
}
ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "VI"
    sync_id       = 9
    maxlen        = 1200
    port          = 8849
    ttl           = 3
    mcast_group   = "239.1.2.3"
  }
}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := f.Resolve("")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sd := cfg.IPVS.SyncDaemon
	settings := reconcile.Settings{Interval: time.Hour, Sync: &reconcile.SyncSettings{
		Interface: sd.Interface, SyncID: sd.SyncID, MaxLen: sd.MaxLen, Group: sd.McastGroup, Port: sd.Port, TTL: sd.TTL,
	}}
	r := startReconciler(t, dialIPVS(t, d), settings, slog.LevelInfo, nil)
	r.SetSyncRole(reconcile.SyncMaster)
	waitDaemons(t, d, "master sync daemon (mcast=eth0, syncid=9, maxlen=1200, group=239.1.2.3, port=8849, ttl=3)\n")
	r.SetSyncRole(reconcile.SyncBackup)
	waitDaemons(t, d, "backup sync daemon (mcast=eth0, syncid=9, maxlen=1200, group=239.1.2.3, port=8849, ttl=3)\n")

	settings.Sync = &reconcile.SyncSettings{Interface: "eth0", SyncID: 9}
	r.Reconfigure(settings)
	waitDaemons(t, d, "backup sync daemon (mcast=eth0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n")
}
