package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/vrrp"
)

// One raw socket per interface and family, shared by every instance on it.
//
// Each socket bound to an interface receives every VRRP packet of the
// segment. With one socket per instance, two instances on one interface
// would each receive the other's adverts as well as their own virtual
// router's, and count them as "vrid" drops every advert interval. So the
// daemon opens one socket per (interface, family, mode, source) and hands
// each received packet to the instance whose VRID it carries; sends go out
// through the shared socket directly.
//
// Every dropped packet is counted once. One whose VRID (read even when the
// packet does not decode) runs on the socket goes to that instance, which
// counts it under its reason. Any other, a VRID nobody here runs or none
// readable, is counted on the interface (status "vrrp_interfaces",
// lvsd_vrrp_interface_packets_dropped_total): handing it to every instance
// would count it once per instance.

// muxKey identifies a shared socket. Unicast and multicast instances need
// differently configured sockets (group membership), and a unicast instance
// sends from its own unicast_peers address, so both are part of the key.
type muxKey struct {
	ifname  string
	ipv6    bool
	unicast bool
	src     netip.Addr // invalid: the interface's default source
}

// listenFunc opens a VRRP socket; vrrp.ListenIPv4/ListenIPv6 in production.
type listenFunc func(ifname string, ipv6 bool, opts ...vrrp.Option) (vrrpd.Transport, error)

func listenVRRP(ifname string, ipv6 bool, opts ...vrrp.Option) (vrrpd.Transport, error) {
	if ipv6 {
		return vrrp.ListenIPv6(ifname, opts...)
	}
	return vrrp.ListenIPv4(ifname, opts...)
}

// muxes is the set of shared sockets. A socket opens with its first
// instance and closes with its last.
type muxes struct {
	listen listenFunc
	log    *slog.Logger

	mu  sync.Mutex
	all map[muxKey]*mux
	// dropped counts, by interface, the packets no instance was given.
	// It outlives the sockets, so a restarted instance does not reset it.
	dropped map[string]map[vrrp.DropReason]uint64
	logged  map[ifReason]bool // first drop of each kind, logged
}

type ifReason struct {
	ifname string
	reason vrrp.DropReason
}

func newMuxes(listen listenFunc, log *slog.Logger) *muxes {
	return &muxes{
		listen:  listen,
		log:     log,
		all:     make(map[muxKey]*mux),
		dropped: make(map[string]map[vrrp.DropReason]uint64),
		logged:  make(map[ifReason]bool),
	}
}

// interfaceDrops returns a copy of the interface counters.
func (ms *muxes) interfaceDrops() map[string]map[vrrp.DropReason]uint64 {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := make(map[string]map[vrrp.DropReason]uint64, len(ms.dropped))
	for ifname, byReason := range ms.dropped {
		out[ifname] = maps.Clone(byReason)
	}
	return out
}

// rxQueue is how many received packets wait for one instance before
// further ones are dropped; an instance reads continuously, so this only
// absorbs bursts.
const rxQueue = 64

// acquire returns a Transport for virtual router vrid on the socket of key,
// opening the socket if it is the first user.
func (ms *muxes) acquire(key muxKey, vrid uint8) (*muxTransport, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.all[key]
	if m == nil {
		var opts []vrrp.Option
		if key.src.IsValid() {
			opts = append(opts, vrrp.WithSource(key.src))
		}
		if key.unicast {
			opts = append(opts, vrrp.WithoutMulticast())
		}
		conn, err := ms.listen(key.ifname, key.ipv6, opts...)
		if err != nil {
			return nil, err
		}
		m = &mux{ms: ms, key: key, conn: conn, subs: make(map[uint8]*muxTransport), done: make(chan struct{}), log: ms.log}
		ms.all[key] = m
		go m.read()
	}
	if m.subs[vrid] != nil {
		return nil, fmt.Errorf("vrid %d is already in use on %s", vrid, key.ifname)
	}
	t := &muxTransport{ms: ms, m: m, vrid: vrid, rx: make(chan rxPacket, rxQueue), closed: make(chan struct{})}
	m.subs[vrid] = t
	return t, nil
}

// release unregisters t and closes the socket when t was its last user.
// It waits for the socket's reader to end, so no goroutine outlives the
// last instance.
func (ms *muxes) release(t *muxTransport) {
	ms.mu.Lock()
	m := t.m
	if m.subs[t.vrid] == t {
		delete(m.subs, t.vrid)
	}
	last := len(m.subs) == 0 && ms.all[m.key] == m
	if last {
		delete(ms.all, m.key)
	}
	ms.mu.Unlock()
	if last {
		m.conn.Close()
		<-m.done
	}
}

// mux is one shared socket and its reader.
type mux struct {
	ms   *muxes
	key  muxKey
	conn vrrpd.Transport
	log  *slog.Logger
	done chan struct{} // closed when read returns

	// subs is guarded by muxes.mu.
	subs map[uint8]*muxTransport
}

// readBackoff is the pause after a socket error other than the close, so a
// persistent error does not spin.
const readBackoff = 100 * time.Millisecond

func (m *mux) read() {
	defer close(m.done)
	buf := make([]byte, 8+8+255*16)
	failing := false
	for {
		p, err := m.conn.Receive(buf)
		if err != nil && p == (vrrp.Packet{}) {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !failing {
				m.log.Warn("receiving vrrp packets", "interface", m.key.ifname, "err", err)
				failing = true
			}
			time.Sleep(readBackoff)
			continue
		}
		failing = false
		m.deliver(p, err)
	}
}

// deliver hands a packet to the instance of the VRID it names, decoded or
// not, and counts any other on the interface.
func (m *mux) deliver(p vrrp.Packet, err error) {
	id := vrid(p)
	ms := m.ms
	ms.mu.Lock()
	t := m.subs[id]
	var reason vrrp.DropReason
	first := false
	if t == nil && ms.countsStrayLocked(m, id, p.Dst) {
		reason = strayReason(p, err)
		byReason := ms.dropped[m.key.ifname]
		if byReason == nil {
			byReason = make(map[vrrp.DropReason]uint64)
			ms.dropped[m.key.ifname] = byReason
		}
		byReason[reason]++
		k := ifReason{m.key.ifname, reason}
		first = !ms.logged[k]
		ms.logged[k] = true
	}
	ms.mu.Unlock()
	if t != nil {
		t.push(rxPacket{p: p, err: err})
		return
	}
	if first {
		// One line for the first drop of each kind, as an instance
		// logs its own: a misconfigured neighbour sends every second.
		m.log.Warn("dropping vrrp packets for no instance", "interface", m.key.ifname, "vrid", id, "from", p.Src.String(), "reason", string(reason), "err", err)
	}
}

// countsStrayLocked reports whether m counts a packet to dst that none of
// its instances takes, the caller holding ms.mu. A multicast packet reaches
// only the interface's one multicast socket: m counts it. A packet to one of
// our addresses reaches every socket of the interface and family: if one of
// them runs its VRID, that instance counts it; otherwise the first socket
// in muxKeyLess order does, so that it is counted once.
func (ms *muxes) countsStrayLocked(m *mux, id uint8, dst netip.Addr) bool {
	if dst.IsMulticast() {
		return true
	}
	first := m
	for k, o := range ms.all {
		if k.ifname != m.key.ifname || k.ipv6 != m.key.ipv6 || o == m {
			continue
		}
		if o.subs[id] != nil {
			return false
		}
		if muxKeyLess(k, first.key) {
			first = o
		}
	}
	return first == m
}

// muxKeyLess orders the sockets of one interface and family: the multicast
// socket first, then the unicast ones by source.
func muxKeyLess(a, b muxKey) bool {
	if a.unicast != b.unicast {
		return !a.unicast
	}
	return a.src.Less(b.src)
}

// strayReason is why a packet no instance takes is dropped, in the order of
// the receive checks (RFC 5798 §7.1): what the codec found, else a TTL
// other than 255, else the VRID nobody here runs.
func strayReason(p vrrp.Packet, err error) vrrp.DropReason {
	switch {
	case err != nil:
		return vrrp.ReasonOf(err)
	case p.TTL != vrrp.AdvertTTL:
		return vrrp.DropTTL
	default:
		return vrrp.DropVRID
	}
}

// vrid is the VRID the packet names, decoded or not; 0, which no instance
// has, when it cannot be read.
func vrid(p vrrp.Packet) uint8 {
	if p.Advert != nil {
		return p.Advert.VRID
	}
	return p.VRID
}

type rxPacket struct {
	p   vrrp.Packet
	err error
}

// muxTransport is one instance's view of a shared socket: a vrrpd.Transport
// whose Receive yields the packets of its VRID.
type muxTransport struct {
	ms   *muxes
	m    *mux
	vrid uint8
	rx   chan rxPacket

	closeOnce sync.Once
	closed    chan struct{}
}

func (t *muxTransport) push(r rxPacket) {
	select {
	case t.rx <- r:
	default:
		// The instance is not keeping up; dropping is what a full socket
		// buffer would have done.
	}
}

func (t *muxTransport) Send(a *vrrp.Advert, dst netip.Addr) error { return t.m.conn.Send(a, dst) }

func (t *muxTransport) Source() netip.Addr { return t.m.conn.Source() }

func (t *muxTransport) Receive(buf []byte) (vrrp.Packet, error) {
	select {
	case r := <-t.rx:
		return r.p, r.err
	case <-t.closed:
		return vrrp.Packet{}, fmt.Errorf("vrrp socket of vrid %d on %s: %w", t.vrid, t.m.key.ifname, net.ErrClosed)
	}
}

// Close detaches the instance; the socket closes with its last instance.
func (t *muxTransport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.ms.release(t)
	})
	return nil
}
