package ipvs

import (
	"slices"
	"time"
)

// Diff returns the operations that turn the kernel's table (actual, as
// Client.Services reports it) into the desired one, and nothing else: an
// unchanged service or destination costs no operation.
//
//   - A desired service missing from actual is added, then each of its
//     destinations.
//   - A desired service present in actual is updated when its scheduler,
//     flags (the kernel's "hashed" bit aside), persistence timeout (whole
//     seconds, the kernel's unit) or persistence netmask differ; its
//     destinations are added, updated (forwarding method, weight,
//     thresholds, tunnel encapsulation) or deleted to match. A service in
//     desired belongs to lvsd whatever owned says, so its extra
//     destinations go.
//   - A service of actual that is not desired is deleted only when owned
//     reports it as lvsd's; the others, made by hand or by another tool, are
//     never touched. A nil owned owns nothing.
//
// Order: services in ServiceKey.Compare order; within one service the
// update of the service first, then destination adds, updates and deletes,
// each in address order; all service deletions last. The kernel accepts
// any order among destinations of one service, so this order is chosen for
// the traffic: make before break. A service never passes through an empty
// state while a replacement destination is on its way, a sorry server is
// in place before the last real server leaves, and a service moving to a
// new address is up before the old one is removed.
//
// Keys are compared in their Normalize form. Desired services listed twice
// count once (the first).
func Diff(desired, actual []Service, owned func(ServiceKey) bool) []Op {
	have := make(map[ServiceKey]*Service, len(actual))
	for i := range actual {
		have[actual[i].ServiceKey.Normalize()] = &actual[i]
	}

	want := make([]*Service, 0, len(desired))
	wanted := make(map[ServiceKey]bool, len(desired))
	// Room for the operations of a table the kernel has none of: at a
	// first start, tens of thousands of them, grown once.
	room := 0
	for i := range desired {
		k := desired[i].ServiceKey.Normalize()
		if wanted[k] {
			continue
		}
		wanted[k] = true
		want = append(want, &desired[i])
		if have[k] == nil {
			room += 1 + len(desired[i].Destinations)
		}
	}
	slices.SortFunc(want, func(a, b *Service) int { return a.ServiceKey.Compare(b.ServiceKey) })

	ops := make([]Op, 0, room)
	for _, d := range want {
		k := d.ServiceKey.Normalize()
		svc := opService(d, k)
		a := have[k]
		if a == nil {
			ops = append(ops, Op{Kind: AddService, Service: svc})
			for _, dst := range sortedDests(d.Destinations) {
				ops = append(ops, Op{Kind: AddDest, Service: svc, Dest: opDest(&dst)})
			}
			continue
		}
		if serviceChanged(d, a) {
			ops = append(ops, Op{Kind: UpdateService, Service: svc})
		}
		ops = diffDests(ops, svc, sortedDests(d.Destinations), sortedDests(a.Destinations))
	}

	var gone []*Service
	if owned != nil {
		for i := range actual {
			k := actual[i].ServiceKey.Normalize()
			if !wanted[k] && owned(k) {
				gone = append(gone, &actual[i])
			}
		}
	}
	slices.SortFunc(gone, func(a, b *Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	for _, a := range gone {
		ops = append(ops, Op{Kind: DelService, Service: opService(a, a.ServiceKey.Normalize())})
	}
	return ops
}

// diffDests appends the destination operations of one existing service;
// want and have are sorted by address.
func diffDests(ops []Op, svc Service, want, have []Destination) []Op {
	var updates, deletes []Op
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		var c int
		switch {
		case i == len(want):
			c = 1
		case j == len(have):
			c = -1
		default:
			c = want[i].Addr.Compare(have[j].Addr)
		}
		switch {
		case c < 0:
			ops = append(ops, Op{Kind: AddDest, Service: svc, Dest: opDest(&want[i])})
			i++
		case c > 0:
			deletes = append(deletes, Op{Kind: DelDest, Service: svc, Dest: opDest(&have[j])})
			j++
		default:
			if destChanged(&want[i], &have[j]) {
				updates = append(updates, Op{Kind: UpdateDest, Service: svc, Dest: opDest(&want[i])})
			}
			i++
			j++
		}
	}
	ops = append(ops, updates...)
	return append(ops, deletes...)
}

// sortedDests returns ds in address order, copying only when needed (the
// kernel's side comes sorted from Client.Services).
func sortedDests(ds []Destination) []Destination {
	cmpAddr := func(a, b Destination) int { return a.Addr.Compare(b.Addr) }
	if slices.IsSortedFunc(ds, cmpAddr) {
		return ds
	}
	ds = slices.Clone(ds)
	slices.SortFunc(ds, cmpAddr)
	return ds
}

// opService is the service as an Op carries it: normalised key and
// settings, without destinations or counters.
func opService(s *Service, k ServiceKey) Service {
	return Service{
		ServiceKey: k,
		Scheduler:  s.Scheduler,
		Flags:      s.Flags,
		Timeout:    s.Timeout,
		Netmask:    s.Netmask,
	}
}

// opDest is the destination as an Op carries it: settings without counters.
func opDest(d *Destination) Destination {
	return Destination{
		Addr:           d.Addr,
		Forward:        d.Forward,
		Weight:         d.Weight,
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
		TunnelType:     d.TunnelType,
		TunnelPort:     d.TunnelPort,
		TunnelFlags:    d.TunnelFlags,
	}
}

func serviceChanged(want, have *Service) bool {
	return want.Scheduler != have.Scheduler ||
		want.Flags&^FlagHashed != have.Flags&^FlagHashed ||
		want.Timeout/time.Second != have.Timeout/time.Second ||
		fullNetmask(want) != fullNetmask(have)
}

func destChanged(want, have *Destination) bool {
	return want.Forward != have.Forward ||
		want.Weight != have.Weight ||
		want.UpperThreshold != have.UpperThreshold ||
		want.LowerThreshold != have.LowerThreshold ||
		want.TunnelType != have.TunnelType ||
		want.TunnelPort != have.TunnelPort ||
		want.TunnelFlags != have.TunnelFlags
}
