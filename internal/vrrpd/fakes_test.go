package vrrpd

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/vrrp"
)

// journal is one ordered record of everything every fake saw, across nodes,
// so tests can check the order of effects on different routers (the old
// master removes its VIPs only after the new master's advert).
type journal struct {
	mu      sync.Mutex
	entries []entry
}

type entry struct {
	at   time.Time
	node string
	what string
}

func (j *journal) add(node, format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, entry{at: time.Now(), node: node, what: fmt.Sprintf(format, args...)})
}

// index returns the position of the first entry of node whose text is what,
// or -1.
func (j *journal) index(node, what string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.IndexFunc(j.entries, func(e entry) bool { return e.node == node && e.what == what })
}

// fakeNet is a LAN: an advert sent to the multicast group reaches every
// other attached conn, one sent to an address reaches the conn that has it.
// Adverts go through the real codec, so a marshalling bug shows.
type fakeNet struct {
	j     *journal
	mu    sync.Mutex
	conns []*fakeConn
}

func newFakeNet(j *journal) *fakeNet { return &fakeNet{j: j} }

// sentAdvert is one advert a conn sent.
type sentAdvert struct {
	at   time.Time
	dst  netip.Addr
	prio uint8
	// lost: the conn was detached, the advert reached nobody.
	lost   bool
	advert vrrp.Advert
}

type rxItem struct {
	p   vrrp.Packet
	err error
}

type fakeConn struct {
	net  *fakeNet
	name string
	addr netip.Addr

	inbox  chan rxItem
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	detached bool
	sent     []sentAdvert
	// stall, when set, holds the reader after it takes a packet until it
	// is closed, with the packet still reported by Pending: a reader not
	// scheduled while the kernel holds the packet.
	stall chan struct{}
	held  bool
}

func (n *fakeNet) attach(name string, addr netip.Addr) *fakeConn {
	c := &fakeConn{net: n, name: name, addr: addr, inbox: make(chan rxItem, 64), closed: make(chan struct{})}
	n.mu.Lock()
	n.conns = append(n.conns, c)
	n.mu.Unlock()
	return c
}

func (c *fakeConn) Source() netip.Addr { return c.addr }

func (c *fakeConn) Send(a *vrrp.Advert, dst netip.Addr) error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	b, err := a.Marshal(c.addr, dst)
	if err != nil {
		return err
	}
	c.mu.Lock()
	lost := c.detached
	c.sent = append(c.sent, sentAdvert{at: time.Now(), dst: dst, prio: a.Priority, lost: lost, advert: *a})
	c.mu.Unlock()
	if lost {
		return nil
	}
	c.net.j.add(c.name, "send prio %d", a.Priority)
	ipv6 := c.addr.Is6()
	c.net.mu.Lock()
	conns := slices.Clone(c.net.conns)
	c.net.mu.Unlock()
	for _, o := range conns {
		if o == c || o.isDetached() {
			continue
		}
		if dst.IsMulticast() || dst == o.addr {
			adv, err := vrrp.ParseAdvert(b, c.addr, dst, ipv6)
			p := vrrp.Packet{Advert: adv, Src: c.addr, Dst: dst, TTL: vrrp.AdvertTTL, IfIndex: 1}
			o.deliver(p, err)
		}
	}
	return nil
}

// deliver puts a packet in the conn's receive queue, as the kernel would.
func (c *fakeConn) deliver(p vrrp.Packet, err error) {
	select {
	case c.inbox <- rxItem{p: p, err: err}:
	case <-c.closed:
	default:
		// A full socket buffer drops, as the kernel does.
	}
}

func (c *fakeConn) Receive([]byte) (vrrp.Packet, error) {
	select {
	case it := <-c.inbox:
		c.mu.Lock()
		stall := c.stall
		c.held = stall != nil
		c.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-c.closed:
			}
			c.mu.Lock()
			c.held = false
			c.mu.Unlock()
		}
		return it.p, it.err
	case <-c.closed:
		return vrrp.Packet{}, fmt.Errorf("reading: %w", net.ErrClosed)
	}
}

// Pending reports a packet the reader has not passed on, as SIOCINQ does.
func (c *fakeConn) Pending() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held || len(c.inbox) > 0, nil
}

// stallReader holds the reader with the next packet it takes until release
// is closed.
func (c *fakeConn) stallReader(release chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stall = release
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// detach unplugs the conn: what it sends is lost, nothing reaches it. It is
// how a test kills a router without letting it shut down cleanly.
func (c *fakeConn) detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detached = true
}

func (c *fakeConn) isDetached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.detached
}

// sends returns the adverts that reached the wire.
func (c *fakeConn) sends() []sentAdvert {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sentAdvert
	for _, s := range c.sent {
		if !s.lost {
			out = append(out, s)
		}
	}
	return out
}

// fakeVIPs is one router's interface addresses.
type fakeVIPs struct {
	j    *journal
	node string

	mu    sync.Mutex
	have  map[string][]netip.Prefix
	calls []vipCall
	stall time.Duration // the next Missing takes this long
}

// stallNextCheck makes the next Missing take d.
func (f *fakeVIPs) stallNextCheck(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stall = d
}

type vipCall struct {
	at   time.Time
	op   string
	vips []netip.Prefix
}

func newFakeVIPs(j *journal, node string) *fakeVIPs {
	return &fakeVIPs{j: j, node: node, have: make(map[string][]netip.Prefix)}
}

func (f *fakeVIPs) Add(ifname string, vips []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, vipCall{at: time.Now(), op: "add", vips: slices.Clone(vips)})
	for _, v := range vips {
		if !slices.Contains(f.have[ifname], v) {
			f.have[ifname] = append(f.have[ifname], v)
		}
	}
	f.j.add(f.node, "add vips %v", vips)
	return nil
}

func (f *fakeVIPs) Remove(ifname string, vips []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, vipCall{at: time.Now(), op: "remove", vips: slices.Clone(vips)})
	f.have[ifname] = slices.DeleteFunc(f.have[ifname], func(p netip.Prefix) bool { return slices.Contains(vips, p) })
	f.j.add(f.node, "remove vips %v", vips)
	return nil
}

func (f *fakeVIPs) Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error) {
	f.mu.Lock()
	stall := f.stall
	f.stall = 0
	f.mu.Unlock()
	// A kernel that answers late holds up the instance's loop, as a
	// starved process would.
	time.Sleep(stall)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for _, v := range vips {
		if !slices.Contains(f.have[ifname], v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// deleteBehindBack removes an address as an operator's `ip addr del` would.
func (f *fakeVIPs) deleteBehindBack(ifname string, p netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.have[ifname] = slices.DeleteFunc(f.have[ifname], func(x netip.Prefix) bool { return x == p })
}

func (f *fakeVIPs) on(ifname string) []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.have[ifname])
}

func (f *fakeVIPs) recorded() []vipCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeAnnouncer records each announcement round.
type fakeAnnouncer struct {
	mu     sync.Mutex
	rounds []time.Time
}

func (f *fakeAnnouncer) Announce(ctx context.Context, _ string, _ []netip.Prefix) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rounds = append(f.rounds, time.Now())
	return nil
}

func (f *fakeAnnouncer) recorded() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rounds)
}

// fakeNotifier records each notification, in the journal too when it has
// one.
type fakeNotifier struct {
	j     *journal
	node  string
	mu    sync.Mutex
	notes []string
	prios []uint8
}

func (f *fakeNotifier) Notify(instance string, to vrrp.State, prio uint8) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, instance+" "+to.String())
	f.prios = append(f.prios, prio)
	if f.j != nil {
		f.j.add(f.node, "notify %s %s", instance, to)
	}
}

func (f *fakeNotifier) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notes)
}

var testVIP = netip.MustParsePrefix("192.0.2.100/32")

// instanceConfig is a version 3 instance with a one-second interval and
// preemption, as the config package would build it.
func instanceConfig(name string, vrid, prio uint8) Config {
	return Config{
		Name:           name,
		Interface:      "eth0",
		VRID:           vrid,
		Version:        3,
		AdvertInterval: time.Second,
		Preempt:        true,
		Priority:       prio,
		VirtualIPs:     []netip.Prefix{testVIP},
		Accept:         true,
		Announce:       announce.Schedule{Repeat: 5, Delay: 5 * time.Second},
	}
}

// router is one instance with its fakes.
type router struct {
	name  string
	conn  *fakeConn
	vips  *fakeVIPs
	ann   *fakeAnnouncer
	notes *fakeNotifier
	inst  *Instance

	cancel context.CancelFunc
	done   chan error
}

func newRouter(t *testing.T, n *fakeNet, name string, addr string, cfg Config, opts ...Option) *router {
	t.Helper()
	r := &router{
		name:  name,
		conn:  n.attach(name, netip.MustParseAddr(addr)),
		vips:  newFakeVIPs(n.j, name),
		ann:   &fakeAnnouncer{},
		notes: &fakeNotifier{j: n.j, node: name},
	}
	inst, err := New(cfg, Deps{
		Transport: r.conn,
		VIPs:      r.vips,
		Announcer: r.ann,
		Notifier:  r.notes,
		Logger:    slog.New(slog.DiscardHandler),
	}, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	r.inst = inst
	return r
}

func (r *router) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- r.inst.Run(ctx) }()
}

// stop cancels Run and waits for it; it returns how long Run took to return.
func (r *router) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("%s: Run: %v", r.name, err)
	}
	return time.Since(start)
}

func (r *router) state() vrrp.State { return r.inst.Status().State }

// firstSendAs returns the time of the first advert with priority prio that
// reached the wire, or the zero time.
func (r *router) firstSendAs(prio uint8) time.Time {
	for _, s := range r.conn.sends() {
		if s.prio == prio {
			return s.at
		}
	}
	return time.Time{}
}

// checksummed sets the checksum of the version 3 IPv4 message b from src to
// dst, whose checksum field is zero (RFC 5798 §5.2.8: the one's complement
// sum over the pseudo-header and the message), and returns b.
func checksummed(b []byte, src, dst netip.Addr) []byte {
	s, d := src.As4(), dst.As4()
	sum := uint32(vrrp.IPProtocol + len(b))
	for _, part := range [][]byte{s[:], d[:], b} {
		for i := 0; i+1 < len(part); i += 2 {
			sum += uint32(part[i])<<8 | uint32(part[i+1])
		}
		if len(part)%2 == 1 {
			sum += uint32(part[len(part)-1]) << 8
		}
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[6:8], ^uint16(sum))
	return b
}

// packetFrom marshals a from src to dst and decodes it as the transport
// would, after mutate has had a go at the bytes; ttl is the TTL it arrives
// with.
func packetFrom(t *testing.T, a vrrp.Advert, src, dst netip.Addr, ttl int, mutate func([]byte) []byte) (vrrp.Packet, error) {
	t.Helper()
	b, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatalf("marshal %v: %v", &a, err)
	}
	if mutate != nil {
		b = mutate(b)
	}
	p := vrrp.Packet{Src: src, Dst: dst, TTL: ttl, IfIndex: 1}
	adv, err := vrrp.ParseAdvert(b, src, dst, src.Is6())
	if err != nil {
		return p, err
	}
	p.Advert = adv
	return p, nil
}
