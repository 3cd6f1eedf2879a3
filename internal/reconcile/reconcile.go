package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/ipvs"
)

// Kernel is what the reconciler needs of the kernel's IPVS; *ipvs.Client
// satisfies it. Its methods are called from one goroutine at a time.
type Kernel interface {
	// ListServices and Destinations read the table a service at a
	// time (readTable), so that a long read can let changes through
	// between two services.
	ListServices() ([]ipvs.Service, error)
	Destinations(ipvs.ServiceKey) ([]ipvs.Destination, error)
	Apply([]ipvs.Op) ([]ipvs.OpResult, error)
	SetTimeouts(ipvs.Timeouts) error
	SyncDaemons() ([]ipvs.SyncDaemon, error)
	StartSyncDaemon(ipvs.SyncDaemon) error
	StopSyncDaemon(ipvs.SyncState) error
}

// Metrics receives what the reconciler measures; *status.Metrics
// satisfies it. It is called from the goroutine doing the kernel work.
type Metrics interface {
	// ObserveReconcile records how long one round (dump if any, diff and
	// apply) took.
	ObserveReconcile(d time.Duration)
	// IPVSOps counts n operations of one kind that the kernel
	// acknowledged ("add_service", "delete_destination", ...).
	IPVSOps(op string, n int)
}

// DefaultInterval is the reconcile interval when the configuration leaves
// it unset (the documented default).
const DefaultInterval = 10 * time.Second

// maxErrorLogs bounds the lines logged for the failed operations of one
// round: a kernel that refuses a whole table (a scheduler module missing)
// must not write thousands of lines every interval.
const maxErrorLogs = 20

// Option configures a Reconciler.
type Option func(*Reconciler)

// Settings are the reconciler's part of the ipvs {} block, as the daemon
// translates it.
type Settings struct {
	// Interval is how often the kernel's table is read again and drift
	// repaired; 0 or less means DefaultInterval.
	Interval time.Duration
	// Timeouts are written when not all zero; a zero field leaves the
	// kernel's value.
	Timeouts ipvs.Timeouts
	// Sync is the connection-synchronisation daemon lvsd runs, in the
	// role SetSyncRole gives it; nil: none.
	Sync *SyncSettings
}

// SyncSettings configure the IPVS sync daemon.
type SyncSettings struct {
	Interface string
	SyncID    uint8
	// Zero values leave the kernel's defaults.
	MaxLen uint16
	Group  netip.Addr
	Port   uint16
	TTL    uint8
}

// WithSettings applies the settings: the reconcile interval, the
// connection timeouts and the sync daemon.
func WithSettings(s Settings) Option {
	return func(r *Reconciler) { r.configure(s) }
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(r *Reconciler) { r.log = l }
}

// WithMetrics sets where the reconciler reports durations and operations.
func WithMetrics(m Metrics) Option {
	return func(r *Reconciler) { r.metrics = m }
}

// Snapshot is the kernel's table as the reconciler last knew it: the last
// dump, advanced by the operations acknowledged since. Counters (active and
// inactive connections, bytes) are those of the last dump.
type Snapshot struct {
	Services []ipvs.Service
	// ReadAt is when the table was last dumped; zero before the first dump.
	ReadAt time.Time
}

// Reconciler keeps the kernel's IPVS table equal to the desired one. It is
// safe for concurrent use; New starts nothing, Run does the work.
type Reconciler struct {
	k       Kernel
	log     *slog.Logger
	metrics Metrics

	// sem serialises the kernel work of Run, Cleanup and StopSync. It is a
	// channel so that Cleanup and StopSync can give up when their context
	// ends.
	sem       chan struct{}
	wake      chan struct{}
	first     chan struct{} // closed after Run's first round
	firstOnce sync.Once
	running   atomic.Bool

	// setMu serialises SetDesired. desired is written with setMu and mu
	// held, so SetDesired compares against it holding setMu alone, and a
	// round, holding mu, is never kept waiting by a comparison.
	setMu sync.Mutex

	mu      sync.Mutex // guards the fields below
	desired desiredTable
	// pending are the keys of the desired services that changed since a
	// round last took them; nil when none did.
	pending map[ipvs.ServiceKey]bool
	owned   map[ipvs.ServiceKey]bool
	// gone are the owned services that are no longer desired: deleted
	// from the kernel, then forgotten (prune). It is owned minus the
	// desired keys, which is all ipvs.Diff asks about.
	gone        map[ipvs.ServiceKey]bool
	interval    time.Duration
	timeouts    ipvs.Timeouts
	setTimeouts bool // timeouts are to be written
	syncCfg     *SyncSettings
	syncRole    SyncRole
	syncKnown   bool // SetSyncRole was called: lvsd manages the daemons
	syncDirty   bool // role or settings changed since the last convergence
	syncDropped bool // the config no longer has a sync_daemon: stop lvsd's
	snapshot    Snapshot
	gen, seen   uint64 // inputs changed (gen) and taken by a round (seen)

	// Held under sem. The snapshot shares actual, so it is modified only
	// with mu held too; actualIndex is the position of each key in it.
	actual      []ipvs.Service
	actualIndex map[ipvs.ServiceKey]int
	actualValid bool
}

// New returns a Reconciler for the kernel k. It starts nothing and touches
// no kernel state until Run.
func New(k Kernel, opts ...Option) *Reconciler {
	r := &Reconciler{
		k:        k,
		log:      slog.Default(),
		sem:      make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		first:    make(chan struct{}),
		owned:    map[ipvs.ServiceKey]bool{},
		gone:     map[ipvs.ServiceKey]bool{},
		interval: DefaultInterval,
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// configure takes the settings; r.mu is held or r is not shared yet.
func (r *Reconciler) configure(s Settings) {
	r.interval = s.Interval
	if r.interval <= 0 {
		r.interval = DefaultInterval
	}
	if s.Timeouts != r.timeouts {
		r.timeouts = s.Timeouts
		r.setTimeouts = s.Timeouts != (ipvs.Timeouts{})
	}
	var sd *SyncSettings
	if s.Sync != nil {
		c := *s.Sync
		sd = &c
	}
	if !equalSync(sd, r.syncCfg) {
		// A sync_daemon block removed by a reload takes its daemons
		// with it.
		r.syncDropped = sd == nil
		r.syncCfg = sd
		r.syncDirty = true
	}
}

func equalSync(a, b *SyncSettings) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Reconfigure applies the settings of a reloaded configuration: a new
// interval takes effect after the current one, new timeouts and sync
// daemon settings on the next round, which it starts.
func (r *Reconciler) Reconfigure(s Settings) {
	r.mu.Lock()
	r.configure(s)
	r.gen++
	r.mu.Unlock()
	r.poke()
}

// SetDesired replaces the desired table (plan.Services with the current
// health) and wakes Run. Every service in it becomes lvsd's. The services
// that changed are copied, so the caller may reuse services afterwards.
//
// Its cost, and that of the round it wakes, follow what changed rather
// than the size of the table: services are compared by value with the
// previous table, and the round diffs only those that differ.
func (r *Reconciler) SetDesired(services []ipvs.Service) {
	r.setMu.Lock()
	defer r.setMu.Unlock()
	u := r.desired.diff(services)
	r.mu.Lock()
	r.desired.apply(u)
	for _, k := range u.added {
		r.owned[k] = true
		delete(r.gone, k)
	}
	for _, k := range u.removed {
		r.gone[k] = true
	}
	if len(u.changed) > 0 && r.pending == nil {
		r.pending = make(map[ipvs.ServiceKey]bool, len(u.changed))
	}
	for _, k := range u.changed {
		r.pending[k] = true
	}
	r.gen++
	r.mu.Unlock()
	r.poke()
}

// poke wakes Run without blocking; a wake-up already pending absorbs it,
// which is what coalesces bursts. The caller has counted its change in
// r.gen.
func (r *Reconciler) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Reconciled is closed when Run has finished its first round, whether or
// not every operation succeeded: the moment to tell systemd READY.
func (r *Reconciler) Reconciled() <-chan struct{} { return r.first }

// Snapshot returns a copy of the table as last known.
func (r *Reconciler) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Copied under the lock: a round updates the shared table in place.
	s := r.snapshot
	s.Services = cloneServices(s.Services)
	return s
}

// Owned reports whether lvsd considers the service its own.
func (r *Reconciler) Owned(k ipvs.ServiceKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owned[k.Normalize()]
}

// Run reconciles at once, then on every SetDesired, SetSyncRole and
// Reconfigure, and every reconcile interval, until ctx ends; it returns
// nil then. Failures are logged and retried; Run never stops on them. Only
// one Run may run at a time.
func (r *Reconciler) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("reconcile: already running")
	}
	defer r.running.Store(false)

	// The first round runs at once and takes whatever was set before Run.
	if !r.lockedRound(ctx, true) {
		return nil
	}
	r.firstOnce.Do(func() { close(r.first) })
	interval := r.currentInterval()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		fresh := false
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			fresh = true
		case <-r.wake:
			if !r.changed() {
				continue // a wake-up the last round already served
			}
		}
		if !r.lockedRound(ctx, fresh) {
			return nil
		}
		if next := r.currentInterval(); fresh || next != interval {
			interval = next
			timer.Reset(interval)
		}
	}
}

// lockedRound runs one round under r.sem; it returns false when ctx ended
// while waiting for it.
func (r *Reconciler) lockedRound(ctx context.Context, fresh bool) bool {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	r.round(fresh)
	<-r.sem
	return true
}

// changed reports whether SetDesired, SetSyncRole or Reconfigure was
// called since the last round took its inputs.
func (r *Reconciler) changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen != r.seen
}

func (r *Reconciler) currentInterval() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interval
}

// input is what one round works on, taken from the reconciler's fields in
// one critical section (take). A round converges the sync daemons of its
// input before it applies its input's table, so the order in which the
// caller set them holds by construction: a table set after a sync role
// is never applied before that role (the relay handover needs the sync
// daemon's master stopped before the relay table is in the kernel).
type input struct {
	// converge: the sync daemons are to be brought to sync.
	converge bool
	sync     syncInput
	// full: services is the whole desired table and gone the owned
	// services no longer desired; otherwise both cover only the services
	// that changed since the last round.
	full     bool
	services []ipvs.Service
	gone     map[ipvs.ServiceKey]bool
	// keys are the services that changed (not full).
	keys map[ipvs.ServiceKey]bool
}

// syncInput is the sync daemon's part of an input.
type syncInput struct {
	cfg     *SyncSettings
	role    SyncRole
	dropped bool // the config no longer has a sync_daemon: stop lvsd's
}

// take takes the inputs set since the last round: the whole desired table
// when full, else the services that changed. The sync daemons are
// converged when their role or settings changed, or on a fresh round.
func (r *Reconciler) take(full, fresh bool) input {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = r.gen
	in := input{
		converge: r.syncKnown && (r.syncDirty || fresh),
		sync:     syncInput{cfg: r.syncCfg, role: r.syncRole, dropped: r.syncDropped},
		full:     full,
	}
	r.syncDirty = false
	keys := r.pending
	r.pending = nil
	if full {
		// A shallow copy is enough: SetDesired replaces services, it
		// never modifies their destinations.
		in.services = slices.Clone(r.desired.services)
		in.gone = maps.Clone(r.gone)
		return in
	}
	in.keys = keys
	in.services = make([]ipvs.Service, 0, len(keys))
	in.gone = make(map[ipvs.ServiceKey]bool)
	for k := range keys {
		if i, ok := r.desired.index[k]; ok {
			in.services = append(in.services, r.desired.services[i])
		} else if r.gone[k] {
			in.gone[k] = true
		}
	}
	return in
}

// round is one pass of the loop: the sync daemons when their role or
// settings changed (every fresh round looks at them too), then the table;
// fresh rounds, and those without a trusted remembered table, read it
// from the kernel. r.sem is held.
func (r *Reconciler) round(fresh bool) {
	start := time.Now()
	var err error
	if fresh || !r.actualValid {
		err = r.passFull(fresh)
	} else if err = r.passChanged(r.takeChanged(false)); err != nil {
		// The remembered table was wrong: read the kernel's and redo
		// (a full pass covers the changed services too).
		r.log.Info("IPVS kernel refused a change to the remembered table; re-reading it", "err", err)
		err = r.passFull(false)
	}
	if err != nil {
		r.log.Warn("IPVS reconcile incomplete; retrying on the next round", "err", err)
	}
	if r.metrics != nil {
		r.metrics.ObserveReconcile(time.Since(start))
	}
}

// takeChanged takes the changes since the last round and brings the sync
// daemons and the timeouts where they are asked to be: what every pass
// does before it touches the table.
func (r *Reconciler) takeChanged(fresh bool) input {
	in := r.take(false, fresh)
	r.converge(in)
	r.applyTimeouts()
	return in
}

// converge brings the sync daemons to the input's role when it asks for
// it. It runs before the table pass of the same round: a VRRP transition
// must not wait for the table, which can take long on a large table or a
// slow kernel, and a new master whose daemon is not yet sending leaves the
// backups without the connections it schedules meanwhile.
func (r *Reconciler) converge(in input) {
	if !in.converge {
		return
	}
	if err := r.convergeSync(in.sync); err != nil {
		r.log.Warn("IPVS sync daemon not in its role; retrying on the next interval", "err", err)
	}
}

// applyTimeouts writes the connection timeouts when they are pending.
func (r *Reconciler) applyTimeouts() {
	r.mu.Lock()
	t, pending := r.timeouts, r.setTimeouts
	r.mu.Unlock()
	if !pending {
		return
	}
	if err := r.k.SetTimeouts(t); err != nil {
		r.log.Warn("setting IPVS timeouts; retrying on the next round", "err", err)
		return
	}
	r.mu.Lock()
	if r.timeouts == t {
		r.setTimeouts = false
	}
	r.mu.Unlock()
}

// passFull reads the kernel's table, diffs the whole desired table, as it
// is once the table is read, against it and applies the differences. It
// returns an error when the table could not be read or an operation
// failed; r.sem is held.
//
// Reading a table of thousands of services takes long (a dump of their
// destinations each), and the changes that arrive meanwhile (a health
// change, a reload) must not wait for it. When the remembered table is
// trusted, they go through between two services of the read, as rounds
// of their own do (passChanged), and the services they touched are taken
// from the remembered table rather than from the read, which may have
// seen them before the change. Should such a change fail, the remembered
// table is not trusted any more, and the read starts over without them.
func (r *Reconciler) passFull(fresh bool) error {
	interleave := r.actualValid
	touched := make(map[ipvs.ServiceKey]bool)
	through := func(in input) {
		if !interleave {
			return // the diff of the whole table covers them
		}
		maps.Copy(touched, in.keys)
		if err := r.passChanged(in); err != nil {
			interleave = false
		}
	}
	// Changes already waiting go first. Should they fail, the read is a
	// plain one from the start.
	through(r.takeChanged(fresh))
	if !interleave {
		clear(touched)
	}
	actual, err := readTable(r.k, func(k ipvs.ServiceKey) bool {
		if interleave && r.changed() {
			through(r.takeChanged(false))
		}
		return interleave && touched[k.Normalize()]
	})
	if err != nil {
		r.actualValid = false
		return fmt.Errorf("reading the IPVS table: %w", err)
	}
	if len(touched) > 0 {
		if !interleave {
			r.log.Info("IPVS kernel refused a change made during a table read; reading it again")
			return r.passFull(false)
		}
		actual = r.merge(actual, touched)
	}
	in := r.take(true, false)
	r.converge(in)
	r.applyTimeouts()
	r.mu.Lock()
	r.setActual(actual)
	r.actualValid = true
	r.snapshot = Snapshot{Services: actual, ReadAt: time.Now()}
	r.mu.Unlock()
	return r.apply(ipvs.Diff(in.services, actual, func(k ipvs.ServiceKey) bool { return in.gone[k] }), true)
}

// merge replaces the services of touched in the table read by those of
// the remembered table, which the changes made during the read kept
// current; r.sem is held.
func (r *Reconciler) merge(read []ipvs.Service, touched map[ipvs.ServiceKey]bool) []ipvs.Service {
	out := slices.DeleteFunc(read, func(s ipvs.Service) bool { return touched[s.ServiceKey.Normalize()] })
	for k := range touched {
		if i, ok := r.actualIndex[k]; ok {
			out = append(out, r.actual[i])
		}
	}
	slices.SortFunc(out, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return out
}

// readTable reads the kernel's whole table, a service at a time. Before
// each service's destinations it calls skip, when set: a service for which
// skip is true is left without its destinations.
func readTable(k Kernel, skip func(ipvs.ServiceKey) bool) ([]ipvs.Service, error) {
	svcs, err := k.ListServices()
	if err != nil {
		return nil, err
	}
	for i := range svcs {
		if skip != nil && skip(svcs[i].ServiceKey) {
			continue
		}
		if svcs[i].Destinations, err = k.Destinations(svcs[i].ServiceKey); err != nil {
			return nil, err
		}
	}
	return svcs, nil
}

// passChanged diffs the input's changed services, and only them, against
// the remembered table and applies the differences: a service not listed
// is unchanged since the last round, which left it as desired or left the
// table invalid. It returns an error when an operation failed; r.sem is
// held and r.actualValid is true.
func (r *Reconciler) passChanged(in input) error {
	actual := make([]ipvs.Service, 0, len(in.keys))
	for k := range in.keys {
		if i, ok := r.actualIndex[k]; ok {
			actual = append(actual, r.actual[i])
		}
	}
	return r.apply(ipvs.Diff(in.services, actual, func(k ipvs.ServiceKey) bool { return in.gone[k] }), false)
}

// apply sends ops, brings the remembered table past those the kernel
// acknowledged and forgets the services that are gone for good. dumped
// tells whether ops came from a fresh dump: failures of a diff against
// the remembered table are expected when it was stale, and logged quietly.
// r.sem is held.
func (r *Reconciler) apply(ops []ipvs.Op, dumped bool) error {
	var err error
	if len(ops) > 0 {
		results, aerr := r.k.Apply(ops)
		r.advanceActual(results)
		// The failed operations are logged one by one by report; the
		// error only sums them up, since aerr joins every one of them.
		switch failed := r.report(ops, results, !dumped); {
		case failed > 0:
			r.actualValid = false
			err = fmt.Errorf("%d of %d IPVS operations failed", failed, len(ops))
		case aerr != nil:
			r.actualValid = false
			err = fmt.Errorf("applying IPVS operations: %w", aerr)
		}
	}

	r.mu.Lock()
	r.snapshot.Services = r.actual
	r.prune()
	r.mu.Unlock()
	return err
}

// report counts the acknowledged operations for the metrics and logs the
// failed ones; it returns how many failed (an op without a result failed).
// quiet logs failures at debug level: they are expected when the
// remembered table was stale, and the round is repeated from a dump.
func (r *Reconciler) report(ops []ipvs.Op, results []ipvs.OpResult, quiet bool) int {
	done := map[ipvs.OpKind]int{}
	failed, logged := 0, 0
	// Each operation's log attributes cost allocations: a first round
	// sends tens of thousands.
	debug := r.log.Enabled(context.Background(), slog.LevelDebug)
	for i := range ops {
		var err error
		if i < len(results) {
			err = results[i].Err
		} else {
			err = errors.New("no answer from the kernel")
		}
		if err == nil {
			done[ops[i].Kind]++
			if debug {
				r.log.Debug("IPVS operation applied", opAttrs(ops[i])...)
			}
			continue
		}
		failed++
		switch {
		case quiet && !debug:
		case quiet:
			r.log.Debug("IPVS operation failed", append(opAttrs(ops[i]), "err", err)...)
		case logged < maxErrorLogs:
			logged++
			r.log.Warn("IPVS operation failed", append(opAttrs(ops[i]), "err", err)...)
		}
	}
	if !quiet && failed > logged {
		r.log.Warn("more IPVS operations failed", "count", failed-logged)
	}
	if r.metrics != nil {
		for _, k := range slices.Sorted(maps.Keys(done)) {
			r.metrics.IPVSOps(k.String(), done[k])
		}
	}
	return failed
}

// opAttrs are the stable log keys of an operation.
func opAttrs(op ipvs.Op) []any {
	attrs := []any{"op", op.Kind.String(), "service", op.Service.ServiceKey.String()}
	switch op.Kind {
	case ipvs.AddDest, ipvs.UpdateDest, ipvs.DelDest:
		attrs = append(attrs, "server", op.Dest.Addr.String())
	}
	return attrs
}

// prune forgets owned services that are neither desired nor in the
// kernel any more: their deletion is done, and a service with the same key
// added later by hand is not lvsd's. r.mu and r.sem are held and r.actual
// is the kernel's table as far as lvsd knows.
func (r *Reconciler) prune() {
	for k := range r.gone {
		if _, present := r.actualIndex[k]; !present {
			delete(r.gone, k)
			delete(r.owned, k)
		}
	}
}

// Cleanup removes every service lvsd owns from the kernel (cleanup_on_exit)
// and leaves the others. It waits for a round in progress; when ctx ends
// first it returns ctx's error. A service already gone is not an error.
func (r *Reconciler) Cleanup(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("cleaning up IPVS: %w", ctx.Err())
	}
	defer func() { <-r.sem }()

	actual, err := readTable(r.k, nil)
	if err != nil {
		return fmt.Errorf("cleaning up IPVS: %w", err)
	}
	r.mu.Lock()
	var ops []ipvs.Op
	for i := range actual {
		k := actual[i].ServiceKey.Normalize()
		if r.owned[k] {
			ops = append(ops, ipvs.Op{Kind: ipvs.DelService, Service: ipvs.Service{ServiceKey: k}})
		}
	}
	r.setActual(actual)
	r.actualValid = false
	r.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	results, aerr := r.k.Apply(ops)
	r.advanceActual(results)
	r.report(ops, results, false)
	r.mu.Lock()
	r.snapshot = Snapshot{Services: r.actual, ReadAt: time.Now()}
	r.mu.Unlock()

	var errs []error
	for i := range ops {
		switch {
		case i >= len(results):
			errs = append(errs, fmt.Errorf("%s: no answer from the kernel", ops[i]))
		case results[i].Err != nil && !errors.Is(results[i].Err, syscall.ESRCH):
			errs = append(errs, results[i].Err)
		}
	}
	if len(errs) == 0 && aerr != nil && len(results) < len(ops) {
		errs = append(errs, aerr)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up IPVS: %w", err)
	}
	return nil
}

// cloneServices copies services and their destination slices.
func cloneServices(svcs []ipvs.Service) []ipvs.Service {
	if svcs == nil {
		return nil
	}
	out := slices.Clone(svcs)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
	}
	return out
}
