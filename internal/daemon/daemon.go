package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/bgp"
	"github.com/lvsd/lvsd/internal/memlimit"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/internal/vip"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
)

// Options configure a Daemon.
type Options struct {
	// ConfigFile is the cluster file (lvsd run -c).
	ConfigFile string
	// Node is this director's node; "" means the only declared node, else
	// the host name (config.DefaultNode).
	Node string
	// Socket overrides status.socket of the file when not "".
	Socket string
	// Logger receives the daemon's logs; nil means slog.Default().
	Logger *slog.Logger
	// Hostname names the node when Node is ""; nil means os.Hostname.
	Hostname func() (string, error)
	// Notifier is told READY, STATUS, WATCHDOG and STOPPING; nil means
	// systemd's $NOTIFY_SOCKET (nothing when unset).
	Notifier Notifier

	// sys replaces the kernel (tests).
	sys system
	// speaker replaces the BGP speaker (tests).
	speaker func(bgp.Config, *slog.Logger) bgp.Speaker
}

// ConfigError is a configuration the daemon refuses: at start-up it ends Run
// (`lvsd run` exits 1 and prints Report).
type ConfigError struct {
	Diagnostics config.Diagnostics
	// Source maps file names to contents, for the snippets of Report.
	Source map[string][]byte
}

func (e *ConfigError) Error() string { return e.Diagnostics.Error() }

// Report returns the diagnostics as `lvsd validate` prints them:
// FILE:LINE:COL: message, the offending line and a marker.
func (e *ConfigError) Report() string {
	var b bytes.Buffer
	e.Diagnostics.Format(&b, e.Source)
	return b.String()
}

// Timings of the stop (exit within 2 seconds).
const (
	// stopBudget bounds the whole stop; the instances' release wait (at
	// most vrrp.MaxReleaseWait) comes first, the kernel clean-up after.
	stopBudget = 1800 * time.Millisecond
	// cleanupTimeout bounds StopSync and Cleanup together.
	cleanupTimeout = 500 * time.Millisecond
)

// Daemon is one running director. New builds it; Run runs it once.
type Daemon struct {
	opts Options
	log  *slog.Logger
	sd   Notifier
	sys  system

	metrics *status.Metrics
	started atomic.Bool

	// Set during start-up, before any goroutine reads them.
	phases startPhases
	// startupDone ends the start-up's memory regime (memlimit.Startup)
	// once the daemon is ready.
	startupDone func()
	bigStart    bool // the start-up's files were big (bigLoad)
	bigReload   bool // the reload's files were big; reloadMu guards it
	socket      string
	rec         *reconcile.Reconciler
	sched       *healthcheck.Scheduler
	track       *tracker
	vips        *vip.Ledger
	closeVIPs   func()
	ann         vrrpd.Announcer
	muxes       *muxes
	notifyCtx   context.Context
	stopNotify  context.CancelFunc
	partsCtx    context.Context
	cancelParts context.CancelFunc
	partsWG     sync.WaitGroup
	instWG      sync.WaitGroup
	notifyWG    sync.WaitGroup

	// reloadMu serialises Reload with itself and with the stop.
	reloadMu sync.Mutex
	running  bool // guarded by reloadMu

	// loader keeps the decoded pieces of the config files from one load
	// to the next, so a reload parses only what changed.
	loader *config.Loader

	mu         sync.Mutex // guards what follows
	cfg        *config.Config
	loadedAt   time.Time
	reloadErr  *string
	checks     checkSet
	quorum     map[string]bool // service -> quorum met, for quorum_up/down
	instances  map[string]*instance
	links      map[string]bool
	watched    map[string]bool // interfaces with an address watcher
	lastStatus string
	// handover is set during a stop that relays (see relay).
	handover plan.Handover
	// syncHeld: a relaying stop has taken the sync daemon over; VRRP
	// transitions no longer set its role.
	syncHeld bool
	// syncFollows is the instance whose transitions set the sync
	// daemon's role ("" for none): the config's, set ahead of a reload's
	// instance restarts so that they follow the new config's choice.
	syncFollows string

	// The VIPs held on lo for relayed connections (holdVIPs), guarded by
	// reloadMu; heldSet is false until the first holdVIPs.
	held      []netip.Addr
	heldSet   bool
	heldState string
	// redirected: a NAT relay routed real servers' answers to the peer
	// (RedirectReplies); set and read by the stop only.
	redirected bool

	// bgp is the scale-out half (bgp.go); nil without a bgp block.
	bgp *bgpDirector
}

// instance is one running VRRP instance.
type instance struct {
	cfg       config.VRRPInstance
	in        *vrrpd.Instance
	transport vrrpd.Transport // closed by in.Run; by the daemon if it never runs
	notifier  *notifier
	group     *notifier // its sync group's, if any
	// peer is the director a stop relays to (relayPeer); invalid if none.
	peer   netip.Addr
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a daemon for opts. It starts nothing and reads nothing.
func New(opts Options) *Daemon {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	sd := opts.Notifier
	if sd == nil {
		sd = systemdNotifier()
	}
	sys := opts.sys
	if sys == nil {
		sys = &linuxSystem{log: log}
	}
	d := &Daemon{
		opts:      opts,
		log:       log,
		sd:        sd,
		sys:       sys,
		instances: make(map[string]*instance),
		links:     make(map[string]bool),
		watched:   make(map[string]bool),
		loader:    config.NewLoader(),
	}
	d.loader.BeforeParse = memlimit.ForConfig
	d.metrics = status.NewMetrics(d)
	d.sched = healthcheck.NewScheduler(d.onResult)
	return d
}

// Metrics returns the daemon's metrics (also served on metrics_listen).
func (d *Daemon) Metrics() *status.Metrics { return d.metrics }

// load reads, parses and resolves the config file, with the files it
// includes, for this node. unchanged means that no file changed since the
// last good load: cfg is then nil, as there is nothing new to apply.
func (d *Daemon) load() (cfg *config.Config, unchanged bool, err error) {
	file := d.opts.ConfigFile
	if file == "" {
		return nil, false, errors.New("no config file: pass -c FILE or set LVSD_CONFIG")
	}
	f, unchanged, diags := d.loader.Load(file)
	if diags.HasErrors() {
		ce := &ConfigError{Diagnostics: diags}
		if f != nil {
			ce.Source = f.Source()
		}
		return nil, false, ce
	}
	if unchanged {
		return nil, true, nil
	}
	node := d.opts.Node
	if node == "" {
		hostname := d.opts.Hostname
		if hostname == nil {
			hostname = os.Hostname
		}
		host, _ := hostname()
		node = config.DefaultNode(f, host)
	}
	cfg, diags = f.Resolve(node)
	if diags.HasErrors() {
		return nil, false, &ConfigError{Diagnostics: diags, Source: f.Source()}
	}
	if d.running {
		// A reload parses only the pieces that changed.
		d.bigReload = f.Parsed() >= bigLoad // freed once the reload is done
	} else {
		d.bigStart = f.Size() >= bigLoad // freed once ready
	}
	return cfg, false, nil
}

// bigLoad is the size of config files parsed past which a load hands the
// memory that parsing them took back to the system at once. Parsing allocates
// many times the files' size, and the Go runtime returns unused memory
// only over minutes, while a director's live heap is a fraction of that
// peak: without this, the peak of the last load stays the process's size.
const bigLoad = 1 << 20

// socketPath is the control socket: --socket, else status.socket, else the
// default.
func (d *Daemon) socketPath(cfg *config.Config) string {
	switch {
	case d.opts.Socket != "":
		return d.opts.Socket
	case cfg.Status.Socket != "":
		return cfg.Status.Socket
	}
	return status.DefaultSocket
}

// Run starts the director, runs it until ctx ends and stops it (see the
// package documentation). A configuration error is a *ConfigError; any other
// start-up failure is an error whose text says what to do. After a clean
// stop Run returns nil.
func (d *Daemon) Run(ctx context.Context) (err error) {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("lvsd daemon: Run called twice")
	}
	d.phases.start = time.Now()
	d.startupDone = memlimit.Startup()
	defer d.startupDone()
	cfg, _, err := d.load()
	if err != nil {
		return err
	}
	d.phases.load = time.Since(d.phases.start)
	defer func() {
		// Set at start-up, or by a reload that added the first instance.
		if d.closeVIPs != nil {
			d.closeVIPs()
		}
	}()
	log := d.log
	log.Info("starting", "cluster", cfg.Cluster, "node", cfg.Node, "config", cfg.File,
		"vrrp_instances", len(cfg.VRRPInstances), "virtual_servers", len(cfg.VirtualServers))

	// A second daemon on the same socket would fight the first over the
	// VIPs (and reclaim the addresses the first holds): refuse before
	// touching anything.
	d.socket = d.socketPath(cfg)
	if alive(d.socket) {
		return fmt.Errorf("another lvsd answers on %s: stop it, or give this one its own --socket", d.socket)
	}

	// IPVS only when there is something to program: a VRRP-only director
	// must run on a kernel without it.
	if len(cfg.VirtualServers) > 0 {
		dialed := time.Now()
		k, closeIPVS, err := d.sys.DialIPVS()
		if err != nil {
			return reconcile.Explain(err)
		}
		defer closeIPVS()
		if err := reconcile.Check(k); err != nil {
			return err
		}
		if err := d.sys.ApplySysctls(cfg.IPVS); err != nil {
			return fmt.Errorf("setting the IPVS sysctls: %w", explainPermission(err))
		}
		rec := reconcile.New(k, reconcile.WithSettings(reconcileSettings(cfg.IPVS)), reconcile.WithLogger(log), reconcile.WithMetrics(d.metrics))
		// Under mu: Status may already be asked (tests do, before the
		// control socket serves).
		d.mu.Lock()
		d.rec = rec
		d.mu.Unlock()
		d.phases.ipvs = time.Since(dialed)
	}

	if err := d.checkInterfaces(cfg, cfg.VRRPInstances); err != nil {
		return err
	}
	if len(cfg.VRRPInstances) > 0 {
		if err := d.openVIPs(cfg.VRRPInstances); err != nil {
			return err
		}
	}
	d.muxes = newMuxes(d.sys.Listen, log)

	// Health checks, and the first desired table: every checked real
	// server is down until it has passed rise times.
	cs := buildChecks(cfg)
	if err := d.sched.Set(cs.jobs); err != nil {
		return fmt.Errorf("starting the health checks: %w", err)
	}
	d.track = newTracker(d)
	if err := d.track.set(cfg); err != nil {
		return err
	}
	d.mu.Lock()
	d.cfg = cfg
	d.syncFollows = syncFollowed(cfg)
	d.checks = cs
	d.loadedAt = time.Now()
	if d.rec != nil {
		d.rec.SetDesired(sizedTable(d.desiredLocked()))
	}
	d.quorumCommandsLocked() // the starting point: nothing runs
	d.mu.Unlock()

	// Everything that can fail is bound or opened before anything runs
	// (and so before READY): the control socket, the metrics port, the
	// VRRP sockets. A missing permission, a port taken or an interface
	// missing stops the start cleanly.
	socket := d.socket
	ctl, err := status.ListenControl(socket)
	if err != nil {
		return err
	}
	metricsLn, err := status.ListenMetrics(cfg.Status.MetricsListen)
	if err != nil {
		ctl.Close()
		return err
	}
	unbind := func() {
		ctl.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
	}
	insts, err := d.buildInstances(cfg, cfg.VRRPInstances)
	if err != nil {
		unbind()
		return err
	}
	if err := d.startBGP(cfg); err != nil {
		for _, in := range insts {
			in.transport.Close()
		}
		unbind()
		return err
	}
	d.heldState = runStatePath(socket, ".relay.json")
	if err := d.holdVIPs(cfg); err != nil {
		for _, in := range insts {
			in.transport.Close()
		}
		unbind()
		return err
	}
	// A NAT relay's routes outlive a crash in the middle of a stop.
	if slices.ContainsFunc(cfg.VRRPInstances, func(vi config.VRRPInstance) bool { return vi.Handover == config.Relay }) {
		d.redirected = true
		d.endRedirect()
	}

	d.partsCtx, d.cancelParts = context.WithCancel(context.Background())
	d.notifyCtx, d.stopNotify = context.WithCancel(context.Background())
	fatal := make(chan error, 4)
	part := func(name string, f func(ctx context.Context) error) {
		d.partsWG.Go(func() {
			if err := f(d.partsCtx); err != nil && d.partsCtx.Err() == nil {
				select {
				case fatal <- fmt.Errorf("%s: %w", name, err):
				default: // the stop is already under way
				}
			}
		})
	}
	d.phases.parts = time.Now()
	if d.rec != nil {
		part("ipvs reconciler", d.rec.Run)
	}
	part("health checks", d.sched.Run)
	part("track scripts", d.track.sched.Run)
	part("track files", d.track.runFiles)
	part("link watcher", func(ctx context.Context) error {
		d.sys.WatchLinks(ctx, d.setLink)
		return nil
	})

	d.reloadMu.Lock()
	d.running = true
	d.startInstances(insts)
	d.reloadMu.Unlock()

	part("control socket", func(ctx context.Context) error {
		return ctl.Serve(ctx, d, d)
	})
	part("metrics listener", func(ctx context.Context) error {
		return status.ServeMetricsOn(ctx, metricsLn, d.metrics.Handler())
	})
	part("systemd notification", d.notifyLoop)
	if d.bgp != nil {
		part("bgp", d.runBGP)
	}

	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err = <-fatal:
		log.Error("stopping on a failure", "err", err)
	}
	d.stop()
	return err
}

// sizedTable sizes the soft memory limit for the table a start or a
// reload makes (memlimit), and returns it.
func sizedTable(svcs []ipvs.Service) []ipvs.Service {
	n := len(svcs)
	for i := range svcs {
		n += len(svcs[i].Destinations)
	}
	memlimit.ForTable(n)
	return svcs
}

// startPhases time the start-up, for the "ready" log line: how long the
// file took to load, IPVS to be dialled and checked, and the first
// reconcile round (the whole table, on a first start) to end after the
// parts started.
type startPhases struct {
	start, parts time.Time
	load, ipvs   time.Duration
}

func (p startPhases) attrs(ready time.Time) []any {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	a := []any{"took", ms(ready.Sub(p.start)), "load", ms(p.load)}
	if p.ipvs > 0 {
		a = append(a, "ipvs_setup", ms(p.ipvs), "first_round", ms(ready.Sub(p.parts)))
	}
	return a
}

// alive reports whether something listens on the control socket. A
// connection accepted is enough, as for the listener's own stale-socket
// check: a daemon too busy to answer a status request in time is still
// there.
func alive(socket string) bool {
	c, err := net.DialTimeout("unix", socket, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// stop shuts the director down in this order: instances hand over
// (priority 0, addresses kept until the new master speaks), then the rest
// stops, then the sync daemon, then lvsd's IPVS services.
func (d *Daemon) stop() {
	start := time.Now()
	_ = d.sd.Send("STOPPING=1")
	d.drainBGP()
	d.reloadMu.Lock()
	d.running = false
	d.mu.Lock()
	insts := make([]*instance, 0, len(d.instances))
	for _, in := range d.instances {
		insts = append(insts, in)
	}
	d.mu.Unlock()
	d.relay(insts)
	stopInstances(insts)
	d.reloadMu.Unlock()
	d.instWG.Wait()

	d.cancelParts()
	d.partsWG.Wait()

	if d.rec != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if err := d.rec.StopSync(ctx); err != nil {
			d.log.Warn("stopping the IPVS sync daemon", "err", err)
		}
		d.mu.Lock()
		cleanup := d.cfg.IPVS.CleanupOnExit
		d.mu.Unlock()
		if cleanup {
			if err := d.rec.Cleanup(ctx); err != nil {
				d.log.Warn("removing lvsd's IPVS services", "err", err)
			}
		} else {
			d.endRelay(ctx)
		}
		cancel()
	}
	// The VIPs are off the interfaces: the real servers answer the new
	// master, and the VIPs on lo can go too.
	d.endRedirect()
	d.releaseBGP()
	if d.heldSet {
		if err := d.sys.HoldVIPs(d.heldState, nil); err != nil {
			d.log.Warn("taking the relay VIPs off lo", "err", err)
		}
	}

	// Notify commands (the "stop" ones in particular) get what is left of
	// the budget, then are killed.
	waited := make(chan struct{})
	go func() { d.notifyWG.Wait(); close(waited) }()
	t := time.NewTimer(max(stopBudget-time.Since(start), 0))
	select {
	case <-waited:
	case <-t.C:
		d.log.Warn("killing notify commands still running at stop")
	}
	t.Stop()
	d.stopNotify()
	<-waited
	d.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond).String())
}

// notifyLoop tells systemd READY=1 after the first reconcile (at once
// without IPVS), then pings the watchdog when it is armed.
func (d *Daemon) notifyLoop(ctx context.Context) error {
	if d.rec != nil {
		select {
		case <-d.rec.Reconciled():
		case <-ctx.Done():
			return nil
		}
	}
	_ = d.sd.Send("READY=1")
	d.log.Info("ready", d.phases.attrs(time.Now())...)
	d.startupDone()
	// What parsing a big file took goes back to the system now, off the
	// start-up's path (a reload does it once it is done).
	if d.bigStart {
		debug.FreeOSMemory()
	}
	d.updateStatusLine()
	every := watchdogInterval(os.Getenv)
	if every <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = d.sd.Send("WATCHDOG=1")
		}
	}
}

// jobState is a job's state as the scheduler keeps it, the one copy of
// every real server's health.
func (d *Daemon) jobState(key string) healthcheck.Status {
	st, _ := d.sched.Status(key)
	return st
}

// onResult receives every health-check result (healthcheck.ResultFunc).
func (d *Daemon) onResult(key string, r healthcheck.Result, h healthcheck.Health, changed bool) {
	d.mu.Lock()
	owners := d.checks.owners[key]
	if owners == nil {
		// A job a reload removed; its last result is of no use.
		d.mu.Unlock()
		return
	}
	// The scheduler recorded h before it called: the table below sees it.
	if changed && d.rec != nil {
		// Under mu, so that concurrent changes reach the reconciler in
		// the order their tables were computed.
		d.rec.SetDesired(d.desiredLocked())
	}
	var cmds []healthCommand
	if changed {
		cmds = append(d.serverCommandsLocked(owners, h.Healthy), d.quorumCommandsLocked()...)
	}
	d.mu.Unlock()
	d.runHealthCommands(cmds)
	for _, o := range owners {
		d.metrics.ObserveCheck(o.service, o.server, r.Duration)
		if changed {
			args := []any{"service", o.service, "server", o.server.String(), "healthy", h.Healthy, "check", r.Message}
			if h.Weighted {
				args = append(args, "weight", h.Weight)
			}
			d.log.Info("real server health change", args...)
		}
	}
	if changed {
		d.updateStatusLine()
		d.kickBGP()
	}
}

// setLink records a link state change and tells every instance; each one
// ignores the interfaces it does not use or track.
func (d *Daemon) setLink(ifname string, up bool) {
	d.mu.Lock()
	was, known := d.links[ifname]
	d.links[ifname] = up
	var insts []*instance
	for _, in := range d.instances {
		if usesInterface(in.cfg, ifname) {
			insts = append(insts, in)
		}
	}
	d.mu.Unlock()
	if known && was == up || len(insts) == 0 {
		return
	}
	if known || !up {
		d.log.Info("link state change", "interface", ifname, "up", up)
	}
	for _, in := range insts {
		in.in.SetLink(ifname, up)
	}
}

// updateStatusLine sends systemd a one-line summary when it changed. It
// leaves out the kernel's table, so it never waits for the reconciler and
// a VRRP transition may call it.
func (d *Daemon) updateStatusLine() {
	line := summaryOf(d.docInput())
	d.mu.Lock()
	same := line == d.lastStatus
	d.lastStatus = line
	d.mu.Unlock()
	if !same {
		_ = d.sd.Send("STATUS=" + line)
	}
}

// summaryOf is the STATUS= line: every instance's state and every
// service's healthy count, e.g. "VI_1 MASTER; web 2/3 healthy", from the
// document's input without building the document (an update of the line
// follows every reload and health change).
func summaryOf(in docInput) string {
	if in.cfg == nil {
		return "running"
	}
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
	}
	for _, vi := range in.cfg.VRRPInstances {
		if st, ok := in.instances[vi.Name]; ok {
			sep()
			b.WriteString(st.Name + " " + st.State.String())
		}
	}
	health := healthOf(in.checks, statesOf(in.states))
	for i := range in.cfg.VirtualServers {
		vs := &in.cfg.VirtualServers[i]
		sep()
		b.WriteString(vs.Name)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(plan.State(vs, health).Healthy))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(len(vs.RealServers)))
		b.WriteString(" healthy")
	}
	if b.Len() == 0 {
		return "running"
	}
	return b.String()
}
