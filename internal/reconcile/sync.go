package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"syscall"

	"github.com/lvsd/lvsd/ipvs"
)

// SyncRole is the role of the IPVS connection-synchronisation daemon,
// following the VRRP state of the instance named in sync_daemon: the
// master director sends its connections, the backup receives them.
type SyncRole int

const (
	SyncNone   SyncRole = iota // no daemon (INIT, FAULT, stopping)
	SyncMaster                 // VRRP MASTER: ipvsadm --start-daemon master
	SyncBackup                 // VRRP BACKUP: ipvsadm --start-daemon backup
)

// String returns the role's lower-case name.
func (r SyncRole) String() string {
	switch r {
	case SyncNone:
		return "none"
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("sync-role-%d", int(r))
}

func (r SyncRole) state() ipvs.SyncState {
	switch r {
	case SyncMaster:
		return ipvs.SyncMaster
	case SyncBackup:
		return ipvs.SyncBackup
	}
	return 0
}

// SetSyncRole records the role the sync daemon should have and wakes Run,
// which stops the daemon of the other role and starts the right one. It
// does nothing when the configuration has no sync_daemon. It never
// blocks, so the VRRP driver can call it on a transition.
func (r *Reconciler) SetSyncRole(role SyncRole) {
	r.mu.Lock()
	if r.syncKnown && r.syncRole == role {
		r.mu.Unlock()
		return
	}
	r.syncRole, r.syncKnown, r.syncDirty = role, true, true
	r.gen++
	r.mu.Unlock()
	r.poke()
}

// StopSync stops the sync daemons lvsd runs, at once and
// whether Run runs or not. It waits for a round in progress and gives up
// when ctx ends.
func (r *Reconciler) StopSync(ctx context.Context) error {
	r.mu.Lock()
	r.syncRole, r.syncKnown, r.syncDirty = SyncNone, true, false
	in := syncInput{cfg: r.syncCfg, role: SyncNone, dropped: r.syncDropped}
	r.mu.Unlock()
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("stopping IPVS sync daemon: %w", ctx.Err())
	}
	defer func() { <-r.sem }()
	return r.convergeSync(in)
}

// convergeSync brings the kernel's sync daemons to the role of in: the
// daemon of the role runs with the configured interface and sync id, the
// other does not. lvsd manages both states once the config has a
// sync_daemon, as keepalived does. Starting a daemon that already runs
// (EEXIST) and stopping one that does not (ESRCH) are success, so the
// convergence is idempotent. r.sem is held.
func (r *Reconciler) convergeSync(in syncInput) error {
	cfg, role, dropped := in.cfg, in.role, in.dropped
	var want ipvs.SyncDaemon
	switch {
	case cfg != nil:
		want = ipvs.SyncDaemon{
			State: role.state(), Interface: cfg.Interface, SyncID: uint32(cfg.SyncID),
			MaxLen: cfg.MaxLen, Group: cfg.Group, Port: cfg.Port, TTL: cfg.TTL,
		}
	case dropped:
		role = SyncNone
	default:
		return nil
	}

	running, err := r.k.SyncDaemons()
	if err != nil {
		return err
	}
	var errs []error
	have := false
	for _, d := range running {
		if role != SyncNone && syncMatches(d, want) {
			have = true
			continue
		}
		if err := r.k.StopSyncDaemon(d.State); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
			continue
		}
		r.log.Info("IPVS sync daemon stopped", "state", d.State.String(), "interface", d.Interface)
	}
	if role != SyncNone && !have {
		switch err := r.k.StartSyncDaemon(want); {
		case err == nil:
			r.log.Info("IPVS sync daemon started", "state", want.State.String(), "interface", want.Interface, "sync_id", want.SyncID)
		case errors.Is(err, fs.ErrExist):
			// Started between the listing and now: nothing to do.
		default:
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if dropped && cfg == nil {
		// Done: from now on lvsd leaves the daemons alone.
		r.mu.Lock()
		if r.syncCfg == nil {
			r.syncDropped = false
		}
		r.mu.Unlock()
	}
	return nil
}

// The kernel's sync daemon defaults (ip_vs_sync.c): what a daemon started
// without the option runs with.
var (
	defaultSyncGroup = netip.MustParseAddr("224.0.0.81")
	defaultSyncPort  = uint16(8848)
	defaultSyncTTL   = uint8(1)
)

// syncMatches reports whether the running daemon d is the one want
// describes. Its multicast options count where the kernel reports them
// (Linux 4.3+): an option left out of want is the kernel's default, so a
// reload that drops one restarts the daemon too. The message size is
// compared only when want sets it: its default depends on the
// interface's MTU.
func syncMatches(d, want ipvs.SyncDaemon) bool {
	if d.State != want.State || d.Interface != want.Interface || d.SyncID&0xff != want.SyncID {
		return false
	}
	group, port, ttl := cmp.Or(want.Group, defaultSyncGroup), cmp.Or(want.Port, defaultSyncPort), cmp.Or(want.TTL, defaultSyncTTL)
	return (!d.Group.IsValid() || d.Group == group) &&
		(d.Port == 0 || d.Port == port) &&
		(d.TTL == 0 || d.TTL == ttl) &&
		(want.MaxLen == 0 || d.MaxLen == 0 || d.MaxLen == want.MaxLen)
}
