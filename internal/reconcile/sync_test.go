package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

var syncCfg = &SyncSettings{Interface: "eth1", SyncID: 5}

// syncOpts sets every multicast option; withOpts gives a daemon the same.
var syncOpts = &SyncSettings{Interface: "eth1", SyncID: 5, MaxLen: 1400, Group: netip.MustParseAddr("239.0.0.81"), Port: 8849, TTL: 2}

func withOpts(d ipvs.SyncDaemon) ipvs.SyncDaemon {
	d.MaxLen, d.Group, d.Port, d.TTL = 1400, netip.MustParseAddr("239.0.0.81"), 8849, 2
	return d
}

// kernelDefaults is a master daemon started without options, as Linux
// 4.3+ reports it.
var kernelDefaults = ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5,
	MaxLen: 1472, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}

func TestSyncRole(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     *SyncSettings
		running []ipvs.SyncDaemon // before lvsd starts
		roles   []SyncRole
		want    []string // calls that change the kernel, in order
		final   []ipvs.SyncDaemon
	}{
		{name: "no sync_daemon configured", roles: []SyncRole{SyncMaster, SyncBackup}},
		{name: "master", cfg: syncCfg, roles: []SyncRole{SyncMaster},
			want:  []string{"start master eth1 5"},
			final: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}},
		{name: "master to backup", cfg: syncCfg, roles: []SyncRole{SyncMaster, SyncBackup},
			want:  []string{"start master eth1 5", "stop master", "start backup eth1 5"},
			final: []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 5}}},
		{name: "backup to none", cfg: syncCfg, roles: []SyncRole{SyncBackup, SyncNone},
			want: []string{"start backup eth1 5", "stop backup"}},
		{name: "same role twice", cfg: syncCfg, roles: []SyncRole{SyncMaster, SyncMaster},
			want:  []string{"start master eth1 5"},
			final: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}},
		{name: "already running as wanted", cfg: syncCfg,
			running: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}},
			roles:   []SyncRole{SyncMaster},
			final:   []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}},
		{name: "running on another interface", cfg: syncCfg,
			running: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth0", SyncID: 5}},
			roles:   []SyncRole{SyncMaster},
			want:    []string{"stop master", "start master eth1 5"},
			final:   []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}},
		{name: "both running, backup wanted", cfg: syncCfg,
			running: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}, {State: ipvs.SyncBackup, Interface: "eth1", SyncID: 5}},
			roles:   []SyncRole{SyncBackup},
			want:    []string{"stop master"},
			final:   []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 5}}},
		{name: "multicast options are passed on", cfg: syncOpts, roles: []SyncRole{SyncBackup},
			want:  []string{"start backup eth1 5"},
			final: []ipvs.SyncDaemon{withOpts(ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 5})}},
		{name: "running with other multicast options", cfg: syncOpts,
			running: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5, TTL: 1, Port: 8849}},
			roles:   []SyncRole{SyncMaster},
			want:    []string{"stop master", "start master eth1 5"},
			final:   []ipvs.SyncDaemon{withOpts(ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5})}},
		{name: "options left out are the kernel's defaults", cfg: syncCfg,
			running: []ipvs.SyncDaemon{kernelDefaults},
			roles:   []SyncRole{SyncMaster},
			final:   []ipvs.SyncDaemon{kernelDefaults}},
		{name: "an option dropped by a reload restarts the daemon", cfg: syncCfg,
			running: []ipvs.SyncDaemon{withOpts(ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5})},
			roles:   []SyncRole{SyncMaster},
			want:    []string{"stop master", "start master eth1 5"},
			final:   []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}},
		{name: "no role yet leaves daemons alone", cfg: syncCfg,
			running: []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth9", SyncID: 1}},
			final:   []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth9", SyncID: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := &ipvstest.Kernel{Daemons: tc.running}
				h := newHarness(t, k, Settings{Sync: tc.cfg})
				h.run()
				defer h.stop()
				for _, role := range tc.roles {
					h.r.SetSyncRole(role)
					synctest.Wait()
				}
				time.Sleep(3 * interval) // steady: nothing more
				synctest.Wait()
				k.Lock()
				defer k.Unlock()
				if diff := cmp.Diff(tc.want, k.SyncCalls); diff != "" {
					t.Errorf("sync daemon calls (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.final, k.Daemons, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("running daemons (-want +got):\n%s", diff)
				}
				if got := h.log.lines(slog.LevelWarn); len(got) != 0 {
					t.Errorf("warnings: %q", got)
				}
			})
		})
	}
}

// TestSyncStartExists: a daemon of the role that appears between the
// listing and the start (EEXIST) is success.
func TestSyncStartExists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{StartErr: fmt.Errorf("starting IPVS master sync daemon on eth1: %w", syscall.EEXIST)}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.r.SetSyncRole(SyncMaster)
		synctest.Wait()
		if got := h.log.lines(slog.LevelWarn); len(got) != 0 {
			t.Errorf("warnings: %q", got)
		}
	})
}

// TestSyncRepairedAndRetried: a daemon stopped by hand is started again on
// the next interval, and so is one the kernel refused to start.
func TestSyncRepairedAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{StartErr: syscall.ENODEV}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.r.SetSyncRole(SyncBackup)
		synctest.Wait()
		if got := h.log.lines(slog.LevelWarn); len(got) != 1 {
			t.Errorf("warnings = %q, want one", got)
		}
		k.Lock()
		k.StartErr = nil
		k.Unlock()
		time.Sleep(interval)
		synctest.Wait()
		k.Lock()
		k.Daemons = nil // ipvsadm --stop-daemon backup
		k.Unlock()
		time.Sleep(interval)
		synctest.Wait()

		k.Lock()
		defer k.Unlock()
		want := []string{"start backup eth1 5", "start backup eth1 5", "start backup eth1 5"}
		if diff := cmp.Diff(want, k.SyncCalls); diff != "" {
			t.Errorf("sync daemon calls (-want +got):\n%s", diff)
		}
		if len(k.Daemons) != 1 {
			t.Errorf("daemons = %+v, want the backup", k.Daemons)
		}
	})
}

func TestStopSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		h.r.SetSyncRole(SyncMaster)
		synctest.Wait()
		h.stop()
		// After Run, as the daemon's stop sequence calls it.
		if err := h.r.StopSync(context.Background()); err != nil {
			t.Fatalf("StopSync: %v", err)
		}
		k.Lock()
		defer k.Unlock()
		if diff := cmp.Diff([]string{"start master eth1 5", "stop master"}, k.SyncCalls); diff != "" {
			t.Errorf("sync daemon calls (-want +got):\n%s", diff)
		}
	})
}

func TestStopSyncReportsErrors(t *testing.T) {
	k := &stopFails{Kernel: &ipvstest.Kernel{Daemons: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 5}}}}
	r := New(k, WithSettings(Settings{Sync: syncCfg}), WithLogger(slog.New(&logRecorder{})))
	if err := r.StopSync(context.Background()); !errors.Is(err, syscall.EPERM) {
		t.Errorf("StopSync = %v, want EPERM", err)
	}
}

type stopFails struct{ *ipvstest.Kernel }

func (stopFails) StopSyncDaemon(ipvs.SyncState) error { return syscall.EPERM }

func TestSyncRoleString(t *testing.T) {
	for role, want := range map[SyncRole]string{SyncNone: "none", SyncMaster: "master", SyncBackup: "backup", 7: "sync-role-7"} {
		if got := role.String(); got != want {
			t.Errorf("SyncRole(%d).String() = %q, want %q", int(role), got, want)
		}
	}
}

// TestSyncDroppedByReload: a reload that removes sync_daemon stops the
// daemon lvsd ran, and lvsd leaves the daemons alone from then on.
func TestSyncDroppedByReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &ipvstest.Kernel{}
		h := newHarness(t, k, Settings{Sync: syncCfg})
		h.run()
		defer h.stop()
		h.r.SetSyncRole(SyncMaster)
		synctest.Wait()
		h.r.Reconfigure(Settings{Interval: interval})
		synctest.Wait()
		k.Lock()
		k.Daemons = []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth7"}} // by hand
		k.Unlock()
		h.r.SetSyncRole(SyncBackup)
		time.Sleep(3 * interval)
		synctest.Wait()

		k.Lock()
		defer k.Unlock()
		if diff := cmp.Diff([]string{"start master eth1 5", "stop master"}, k.SyncCalls); diff != "" {
			t.Errorf("sync daemon calls (-want +got):\n%s", diff)
		}
	})
}
