package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/status"
)

// priorityChange is an instance whose only change is this node's priority.
type priorityChange struct {
	Name     string
	Priority uint8
}

// reloadPlan is what a reload changes. Instances named in no list are kept
// running untouched: no transition, no advert out of schedule, no GARP.
type reloadPlan struct {
	Priority []priorityChange // UpdatePriority
	// InPlace: the garp block, notify commands, handover or tracking
	// changed; the running instance takes them without a transition.
	InPlace []string
	Restart []string // stopped, then started with the new config
	Stop    []string // removed from the config
	Start   []string // new in the config
	// Services: the virtual servers changed, so the health jobs and the
	// desired table are recomputed.
	Services bool
	// IPVS: the ipvs {} settings changed (reconciler.Reconfigure).
	IPVS bool
	// Status: the status {} settings changed; they take effect at the next
	// start, since the socket is what `lvsd reload` itself talks through.
	Status bool
}

// planReload decides what a reload from old to new changes. It is pure: the
// daemon carries the plan out.
//
// An instance is compared whole, except for its priority (which
// UpdatePriority changes in place) and the other nodes' priorities (which
// this node does not use). A member of a sync group restarts with its whole
// group, because a group is tied together before its members run; so does
// an instance whose group membership changed. stopped names the instances
// of old that are not running (a failed reload could not start them
// again): they restart like a changed one.
func planReload(old, new *config.Config, stopped []string) reloadPlan {
	var p reloadPlan
	oldByName := make(map[string]config.VRRPInstance)
	for _, vi := range old.VRRPInstances {
		oldByName[vi.Name] = vi
	}
	newNames := make(map[string]bool)
	restart := make(map[string]bool)
	oldGroups, newGroups := groupsOf(old), groupsOf(new)
	for _, vi := range new.VRRPInstances {
		newNames[vi.Name] = true
		was, ok := oldByName[vi.Name]
		switch {
		case !ok:
			p.Start = append(p.Start, vi.Name)
		case !sameElection(was, vi) || !slices.Equal(oldGroups[vi.Name], newGroups[vi.Name]) || slices.Contains(stopped, vi.Name):
			restart[vi.Name] = true
		}
	}
	// A restarted or new member takes its whole (new) group with it.
	for changed := true; changed; {
		changed = false
		for _, g := range new.SyncGroups {
			touched := false
			for _, m := range g.Instances {
				if restart[m] || slices.Contains(p.Start, m) {
					touched = true
				}
			}
			if !touched {
				continue
			}
			for _, m := range g.Instances {
				if _, existed := oldByName[m]; existed && !restart[m] {
					restart[m] = true
					changed = true
				}
			}
		}
	}
	for _, vi := range new.VRRPInstances {
		was, ok := oldByName[vi.Name]
		switch {
		case !ok:
		case restart[vi.Name]:
			p.Restart = append(p.Restart, vi.Name)
		default:
			if was.Priority != vi.Priority {
				p.Priority = append(p.Priority, priorityChange{Name: vi.Name, Priority: vi.Priority})
			}
			if was.GARP != vi.GARP || !reflect.DeepEqual(was.Notify, vi.Notify) || was.Handover != vi.Handover || !sameTracking(was, vi) {
				p.InPlace = append(p.InPlace, vi.Name)
			}
		}
	}
	for _, vi := range old.VRRPInstances {
		if !newNames[vi.Name] {
			p.Stop = append(p.Stop, vi.Name)
		}
	}
	p.Services = !reflect.DeepEqual(old.VirtualServers, new.VirtualServers)
	p.IPVS = !reflect.DeepEqual(old.IPVS, new.IPVS)
	p.Status = !reflect.DeepEqual(old.Status, new.Status)
	return p
}

// sameElection compares two instance configurations, leaving out what a
// running instance takes in place (README, Reload): the priorities, the
// handover, which only a stop reads, the garp block, the notify
// commands and tracking.
func sameElection(a, b config.VRRPInstance) bool {
	for _, vi := range []*config.VRRPInstance{&a, &b} {
		vi.Priority, vi.NodePriorities = 0, nil
		vi.Handover = ""
		vi.GARP = config.GARP{}
		vi.Notify = config.Notify{}
		vi.TrackInterfaces, vi.TrackScripts, vi.TrackFiles = nil, nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// sameTracking reports whether two instance configurations follow the same
// things with the same weights. Tracking only moves the effective priority
// or the fault, which a running instance takes in place (as keepalived's
// reload does), so it is no part of the election.
func sameTracking(a, b config.VRRPInstance) bool {
	return slices.Equal(a.TrackInterfaces, b.TrackInterfaces) && slices.Equal(a.TrackScripts, b.TrackScripts) && slices.Equal(a.TrackFiles, b.TrackFiles)
}

// groupsOf maps every instance in a sync group to the group's name and
// members, so that a change of membership shows as a difference.
func groupsOf(cfg *config.Config) map[string][]string {
	out := make(map[string][]string)
	for _, g := range cfg.SyncGroups {
		sig := append([]string{g.Name}, g.Instances...)
		for _, m := range g.Instances {
			out[m] = sig
		}
	}
	return out
}

// errNotRunning is Reload's answer before Run started or after it stopped.
var errNotRunning = errors.New("lvsd is not running (starting or stopping)")

// Reload re-reads the config file and applies the difference (README,
// Reload); SIGHUP and `lvsd reload` call it. An invalid file changes
// nothing: applied is false and diagnostics say why (they are also in the
// status document until the next good reload). err reports a failure other
// than an invalid file.
func (d *Daemon) Reload(ctx context.Context) (applied bool, diagnostics string, err error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if !d.running {
		return false, "", errNotRunning
	}
	cfg, unchanged, err := d.load()
	defer d.freeAfterReload()
	if err == nil && unchanged && d.lastReloadOK() {
		// The files are those running: there is nothing to plan.
		d.mu.Lock()
		d.loadedAt = time.Now()
		d.mu.Unlock()
		d.metrics.Reload(status.ReloadApplied)
		d.log.Info("config reloaded", "config", d.opts.ConfigFile, "unchanged", true)
		return true, "", nil
	}
	if err == nil && unchanged {
		// The last reload of these files failed to apply: try again.
		d.loader.Forget()
		cfg, _, err = d.load()
	}
	if err != nil {
		var ce *ConfigError
		report := err.Error()
		result := status.ReloadFailed
		if errors.As(err, &ce) {
			report = ce.Report()
			result = status.ReloadRejected
		}
		d.mu.Lock()
		d.reloadErr = &report
		d.mu.Unlock()
		d.metrics.Reload(result)
		d.log.Error("config reload rejected, the running config is kept", "config", d.opts.ConfigFile, "err", err)
		if result == status.ReloadRejected {
			return false, report, nil
		}
		return false, report, err
	}

	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	if d.rec == nil && len(cfg.VirtualServers) > 0 {
		report := "the new config has virtual servers but lvsd started without any, so IPVS is not set up: restart lvsd to apply it"
		d.mu.Lock()
		d.reloadErr = &report
		d.mu.Unlock()
		d.metrics.Reload(status.ReloadFailed)
		d.log.Error("config reload not applied", "err", report)
		return false, report, errors.New(report)
	}

	d.mu.Lock()
	var stopped []string
	for _, vi := range old.VRRPInstances {
		if d.instances[vi.Name] == nil {
			stopped = append(stopped, vi.Name)
		}
	}
	d.mu.Unlock()
	p := planReload(old, cfg, stopped)
	if err := d.apply(old, cfg, p); err != nil {
		report := err.Error()
		d.mu.Lock()
		d.reloadErr = &report
		d.mu.Unlock()
		d.metrics.Reload(status.ReloadFailed)
		d.log.Error("config reload failed", "err", err)
		return false, report, err
	}
	d.metrics.Reload(status.ReloadApplied)
	d.log.Info("config reloaded", "config", cfg.File, "restarted", p.Restart, "started", p.Start,
		"stopped", p.Stop, "priority_changes", len(p.Priority), "changed_in_place", p.InPlace, "services_changed", p.Services, "ipvs_changed", p.IPVS)
	if p.Status {
		d.log.Warn("status {} changes take effect when lvsd restarts")
	}
	d.updateStatusLine()
	return true, "", nil
}

// freeAfterReload hands back to the system, once the reload is done and off
// its path, the memory that parsing big files took (bigLoad). The caller
// holds reloadMu.
func (d *Daemon) freeAfterReload() {
	if d.bigReload {
		d.bigReload = false
		freeInBackground()
	}
}

// freeInBackground hands unused memory back to the system off the
// caller's path: a full collection and the return of every free page,
// which costs the CPU of a collection of the whole heap. A variable for
// the tests.
var freeInBackground = func() { go debug.FreeOSMemory() }

// lastReloadOK reports whether the last reload, if any, was applied.
func (d *Daemon) lastReloadOK() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reloadErr == nil
}

// apply carries out a reload plan. The caller holds reloadMu.
func (d *Daemon) apply(old, cfg *config.Config, p reloadPlan) error {
	// Everything that can refuse is checked before anything changes, so
	// a refusal leaves everything as it was.
	var cs checkSet
	if p.Services {
		cs = buildChecks(cfg)
		if err := healthcheck.Validate(cs.jobs); err != nil {
			return fmt.Errorf("updating the health checks: %w", err)
		}
	}
	starting := p.starting(cfg)
	if err := d.checkInterfaces(cfg, starting); err != nil {
		return err
	}
	tracked := d.track.saved()
	if err := d.track.set(cfg); err != nil {
		return err
	}
	// The instances that restart or start go first: starting one can
	// still fail (a socket the system refuses), and then the stopped ones
	// are put back before anything else has changed.
	if err := d.restartInstances(old, cfg, p, starting, tracked); err != nil {
		return err
	}

	d.mu.Lock()
	if p.Services {
		// The jobs and the owners of their results change together: a
		// result of a new job reported in between would find no owner
		// and be dropped. Set never waits for a result's callback, which
		// takes mu. Jobs whose key is unchanged keep their health. Set
		// refuses only what Validate refused above.
		if err := d.sched.Set(cs.jobs); err != nil {
			d.mu.Unlock()
			return fmt.Errorf("updating the health checks: %w", err)
		}
		d.checks = cs
	}
	d.cfg = cfg
	if d.rec != nil && p.Services {
		d.rec.SetDesired(sizedTable(d.desiredLocked()))
	}
	var cmds []healthCommand
	if p.Services {
		cmds = d.quorumCommandsLocked()
	}
	d.mu.Unlock()
	d.runHealthCommands(cmds)
	d.kickBGP()
	if d.rec != nil && p.IPVS {
		// The sysctls of ipvs {} are set at start; a reload that changes
		// them (or the on_failure policies their defaults follow) sets
		// them again. A failure here is logged rather than returned, so
		// the rest of the new config is not left half-applied.
		if err := d.sys.ApplySysctls(cfg.IPVS); err != nil {
			d.log.Warn("setting the IPVS sysctls", "err", explainPermission(err))
		}
		d.rec.Reconfigure(reconcileSettings(cfg.IPVS))
	}

	// VRRP: the instances that keep running take their changes in place.
	d.mu.Lock()
	var retrack []*instance
	for _, pc := range p.Priority {
		if in := d.instances[pc.Name]; in != nil {
			in.cfg.Priority = pc.Priority
			in.in.UpdatePriority(pc.Priority)
		}
	}
	for _, name := range p.InPlace {
		in := d.instances[name]
		if in == nil {
			continue
		}
		vi := cfg.VRRPInstances[slices.IndexFunc(cfg.VRRPInstances, func(vi config.VRRPInstance) bool { return vi.Name == name })]
		in.cfg.Handover = vi.Handover
		in.cfg.Notify = vi.Notify
		in.notifier.setCommands(vi.Notify)
		if !sameTracking(in.cfg, vi) {
			in.cfg.TrackInterfaces, in.cfg.TrackScripts, in.cfg.TrackFiles = vi.TrackInterfaces, vi.TrackScripts, vi.TrackFiles
			in.in.UpdateTracking(tracks(vi.TrackInterfaces), tracks(vi.TrackScripts), tracks(vi.TrackFiles))
			retrack = append(retrack, in)
		}
		if in.cfg.GARP != vi.GARP {
			in.cfg.GARP = vi.GARP
			in.in.UpdateGARP(announceSchedule(vi.GARP))
		}
	}
	for _, g := range cfg.SyncGroups {
		if in := d.instances[g.Instances[0]]; in != nil && in.group != nil {
			in.group.setCommands(g.Notify)
		}
	}
	d.mu.Unlock()
	// What the instances that now track more know of it.
	for _, in := range retrack {
		d.track.tell(in.in)
		for _, t := range in.cfg.TrackInterfaces {
			if up, ok := d.linkState(t.Name); ok {
				in.in.SetLink(t.Name, up)
			}
		}
	}

	// The instance the sync daemon follows may have changed. Under mu,
	// as Notify sets it, and not once a relaying stop holds it.
	d.mu.Lock()
	if in := d.instances[d.syncFollows]; in != nil && d.rec != nil && !d.syncHeld {
		d.rec.SetSyncRole(syncRole(in.in.Status().State))
	}
	d.mu.Unlock()

	// A failure here is logged and the rest of the reload stands; the
	// VIPs that could not be held miss a stopping peer's relayed
	// connections until a reload or restart holds them.
	if err := d.holdVIPs(cfg); err != nil {
		d.log.Warn("config reloaded, but the relay VIPs could not be set", "err", err)
	}

	d.mu.Lock()
	d.loadedAt = time.Now()
	d.reloadErr = nil
	d.mu.Unlock()
	return nil
}

// starting lists the instances of cfg that the plan restarts or starts.
func (p reloadPlan) starting(cfg *config.Config) []config.VRRPInstance {
	var list []config.VRRPInstance
	for _, vi := range cfg.VRRPInstances {
		if slices.Contains(p.Restart, vi.Name) || slices.Contains(p.Start, vi.Name) {
			list = append(list, vi)
		}
	}
	return list
}

// checkInterfaces refuses instances on an interface this director does
// not have, at start and before a reload changes anything: such an
// instance could not open its socket, and a restarted one would have been
// stopped for nothing.
func (d *Daemon) checkInterfaces(cfg *config.Config, list []config.VRRPInstance) error {
	for _, vi := range list {
		exists, _, err := d.sys.Link(vi.Interface)
		if err != nil {
			return fmt.Errorf("vrrp_instance %s: reading interface %s: %w", vi.Name, vi.Interface, err)
		}
		if !exists {
			return fmt.Errorf("vrrp_instance %s: interface %s does not exist: create it or fix interface in %s", vi.Name, vi.Interface, cfg.File)
		}
	}
	return nil
}

// restartInstances stops the instances the plan removes or restarts,
// together, then starts list, the restarted and new ones. When the new ones
// cannot start, it starts the stopped ones again with their previous
// configuration, so a failed reload does not leave the director without
// them, and returns the error. The caller holds reloadMu.
func (d *Daemon) restartInstances(old, cfg *config.Config, p reloadPlan, list []config.VRRPInstance, tracked map[string]*scriptJob) error {
	d.mu.Lock()
	d.syncFollows = syncFollowed(cfg)
	var stopping []*instance
	for _, name := range slices.Concat(p.Stop, p.Restart) {
		if in := d.instances[name]; in != nil {
			stopping = append(stopping, in)
			delete(d.instances, name)
		}
	}
	d.mu.Unlock()
	stopInstances(stopping)

	err := d.startNew(cfg, list)
	if err == nil {
		return nil
	}
	// Back to the previous tracking, with the scripts' states, and the
	// previous sync daemon's instance, which the put-back ones follow.
	if terr := d.track.undo(old, tracked); terr != nil {
		d.log.Warn("setting the previous tracking again", "err", terr)
	}
	d.mu.Lock()
	d.syncFollows = syncFollowed(old)
	d.mu.Unlock()
	if len(stopping) == 0 {
		return err
	}
	var back []config.VRRPInstance
	for _, vi := range old.VRRPInstances {
		if slices.ContainsFunc(stopping, func(in *instance) bool { return in.cfg.Name == vi.Name }) {
			back = append(back, vi)
		}
	}
	if berr := d.startNew(old, back); berr != nil {
		d.log.Error("starting the stopped instances again with the previous config", "err", berr)
		return fmt.Errorf("%w; the stopped instances could not start again: %v", err, berr)
	}
	d.log.Warn("the instances the reload stopped run again with the previous config", "err", err)
	return err
}

// startNew builds and runs instances of cfg, holding their VIPs in the
// ledger first; nothing runs when it fails.
func (d *Daemon) startNew(cfg *config.Config, list []config.VRRPInstance) error {
	if len(list) == 0 {
		return nil
	}
	if d.vips == nil {
		// A daemon without instances gains its first one.
		if err := d.openVIPs(list); err != nil {
			return err
		}
	} else if err := d.adoptVIPs(list); err != nil {
		return err
	}
	insts, err := d.buildInstances(cfg, list)
	if err != nil {
		return err
	}
	d.startInstances(insts)
	return nil
}

// syncFollowed is the instance whose state sets the sync daemon's role,
// "" when cfg runs no sync daemon.
func syncFollowed(cfg *config.Config) string {
	if sd := cfg.IPVS.SyncDaemon; sd != nil {
		return sd.VRRPInstance
	}
	return ""
}
