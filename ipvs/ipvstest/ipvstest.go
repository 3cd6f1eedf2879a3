// Package ipvstest provides an IPVS kernel in memory for the tests of code
// that programs IPVS through an ipvs.Client, as net/http/httptest does for
// HTTP: a Kernel has the Client's table and sync daemon methods, answers
// them as net/netfilter/ipvs/ip_vs_ctl.c does (EEXIST, ESRCH, ENOENT) and
// records every request, so a test can check what was asked and how often.
//
// The Client's own encoding is checked elsewhere, against a fake generic
// netlink kernel and against the real kernel in the VM lab; this fake sits
// above it.
package ipvstest

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lvsd/lvsd/ipvs"
)

// Kernel is an IPVS table and its sync daemons. The zero value is an empty
// kernel, ready to use. Its fields are the table and the record of what
// was asked; a test that reads or changes them while the code under test
// runs holds the Kernel's lock (Lock, Unlock), as Kernel's methods do.
type Kernel struct {
	sync.Mutex

	// Table is the service table, kept in ServiceKey.Compare order, each
	// service's destinations in address order.
	Table []ipvs.Service
	// Daemons are the running sync daemons.
	Daemons []ipvs.SyncDaemon
	// Active, when it holds a destination address, is the number of
	// active connections a dump reports for it, in every service.
	Active map[netip.AddrPort]uint32

	// Refuse, when set, makes the kernel answer an operation with the
	// error it returns.
	Refuse func(ipvs.Op) error
	// DumpErr, when set, fails the dumps: Services, ListServices and
	// Destinations.
	DumpErr error
	// StartErr, when set, is StartSyncDaemon's answer.
	StartErr error
	// Hold, when set, makes Apply wait until it is closed (a slow kernel);
	// HoldDump does the same to Services and ListServices.
	Hold, HoldDump chan struct{}
	// OnDestinations, when set, is called with the key at the start of
	// every Destinations call, without the lock held: a test's view of a
	// table read under way.
	OnDestinations func(ipvs.ServiceKey)

	// Requests counts the requests the real client would send: a dump
	// costs one plus one per service (ListServices one, Destinations one),
	// an Apply one per operation, any other call one. Dumps counts the
	// ListServices calls that succeeded (Services makes one).
	Requests, Dumps int
	// Batches holds every Apply's operations.
	Batches [][]ipvs.Op
	// InFlight is the number of Services and Apply calls under way, and
	// MaxInFlight the most there ever were at once.
	InFlight, MaxInFlight int
	// Timeouts holds every SetTimeouts call's argument.
	Timeouts []ipvs.Timeouts
	// SyncCalls lists the sync daemon calls ("start master eth1 5", "stop
	// backup"), and Order those and every applied operation ("apply " and
	// OpName) in the order the kernel saw them.
	SyncCalls []string
	Order     []string
}

func (k *Kernel) enter() func() {
	k.Lock()
	k.InFlight++
	k.MaxInFlight = max(k.MaxInFlight, k.InFlight)
	k.Unlock()
	return func() {
		k.Lock()
		k.InFlight--
		k.Unlock()
	}
}

// wait blocks on the channel *ch names, if set, without holding the lock.
func (k *Kernel) wait(ch *chan struct{}) {
	k.Lock()
	hold := *ch
	k.Unlock()
	if hold != nil {
		<-hold
	}
}

// Services dumps the table as the client does: ListServices, then
// Destinations of each service.
func (k *Kernel) Services() ([]ipvs.Service, error) {
	svcs, err := k.ListServices()
	if err != nil {
		return nil, err
	}
	for i := range svcs {
		if svcs[i].Destinations, err = k.Destinations(svcs[i].ServiceKey); err != nil {
			return nil, err
		}
	}
	return svcs, nil
}

// ListServices dumps the services without their destinations.
func (k *Kernel) ListServices() ([]ipvs.Service, error) {
	defer k.enter()()
	k.wait(&k.HoldDump)
	k.Lock()
	defer k.Unlock()
	k.Requests++
	if k.DumpErr != nil {
		return nil, k.DumpErr
	}
	k.Dumps++
	out := slices.Clone(k.Table)
	for i := range out {
		out[i].Destinations = nil
	}
	return out, nil
}

// Destinations dumps the destinations of the service key; a service the
// table does not have has none, as the kernel answers.
func (k *Kernel) Destinations(key ipvs.ServiceKey) ([]ipvs.Destination, error) {
	defer k.enter()()
	k.Lock()
	hook := k.OnDestinations
	k.Unlock()
	if hook != nil {
		hook(key)
	}
	k.Lock()
	defer k.Unlock()
	k.Requests++
	if k.DumpErr != nil {
		return nil, k.DumpErr
	}
	i, found := slices.BinarySearchFunc(k.Table, key.Normalize(), func(s ipvs.Service, key ipvs.ServiceKey) int { return s.ServiceKey.Compare(key) })
	if !found || len(k.Table[i].Destinations) == 0 {
		return nil, nil
	}
	ds := slices.Clone(k.Table[i].Destinations)
	k.setActive(ds)
	return ds, nil
}

// setActive puts the active connection counts of k.Active in ds; k is
// locked.
func (k *Kernel) setActive(ds []ipvs.Destination) {
	for j := range ds {
		if n, ok := k.Active[ds[j].Addr]; ok {
			ds[j].ActiveConns = n
		}
	}
}

// Apply executes ops in order, each as the kernel answers it, and joins
// the errors of those that failed.
func (k *Kernel) Apply(ops []ipvs.Op) ([]ipvs.OpResult, error) {
	defer k.enter()()
	k.wait(&k.Hold)
	k.Lock()
	defer k.Unlock()
	k.Requests += len(ops)
	k.Batches = append(k.Batches, slices.Clone(ops))
	results := make([]ipvs.OpResult, len(ops))
	var errs []error
	for i, op := range ops {
		k.Order = append(k.Order, "apply "+OpName(op))
		results[i].Op = op
		if err := k.apply(op); err != nil {
			results[i].Err = fmt.Errorf("%s: %w", op, err)
			errs = append(errs, results[i].Err)
		}
	}
	return results, errors.Join(errs...)
}

// apply executes one op as ip_vs_ctl.c answers it; k is locked.
func (k *Kernel) apply(op ipvs.Op) error {
	if k.Refuse != nil {
		if err := k.Refuse(op); err != nil {
			return err
		}
	}
	key := op.Service.ServiceKey.Normalize()
	// The table is kept in key order, so a lookup is a binary search: a
	// benchmark of a large table measures the code under test, not the
	// fake.
	i, found := slices.BinarySearchFunc(k.Table, key, func(s ipvs.Service, key ipvs.ServiceKey) int { return s.ServiceKey.Compare(key) })
	if op.Kind == ipvs.AddService {
		if found {
			return syscall.EEXIST
		}
		s := op.Service
		s.ServiceKey = key
		s.Destinations = nil
		s.Flags |= ipvs.FlagHashed // as the kernel reports it
		k.Table = slices.Insert(k.Table, i, s)
		return nil
	}
	if !found {
		return syscall.ESRCH
	}
	s := &k.Table[i]
	j := slices.IndexFunc(s.Destinations, func(d ipvs.Destination) bool { return d.Addr == op.Dest.Addr })
	switch op.Kind {
	case ipvs.UpdateService:
		// ip_vs_edit_service: the settings change, the destinations
		// and counters stay.
		s.Scheduler, s.Flags, s.Timeout, s.Netmask = op.Service.Scheduler, op.Service.Flags|ipvs.FlagHashed, op.Service.Timeout, op.Service.Netmask
	case ipvs.DelService:
		k.Table = slices.Delete(k.Table, i, i+1)
	case ipvs.AddDest:
		if j >= 0 {
			return syscall.EEXIST
		}
		d := op.Dest
		d.ActiveConns, d.InactiveConns, d.PersistConns, d.Stats = 0, 0, 0, ipvs.Stats{}
		s.Destinations = append(s.Destinations, d)
		slices.SortFunc(s.Destinations, func(a, b ipvs.Destination) int { return a.Addr.Compare(b.Addr) })
	case ipvs.UpdateDest:
		if j < 0 {
			return syscall.ENOENT
		}
		// ip_vs_edit_dest: the settings change, the counters stay.
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

// SetTimeouts records t.
func (k *Kernel) SetTimeouts(t ipvs.Timeouts) error {
	k.Lock()
	defer k.Unlock()
	k.Requests++
	k.Timeouts = append(k.Timeouts, t)
	return nil
}

// SyncDaemons lists the running sync daemons.
func (k *Kernel) SyncDaemons() ([]ipvs.SyncDaemon, error) {
	k.Lock()
	defer k.Unlock()
	k.Requests++
	return slices.Clone(k.Daemons), nil
}

// StartSyncDaemon starts d; one daemon of each state may run.
func (k *Kernel) StartSyncDaemon(d ipvs.SyncDaemon) error {
	k.Lock()
	defer k.Unlock()
	k.Requests++
	call := fmt.Sprintf("start %s %s %d", d.State, d.Interface, d.SyncID)
	k.SyncCalls = append(k.SyncCalls, call)
	k.Order = append(k.Order, call)
	if k.StartErr != nil {
		return k.StartErr
	}
	if slices.ContainsFunc(k.Daemons, func(x ipvs.SyncDaemon) bool { return x.State == d.State }) {
		return fmt.Errorf("starting IPVS %s sync daemon: %w", d.State, syscall.EEXIST)
	}
	k.Daemons = append(k.Daemons, d)
	return nil
}

// StopSyncDaemon stops the daemon of state s.
func (k *Kernel) StopSyncDaemon(s ipvs.SyncState) error {
	k.Lock()
	defer k.Unlock()
	k.Requests++
	call := "stop " + s.String()
	k.SyncCalls = append(k.SyncCalls, call)
	k.Order = append(k.Order, call)
	i := slices.IndexFunc(k.Daemons, func(x ipvs.SyncDaemon) bool { return x.State == s })
	if i < 0 {
		return fmt.Errorf("stopping IPVS %s sync daemon: %w", s, syscall.ESRCH)
	}
	k.Daemons = slices.Delete(k.Daemons, i, i+1)
	return nil
}

// The hand edits a test makes, as an administrator would with ipvsadm.

// Flush empties the table, as ipvsadm -C.
func (k *Kernel) Flush() {
	k.Lock()
	defer k.Unlock()
	k.Table = nil
}

// AddByHand adds s and its destinations, as ipvsadm -A and -a.
func (k *Kernel) AddByHand(s ipvs.Service) {
	k.Lock()
	defer k.Unlock()
	s = Clone([]ipvs.Service{s})[0]
	k.Table = append(k.Table, s)
	slices.SortFunc(k.Table, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
}

// EditDest changes the destination addr of the service key, as ipvsadm -e
// (or traffic moving a counter); it panics if there is none.
func (k *Kernel) EditDest(key ipvs.ServiceKey, addr string, edit func(*ipvs.Destination)) {
	k.Lock()
	defer k.Unlock()
	for i := range k.Table {
		if k.Table[i].ServiceKey != key.Normalize() {
			continue
		}
		for j := range k.Table[i].Destinations {
			if k.Table[i].Destinations[j].Addr == netip.MustParseAddrPort(addr) {
				edit(&k.Table[i].Destinations[j])
				return
			}
		}
	}
	panic("ipvstest: EditDest: no destination " + addr)
}

// SetActive makes dumps report n active connections for the destination
// address addr, in every service.
func (k *Kernel) SetActive(addr string, n uint32) {
	k.Lock()
	defer k.Unlock()
	if k.Active == nil {
		k.Active = make(map[netip.AddrPort]uint32)
	}
	k.Active[netip.MustParseAddrPort(addr)] = n
}

// Save returns the table as ipvsadm -S -n prints it.
func (k *Kernel) Save() string {
	k.Lock()
	defer k.Unlock()
	return Save(k.Table)
}

// Stats returns the requests, dumps and Apply calls so far.
func (k *Kernel) Stats() (requests, dumps, batches int) {
	k.Lock()
	defer k.Unlock()
	return k.Requests, k.Dumps, len(k.Batches)
}

// LastBatch returns the operations of the last Apply, nil before any.
func (k *Kernel) LastBatch() []ipvs.Op {
	k.Lock()
	defer k.Unlock()
	if len(k.Batches) == 0 {
		return nil
	}
	return k.Batches[len(k.Batches)-1]
}

// Save returns svcs as ipvsadm -S -n prints them.
func Save(svcs []ipvs.Service) string {
	var b strings.Builder
	if err := ipvs.WriteSave(&b, svcs); err != nil {
		panic(err)
	}
	return b.String()
}

// Clone copies svcs and their destinations.
func Clone(svcs []ipvs.Service) []ipvs.Service {
	if svcs == nil {
		return nil
	}
	out := slices.Clone(svcs)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
	}
	return out
}

// OpName is an operation as the tests compare it: "add_destination
// tcp/192.0.2.10:80 198.51.100.1:80 w1".
func OpName(op ipvs.Op) string {
	s := op.Kind.String() + " " + op.Service.ServiceKey.String()
	switch op.Kind {
	case ipvs.AddDest, ipvs.UpdateDest, ipvs.DelDest:
		s += fmt.Sprintf(" %s w%d", op.Dest.Addr, op.Dest.Weight)
	}
	return s
}
