package reconcile

import (
	"slices"

	"github.com/lvsd/lvsd/ipvs"
)

// desiredTable is the reconciler's own copy of the desired table: the
// services in the caller's order, keys normalised, sharing no memory with
// any caller. A service's destination slice is never modified once stored
// (a change stores a new one), so a shallow copy of services is a safe
// snapshot.
type desiredTable struct {
	services []ipvs.Service
	index    map[ipvs.ServiceKey]int // first position of each key
}

// desiredUpdate is what a new desired table changes in the old one. It is
// computed from the old table (diff) and applied to it (apply) in two
// steps, so that the comparison, which reads the whole table, runs without
// the lock that rounds take.
type desiredUpdate struct {
	// Either the changed services are replaced where they are (the keys
	// are the same, in the same order: a health change) ...
	at    []int
	svcs  []ipvs.Service
	table *desiredTable // ... or the table is replaced (a reload).

	changed []ipvs.ServiceKey // services that differ, appeared or went
	added   []ipvs.ServiceKey // keys not desired before
	removed []ipvs.ServiceKey // keys no longer desired
}

// diff compares next, a desired table as the caller built it (plan.Services
// rebuilds every service on each health change, so values are compared,
// not pointers), with t. Services are compared by what IPVS programs:
// counters do not count. The cost is one pass over next and a copy of the
// services that changed only, unless the keys themselves changed.
func (t *desiredTable) diff(next []ipvs.Service) desiredUpdate {
	var u desiredUpdate
	if len(next) == len(t.services) {
		same := true
		for i := range next {
			old := &t.services[i]
			if next[i].ServiceKey.Normalize() != old.ServiceKey {
				same = false
				break
			}
			if !sameService(&next[i], old) {
				u.at = append(u.at, i)
				u.svcs = append(u.svcs, copyService(&next[i], old.ServiceKey))
				u.changed = append(u.changed, old.ServiceKey)
			}
		}
		if same {
			return u
		}
		u = desiredUpdate{}
	}

	tab := &desiredTable{
		services: make([]ipvs.Service, len(next)),
		index:    make(map[ipvs.ServiceKey]int, len(next)),
	}
	for i := range next {
		k := next[i].ServiceKey.Normalize()
		_, dup := tab.index[k]
		if !dup {
			tab.index[k] = i
		}
		j, had := t.index[k]
		if had && sameService(&next[i], &t.services[j]) {
			tab.services[i] = t.services[j]
			continue
		}
		tab.services[i] = copyService(&next[i], k)
		// Of a key listed twice only the first counts, as in ipvs.Diff.
		if !dup {
			u.changed = append(u.changed, k)
			if !had {
				u.added = append(u.added, k)
			}
		}
	}
	for k := range t.index {
		if _, ok := tab.index[k]; !ok {
			u.changed = append(u.changed, k)
			u.removed = append(u.removed, k)
		}
	}
	u.table = tab
	return u
}

// apply makes t the table diff was given.
func (t *desiredTable) apply(u desiredUpdate) {
	if u.table != nil {
		*t = *u.table
		return
	}
	for j, i := range u.at {
		t.services[i] = u.svcs[j]
	}
}

// sameService reports whether the caller's service a programs what the
// stored service b does; b's key is normalised.
func sameService(a, b *ipvs.Service) bool {
	if a.ServiceKey.Normalize() != b.ServiceKey ||
		a.Scheduler != b.Scheduler || a.Flags != b.Flags ||
		a.Timeout != b.Timeout || a.Netmask != b.Netmask ||
		len(a.Destinations) != len(b.Destinations) {
		return false
	}
	for i := range a.Destinations {
		x, y := &a.Destinations[i], &b.Destinations[i]
		if x.Addr != y.Addr || x.Forward != y.Forward || x.Weight != y.Weight ||
			x.UpperThreshold != y.UpperThreshold || x.LowerThreshold != y.LowerThreshold ||
			x.TunnelType != y.TunnelType || x.TunnelPort != y.TunnelPort || x.TunnelFlags != y.TunnelFlags {
			return false
		}
	}
	return true
}

// copyService returns s with key k and its own destination slice.
func copyService(s *ipvs.Service, k ipvs.ServiceKey) ipvs.Service {
	c := *s
	c.ServiceKey = k
	c.Destinations = slices.Clone(s.Destinations)
	return c
}
