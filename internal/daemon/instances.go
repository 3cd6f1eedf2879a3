package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/command"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/vrrp"
)

// notifyTimeout bounds a notify command; a hung script is killed with
// every process it started.
const notifyTimeout = 30 * time.Second

// explainPermission turns a refused socket into the one line that says
// what to do.
func explainPermission(err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%w: run lvsd as root or with CAP_NET_ADMIN and CAP_NET_RAW", err)
	}
	return err
}

// buildInstances builds the named instances of cfg and ties together the
// sync groups whose members are all among them. Nothing runs yet; on error
// every socket opened so far is released.
func (d *Daemon) buildInstances(cfg *config.Config, list []config.VRRPInstance) ([]*instance, error) {
	var out []*instance
	fail := func(err error) ([]*instance, error) {
		for _, in := range out {
			in.transport.Close()
		}
		return nil, err
	}
	byName := make(map[string]*instance)
	for _, vi := range list {
		in, err := d.newInstance(vi)
		if err != nil {
			return fail(err)
		}
		out = append(out, in)
		byName[vi.Name] = in
	}
	for _, g := range cfg.SyncGroups {
		var members []*vrrpd.Instance
		for _, name := range g.Instances {
			if in := byName[name]; in != nil {
				members = append(members, in.in)
			}
		}
		if len(members) == 0 {
			continue
		}
		if len(members) != len(g.Instances) {
			return fail(fmt.Errorf("vrrp_sync_group %s: only some members are being started", g.Name))
		}
		grp, err := vrrpd.NewGroup(g.Name, d.log, members...)
		if err != nil {
			return fail(err)
		}
		gn := &notifier{d: d, name: g.Name, group: true, timeout: notifyTimeout}
		gn.setCommands(g.Notify)
		grp.OnChange(func(to vrrp.State) { gn.Notify(g.Name, to, 0) })
		for _, name := range g.Instances {
			byName[name].group = gn
		}
	}
	return out, nil
}

// newInstance opens (or shares) the instance's socket and builds it, with
// the current state of its interfaces.
func (d *Daemon) newInstance(vi config.VRRPInstance) (*instance, error) {
	own, err := d.sys.Addrs(vi.Interface, vi.IPv6())
	if err != nil {
		return nil, fmt.Errorf("vrrp_instance %s: reading the addresses of %s: %w", vi.Name, vi.Interface, err)
	}
	key := muxKey{ifname: vi.Interface, ipv6: vi.IPv6(), unicast: len(vi.UnicastPeers) > 0}
	for _, p := range vi.UnicastPeers {
		// The peer list names every director: ours is where we send from.
		if slices.Contains(own, p.Unmap()) {
			key.src = p.Unmap()
			break
		}
	}
	t, err := d.muxes.acquire(key, vi.VRID)
	if err != nil {
		return nil, fmt.Errorf("vrrp_instance %s: opening the VRRP socket on %s: %w", vi.Name, vi.Interface, explainPermission(err))
	}
	n := &notifier{d: d, name: vi.Name, timeout: notifyTimeout}
	n.setCommands(vi.Notify)
	in, err := vrrpd.New(vrrpdConfig(vi), vrrpd.Deps{
		Transport: t,
		VIPs:      d.vips,
		Announcer: d.ann,
		Notifier:  n,
		Logger:    d.log,
	}, vrrpd.WithOwnAddrs(own...))
	if err != nil {
		t.Close()
		return nil, err
	}
	names := []string{vi.Interface}
	for _, t := range vi.TrackInterfaces {
		names = append(names, t.Name)
	}
	for _, name := range names {
		if up, ok := d.linkState(name); ok {
			in.SetLink(name, up)
		}
	}
	return &instance{cfg: vi, in: in, transport: t, notifier: n, peer: relayPeer(vi, own)}, nil
}

// linkState is an interface's state as last reported, or read now; a
// tracked interface that does not exist is down. ok is false when it
// cannot be read.
func (d *Daemon) linkState(name string) (up, ok bool) {
	d.mu.Lock()
	up, known := d.links[name]
	d.mu.Unlock()
	if known {
		return up, true
	}
	exists, linkUp, err := d.sys.Link(name)
	if err != nil {
		d.log.Warn("reading link state", "interface", name, "err", err)
		return false, false
	}
	return exists && linkUp, true
}

// startInstances runs built instances; the caller holds reloadMu.
func (d *Daemon) startInstances(insts []*instance) {
	for _, in := range insts {
		ctx, cancel := context.WithCancel(context.Background())
		in.cancel = cancel
		in.done = make(chan struct{})
		d.mu.Lock()
		d.instances[in.cfg.Name] = in
		d.mu.Unlock()
		// Results that came while the instance was being built.
		if d.track != nil {
			d.track.tell(in.in)
		}
		d.instWG.Go(func() {
			defer close(in.done)
			if err := in.in.Run(ctx); err != nil {
				d.log.Error("vrrp instance ended", "instance", in.cfg.Name, "err", err)
			}
		})
		d.watchAddrs(in.cfg.Interface)
	}
}

// stopInstances stops instances together (each hands over as documented in the README)
// and waits for them.
func stopInstances(insts []*instance) {
	for _, in := range insts {
		in.cancel()
	}
	for _, in := range insts {
		<-in.done
	}
}

// watchAddrs starts, once per interface, the watcher that tells the
// instances on it that an address was deleted, so a master puts a VIP
// deleted by hand back at once rather than at its next periodic check.
func (d *Daemon) watchAddrs(ifname string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.watched[ifname] || d.partsCtx == nil {
		return
	}
	d.watched[ifname] = true
	d.partsWG.Go(func() {
		d.sys.WatchAddrs(d.partsCtx, ifname, func() {
			d.mu.Lock()
			var insts []*instance
			for _, in := range d.instances {
				if in.cfg.Interface == ifname {
					insts = append(insts, in)
				}
			}
			d.mu.Unlock()
			for _, in := range insts {
				in.in.CheckVIPs()
			}
		})
	})
}

// syncRole is the IPVS sync daemon role for a VRRP state.
func syncRole(s vrrp.State) reconcile.SyncRole {
	switch s {
	case vrrp.Master:
		return reconcile.SyncMaster
	case vrrp.Backup:
		return reconcile.SyncBackup
	}
	return reconcile.SyncNone
}

// notifier is the vrrpd.Notifier of one instance (or of a sync group): it
// drives the IPVS sync daemon when the instance is the one sync_daemon
// follows, updates systemd's STATUS line and runs the notify commands of
// the new state. Every command runs on a goroutine of its own, so VRRP
// never waits for them, and alongside the commands of earlier
// transitions: a hung one delays no other (package command).
type notifier struct {
	d       *Daemon
	name    string
	group   bool          // a vrrp_sync_group's: TYPE is GROUP
	timeout time.Duration // of each command

	mu   sync.Mutex
	cmds config.Notify // a reload changes them in place
}

// setCommands sets the notify commands of the next transitions.
func (n *notifier) setCommands(c config.Notify) {
	n.mu.Lock()
	n.cmds = c
	n.mu.Unlock()
}

func (n *notifier) Notify(name string, to vrrp.State, priority uint8) {
	d := n.d
	if !n.group {
		// Under mu, so that a transition told late (its instance's
		// goroutine was slow to get here) never undoes the sync role a
		// relaying stop has set: the stop owns the sync daemon from
		// then on.
		d.mu.Lock()
		if d.syncFollows == name && d.rec != nil && !d.syncHeld {
			d.rec.SetSyncRole(syncRole(to))
		}
		d.mu.Unlock()
		d.updateStatusLine()
	}

	n.mu.Lock()
	argv := notifyArgv(n.cmds, to)
	generic := n.cmds.Command
	n.mu.Unlock()
	if len(argv) > 0 {
		n.runCommand(argv)
	}
	if len(generic) > 0 {
		typ := "INSTANCE"
		if n.group {
			typ = "GROUP"
		}
		n.runCommand(slices.Concat(generic, []string{typ, name, notifyState(to), strconv.Itoa(int(priority))}))
	}
}

// notifyState is a state as keepalived's notify names it; INIT is the
// instance stopping.
func notifyState(s vrrp.State) string {
	if s == vrrp.Init {
		return "STOP"
	}
	return s.String()
}

// runCommand runs argv with the notifier's timeout (runNotify).
func (n *notifier) runCommand(argv []string) {
	key := "instance"
	if n.group {
		key = "sync_group"
	}
	n.d.runNotify(argv, n.timeout, n.d.log.With(key, n.name))
}

// runNotify runs argv, with its own timeout, and logs how it went. The
// daemon's stop waits for it, then kills it (notifyCtx). As keepalived
// does, what the command leaves running in the background when it exits by
// itself is left alone: a notify script may start a service that way.
func (d *Daemon) runNotify(argv []string, timeout time.Duration, log *slog.Logger) {
	if d.notifyCtx == nil {
		return // not running
	}
	d.notifyWG.Go(func() {
		r := command.Run(d.notifyCtx, argv, command.Options{Timeout: timeout, KeepBackground: true})
		log := log.With("command", argv[0])
		if r.Err != nil {
			log.Warn("notify command failed", "err", r.Err, "output", string(r.Output), "took", r.Duration.String())
			return
		}
		log.Debug("notify command done", "output", string(r.Output), "took", r.Duration.String())
	})
}

// notifyArgv picks the command of a state; INIT is the instance stopping.
func notifyArgv(nc config.Notify, to vrrp.State) []string {
	switch to {
	case vrrp.Master:
		return nc.Master
	case vrrp.Backup:
		return nc.Backup
	case vrrp.Fault:
		return nc.Fault
	case vrrp.Init:
		return nc.Stop
	}
	return nil
}
