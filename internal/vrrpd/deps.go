package vrrpd

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/vrrp"
)

// Config is one virtual router as the instance runs it; the daemon
// translates a vrrp_instance block of the cluster file into it.
type Config struct {
	Name      string
	Interface string
	VRID      uint8
	Version   int // 2 (RFC 3768) or 3 (RFC 5798); 0 means 3
	// AdvertInterval is whole seconds for v2 and a multiple of 10ms for v3.
	AdvertInterval time.Duration
	Priority       uint8
	Preempt        bool
	PreemptDelay   time.Duration
	Accept         bool
	// UnicastPeers lists every router's address for unicast adverts, ours
	// included (it is left out); empty means multicast.
	UnicastPeers []netip.Addr
	VirtualIPs   []netip.Prefix // all of one family
	// TrackInterfaces, TrackScripts and TrackFiles are followed with
	// their weights (see Track); a Tracker reports the scripts' results
	// and the files' numbers.
	TrackInterfaces []Track
	TrackScripts    []Track
	TrackFiles      []Track
	// AuthPass is the VRRPv2 simple-text password; "" means none.
	AuthPass string
	// Announce is the master's schedule of gratuitous ARPs or unsolicited
	// neighbour advertisements.
	Announce announce.Schedule
}

// IPv6 reports whether the virtual IPs (and so the adverts) are IPv6.
func (c *Config) IPv6() bool {
	return len(c.VirtualIPs) > 0 && c.VirtualIPs[0].Addr().Is6()
}

// Transport carries the advertisements of one instance. *vrrp.Conn satisfies
// it as it is.
//
// Receive blocks until a packet arrives. It reports a socket error (and
// net.ErrClosed after Close) with a zero Packet, and a packet that did not
// decode with its addresses filled in, a nil Advert and an error wrapping one
// of the vrrp sentinels, so that the instance can count it by
// [vrrp.DropReason]. Receive is called from one goroutine; Send may run
// concurrently with it. Close makes a blocked Receive return.
type Transport interface {
	Send(a *vrrp.Advert, dst netip.Addr) error
	Receive(buf []byte) (vrrp.Packet, error)
	// Source is the address adverts leave from: the machine's primary
	// address, which breaks ties between equal priorities.
	Source() netip.Addr
	Close() error
}

// VIPs adds and removes the virtual addresses of an instance on its
// interface.
type VIPs interface {
	// Add adds the addresses; adding one that is already there is not an
	// error.
	Add(ifname string, vips []netip.Prefix) error
	// Remove removes the addresses; removing one that is gone is not an
	// error.
	Remove(ifname string, vips []netip.Prefix) error
	// Missing returns those of vips that are not on the interface.
	Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error)
}

// Announcer sends one round of announcements of the virtual addresses: for
// each address one gratuitous ARP (request and reply) or one unsolicited
// neighbour advertisement. The instance repeats rounds as the garp block says
// (repeat, interval, delay, refresh), so all the timing of the announcement
// schedule is in one place and under test. Announce should return promptly
// when ctx ends.
type Announcer interface {
	Announce(ctx context.Context, ifname string, vips []netip.Prefix) error
}

// Notifier runs the notify command of a state change. It must not block: the
// instance calls it from the goroutine that sends adverts. A change to
// [vrrp.Init] means the instance stopped (the notify "stop" command).
// priority is the effective priority after the change.
type Notifier interface {
	Notify(instance string, to vrrp.State, priority uint8)
}

// Deps are the effects an Instance needs. Transport and VIPs are required;
// without an Announcer nothing is announced, without a Notifier nothing is
// run.
type Deps struct {
	Transport Transport
	VIPs      VIPs
	Announcer Announcer
	Notifier  Notifier
	// Logger receives one line per state change and the first of each
	// kind of error; nil means slog.Default().
	Logger *slog.Logger
}
