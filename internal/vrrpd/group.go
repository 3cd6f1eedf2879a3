package vrrpd

import (
	"fmt"
	"log/slog"
	"slices"
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
	// state is the group's own state (groupState), told to notify.
	state  vrrp.State
	notify func(to vrrp.State)
}

// OnChange sets the function told the group's state when it changes (the
// group's notify commands); call it before any member runs. It must not
// block: it runs on a member's goroutine.
func (g *Group) OnChange(notify func(to vrrp.State)) {
	g.mu.Lock()
	g.notify = notify
	g.mu.Unlock()
}

// groupState is the state of a group whose members are in states, as
// keepalived's sync group notifies it: FAULT as soon as one member is in
// FAULT, otherwise the state all members share, otherwise (members on
// their way) the state it was.
func groupState(was vrrp.State, states []vrrp.State) vrrp.State {
	if slices.Contains(states, vrrp.Fault) {
		return vrrp.Fault
	}
	for _, s := range states[1:] {
		if s != states[0] {
			return was
		}
	}
	return states[0]
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
	if st := groupState(g.state, sg.States); st != g.state {
		g.state = st
		g.log.Info("vrrp sync group state change", "to", st.String())
		if g.notify != nil {
			g.notify(st)
		}
	}
	for _, o := range sg.Follow(member, t) {
		target := g.members[o.Member]
		g.log.Debug("sync group order", "instance", target.cfg.Name, "cause", g.members[member].cfg.Name, "event", fmt.Sprintf("%#v", o.Event))
		target.enqueue(o.Event)
	}
}
