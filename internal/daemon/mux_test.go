package daemon

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

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
	if len(opened) != 2 || ms.open() != 2 {
		t.Fatalf("%d sockets opened for two interfaces, want 2", len(opened))
	}
	eth0 := opened[0]

	// Each advert reaches only the instance of its VRID.
	eth0.in <- rxPacket{p: advert(52)}
	if p, _ := recv(t, t52); p.Advert.VRID != 52 {
		t.Errorf("vrid 52 got an advert of vrid %d", p.Advert.VRID)
	}
	noPacket(t, t51)

	// A VRID nobody runs, and a packet that did not decode, go to every
	// instance of the socket, which count them as their own socket would.
	eth0.in <- rxPacket{p: advert(99)}
	for _, tr := range []*muxTransport{t51, t52} {
		if p, _ := recv(t, tr); p.Advert.VRID != 99 {
			t.Errorf("vrid %d: got %+v, want the vrid 99 advert", tr.vrid, p)
		}
	}
	bad := vrrp.Packet{Src: netip.MustParseAddr("192.0.2.9"), TTL: 255}
	eth0.in <- rxPacket{p: bad, err: vrrp.ErrChecksum}
	for _, tr := range []*muxTransport{t51, t52} {
		if _, err := recv(t, tr); !errors.Is(err, vrrp.ErrChecksum) {
			t.Errorf("vrid %d: error %v, want the checksum error", tr.vrid, err)
		}
	}
	noPacket(t, other)

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
	if n := ms.open(); n != 0 {
		t.Errorf("%d sockets open after every instance closed", n)
	}
}
