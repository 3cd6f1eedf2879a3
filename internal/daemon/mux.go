package daemon

import (
	"errors"
	"fmt"
	"log/slog"
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
}

func newMuxes(listen listenFunc, log *slog.Logger) *muxes {
	return &muxes{listen: listen, log: log, all: make(map[muxKey]*mux)}
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

// open reports how many shared sockets are open (tests).
func (ms *muxes) open() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.all)
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

// deliver hands a packet to the instance of its VRID. A packet that did not
// decode, or names a VRID nobody here runs, goes to every instance on the
// socket, which counts it under its drop reason exactly as a socket of its
// own would have made it do.
func (m *mux) deliver(p vrrp.Packet, err error) {
	var targets []*muxTransport
	m.ms.mu.Lock()
	if t := m.subs[vrid(p, err)]; t != nil {
		targets = append(targets, t)
	} else {
		for _, t := range m.subs {
			targets = append(targets, t)
		}
	}
	m.ms.mu.Unlock()
	for _, t := range targets {
		t.push(rxPacket{p: p, err: err})
	}
}

// vrid is the VRID of a decoded advert, 0 (never configured) otherwise.
func vrid(p vrrp.Packet, err error) uint8 {
	if err != nil || p.Advert == nil {
		return 0
	}
	return p.Advert.VRID
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
