package reconcile

import (
	"net/netip"
	"slices"

	"github.com/lvsd/lvsd/ipvs"
)

// advance returns the kernel's table after the operations of results that
// the kernel acknowledged, as a dump would report it: a new service or
// destination has zero counters, an updated one keeps its counters. Failed
// operations change nothing. table is not modified; the result shares the
// destination slices of the services no operation touched. Services come
// in ServiceKey.Compare order and destinations in address order, as
// ipvs.Client.Services returns them.
//
// This is how a health change avoids a dump: the next round diffs against
// this table instead of reading the kernel's again.
func advance(table []ipvs.Service, results []ipvs.OpResult) []ipvs.Service {
	added := 0
	for i := range results {
		if results[i].Op.Kind == ipvs.AddService {
			added++
		}
	}
	out := append(make([]ipvs.Service, 0, len(table)+added), table...)
	index := make(map[ipvs.ServiceKey]int, len(out)+added)
	for i := range out {
		index[out[i].ServiceKey.Normalize()] = i
	}
	var gone []bool // by position in out
	// The destinations of the services operations touch, by position in
	// out; their slices are rebuilt at the end, so that a large cold start
	// stays linear.
	edits := make([]*destSet, len(out), len(out)+added)
	dests := func(i int) *destSet {
		if edits[i] == nil {
			edits[i] = newDestSet(out[i].Destinations)
		}
		return edits[i]
	}

	for r := range results {
		res := &results[r]
		if res.Err != nil {
			continue
		}
		op := &res.Op
		k := op.Service.ServiceKey.Normalize()
		i, ok := index[k]
		switch op.Kind {
		case ipvs.AddService:
			if !ok {
				out = append(out, ipvs.Service{ServiceKey: k})
				i = len(out) - 1
				index[k] = i
				// A new service's destinations are all in the results,
				// as a diff lists them: right after it.
				n := 0
				for j := r + 1; j < len(results) && results[j].Op.Kind == ipvs.AddDest &&
					results[j].Op.Service.ServiceKey == op.Service.ServiceKey; j++ {
					n++
				}
				edits = append(edits, &destSet{list: make([]ipvs.Destination, 0, n)})
			}
			setServiceSettings(&out[i], &op.Service)
		case ipvs.UpdateService:
			if ok {
				setServiceSettings(&out[i], &op.Service)
			}
		case ipvs.DelService:
			if ok {
				if gone == nil {
					gone = make([]bool, len(table))
				}
				for len(gone) <= i {
					gone = append(gone, false)
				}
				gone[i] = true
				delete(index, k)
				edits[i] = nil
			}
		case ipvs.AddDest, ipvs.UpdateDest:
			if ok {
				ds := dests(i)
				d := ds.get(op.Dest.Addr)
				d.Addr = op.Dest.Addr
				d.Forward = op.Dest.Forward
				d.Weight = op.Dest.Weight
				d.UpperThreshold = op.Dest.UpperThreshold
				d.LowerThreshold = op.Dest.LowerThreshold
				d.TunnelType = op.Dest.TunnelType
				d.TunnelPort = op.Dest.TunnelPort
				d.TunnelFlags = op.Dest.TunnelFlags
				ds.put(d)
			}
		case ipvs.DelDest:
			if ok {
				dests(i).remove(op.Dest.Addr)
			}
		}
	}

	kept := out[:0:0]
	for i := range out {
		if i < len(gone) && gone[i] {
			continue
		}
		s := out[i]
		if ds := edits[i]; ds != nil {
			s.Destinations = nil
			if len(ds.list) > 0 {
				s.Destinations = ds.list
				slices.SortFunc(s.Destinations, func(a, b ipvs.Destination) int { return a.Addr.Compare(b.Addr) })
			}
		}
		kept = append(kept, s)
	}
	slices.SortFunc(kept, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return kept
}

// destSet is one service's destinations while advance applies
// operations to them: a list, searched in turn while it is short (as most
// services' are) and through an index by address once it is long.
type destSet struct {
	list  []ipvs.Destination
	index map[netip.AddrPort]int // nil while the list is short
}

// destSetIndexed is the length from which a destSet keeps an index.
const destSetIndexed = 16

// newDestSet starts a set from a service's destinations, which it copies.
func newDestSet(ds []ipvs.Destination) *destSet {
	s := &destSet{list: append(make([]ipvs.Destination, 0, len(ds)+1), ds...)}
	if len(s.list) >= destSetIndexed {
		s.reindex()
	}
	return s
}

func (s *destSet) reindex() {
	s.index = make(map[netip.AddrPort]int, 2*len(s.list))
	for i := range s.list {
		s.index[s.list[i].Addr] = i
	}
}

func (s *destSet) find(a netip.AddrPort) int {
	if s.index != nil {
		if i, ok := s.index[a]; ok {
			return i
		}
		return -1
	}
	for i := range s.list {
		if s.list[i].Addr == a {
			return i
		}
	}
	return -1
}

// get returns the destination at a, or a zero one.
func (s *destSet) get(a netip.AddrPort) ipvs.Destination {
	if i := s.find(a); i >= 0 {
		return s.list[i]
	}
	return ipvs.Destination{}
}

// put sets the destination at d.Addr to d.
func (s *destSet) put(d ipvs.Destination) {
	if i := s.find(d.Addr); i >= 0 {
		s.list[i] = d
		return
	}
	s.list = append(s.list, d)
	switch {
	case s.index != nil:
		s.index[d.Addr] = len(s.list) - 1
	case len(s.list) >= destSetIndexed:
		s.reindex()
	}
}

// remove deletes the destination at a, if there is one; the list's order
// changes.
func (s *destSet) remove(a netip.AddrPort) {
	i := s.find(a)
	if i < 0 {
		return
	}
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.list = s.list[:last]
	if s.index != nil {
		delete(s.index, a)
		if i < last {
			s.index[s.list[i].Addr] = i
		}
	}
}

// setServiceSettings copies what an AddService or UpdateService op sets.
func setServiceSettings(dst, op *ipvs.Service) {
	dst.Scheduler = op.Scheduler
	dst.Flags = op.Flags
	dst.Timeout = op.Timeout
	dst.Netmask = op.Netmask
}

// setActual makes table the remembered kernel table and indexes it. r.sem
// and r.mu are held.
func (r *Reconciler) setActual(table []ipvs.Service) {
	r.actual = table
	if r.actualIndex == nil {
		r.actualIndex = make(map[ipvs.ServiceKey]int, len(table))
	}
	clear(r.actualIndex)
	for i := range table {
		k := table[i].ServiceKey.Normalize()
		if _, dup := r.actualIndex[k]; !dup {
			r.actualIndex[k] = i
		}
	}
}

// advanceActual brings the remembered table past the operations of results
// that the kernel acknowledged, as advance does. When they only change
// services the table has (every health change does), those services are
// replaced where they are, in time proportional to the change; when they
// add or delete a service, the table is rebuilt. r.sem is held; r.mu is
// taken for the writes, which the snapshot shares.
func (r *Reconciler) advanceActual(results []ipvs.OpResult) {
	var touched []int
	seen := make(map[int]bool)
	for i := range results {
		res := &results[i]
		if res.Err != nil {
			continue
		}
		at, ok := r.actualIndex[res.Op.Service.ServiceKey.Normalize()]
		switch {
		case !ok && res.Op.Kind == ipvs.AddService, ok && res.Op.Kind == ipvs.DelService:
			table := advance(r.actual, results)
			r.mu.Lock()
			r.setActual(table)
			r.mu.Unlock()
			return
		case ok && !seen[at]:
			seen[at] = true
			touched = append(touched, at)
		}
	}
	if len(touched) == 0 {
		return
	}
	part := make([]ipvs.Service, len(touched))
	for j, at := range touched {
		part[j] = r.actual[at]
	}
	// Every acknowledged operation is on a service of part, none adds or
	// deletes one: advance returns the same services, changed.
	part = advance(part, results)
	r.mu.Lock()
	for j := range part {
		r.actual[r.actualIndex[part[j].ServiceKey.Normalize()]] = part[j]
	}
	r.mu.Unlock()
}
