// Package bgp announces a director's virtual IPs as host routes to its BGP
// neighbours (RFC 4271), so that routers spread the clients' flows over
// several directors by ECMP. The daemon sees only Speaker; the speaker is
// GoBGP embedded as a library (gobgp.go), and bgptest holds a fake.
package bgp

import (
	"context"
	"net/netip"
	"time"
)

// GracefulShutdown is the well-known GRACEFUL_SHUTDOWN community 65535:0
// (RFC 8326): a router that sees it lowers the route's preference, so
// traffic leaves a director before its route is withdrawn.
const GracefulShutdown uint32 = 0xFFFF0000

// Speaker announces and withdraws host routes. Announce and Withdraw set
// what should be announced and return at once; the speaker keeps every
// session told, including sessions that come up later.
type Speaker interface {
	// Run starts the sessions and keeps them until ctx ends; then every
	// route is withdrawn and the sessions are closed. Events, when not
	// nil, is called on each session state change, never concurrently.
	Run(ctx context.Context, events func(PeerEvent)) error
	// Announce announces vip as a host route (/32 or /128) with next hop
	// self; graceful adds the GRACEFUL_SHUTDOWN community. Announcing a
	// VIP again replaces its attributes.
	Announce(vip netip.Addr, graceful bool) error
	// Withdraw withdraws vip's route; a VIP not announced is a no-op.
	Withdraw(vip netip.Addr) error
	// Peers returns every configured neighbour's session, in config order.
	Peers() []PeerState
}

// Config is the local speaker and its neighbours.
type Config struct {
	ASN      uint32
	RouterID netip.Addr // IPv4 address form, RFC 6286 allows any 32 bits
	// ListenPort is the port for sessions opened by the neighbours; 0 means
	// no listener: lvsd opens every session itself.
	ListenPort  uint16
	HoldTime    time.Duration
	MED         uint32 // 0 = not sent
	Communities []uint32
	Neighbors   []Neighbor
}

// Neighbor is one BGP peer.
type Neighbor struct {
	Name    string
	Address netip.Addr
	ASN     uint32
	Port    uint16 // 0 = 179
	// BFD enables single-hop BFD (RFC 5881) on the session.
	BFD bool
	// Multihop is the TTL for an eBGP neighbour that is not directly
	// connected; 0 = directly connected.
	Multihop uint8
	Password string
}

// PeerState is one session as the speaker sees it.
type PeerState struct {
	Name    string
	Address netip.Addr
	// State is the RFC 4271 §8.2.2 FSM state in capitals ("ESTABLISHED").
	State string
	Up    bool // State is ESTABLISHED
	Since time.Time
}

// PeerEvent is a change of one session's state.
type PeerEvent struct {
	PeerState
	// Reason is why a session went down, when the library says.
	Reason string
}

// HostPrefix returns the host route of vip: a /32 or a /128.
func HostPrefix(vip netip.Addr) netip.Prefix {
	return netip.PrefixFrom(vip, vip.BitLen())
}
