package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// connectRetry is how often a session that is down is tried again. GoBGP's
// default is two minutes; a director that comes up before its router
// should not wait that long to be announced.
const connectRetry = 5 * time.Second

// GoBGP is the Speaker, GoBGP's server embedded in the process.
type GoBGP struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	srv     *server.BgpServer // nil unless Run is running
	routes  map[netip.Addr]bool
	pathIDs map[netip.Addr]uuid.UUID
	peers   []PeerState
}

// NewGoBGP returns a speaker for cfg; it starts nothing.
func NewGoBGP(cfg Config, log *slog.Logger) *GoBGP {
	g := &GoBGP{cfg: cfg, log: log, routes: map[netip.Addr]bool{}, pathIDs: map[netip.Addr]uuid.UUID{}}
	for _, n := range cfg.Neighbors {
		g.peers = append(g.peers, PeerState{Name: n.Name, Address: n.Address, State: "IDLE"})
	}
	return g
}

// Run implements Speaker.
func (g *GoBGP) Run(ctx context.Context, events func(PeerEvent)) error {
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn)
	srv := server.NewBgpServer(server.LoggerOption(g.log.With("component", "gobgp"), lvl))
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	started := false
	defer func() {
		// Serve returns once StopBgp has run, which Stop does; a server
		// that never started cannot be stopped, and its Serve goroutine
		// is left to the process's exit (a start-up failure ends lvsd).
		if started {
			srv.Stop()
			<-served
		}
	}()

	listen := int32(-1) // GoBGP's "no listener"
	if g.cfg.ListenPort != 0 {
		listen = int32(g.cfg.ListenPort)
	}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        g.cfg.ASN,
		RouterId:   g.cfg.RouterID.String(),
		ListenPort: listen,
	}}); err != nil {
		return fmt.Errorf("starting BGP: %w", err)
	}
	started = true
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	evc := make(chan PeerEvent, 64)
	if err := srv.WatchEvent(watchCtx, server.WatchEventMessageCallbacks{
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, at time.Time) {
			if ev.Type != apiutil.PEER_EVENT_STATE {
				return
			}
			pe := PeerEvent{PeerState: PeerState{
				Address: ev.Peer.State.NeighborAddress,
				State:   fsmState(ev.Peer.State.SessionState),
				Up:      ev.Peer.State.SessionState == gobgp.BGP_FSM_ESTABLISHED,
				Since:   at,
			}}
			if ev.Peer.State.DisconnectMessage != "" {
				pe.Reason = ev.Peer.State.DisconnectMessage
			}
			select {
			case evc <- pe:
			case <-watchCtx.Done():
			}
		},
	}, server.WatchPeer()); err != nil {
		return fmt.Errorf("watching BGP sessions: %w", err)
	}

	for _, n := range g.cfg.Neighbors {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: g.peer(n)}); err != nil {
			return fmt.Errorf("adding BGP neighbor %s (%s): %w", n.Name, n.Address, err)
		}
	}

	g.mu.Lock()
	g.srv = srv
	var err error
	for vip, graceful := range g.routes {
		err = errors.Join(err, g.addPath(vip, graceful))
	}
	g.mu.Unlock()
	if err != nil {
		return err
	}

	for {
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.srv = nil
			for i := range g.peers {
				g.peers[i].State, g.peers[i].Up = "IDLE", false
			}
			g.mu.Unlock()
			// The deferred Stop closes every session with a CEASE
			// notification, which withdraws the routes at once (RFC 4271
			// §6.7, §8.2.1.1).
			return nil
		case pe := <-evc:
			g.mu.Lock()
			for i := range g.peers {
				if g.peers[i].Address == pe.Address {
					pe.Name = g.peers[i].Name
					g.peers[i] = pe.PeerState
				}
			}
			g.mu.Unlock()
			if events != nil && pe.Name != "" {
				events(pe)
			}
		}
	}
}

// peer is the library's configuration of one neighbour: one address
// family, that of its address, so that next hop self is an address of the
// session's own family.
func (g *GoBGP) peer(n Neighbor) *api.Peer {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if n.Address.Is6() {
		fam.Afi = api.Family_AFI_IP6
	}
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			Description:     n.Name,
			AuthPassword:    n.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry: uint64(connectRetry / time.Second),
		}},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
	}
	if g.cfg.HoldTime > 0 {
		hold := uint64(g.cfg.HoldTime / time.Second)
		p.Timers.Config.HoldTime = hold
		p.Timers.Config.KeepaliveInterval = max(hold/3, 1)
	}
	if n.Port != 0 {
		p.Transport = &api.Transport{RemotePort: uint32(n.Port)}
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	if n.BFD {
		p.Bfd = &api.BfdPeerConfig{Enabled: true}
	}
	return p
}

// Announce implements Speaker.
func (g *GoBGP) Announce(vip netip.Addr, graceful bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if had, ok := g.routes[vip]; ok && had == graceful {
		return nil
	}
	g.routes[vip] = graceful
	if g.srv == nil {
		return nil
	}
	return g.addPath(vip, graceful)
}

// Withdraw implements Speaker.
func (g *GoBGP) Withdraw(vip netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.routes[vip]; !ok {
		return nil
	}
	delete(g.routes, vip)
	id, ok := g.pathIDs[vip]
	if g.srv == nil || !ok {
		return nil
	}
	delete(g.pathIDs, vip)
	if err := g.srv.DeletePath(apiutil.DeletePathRequest{UUIDs: []uuid.UUID{id}}); err != nil {
		return fmt.Errorf("withdrawing %s: %w", HostPrefix(vip), err)
	}
	return nil
}

// Peers implements Speaker.
func (g *GoBGP) Peers() []PeerState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.peers)
}

// addPath hands vip's route to the server; g.mu is held.
func (g *GoBGP) addPath(vip netip.Addr, graceful bool) error {
	path, err := g.path(vip, graceful)
	if err != nil {
		return err
	}
	rs, err := g.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{path}})
	if err == nil && len(rs) == 1 {
		err = rs[0].Error
		g.pathIDs[vip] = rs[0].UUID
	}
	if err != nil {
		return fmt.Errorf("announcing %s: %w", HostPrefix(vip), err)
	}
	return nil
}

// path is vip's host route. The next hop is left unspecified, which GoBGP
// replaces by the session's local address: next hop self on every session.
func (g *GoBGP) path(vip netip.Addr, graceful bool) (*apiutil.Path, error) {
	nlri, err := gobgp.NewIPAddrPrefix(HostPrefix(vip))
	if err != nil {
		return nil, fmt.Errorf("route for %s: %w", vip, err)
	}
	attrs := []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := gobgp.RF_IPv4_UC
	if vip.Is4() {
		nh, err := gobgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		fam = gobgp.RF_IPv6_UC
		mp, err := gobgp.NewPathAttributeMpReachNLRI(fam, []gobgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if g.cfg.MED != 0 {
		attrs = append(attrs, gobgp.NewPathAttributeMultiExitDisc(g.cfg.MED))
	}
	comms := slices.Clone(g.cfg.Communities)
	if graceful {
		comms = append(comms, GracefulShutdown)
	}
	if len(comms) > 0 {
		attrs = append(attrs, gobgp.NewPathAttributeCommunities(comms))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}, nil
}

// fsmState names an RFC 4271 §8.2.2 state.
func fsmState(s gobgp.FSMState) string {
	switch s {
	case gobgp.BGP_FSM_IDLE:
		return "IDLE"
	case gobgp.BGP_FSM_CONNECT:
		return "CONNECT"
	case gobgp.BGP_FSM_ACTIVE:
		return "ACTIVE"
	case gobgp.BGP_FSM_OPENSENT:
		return "OPENSENT"
	case gobgp.BGP_FSM_OPENCONFIRM:
		return "OPENCONFIRM"
	case gobgp.BGP_FSM_ESTABLISHED:
		return "ESTABLISHED"
	}
	return "STATE-" + strconv.Itoa(int(s))
}
