package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
	"github.com/lvsd/lvsd/vrrp"
)

// fakeSegment is an Ethernet segment in memory: what one transport sends
// reaches every other transport on it, as a multicast advert would.
type fakeSegment struct {
	mu    sync.Mutex
	ports []*fakeTransport
}

type fakeTransport struct {
	seg   *fakeSegment
	src   netip.Addr
	rx    chan rxPacket
	once  sync.Once
	close chan struct{}

	mu     sync.Mutex
	sent   []vrrp.Advert // every advert sent, for assertions
	sentTo []netip.Addr  // and its destination
}

func (s *fakeSegment) attach(src netip.Addr) *fakeTransport {
	t := &fakeTransport{seg: s, src: src, rx: make(chan rxPacket, 256), close: make(chan struct{})}
	s.mu.Lock()
	s.ports = append(s.ports, t)
	s.mu.Unlock()
	return t
}

func (t *fakeTransport) Send(a *vrrp.Advert, dst netip.Addr) error {
	t.mu.Lock()
	t.sent = append(t.sent, *a)
	t.sentTo = append(t.sentTo, dst)
	t.mu.Unlock()
	t.seg.mu.Lock()
	defer t.seg.mu.Unlock()
	for _, p := range t.seg.ports {
		if p == t {
			continue
		}
		c := *a
		select {
		case p.rx <- rxPacket{p: vrrp.Packet{Advert: &c, Src: t.src, Dst: dst, TTL: vrrp.AdvertTTL, VRID: c.VRID}}:
		default:
		}
	}
	return nil
}

func (t *fakeTransport) Receive([]byte) (vrrp.Packet, error) {
	select {
	case r := <-t.rx:
		return r.p, r.err
	case <-t.close:
		return vrrp.Packet{}, net.ErrClosed
	}
}

func (t *fakeTransport) Source() netip.Addr { return t.src }

// inject makes Receive return p and err, as a packet from the wire would:
// err set for one that did not decode.
func (t *fakeTransport) inject(p vrrp.Packet, err error) { t.rx <- rxPacket{p: p, err: err} }

func (t *fakeTransport) Close() error {
	t.once.Do(func() {
		close(t.close)
		t.seg.mu.Lock()
		t.seg.ports = slices.DeleteFunc(t.seg.ports, func(p *fakeTransport) bool { return p == t })
		t.seg.mu.Unlock()
	})
	return nil
}

func (t *fakeTransport) destinations() []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.sentTo)
}

func (t *fakeTransport) adverts() []vrrp.Advert {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.sent)
}

// sentZero reports whether a priority-0 advert was sent.
func (t *fakeTransport) sentZero() bool {
	return slices.ContainsFunc(t.adverts(), func(a vrrp.Advert) bool { return a.Priority == 0 })
}

// fakeVIPs records the addresses on each interface.
type fakeVIPs struct {
	mu    sync.Mutex
	addrs map[string][]netip.Prefix
	log   []string
}

func (v *fakeVIPs) Add(ifname string, vips []netip.Prefix) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.addrs == nil {
		v.addrs = make(map[string][]netip.Prefix)
	}
	for _, p := range vips {
		if !slices.Contains(v.addrs[ifname], p) {
			v.addrs[ifname] = append(v.addrs[ifname], p)
		}
		v.log = append(v.log, "add "+ifname+" "+p.String())
	}
	return nil
}

func (v *fakeVIPs) Remove(ifname string, vips []netip.Prefix) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range vips {
		v.addrs[ifname] = slices.DeleteFunc(v.addrs[ifname], func(q netip.Prefix) bool { return q == p })
		v.log = append(v.log, "remove "+ifname+" "+p.String())
	}
	return nil
}

func (v *fakeVIPs) Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []netip.Prefix
	for _, p := range vips {
		if !slices.Contains(v.addrs[ifname], p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (v *fakeVIPs) on(ifname string) []netip.Prefix {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.addrs[ifname])
}

// fakeAnnouncer counts announcement rounds.
type fakeAnnouncer struct {
	mu     sync.Mutex
	rounds int
}

func (a *fakeAnnouncer) Announce(context.Context, string, []netip.Prefix) error {
	a.mu.Lock()
	a.rounds++
	a.mu.Unlock()
	return nil
}

func (a *fakeAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rounds
}

// fakeKernel is the IPVS kernel in memory, with the views of it these
// tests compare.
type fakeKernel struct{ ipvstest.Kernel }

// setActive sets the active connections of a destination address.
func (k *fakeKernel) setActive(addr string, n uint32) { k.SetActive(addr, n) }

// opsSince returns the operations applied after the first n.
func (k *fakeKernel) opsSince(n int) []ipvs.Op {
	k.Lock()
	defer k.Unlock()
	var ops []ipvs.Op
	for _, b := range k.Batches {
		ops = append(ops, b...)
	}
	return ops[min(n, len(ops)):]
}

// syncCalls returns the sync daemon calls as "start master", "stop backup".
func (k *fakeKernel) syncCalls() []string {
	k.Lock()
	defer k.Unlock()
	out := make([]string, len(k.SyncCalls))
	for i, c := range k.SyncCalls {
		f := strings.Fields(c)
		out[i] = f[0] + " " + f[1]
	}
	return out
}

// dests returns "addr wN" of every destination of every service.
func (k *fakeKernel) dests() []string {
	k.Lock()
	defer k.Unlock()
	var out []string
	for _, s := range k.Table {
		for _, d := range s.Destinations {
			out = append(out, fmt.Sprintf("%s w%d", d.Addr, d.Weight))
		}
	}
	slices.Sort(out)
	return out
}

func (k *fakeKernel) services() int {
	k.Lock()
	defer k.Unlock()
	return len(k.Table)
}

// fakeSystem is the kernel of one director in memory.
type fakeSystem struct {
	seg     *fakeSegment
	addr    netip.Addr // our address on every interface
	ifaces  map[string]bool
	ipvsErr error
	kernel  *fakeKernel
	vips    *fakeVIPs
	ann     *fakeAnnouncer

	mu         sync.Mutex
	sysctls    int
	transports []*fakeTransport
	linkCB     func(string, bool)
	// holds are the arguments of every HoldVIPs call; holdErr fails them.
	holds   [][]netip.Addr
	holdErr error
	// routeIfaces answers RouteIface (default eth0); redirects records the
	// RedirectReplies calls, which redirectErr fails when they add routes.
	routeIfaces map[netip.Addr]string
	redirects   [][]replyRoute
	redirectErr error
	// refuseListen fails Listen on interfaces that exist.
	refuseListen map[string]error
}

func newFakeSystem(seg *fakeSegment, addr string, ifaces ...string) *fakeSystem {
	s := &fakeSystem{
		seg: seg, addr: netip.MustParseAddr(addr), ifaces: make(map[string]bool),
		kernel: &fakeKernel{}, vips: &fakeVIPs{}, ann: &fakeAnnouncer{},
	}
	for _, i := range ifaces {
		s.ifaces[i] = true
	}
	return s
}

var _ system = (*fakeSystem)(nil)

func (s *fakeSystem) DialIPVS() (reconcile.Kernel, func(), error) {
	if s.ipvsErr != nil {
		return nil, nil, s.ipvsErr
	}
	return s.kernel, func() {}, nil
}

func (s *fakeSystem) ApplySysctls(config.IPVS) error {
	s.mu.Lock()
	s.sysctls++
	s.mu.Unlock()
	return nil
}

func (s *fakeSystem) Listen(ifname string, ipv6 bool, _ ...vrrp.Option) (vrrpd.Transport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ifaces[ifname]; !ok {
		return nil, fmt.Errorf("no interface %s", ifname)
	}
	if err := s.refuseListen[ifname]; err != nil {
		return nil, err
	}
	t := s.seg.attach(s.addr)
	s.transports = append(s.transports, t)
	return t, nil
}

// refuse makes Listen on ifname fail with err from now on; nil lets it
// succeed again.
func (s *fakeSystem) refuse(ifname string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseListen == nil {
		s.refuseListen = make(map[string]error)
	}
	if err == nil {
		delete(s.refuseListen, ifname)
	} else {
		s.refuseListen[ifname] = err
	}
}

func (s *fakeSystem) VIPs() (vrrpd.VIPs, func(), error) { return s.vips, func() {}, nil }

func (s *fakeSystem) Announcer() vrrpd.Announcer { return s.ann }

func (s *fakeSystem) Link(ifname string) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	up, ok := s.ifaces[ifname]
	return ok, up, nil
}

func (s *fakeSystem) Addrs(string, bool) ([]netip.Addr, error) { return []netip.Addr{s.addr}, nil }

func (s *fakeSystem) WatchLinks(ctx context.Context, f func(string, bool)) {
	s.mu.Lock()
	s.linkCB = f
	s.mu.Unlock()
	<-ctx.Done()
}

func (s *fakeSystem) WatchAddrs(ctx context.Context, _ string, _ func()) { <-ctx.Done() }

func (s *fakeSystem) HoldVIPs(_ string, vips []netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holdErr != nil {
		return s.holdErr
	}
	s.holds = append(s.holds, slices.Clone(vips))
	return nil
}

func (s *fakeSystem) RouteIface(a netip.Addr) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := s.routeIfaces[a]; ok {
		return name, nil
	}
	return "eth0", nil
}

func (s *fakeSystem) RedirectReplies(routes []replyRoute) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirects = append(s.redirects, slices.Clone(routes))
	if len(routes) > 0 && s.redirectErr != nil {
		return s.redirectErr
	}
	return nil
}

// redirectCalls returns the arguments of the RedirectReplies calls so far.
func (s *fakeSystem) redirectCalls() [][]replyRoute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.redirects)
}

// heldCalls returns the arguments of the HoldVIPs calls so far.
func (s *fakeSystem) heldCalls() [][]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.holds)
}

// setLink changes a link and reports it as the netlink watcher would.
func (s *fakeSystem) setLink(ifname string, up bool) {
	s.mu.Lock()
	s.ifaces[ifname] = up
	cb := s.linkCB
	s.mu.Unlock()
	if cb != nil {
		cb(ifname, up)
	}
}

func (s *fakeSystem) openTransports() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.transports {
		select {
		case <-t.close:
		default:
			n++
		}
	}
	return n
}

// recordingNotifier records sd_notify messages.
type recordingNotifier struct {
	mu   sync.Mutex
	sent []string
}

func (n *recordingNotifier) Send(state string) error {
	n.mu.Lock()
	n.sent = append(n.sent, state)
	n.mu.Unlock()
	return nil
}

func (n *recordingNotifier) has(state string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.sent, state)
}
