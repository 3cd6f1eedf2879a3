package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/bgp"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/ipvs"
)

// Scale-out (SPEC §9): every director holds the announced VIPs on lo and
// programs the same Maglev table; each VIP is announced to the BGP
// neighbours only while its services are programmed and healthy, so the
// routers send a director only flows it can forward.

// bgpPoll is how often a stopping director reads its IPVS counters to see
// whether the routers still send it packets after the withdrawal.
const bgpPoll = 250 * time.Millisecond

// bgpQuiet is how long no packet may have arrived for the withdrawal to
// count as done: a router reroutes within milliseconds of the update.
const bgpQuiet = 500 * time.Millisecond

// bgpDirector is the BGP half of a daemon whose file has a bgp block.
type bgpDirector struct {
	cfg     config.BGP // as started: a reload does not change the sessions
	speaker bgp.Speaker
	state   string // HoldVIPs' record of the VIPs on lo
	kick    chan struct{}

	mu        sync.Mutex // guards what follows
	held      []netip.Addr
	routes    []plan.Announcement // the last decision, in file order
	announced map[netip.Addr]bool // what the speaker was told
	draining  bool
}

// newSpeaker is the real speaker; tests replace Options.speaker.
func newSpeaker(cfg bgp.Config, log *slog.Logger) bgp.Speaker { return bgp.NewGoBGP(cfg, log) }

// startBGP prepares the BGP half: the router ID, the speaker and the
// VIPs on lo. It runs at start-up, before anything is announced.
func (d *Daemon) startBGP(cfg *config.Config) error {
	if cfg.BGP == nil {
		return nil
	}
	rid := cfg.BGP.RouterID
	if !rid.IsValid() {
		var err error
		if rid, err = autoRouterID(cfg.AnnouncedVIPs()); err != nil {
			return err
		}
	}
	sc := bgp.Config{
		ASN: cfg.BGP.ASN, RouterID: rid, ListenPort: cfg.BGP.ListenPort, HoldTime: cfg.BGP.HoldTime,
		MED: cfg.BGP.MED, Communities: cfg.BGP.Communities,
	}
	for _, n := range cfg.BGP.Neighbors {
		sc.Neighbors = append(sc.Neighbors, bgp.Neighbor{
			Name: n.Name, Address: n.Address, ASN: n.ASN, Port: n.Port,
			BFD: n.BFD, Multihop: n.Multihop, Password: n.Password,
		})
	}
	mk := d.opts.speaker
	if mk == nil {
		mk = newSpeaker
	}
	b := &bgpDirector{
		cfg:       *cfg.BGP,
		speaker:   mk(sc, d.log),
		state:     runStatePath(d.socket, ".bgp.json"),
		kick:      make(chan struct{}, 1),
		announced: map[netip.Addr]bool{},
	}
	b.cfg.RouterID = rid
	if err := d.holdAnnounced(b, cfg); err != nil {
		return err
	}
	d.log.Info("bgp speaker", "asn", sc.ASN, "router_id", rid.String(), "neighbors", len(sc.Neighbors))
	// Under mu, as the reconciler: a status request may come during the
	// start-up. The parts that use it start after it is set.
	d.mu.Lock()
	d.bgp = b
	d.mu.Unlock()
	return nil
}

// autoRouterID is the first global IPv4 address of the host's interfaces
// that is not an announced VIP: stable across restarts, and unique among
// directors since every director has its own.
func autoRouterID(vips []netip.Addr) (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bgp router_id = \"auto\": listing the addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if ip = ip.Unmap(); ok && ip.Is4() && ip.IsGlobalUnicast() && !slices.Contains(vips, ip) {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("bgp router_id = \"auto\" found no IPv4 address on this host: set router_id in the node block")
}

// holdAnnounced makes the announced VIPs of cfg the VIPs on lo, hidden
// from ARP as on a DR real server: IPVS takes packets only for a local
// address, and only the routers should send them here.
func (d *Daemon) holdAnnounced(b *bgpDirector, cfg *config.Config) error {
	vips := cfg.AnnouncedVIPs()
	b.mu.Lock()
	same := b.held != nil && slices.Equal(vips, b.held)
	b.mu.Unlock()
	if same {
		return nil
	}
	if err := d.sys.HoldVIPs(b.state, vips); err != nil {
		return fmt.Errorf("adding the announced VIPs to lo: %w", explainPermission(err))
	}
	b.mu.Lock()
	b.held = vips
	if b.held == nil {
		b.held = []netip.Addr{}
	}
	b.mu.Unlock()
	return nil
}

// kickBGP asks the announcer to decide again (a health change, a reload).
func (d *Daemon) kickBGP() {
	if d.bgp == nil {
		return
	}
	select {
	case d.bgp.kick <- struct{}{}:
	default:
	}
}

// runBGP runs the speaker and the announcer until ctx ends. Nothing is
// announced before the first reconcile; after it, every health change and
// every reconcile interval decide again.
func (d *Daemon) runBGP(ctx context.Context) error {
	b := d.bgp
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		errc <- b.speaker.Run(ctx, func(ev bgp.PeerEvent) {
			d.log.Info("bgp session", "neighbor", ev.Name, "address", ev.Address.String(), "state", ev.State, "reason", ev.Reason)
		})
	})
	defer wg.Wait()

	if d.rec != nil {
		select {
		case <-d.rec.Reconciled():
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		}
	}
	d.mu.Lock()
	every := d.cfg.IPVS.ReconcileInterval
	d.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.decideBGP(ctx)
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		case <-b.kick:
		case <-t.C:
		}
	}
}

// decideBGP brings the announcements in line with the health and the
// kernel's table: the table is flushed first, so a VIP is announced only
// once the table that a health change asked for is programmed.
func (d *Daemon) decideBGP(ctx context.Context) {
	b := d.bgp
	programmed := func(ipvs.ServiceKey) bool { return true }
	if d.rec != nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := d.rec.Flush(fctx)
		cancel()
		if err != nil {
			return
		}
		programmed = takesConnections(d.rec.Snapshot().Services)
	}
	d.mu.Lock()
	cfg := d.cfg
	want := plan.Announcements(cfg, healthOf(d.checks, d.jobState), programmed)
	d.mu.Unlock()
	if err := d.holdAnnounced(b, cfg); err != nil {
		d.log.Warn("bgp", "err", err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.draining {
		return
	}
	b.routes = want
	keep := map[netip.Addr]bool{}
	for _, a := range want {
		keep[a.VIP] = a.Announce
		if a.Announce && !b.announced[a.VIP] {
			if err := b.speaker.Announce(a.VIP, false); err != nil {
				d.log.Warn("bgp announce", "vip", a.VIP.String(), "err", err)
				continue
			}
			b.announced[a.VIP] = true
			d.log.Info("vip announced", "vip", a.VIP.String(), "services", a.Services)
		}
	}
	for vip := range b.announced {
		if keep[vip] {
			continue
		}
		if err := b.speaker.Withdraw(vip); err != nil {
			d.log.Warn("bgp withdraw", "vip", vip.String(), "err", err)
			continue
		}
		delete(b.announced, vip)
		reason := "no longer announced by the config"
		for _, a := range want {
			if a.VIP == vip {
				reason = a.Reason
			}
		}
		d.log.Info("vip withdrawn", "vip", vip.String(), "reason", reason)
	}
}

// takesConnections reports whether the kernel table has a service with a
// destination of non-zero weight.
func takesConnections(services []ipvs.Service) func(ipvs.ServiceKey) bool {
	ok := map[ipvs.ServiceKey]bool{}
	for i := range services {
		for _, dst := range services[i].Destinations {
			if dst.Weight > 0 {
				ok[services[i].ServiceKey.Normalize()] = true
			}
		}
	}
	return func(k ipvs.ServiceKey) bool { return ok[k.Normalize()] }
}

// drainBGP is the first step of a stop: the routes get the
// GRACEFUL_SHUTDOWN community (RFC 8326) so the routers move traffic to
// the other directors while this one still forwards; after drain_wait
// they are withdrawn, and the director keeps forwarding until no packet
// of the announced services has arrived for a while, or linger passed.
// Then the rest of the stop closes the sessions and the table.
func (d *Daemon) drainBGP() {
	b := d.bgp
	if b == nil {
		return
	}
	b.mu.Lock()
	b.draining = true
	var vips []netip.Addr
	for vip := range b.announced {
		vips = append(vips, vip)
	}
	slices.SortFunc(vips, netip.Addr.Compare)
	b.mu.Unlock()
	if len(vips) == 0 {
		return
	}
	start := time.Now()
	for _, vip := range vips {
		if err := b.speaker.Announce(vip, true); err != nil {
			d.log.Warn("bgp graceful shutdown", "vip", vip.String(), "err", err)
		}
	}
	d.log.Info("bgp draining: GRACEFUL_SHUTDOWN sent", "vips", vips, "drain_wait", b.cfg.DrainWait.String())
	time.Sleep(b.cfg.DrainWait)
	b.mu.Lock()
	for _, vip := range vips {
		if err := b.speaker.Withdraw(vip); err != nil {
			d.log.Warn("bgp withdraw", "vip", vip.String(), "err", err)
		}
		delete(b.announced, vip)
	}
	b.mu.Unlock()
	d.log.Info("vips withdrawn for the stop", "vips", vips)
	d.linger(b, vips)
	d.log.Info("bgp drained", "took", time.Since(start).Round(time.Millisecond).String())
}

// linger keeps forwarding after the withdrawal until the routers have
// stopped sending: no packet for bgpQuiet, or at most linger.
func (d *Daemon) linger(b *bgpDirector, vips []netip.Addr) {
	if d.rec == nil || b.cfg.Linger <= 0 {
		return
	}
	d.mu.Lock()
	keys := map[ipvs.ServiceKey]bool{}
	for i := range d.cfg.VirtualServers {
		vs := &d.cfg.VirtualServers[i]
		if vs.Announce == config.AnnounceBGP && slices.Contains(vips, vs.Address.Addr()) {
			keys[plan.Key(vs).Normalize()] = true
		}
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Linger)
	defer cancel()
	t := time.NewTicker(bgpPoll)
	defer t.Stop()
	last, since := uint64(0), time.Now()
	for first := true; ; first = false {
		n, err := d.rec.InPackets(ctx, keys)
		if err != nil {
			return
		}
		if first || n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= bgpQuiet {
			return
		}
		select {
		case <-ctx.Done():
			d.log.Info("bgp linger bound reached with packets still arriving", "linger", b.cfg.Linger.String())
			return
		case <-t.C:
		}
	}
}

// releaseBGP takes the announced VIPs off lo, the last step of a stop.
func (d *Daemon) releaseBGP() {
	if d.bgp == nil {
		return
	}
	if err := d.sys.HoldVIPs(d.bgp.state, nil); err != nil {
		d.log.Warn("taking the announced VIPs off lo", "err", err)
	}
}

// bgpStatus is the document's bgp section; nil without a bgp block.
func (d *Daemon) bgpStatus() *status.BGP {
	d.mu.Lock()
	b := d.bgp
	d.mu.Unlock()
	if b == nil {
		return nil
	}
	out := &status.BGP{ASN: b.cfg.ASN, RouterID: b.cfg.RouterID.String(), Sessions: []status.BGPSession{}, Routes: []status.BGPRoute{}}
	for _, p := range b.speaker.Peers() {
		s := status.BGPSession{Neighbor: p.Name, Address: p.Address.String(), State: p.State, Up: p.Up}
		if !p.Since.IsZero() {
			s.Since = p.Since.UTC().Format(time.RFC3339)
		}
		out.Sessions = append(out.Sessions, s)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out.Draining = b.draining
	for _, a := range b.routes {
		r := status.BGPRoute{Prefix: bgp.HostPrefix(a.VIP).String(), Announced: b.announced[a.VIP], Reason: a.Reason}
		if b.draining && !r.Announced {
			r.Reason = "withdrawn for the stop"
		}
		out.Routes = append(out.Routes, r)
	}
	return out
}
