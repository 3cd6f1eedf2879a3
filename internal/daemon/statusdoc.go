package daemon

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/buildinfo"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/vrrp"
)

// docInput is everything the status document is made of, gathered under
// the daemon's lock; buildDocument is then a pure function of it.
type docInput struct {
	cfg       *config.Config
	loadedAt  time.Time
	reloadErr *string
	instances map[string]vrrpd.InstanceStatus // by name; missing while restarting
	checks    checkSet
	states    map[string]healthcheck.Status
	kernel    *reconcile.Snapshot // nil without IPVS
	// ifDropped counts, by interface, the VRRP packets no instance was
	// given (muxes.interfaceDrops).
	ifDropped map[string]map[vrrp.DropReason]uint64
}

// Status returns the status document (status.Source).
func (d *Daemon) Status() status.Document {
	in := d.docInput()
	if rec := d.reconciler(); rec != nil {
		snap := rec.Snapshot()
		in.kernel = &snap
	}
	doc := buildDocument(in)
	doc.BGP = d.bgpStatus()
	return doc
}

// reconciler returns the reconciler once Run has made it (nil without
// IPVS). Run sets it under d.mu: a status request may come during the
// start-up (tests ask before the control socket serves).
func (d *Daemon) reconciler() *reconcile.Reconciler {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rec
}

// docInput gathers the document's sources, without the kernel's table.
func (d *Daemon) docInput() docInput {
	d.mu.Lock()
	in := docInput{
		cfg:       d.cfg,
		loadedAt:  d.loadedAt,
		reloadErr: d.reloadErr,
		checks:    d.checks,
		states:    d.sched.Snapshot(),
		instances: make(map[string]vrrpd.InstanceStatus, len(d.instances)),
	}
	insts := make([]*instance, 0, len(d.instances))
	for _, i := range d.instances {
		insts = append(insts, i)
	}
	// Run sets d.muxes before it publishes the config, as d.rec (see
	// reconciler).
	var ms *muxes
	if d.cfg != nil {
		ms = d.muxes
	}
	d.mu.Unlock()
	if ms != nil {
		in.ifDropped = ms.interfaceDrops()
	}
	// Instance status takes the instance's own lock: not under d.mu.
	for _, i := range insts {
		in.instances[i.cfg.Name] = i.in.Status()
	}
	return in
}

func buildDocument(in docInput) status.Document {
	doc := status.Document{
		Version:        buildinfo.Version,
		VRRPInstances:  []status.Instance{},
		VirtualServers: []status.VirtualServer{},
	}
	if in.cfg == nil {
		return doc
	}
	cfg := in.cfg
	doc.Cluster = cfg.Cluster
	doc.Node = cfg.Node
	doc.Config = status.Config{File: cfg.File, LoadedAt: in.loadedAt, LastReloadError: in.reloadErr}

	for _, vi := range cfg.VRRPInstances {
		st, ok := in.instances[vi.Name]
		if !ok {
			continue
		}
		doc.VRRPInstances = append(doc.VRRPInstances, instanceDoc(st))
	}
	doc.VRRPInterfaces = interfacesDoc(cfg, in.ifDropped)

	kernel := make(map[ipvs.ServiceKey]ipvs.Service)
	if in.kernel != nil {
		for _, s := range in.kernel.Services {
			kernel[s.ServiceKey.Normalize()] = s
		}
	}
	health := healthOf(in.checks, statesOf(in.states))
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		state := plan.State(vs, health)
		out := status.VirtualServer{
			Name:              vs.Name,
			Address:           vs.Address.String(),
			Group:             vs.Group,
			Protocol:          string(vs.Protocol),
			Scheduler:         vs.Scheduler,
			Method:            string(vs.Method),
			QuorumMet:         state.QuorumMet,
			SorryServerActive: state.SorryActive,
			RealServers:       []status.RealServer{},
		}
		if vs.FWMark != 0 {
			out.Address = status.FwmarkAddress(vs.FWMark)
		}
		ks, inKernel := kernel[plan.Key(vs).Normalize()]
		for _, rs := range vs.RealServers {
			r := status.RealServer{
				Address:          rs.Address.String(),
				Healthy:          rs.Check == nil || health(vs.Name, rs.Address),
				ConfiguredWeight: rs.Weight,
			}
			if key, ok := in.checks.keyOf[owner{service: vs.Name, server: rs.Address}]; ok {
				if last := in.states[key].Last; !last.At.IsZero() {
					r.LastCheck = &status.Check{OK: last.OK, At: last.At, DurationMS: checkDuration(last.Duration), Message: last.Message}
				}
			}
			if inKernel {
				if dst, ok := findDest(ks, plan.DestAddr(vs, rs.Address)); ok {
					r.InIPVS = true
					r.Weight = dst.Weight
					r.ActiveConns = uint64(dst.ActiveConns)
					r.InactiveConns = uint64(dst.InactiveConns)
					r.BytesIn = dst.Stats.InBytes
					r.BytesOut = dst.Stats.OutBytes
				}
			}
			out.RealServers = append(out.RealServers, r)
		}
		doc.VirtualServers = append(doc.VirtualServers, out)
	}
	return doc
}

func findDest(s ipvs.Service, addr netip.AddrPort) (ipvs.Destination, bool) {
	for _, d := range s.Destinations {
		if d.Addr == addr {
			return d, true
		}
	}
	return ipvs.Destination{}, false
}

// interfacesDoc lists, by name, every interface with VRRP instances and any
// other that counted drops before its instances went away. Every reason is
// there from the start, at zero, as an instance's are.
func interfacesDoc(cfg *config.Config, dropped map[string]map[vrrp.DropReason]uint64) []status.VRRPInterface {
	names := slices.Collect(maps.Keys(dropped))
	for _, vi := range cfg.VRRPInstances {
		names = append(names, vi.Interface)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]status.VRRPInterface, 0, len(names))
	for _, name := range names {
		f := status.VRRPInterface{Interface: name, Dropped: make(map[string]uint64)}
		for _, r := range vrrp.DropReasons() {
			f.Dropped[string(r)] = dropped[name][r]
		}
		out = append(out, f)
	}
	return out
}

// instanceDoc converts a vrrpd snapshot to the document's form.
func instanceDoc(st vrrpd.InstanceStatus) status.Instance {
	out := status.Instance{
		Name:              st.Name,
		State:             st.State.String(),
		VRID:              int(st.VRID),
		Interface:         st.Interface,
		Version:           st.Version,
		Priority:          int(st.Priority),
		EffectivePriority: int(st.EffectivePriority),
		VirtualIPs:        make([]string, 0, len(st.VirtualIPs)),
		Since:             st.Since,
		Transitions:       st.Transitions,
		AdvertsSent:       st.AdvertsSent,
		AdvertsReceived:   st.AdvertsReceived,
		AdvertsLate:       st.AdvertsLate,
		Dropped:           make(map[string]uint64, len(st.Dropped)),
		TransitionsTo:     make(map[string]uint64, len(st.TransitionsTo)),
	}
	if st.MasterAddress.IsValid() {
		out.MasterAddress = st.MasterAddress.String()
	}
	if l := st.LastLateAdvert; !l.At.IsZero() {
		out.LastLateAdvert = &status.LateAdvert{At: l.At, LateMS: float64(l.Late.Microseconds()) / 1000}
	}
	for _, p := range st.VirtualIPs {
		out.VirtualIPs = append(out.VirtualIPs, p.String())
	}
	for r, n := range st.Dropped {
		out.Dropped[string(r)] = n
	}
	for s, n := range st.TransitionsTo {
		out.TransitionsTo[s.String()] = n
	}
	return out
}
