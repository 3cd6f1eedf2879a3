// Package bgptest holds a fake bgp.Speaker that records what it is asked.
package bgptest

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"github.com/lvsd/lvsd/internal/bgp"
)

// Call is one Announce or Withdraw, in the order they came.
type Call struct {
	Op       string // "announce" or "withdraw"
	VIP      netip.Addr
	Graceful bool
}

// Speaker is a fake bgp.Speaker: it records calls, holds the announced
// routes and reports the sessions a test sets with SetPeer.
type Speaker struct {
	mu     sync.Mutex
	calls  []Call
	routes map[netip.Addr]bool
	peers  []bgp.PeerState
	events func(bgp.PeerEvent)
	// Running is closed when Run has started.
	Running chan struct{}
}

// New returns a fake speaker with the given neighbours, all down.
func New(neighbors ...bgp.Neighbor) *Speaker {
	s := &Speaker{routes: map[netip.Addr]bool{}, Running: make(chan struct{})}
	for _, n := range neighbors {
		s.peers = append(s.peers, bgp.PeerState{Name: n.Name, Address: n.Address, State: "IDLE"})
	}
	return s
}

// Run implements bgp.Speaker; on return every route is withdrawn, as the
// real speaker's closing sessions do.
func (s *Speaker) Run(ctx context.Context, events func(bgp.PeerEvent)) error {
	s.mu.Lock()
	s.events = events
	s.mu.Unlock()
	close(s.Running)
	<-ctx.Done()
	s.mu.Lock()
	s.events = nil
	clear(s.routes)
	s.mu.Unlock()
	return nil
}

// Announce implements bgp.Speaker.
func (s *Speaker) Announce(vip netip.Addr, graceful bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "announce", VIP: vip, Graceful: graceful})
	s.routes[vip] = graceful
	return nil
}

// Withdraw implements bgp.Speaker.
func (s *Speaker) Withdraw(vip netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "withdraw", VIP: vip})
	delete(s.routes, vip)
	return nil
}

// Peers implements bgp.Speaker.
func (s *Speaker) Peers() []bgp.PeerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.peers)
}

// SetPeer changes a neighbour's session and reports it to Run's events.
func (s *Speaker) SetPeer(name string, up bool) {
	s.mu.Lock()
	var ev *bgp.PeerEvent
	for i := range s.peers {
		if s.peers[i].Name == name {
			s.peers[i].Up = up
			s.peers[i].State = "ACTIVE"
			if up {
				s.peers[i].State = "ESTABLISHED"
			}
			ev = &bgp.PeerEvent{PeerState: s.peers[i]}
		}
	}
	events := s.events
	s.mu.Unlock()
	if ev != nil && events != nil {
		events(*ev)
	}
}

// Calls returns the calls so far.
func (s *Speaker) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Routes returns the announced VIPs and whether each carries the
// graceful-shutdown community.
func (s *Speaker) Routes() map[netip.Addr]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[netip.Addr]bool, len(s.routes))
	for k, v := range s.routes {
		out[k] = v
	}
	return out
}

var _ bgp.Speaker = (*Speaker)(nil)
