package daemon

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/vrrp"
)

// pipeConn is a socket the test feeds by hand.
type pipeConn struct {
	in     chan rxPacket
	closed chan struct{}
	sent   chan uint8 // VRIDs sent
}

func newPipeConn() *pipeConn {
	return &pipeConn{in: make(chan rxPacket, 16), closed: make(chan struct{}), sent: make(chan uint8, 16)}
}

func (c *pipeConn) Send(a *vrrp.Advert, _ netip.Addr) error { c.sent <- a.VRID; return nil }
func (c *pipeConn) Source() netip.Addr                      { return netip.MustParseAddr("192.0.2.1") }
func (c *pipeConn) Close() error                            { close(c.closed); return nil }
func (c *pipeConn) Receive([]byte) (vrrp.Packet, error) {
	select {
	case r := <-c.in:
		return r.p, r.err
	case <-c.closed:
		return vrrp.Packet{}, net.ErrClosed
	}
}

func advert(vrid uint8) vrrp.Packet {
	return vrrp.Packet{Advert: &vrrp.Advert{Version: 3, VRID: vrid, Priority: 100}, Src: netip.MustParseAddr("192.0.2.2"), TTL: 255}
}

// recv returns the next packet of t, or fails after a short wait.
func recv(t *testing.T, tr *muxTransport) (vrrp.Packet, error) {
	t.Helper()
	select {
	case r := <-tr.rx:
		return r.p, r.err
	case <-time.After(time.Second):
		t.Fatal("no packet delivered")
	}
	return vrrp.Packet{}, nil
}

func noPacket(t *testing.T, tr *muxTransport) {
	t.Helper()
	select {
	case r := <-tr.rx:
		t.Fatalf("vrid %d transport got %+v", tr.vrid, r)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestMuxDemultiplexesByVRID(t *testing.T) {
	verifyNoLeaks(t)
	var opened []*pipeConn
	ms := newMuxes(func(string, bool, ...vrrp.Option) (vrrpd.Transport, error) {
		c := newPipeConn()
		opened = append(opened, c)
		return c, nil
	}, slog.New(slog.DiscardHandler))
	key := muxKey{ifname: "eth0"}
	t51, err := ms.acquire(key, 51)
	if err != nil {
		t.Fatal(err)
	}
	t52, err := ms.acquire(key, 52)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.acquire(key, 52); err == nil {
		t.Error("a second user of vrid 52 on eth0 was accepted")
	}
	other, err := ms.acquire(muxKey{ifname: "eth1"}, 51)
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 2 || openSockets(ms) != 2 {
		t.Fatalf("%d sockets opened for two interfaces, want 2", len(opened))
	}
	eth0 := opened[0]

	// Each advert reaches only the instance of its VRID.
	eth0.in <- rxPacket{p: advert(52)}
	if p, _ := recv(t, t52); p.Advert.VRID != 52 {
		t.Errorf("vrid 52 got an advert of vrid %d", p.Advert.VRID)
	}
	noPacket(t, t51)

	// A packet that did not decode goes to the instance its VRID names,
	// and to no other.
	bad := vrrp.Packet{Src: netip.MustParseAddr("192.0.2.9"), TTL: 255, VRID: 51}
	eth0.in <- rxPacket{p: bad, err: vrrp.ErrChecksum}
	if _, err := recv(t, t51); !errors.Is(err, vrrp.ErrChecksum) {
		t.Errorf("vrid 51: error %v, want the checksum error", err)
	}
	noPacket(t, t52)

	// A VRID nobody runs reaches no instance: the interface counts it.
	eth0.in <- rxPacket{p: advert(99)}
	noPacket(t, t51)
	noPacket(t, t52)
	noPacket(t, other)
	if diff := cmp.Diff(map[string]map[vrrp.DropReason]uint64{"eth0": {vrrp.DropVRID: 1}}, ms.interfaceDrops()); diff != "" {
		t.Errorf("interface drops (-want +got):\n%s", diff)
	}

	// Sends go out through the shared socket.
	if err := t51.Send(&vrrp.Advert{VRID: 51}, vrrp.MulticastGroup(false)); err != nil || <-eth0.sent != 51 {
		t.Errorf("send through the shared socket: %v", err)
	}

	// The socket closes with its last instance, and a closed transport's
	// Receive ends.
	t51.Close()
	if _, err := t51.Receive(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive after Close: %v, want net.ErrClosed", err)
	}
	select {
	case <-eth0.closed:
		t.Fatal("the socket closed while vrid 52 still uses it")
	default:
	}
	t52.Close()
	<-eth0.closed
	other.Close()
	if n := openSockets(ms); n != 0 {
		t.Errorf("%d sockets open after every instance closed", n)
	}
}

// A packet to one of our addresses reaches every socket of the interface:
// the multicast one and each unicast one. It is still counted once: by the
// instance of its VRID on whichever socket runs it, or else by the
// interface, through the multicast socket alone. A multicast packet reaches
// the multicast socket only, which counts it whatever VRID it names.
func TestMuxCountsAPacketSeenByTwoSocketsOnce(t *testing.T) {
	verifyNoLeaks(t)
	conns := map[muxKey]*pipeConn{}
	ms := newMuxes(func(string, bool, ...vrrp.Option) (vrrpd.Transport, error) {
		return newPipeConn(), nil
	}, slog.New(slog.DiscardHandler))
	self := netip.MustParseAddr("192.0.2.1")
	mcast := muxKey{ifname: "eth0"}
	ucast := muxKey{ifname: "eth0", unicast: true, src: self}
	t51, err := ms.acquire(mcast, 51)
	if err != nil {
		t.Fatal(err)
	}
	t52, err := ms.acquire(ucast, 52)
	if err != nil {
		t.Fatal(err)
	}
	for k, m := range ms.all {
		conns[k] = m.conn.(*pipeConn)
	}
	// flush waits until both sockets have handled everything sent before.
	flush := func() {
		t.Helper()
		a51, a52 := advert(51), advert(52)
		a51.Dst, a52.Dst = self, self
		conns[mcast].in <- rxPacket{p: a51}
		conns[ucast].in <- rxPacket{p: a52}
		recv(t, t51)
		recv(t, t52)
	}
	both := func(p vrrp.Packet, err error) {
		conns[mcast].in <- rxPacket{p: p, err: err}
		conns[ucast].in <- rxPacket{p: p, err: err}
	}
	src := netip.MustParseAddr("192.0.2.9")

	// VRID 52 with a bad checksum, to us: the unicast instance counts it.
	both(vrrp.Packet{Src: src, Dst: self, TTL: 255, VRID: 52}, vrrp.ErrChecksum)
	if _, err := recv(t, t52); !errors.Is(err, vrrp.ErrChecksum) {
		t.Errorf("vrid 52: error %v, want the checksum error", err)
	}
	// Unreadable, to us: the interface counts it once.
	both(vrrp.Packet{Src: src, Dst: self, TTL: 255}, vrrp.ErrTooShort)
	// VRID 99, to us: the same.
	p99 := advert(99)
	p99.Dst = self
	both(p99, nil)
	// VRID 52 by multicast, which the unicast socket does not hear.
	m52 := advert(52)
	m52.Dst = vrrp.MulticastGroup(false)
	conns[mcast].in <- rxPacket{p: m52}
	flush()
	noPacket(t, t51)
	noPacket(t, t52)
	want := map[string]map[vrrp.DropReason]uint64{"eth0": {vrrp.DropLength: 1, vrrp.DropVRID: 2}}
	if diff := cmp.Diff(want, ms.interfaceDrops()); diff != "" {
		t.Errorf("interface drops (-want +got):\n%s", diff)
	}
	t51.Close()
	t52.Close()
}

// openSockets reports how many shared sockets are open.
func openSockets(ms *muxes) int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.all)
}
