package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/ipvs"
)

// fakeKernel is an IPVS table in memory with the kernel's answers (EEXIST,
// ESRCH, ENOENT). It records every request so tests can count them the way
// the real client does: a dump costs one request plus one per service, an
// Apply one per operation.
type fakeKernel struct {
	mu       sync.Mutex
	table    []ipvs.Service // in ServiceKey.Compare order
	requests int
	dumps    int
	batches  [][]ipvs.Op
	// refuse, when set, makes the kernel answer an operation with an error.
	refuse func(ipvs.Op) error
	// dumpErr, when set, fails Services.
	dumpErr error
	// hold, when set, makes Apply wait until it is closed (a slow kernel);
	// holdDump does the same to Services.
	hold        chan struct{}
	holdDump    chan struct{}
	inFlight    int
	maxInFlight int

	timeouts  []ipvs.Timeouts
	daemons   []ipvs.SyncDaemon
	syncCalls []string
	startErr  error // answer of StartSyncDaemon, when set
	// order lists the sync daemon calls and the applied batches in the
	// order the kernel saw them ("stop master", "apply add_destination
	// …").
	order []string
}

var _ Kernel = (*fakeKernel)(nil)

func (k *fakeKernel) enter() func() {
	k.mu.Lock()
	k.inFlight++
	k.maxInFlight = max(k.maxInFlight, k.inFlight)
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		k.inFlight--
		k.mu.Unlock()
	}
}

func (k *fakeKernel) Services() ([]ipvs.Service, error) {
	defer k.enter()()
	k.mu.Lock()
	hold := k.holdDump
	k.mu.Unlock()
	if hold != nil {
		<-hold
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests++
	if k.dumpErr != nil {
		return nil, k.dumpErr
	}
	k.dumps++
	k.requests += len(k.table)
	return cloneServices(k.table), nil
}

func (k *fakeKernel) Apply(ops []ipvs.Op) ([]ipvs.OpResult, error) {
	defer k.enter()()
	k.mu.Lock()
	hold := k.hold
	k.mu.Unlock()
	if hold != nil {
		<-hold
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests += len(ops)
	k.batches = append(k.batches, slices.Clone(ops))
	for _, name := range opNames(ops) {
		k.order = append(k.order, "apply "+name)
	}
	results := make([]ipvs.OpResult, len(ops))
	var errs []error
	for i, op := range ops {
		results[i].Op = op
		err := k.apply(op)
		if err != nil {
			results[i].Err = fmt.Errorf("%s: %w", op, err)
			errs = append(errs, results[i].Err)
		}
	}
	return results, errors.Join(errs...)
}

// apply executes one op as ip_vs_ctl.c answers it; k.mu is held.
func (k *fakeKernel) apply(op ipvs.Op) error {
	if k.refuse != nil {
		if err := k.refuse(op); err != nil {
			return err
		}
	}
	key := op.Service.ServiceKey.Normalize()
	// The table is kept in key order, so a lookup is a binary search: a
	// benchmark of a large table measures the reconciler, not the fake.
	i, found := slices.BinarySearchFunc(k.table, key, func(s ipvs.Service, key ipvs.ServiceKey) int { return s.ServiceKey.Compare(key) })
	if !found {
		i = -1
	}
	if op.Kind == ipvs.AddService {
		if i >= 0 {
			return syscall.EEXIST
		}
		s := op.Service
		s.ServiceKey = key
		s.Destinations = nil
		s.Flags |= ipvs.FlagHashed // as the kernel reports it
		k.table = append(k.table, s)
		slices.SortFunc(k.table, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
		return nil
	}
	if i < 0 {
		return syscall.ESRCH
	}
	s := &k.table[i]
	j := slices.IndexFunc(s.Destinations, func(d ipvs.Destination) bool { return d.Addr == op.Dest.Addr })
	switch op.Kind {
	case ipvs.UpdateService:
		setServiceSettings(s, &op.Service)
		s.Flags |= ipvs.FlagHashed
	case ipvs.DelService:
		k.table = slices.Delete(k.table, i, i+1)
	case ipvs.AddDest:
		if j >= 0 {
			return syscall.EEXIST
		}
		s.Destinations = append(s.Destinations, op.Dest)
		slices.SortFunc(s.Destinations, func(a, b ipvs.Destination) int { return a.Addr.Compare(b.Addr) })
	case ipvs.UpdateDest:
		if j < 0 {
			return syscall.ENOENT
		}
		d := &s.Destinations[j]
		d.Forward, d.Weight, d.UpperThreshold, d.LowerThreshold = op.Dest.Forward, op.Dest.Weight, op.Dest.UpperThreshold, op.Dest.LowerThreshold
	case ipvs.DelDest:
		if j < 0 {
			return syscall.ENOENT
		}
		s.Destinations = slices.Delete(s.Destinations, j, j+1)
	default:
		return syscall.EINVAL
	}
	return nil
}

func (k *fakeKernel) SetTimeouts(t ipvs.Timeouts) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests++
	k.timeouts = append(k.timeouts, t)
	return nil
}

func (k *fakeKernel) SyncDaemons() ([]ipvs.SyncDaemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests++
	return slices.Clone(k.daemons), nil
}

func (k *fakeKernel) StartSyncDaemon(d ipvs.SyncDaemon) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests++
	k.syncCalls = append(k.syncCalls, fmt.Sprintf("start %s %s %d", d.State, d.Interface, d.SyncID))
	k.order = append(k.order, k.syncCalls[len(k.syncCalls)-1])
	if k.startErr != nil {
		return k.startErr
	}
	if slices.ContainsFunc(k.daemons, func(x ipvs.SyncDaemon) bool { return x.State == d.State }) {
		return fmt.Errorf("starting IPVS %s sync daemon: %w", d.State, syscall.EEXIST)
	}
	k.daemons = append(k.daemons, d)
	return nil
}

func (k *fakeKernel) StopSyncDaemon(s ipvs.SyncState) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests++
	k.syncCalls = append(k.syncCalls, "stop "+s.String())
	k.order = append(k.order, k.syncCalls[len(k.syncCalls)-1])
	i := slices.IndexFunc(k.daemons, func(x ipvs.SyncDaemon) bool { return x.State == s })
	if i < 0 {
		return fmt.Errorf("stopping IPVS %s sync daemon: %w", s, syscall.ESRCH)
	}
	k.daemons = slices.Delete(k.daemons, i, i+1)
	return nil
}

// The hand edits a test makes, as an administrator would with ipvsadm.

// flush is ipvsadm -C.
func (k *fakeKernel) flush() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.table = nil
}

// addByHand is ipvsadm -A (and -a for its destinations).
func (k *fakeKernel) addByHand(s ipvs.Service) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s = cloneServices([]ipvs.Service{s})[0]
	k.table = append(k.table, s)
	slices.SortFunc(k.table, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
}

// editDest is ipvsadm -e on one destination (or a counter changing).
func (k *fakeKernel) editDest(key ipvs.ServiceKey, addr string, edit func(*ipvs.Destination)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range k.table {
		if k.table[i].ServiceKey != key.Normalize() {
			continue
		}
		for j := range k.table[i].Destinations {
			if k.table[i].Destinations[j].Addr == netip.MustParseAddrPort(addr) {
				edit(&k.table[i].Destinations[j])
				return
			}
		}
	}
	panic("editDest: no destination " + addr)
}

// save returns the table as ipvsadm -S -n prints it.
func (k *fakeKernel) save() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return save(k.table)
}

func (k *fakeKernel) stats() (requests, dumps, batches int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.requests, k.dumps, len(k.batches)
}

func (k *fakeKernel) lastBatch() []ipvs.Op {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.batches) == 0 {
		return nil
	}
	return k.batches[len(k.batches)-1]
}

func save(svcs []ipvs.Service) string {
	var b strings.Builder
	if err := ipvs.WriteSave(&b, svcs); err != nil {
		panic(err)
	}
	return b.String()
}

// recordingMetrics records what the reconciler reports.
type recordingMetrics struct {
	mu     sync.Mutex
	ops    map[string]int
	rounds []time.Duration
}

func (m *recordingMetrics) ObserveReconcile(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rounds = append(m.rounds, d)
}

func (m *recordingMetrics) IPVSOps(op string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ops == nil {
		m.ops = map[string]int{}
	}
	m.ops[op] += n
}

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// lines returns the records of level at least min as "MESSAGE k=v k=v".
func (h *logRecorder) lines(min slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Level < min {
			continue
		}
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "err" {
				line += " " + a.Key + "=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}
