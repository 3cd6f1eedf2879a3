package vrrpd

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/lvsd/lvsd/vrrp"
)

// Group is a vrrp_sync_group: instances that change state together, such as
// the outside VIP and the inside gateway VIP of a NAT director. It applies
// the rule of [vrrp.SyncGroup]: when a member changes state, the group sends
// the other members the SyncForce orders that follow. It starts no
// goroutine; the members' Run goroutines carry the orders.
type Group struct {
	name    string
	members []*Instance
	log     *slog.Logger

	mu sync.Mutex // serialises Follow, so every decision sees the last change
}

// NewGroup ties members together. It must be called before any member runs,
// and an instance belongs to one group at most. logger may be nil.
func NewGroup(name string, logger *slog.Logger, members ...*Instance) (*Group, error) {
	if logger == nil {
		logger = slog.Default()
	}
	g := &Group{name: name, members: members, log: logger.With("sync_group", name)}
	for _, m := range members {
		if m.started.Load() {
			return nil, fmt.Errorf("sync group %s: instance %s is already running", name, m.cfg.Name)
		}
		m.mu.Lock()
		taken := m.hook != nil
		m.mu.Unlock()
		if taken {
			return nil, fmt.Errorf("sync group %s: instance %s is already in a sync group", name, m.cfg.Name)
		}
	}
	for i, m := range members {
		m.mu.Lock()
		m.hook = func(t vrrp.Transition) { g.follow(i, t) }
		m.mu.Unlock()
	}
	return g, nil
}

// follow runs on the Run goroutine of the member that changed state, after
// its status shows the new state. The orders are queued, never waited for:
// each member's own goroutine applies its order and reports the change back
// here, and vrrp.SyncGroup.Follow gives no order to a member already where
// the group wants it, so the exchange ends.
func (g *Group) follow(member int, t vrrp.Transition) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sg := vrrp.SyncGroup{
		States: make([]vrrp.State, len(g.members)),
		Down:   make([]bool, len(g.members)),
	}
	for i, m := range g.members {
		sg.States[i], sg.Down[i] = m.syncView()
	}
	for _, o := range sg.Follow(member, t) {
		target := g.members[o.Member]
		g.log.Debug("sync group order", "instance", target.cfg.Name, "cause", g.members[member].cfg.Name, "event", fmt.Sprintf("%#v", o.Event))
		target.enqueue(o.Event)
	}
}
