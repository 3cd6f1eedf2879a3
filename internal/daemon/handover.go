package daemon

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/vrrp"
)

// Timings of a handover by relay (config.Relay).
const (
	// relayBound is the longest a stopping master waits for the
	// connections it scheduled itself to end before it sends priority 0;
	// what is still open then (a long-lived connection) is left to the
	// sync daemon, as in a handover by release.
	relayBound = 500 * time.Millisecond
	// relayPoll is how often the kernel's connection counts are read
	// meanwhile.
	relayPoll = 10 * time.Millisecond
)

// relayPeer is the director an instance relays to: the one unicast peer
// that is not this director. It is invalid when there is not exactly one.
func relayPeer(vi config.VRRPInstance, own []netip.Addr) netip.Addr {
	var peer netip.Addr
	for _, p := range vi.UnicastPeers {
		p = p.Unmap()
		if slices.Contains(own, p) {
			continue
		}
		if peer.IsValid() {
			return netip.Addr{}
		}
		peer = p
	}
	return peer
}

// desiredLocked is the IPVS table lvsd wants now: the plan of the
// configuration and health, with the services being relayed handed to
// the peer during a stop. The caller holds d.mu.
func (d *Daemon) desiredLocked() []ipvs.Service {
	return d.handover.Relay(d.cfg, plan.WeightedServices(d.cfg, healthOf(d.checks, d.jobState), weightsOf(d.checks, d.jobState)))
}

// holdVIPs puts the VIPs of cfg's relay instances on lo, hidden from ARP,
// and takes those of instances no longer relaying off: a director whose
// peer stops relays new connections to it, and its IPVS takes them only
// for a local address. The first call also undoes what a crashed run left.
// The caller holds reloadMu, or is the start-up.
func (d *Daemon) holdVIPs(cfg *config.Config) error {
	var vips []netip.Addr
	for i := range cfg.VRRPInstances {
		vips = append(vips, plan.RelayVIPs(cfg, &cfg.VRRPInstances[i])...)
	}
	if d.heldSet && slices.Equal(vips, d.held) {
		return nil
	}
	if err := d.sys.HoldVIPs(d.heldState, vips); err != nil {
		return fmt.Errorf("holding the VIPs of handover = \"relay\" on lo: %w", explainPermission(err))
	}
	if len(vips) > 0 || len(d.held) > 0 {
		d.log.Info("VIPs held on lo for a peer's relayed connections", "vips", vips)
	}
	d.held, d.heldSet = vips, true
	return nil
}

// relay is the first step of a stop for the instances in MASTER whose
// handover is relay: the virtual servers on their VIPs (fwmark services
// aside; NAT ones once redirectNAT has routed their answers) get the peer
// director as their one real server with weight, their own real servers weight 0,
// so new connections go through the peer's IPVS (which takes them on the
// VIP it holds on lo) while the connections this director scheduled
// finish where they are. Once none of those is active, or relayBound has
// passed, it returns and the instances hand over as usual; the peer then
// already knows every connection opened since. The caller holds reloadMu.
func (d *Daemon) relay(insts []*instance) {
	if d.rec == nil {
		return
	}
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	h := plan.Handover{}
	peerOn := map[string]netip.Addr{} // the peer of each relaying interface
	var relaying []string
	for _, in := range insts {
		if in.cfg.Handover != config.Relay || in.in.Status().State != vrrp.Master {
			continue
		}
		if !in.peer.IsValid() {
			d.log.Warn("handover = \"relay\" needs exactly one unicast peer besides this director; handing over by release",
				"instance", in.cfg.Name, "unicast_peers", in.cfg.UnicastPeers)
			continue
		}
		peerOn[in.cfg.Interface] = in.peer
		relaying = append(relaying, in.cfg.Name)
		for _, vip := range plan.RelayVIPs(cfg, &in.cfg) {
			h[vip] = in.peer
		}
	}
	if len(h) == 0 {
		return
	}
	if !d.redirectNAT(cfg, h, peerOn) {
		return
	}

	// The sync daemon would tell the peer of the connections relayed to
	// it as this director sees them, bound to the peer's own address, and
	// the peer's kernel replaces its own entry (bound to the real server)
	// with that: the connection breaks. It stops first; the connections
	// it told the peer of earlier stay known there.
	// The role and the relay table are set together, in this order: the
	// reconciler applies a table only after the role set before it.
	d.mu.Lock()
	if sd := cfg.IPVS.SyncDaemon; sd != nil && slices.Contains(relaying, sd.VRRPInstance) {
		d.syncHeld = true
		d.rec.SetSyncRole(reconcile.SyncNone)
	}
	d.handover = h
	d.rec.SetDesired(d.desiredLocked())
	keys := make(map[ipvs.ServiceKey]bool)
	for i := range d.cfg.VirtualServers {
		vs := &d.cfg.VirtualServers[i]
		if _, ok := h[vs.Address.Addr()]; ok && plan.Relayable(vs) {
			keys[plan.Key(vs).Normalize()] = true
		}
	}
	d.mu.Unlock()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), relayBound)
	defer cancel()
	peers := slices.SortedFunc(maps.Values(h), netip.Addr.Compare)
	peers = slices.Compact(peers)
	if err := d.rec.Flush(ctx); err != nil {
		d.log.Warn("relaying to the peer: the IPVS table was not applied in time; handing over", "err", err)
		return
	}
	d.log.Info("relaying new connections to the peer until this director's own have ended",
		"peers", peers, "services", len(keys), "bound", relayBound.String())
	_ = d.sd.Send("STATUS=Stopping: relaying new connections to the peer")
	skip := func(a netip.AddrPort) bool { return slices.Contains(peers, a.Addr()) }
	t := time.NewTicker(relayPoll)
	defer t.Stop()
	active := -1 // the last count read
	for {
		n, err := d.rec.ActiveConns(ctx, keys, skip)
		if err == nil {
			active = n
		}
		took := time.Since(start).Round(time.Millisecond).String()
		switch {
		case err == nil && n == 0:
			d.log.Info("own connections ended; handing over", "took", took)
			return
		case ctx.Err() != nil:
			d.log.Info("connections still active at the relay's bound; handing over", "active", active, "took", took)
			return
		case err != nil:
			d.log.Warn("reading IPVS connection counts; handing over", "err", err)
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// redirectNAT prepares the answers of the NAT virtual servers in h: their
// real servers send them to this director (their gateway), which must
// pass those of the connections the peer scheduled on to the peer. Each
// real server's interface needs a relaying instance, whose peer is the
// next hop. A VIP with a NAT virtual server that cannot be served so is
// taken out of h, and hands over by release. It returns false when
// nothing is left to relay.
func (d *Daemon) redirectNAT(cfg *config.Config, h plan.Handover, peerOn map[string]netip.Addr) bool {
	byVIP := map[netip.Addr][]replyRoute{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		vip := vs.Address.Addr()
		if _, ok := h[vip]; !ok || vs.Method != config.NAT || !plan.Relayable(vs) {
			continue
		}
		servers := make([]netip.Addr, 0, len(vs.RealServers)+1)
		for _, rs := range vs.RealServers {
			servers = append(servers, rs.Address.Addr())
		}
		if vs.SorryServer.IsValid() {
			servers = append(servers, vs.SorryServer.Addr())
		}
		for _, a := range servers {
			iface, err := d.sys.RouteIface(a)
			via, ok := peerOn[iface]
			if err != nil || !ok {
				d.log.Warn("a NAT real server's answers cannot reach the peer: no relaying instance on its interface; its VIP hands over by release",
					"virtual_server", vs.Name, "server", a, "interface", iface, "err", err)
				delete(h, vip)
				break
			}
			if r := (replyRoute{From: a, Iface: iface, Via: via}); !slices.Contains(byVIP[vip], r) {
				byVIP[vip] = append(byVIP[vip], r)
			}
		}
	}
	var routes []replyRoute
	for vip, rs := range byVIP {
		if _, ok := h[vip]; !ok {
			continue
		}
		for _, r := range rs {
			if !slices.Contains(routes, r) {
				routes = append(routes, r)
			}
		}
	}
	if len(routes) == 0 {
		return len(h) > 0
	}
	slices.SortFunc(routes, func(a, b replyRoute) int { return a.From.Compare(b.From) })
	if err := d.sys.RedirectReplies(routes); err != nil {
		d.log.Warn("routing NAT answers to the peer failed; the NAT virtual servers' VIPs hand over by release", "err", err)
		for vip := range byVIP {
			delete(h, vip)
		}
		if err := d.sys.RedirectReplies(nil); err != nil {
			d.log.Warn("removing the NAT relay routes", "err", err)
		}
		return len(h) > 0
	}
	d.redirected = true
	d.log.Info("NAT answers of the peer's connections routed to it", "real_servers", len(routes))
	return true
}

// endRedirect removes the routes of a NAT relay, once the VIPs are gone.
func (d *Daemon) endRedirect() {
	if !d.redirected {
		return
	}
	if err := d.sys.RedirectReplies(nil); err != nil {
		d.log.Warn("removing the NAT relay routes", "err", err)
	}
	d.redirected = false
}

// endRelay puts the table back to the plan after a relay, for a stop that
// leaves lvsd's services in the kernel (cleanup_on_exit = false).
func (d *Daemon) endRelay(ctx context.Context) {
	d.mu.Lock()
	if len(d.handover) == 0 {
		d.mu.Unlock()
		return
	}
	d.handover = nil
	d.rec.SetDesired(d.desiredLocked())
	d.mu.Unlock()
	if err := d.rec.Flush(ctx); err != nil {
		d.log.Warn("putting the IPVS table back after the relay", "err", err)
	}
}
