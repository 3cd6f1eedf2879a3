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
	out := slices.Clone(table)
	index := make(map[ipvs.ServiceKey]int, len(out))
	for i := range out {
		index[out[i].ServiceKey.Normalize()] = i
	}
	gone := map[int]bool{}
	// Destinations of the services operations touch, by address; their
	// slices are rebuilt at the end so that a large cold start stays linear.
	edits := map[int]map[netip.AddrPort]ipvs.Destination{}
	dests := func(i int) map[netip.AddrPort]ipvs.Destination {
		m := edits[i]
		if m == nil {
			m = make(map[netip.AddrPort]ipvs.Destination, len(out[i].Destinations)+1)
			for _, d := range out[i].Destinations {
				m[d.Addr] = d
			}
			edits[i] = m
		}
		return m
	}

	for _, res := range results {
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
			}
			setServiceSettings(&out[i], &op.Service)
		case ipvs.UpdateService:
			if ok {
				setServiceSettings(&out[i], &op.Service)
			}
		case ipvs.DelService:
			if ok {
				gone[i] = true
				delete(index, k)
				delete(edits, i)
			}
		case ipvs.AddDest, ipvs.UpdateDest:
			if ok {
				m := dests(i)
				d := m[op.Dest.Addr]
				d.Addr = op.Dest.Addr
				d.Forward = op.Dest.Forward
				d.Weight = op.Dest.Weight
				d.UpperThreshold = op.Dest.UpperThreshold
				d.LowerThreshold = op.Dest.LowerThreshold
				d.TunnelType = op.Dest.TunnelType
				d.TunnelPort = op.Dest.TunnelPort
				d.TunnelFlags = op.Dest.TunnelFlags
				m[op.Dest.Addr] = d
			}
		case ipvs.DelDest:
			if ok {
				delete(dests(i), op.Dest.Addr)
			}
		}
	}

	kept := out[:0:0]
	for i := range out {
		if gone[i] {
			continue
		}
		s := out[i]
		if m, ok := edits[i]; ok {
			s.Destinations = nil
			if len(m) > 0 {
				s.Destinations = make([]ipvs.Destination, 0, len(m))
				for _, d := range m {
					s.Destinations = append(s.Destinations, d)
				}
				slices.SortFunc(s.Destinations, func(a, b ipvs.Destination) int { return a.Addr.Compare(b.Addr) })
			}
		}
		kept = append(kept, s)
	}
	slices.SortFunc(kept, func(a, b ipvs.Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return kept
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
