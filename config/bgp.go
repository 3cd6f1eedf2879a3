package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Scale-out: every director holds the announced VIPs and tells its BGP
// neighbours so; the routers spread flows over the directors by ECMP.

const (
	defaultHoldTime  = 90 * time.Second
	defaultDrainWait = 5 * time.Second
	defaultLinger    = 10 * time.Second
	// RFC 4271 §4.2: a hold time is 0 or at least 3 seconds, in 16 bits.
	minHoldTime = 3 * time.Second
	maxHoldTime = 65535 * time.Second
)

var bgpSpec = &blockSpec{
	Name: "bgp",
	Doc: "Active-active directors: every director holds the VIPs of the services with `announce = \"bgp\"` on `lo` (hidden from ARP), " +
		"programs the same IPVS table and announces each VIP as a host route (/32, /128, next hop self) to its neighbours, " +
		"which spread flows over the directors by ECMP. A VIP is announced once its services are programmed and healthy " +
		"and withdrawn as `withdraw_when` says; a stopping director first sends the GRACEFUL_SHUTDOWN community, waits `drain_wait`, then withdraws.",
	Attrs: []*attrSpec{
		{Name: "asn", Kind: kInt, Required: true, Min: 1, Max: maxUint32, Doc: "this cluster's AS number"},
		{Name: "router_id", Kind: kString, Default: `"auto"`, Doc: "BGP router ID (an IPv4 address); `auto` = the first global IPv4 address of the director's interfaces; each `node` may set its own"},
		{Name: "hold_time", Kind: kDuration, Default: "90s", Doc: "proposed hold time: 0s or 3s..65535s, whole seconds; keepalives go every third of it"},
		{Name: "listen_port", Kind: kInt, Min: 0, Max: maxUint16, Default: "0", Doc: "accept sessions opened by neighbours on this port; 0 = none, lvsd opens every session"},
		{Name: "med", Kind: kInt, Min: 0, Max: maxUint32, Default: "0", Doc: "MULTI_EXIT_DISC sent with every route; 0 = none"},
		{Name: "communities", Kind: kStringList, Default: "[]", Doc: "communities (`ASN:VALUE`) sent with every route"},
		{Name: "withdraw_when", Kind: kString, Default: `"any_service_down"`, Doc: "withdraw a VIP when `any_service_down` (one of its services has fewer healthy real servers than its quorum) or when `all_services_down`"},
		{Name: "drain_wait", Kind: kDuration, Default: "5s", Doc: "on stop, how long the routes carry the GRACEFUL_SHUTDOWN community before they are withdrawn"},
		{Name: "linger", Kind: kDuration, Default: "10s", Doc: "on stop, after the withdrawal, keep forwarding while packets of the announced services still arrive, at most this long"},
	},
	Blocks: []*blockSpec{
		{
			Name: "neighbor", Label: "NAME", Multi: true,
			Doc: "One BGP peer (a router). Names and addresses are unique; IPv4 VIPs go to IPv4 neighbours, IPv6 VIPs to IPv6 ones.",
			Attrs: []*attrSpec{
				{Name: "address", Kind: kString, Required: true, Doc: "the neighbour's address"},
				{Name: "asn", Kind: kInt, Required: true, Min: 1, Max: maxUint32, Doc: "the neighbour's AS number (the cluster's own for iBGP)"},
				{Name: "port", Kind: kInt, Min: 1, Max: maxUint16, Default: "179", Doc: "the neighbour's BGP port"},
				{Name: "bfd", Kind: kBool, Default: "false", Doc: "single-hop BFD (RFC 5881) on the session, at GoBGP's 1s x 3 timers (about 3s to detect a failure); useful with longer hold times"},
				{Name: "multihop", Kind: kInt, Min: 0, Max: 255, Default: "0", Doc: "TTL for an eBGP neighbour that is not directly connected; 0 = directly connected"},
				{Name: "password", Kind: kString, Default: `""`, Doc: "TCP MD5 signature password (RFC 2385); \"\" = none"},
			},
		},
	},
}

// Announce says how a virtual server's VIP reaches the routers.
type Announce string

const (
	// AnnounceVRRP: the VIP belongs to a VRRP instance (the default).
	AnnounceVRRP Announce = ""
	// AnnounceBGP: every director holds the VIP and announces it by BGP.
	AnnounceBGP Announce = "bgp"
)

// WithdrawWhen says when a director withdraws a VIP it announces.
type WithdrawWhen string

const (
	AnyServiceDown  WithdrawWhen = "any_service_down"
	AllServicesDown WithdrawWhen = "all_services_down"
)

// BGP configures the director's BGP speaker.
type BGP struct {
	ASN uint32
	// RouterID is this node's router ID; invalid means auto.
	RouterID     netip.Addr
	HoldTime     time.Duration
	ListenPort   uint16 // 0 = no listener
	MED          uint32 // 0 = not sent
	Communities  []uint32
	WithdrawWhen WithdrawWhen
	DrainWait    time.Duration
	// Linger bounds how long a stopping director keeps forwarding after
	// its routes are withdrawn.
	Linger    time.Duration
	Neighbors []BGPNeighbor
}

// BGPNeighbor is one BGP peer.
type BGPNeighbor struct {
	Name     string
	Address  netip.Addr
	ASN      uint32
	Port     uint16
	BFD      bool
	Multihop uint8
	Password string
}

// AnnouncedVIPs returns the VIPs of the services announced by BGP, each
// once, in file order.
func (c *Config) AnnouncedVIPs() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.Announce == AnnounceBGP && vs.Address.IsValid() && !seen[vs.Address.Addr()] {
			seen[vs.Address.Addr()] = true
			out = append(out, vs.Address.Addr())
		}
	}
	return out
}

// bgp builds the bgp block; nil when there is none.
func (b *builder) bgp(bb *block) *BGP {
	if bb == nil {
		return nil
	}
	out := &BGP{HoldTime: defaultHoldTime, WithdrawWhen: AnyServiceDown, DrainWait: defaultDrainWait, Linger: defaultLinger}
	if v := bb.get("asn"); v != nil {
		out.ASN = uint32(v.num)
	}
	if v := bb.get("router_id"); v != nil && v.str != "auto" {
		out.RouterID = b.routerID(v)
	}
	if v := bb.get("hold_time"); v != nil {
		if v.dur%time.Second != 0 || (v.dur != 0 && (v.dur < minHoldTime || v.dur > maxHoldTime)) {
			b.errorf(v.rng, "hold_time must be 0s or whole seconds from 3s to 65535s (RFC 4271), got %s", v.str)
		}
		out.HoldTime = v.dur
	}
	if v := bb.get("listen_port"); v != nil {
		out.ListenPort = uint16(v.num)
	}
	if v := bb.get("med"); v != nil {
		out.MED = uint32(v.num)
	}
	if v := bb.get("communities"); v != nil {
		for _, it := range v.list {
			if c, ok := community(it.str); ok {
				out.Communities = append(out.Communities, c)
			} else {
				b.errorf(it.rng, "community must be ASN:VALUE with both parts 0..65535, got %q", it.str)
			}
		}
	}
	if v := bb.get("withdraw_when"); v != nil && b.enum(v, "withdraw_when", []string{string(AnyServiceDown), string(AllServicesDown)}) {
		out.WithdrawWhen = WithdrawWhen(v.str)
	}
	if v := bb.get("drain_wait"); v != nil {
		out.DrainWait = v.dur
	}
	if v := bb.get("linger"); v != nil {
		out.Linger = v.dur
	}
	names := map[string]int{}
	addrs := map[netip.Addr]string{}
	for _, nb := range bb.blocks["neighbor"] {
		if line, dup := names[nb.label]; dup {
			b.errorf(nb.labelRng, "duplicate neighbor %q (the first is at line %d)", nb.label, line)
			continue
		}
		names[nb.label] = nb.labelRng.Start.Line
		n := BGPNeighbor{Name: nb.label, Port: 179}
		if v := nb.get("address"); v != nil {
			if a, ok := b.addr(v.str, v.rng, "neighbor address"); ok {
				if other, dup := addrs[a]; dup {
					b.errorf(v.rng, "neighbor address %s is also neighbor %q's", a, other)
				}
				addrs[a] = nb.label
				n.Address = a
			}
		}
		if v := nb.get("asn"); v != nil {
			n.ASN = uint32(v.num)
		}
		if v := nb.get("port"); v != nil {
			n.Port = uint16(v.num)
		}
		if v := nb.get("bfd"); v != nil {
			n.BFD = v.b
		}
		if v := nb.get("multihop"); v != nil {
			n.Multihop = uint8(v.num)
		}
		if v := nb.get("password"); v != nil {
			n.Password = v.str
		}
		out.Neighbors = append(out.Neighbors, n)
	}
	if len(bb.blocks["neighbor"]) == 0 {
		b.errorf(bb.typeRng, "bgp needs at least one neighbor block")
	}
	return out
}

// routerID reads a router ID: RFC 6286 allows any non-zero 32 bits, which
// are written as an IPv4 address.
func (b *builder) routerID(v *value) netip.Addr {
	a, err := netip.ParseAddr(v.str)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		b.errorf(v.rng, "router_id must be a non-zero IPv4 address or \"auto\", got %q", v.str)
		return netip.Addr{}
	}
	return a
}

// community parses ASN:VALUE into the 32-bit community (RFC 1997).
func community(s string) (uint32, bool) {
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 10, 16)
	l, err2 := strconv.ParseUint(lo, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return uint32(h)<<16 | uint32(l), true
}

// nodeRouterIDs reads the nodes' own router IDs and checks that two
// directors never share one: a router refuses a second session from an
// ID it already peers with.
func (b *builder) nodeRouterIDs(root *block, cfg *Config) {
	seen := map[netip.Addr]string{}
	for _, nb := range root.blocks["node"] {
		v := nb.get("router_id")
		if v == nil {
			continue
		}
		if cfg.BGP == nil {
			b.errorf(v.nameRng, "router_id needs a bgp block")
			continue
		}
		if v.str == "auto" {
			continue
		}
		a := b.routerID(v)
		if !a.IsValid() {
			continue
		}
		if other, dup := seen[a]; dup {
			b.errorf(v.rng, "router_id %s is also node %q's", a, other)
		}
		seen[a] = nb.label
		for i := range cfg.Nodes {
			if cfg.Nodes[i].Name == nb.label {
				cfg.Nodes[i].RouterID = a
			}
		}
	}
	if cfg.BGP == nil || !cfg.BGP.RouterID.IsValid() || len(cfg.Nodes) < 2 {
		return
	}
	var shared []string
	for _, n := range cfg.Nodes {
		if !n.RouterID.IsValid() {
			shared = append(shared, n.Name)
		}
	}
	if len(shared) > 1 {
		v := root.blocks["bgp"][0].get("router_id")
		b.errorf(v.rng, "router_id %s would be shared by nodes %s: set router_id in each node block, or \"auto\"", cfg.BGP.RouterID, strings.Join(shared, ", "))
	}
}

// announced checks the services announced by BGP: the Maglev scheduler
// with mh-port and mh-fallback (so that every director maps a flow to the
// same real server, and a failed server moves only its own flows), a VIP
// that no VRRP instance holds, and a neighbour of the VIP's family.
func (b *builder) announced(root *block, cfg *Config) {
	vrrpVIP := map[netip.Addr]string{}
	for _, vi := range cfg.VRRPInstances {
		for _, p := range vi.VirtualIPs {
			vrrpVIP[p.Addr()] = vi.Name
		}
	}
	for _, vb := range root.blocks["virtual_server"] {
		v := vb.get("announce")
		if v == nil || !b.enum(v, "announce", []string{string(AnnounceBGP)}) {
			continue
		}
		var vs *VirtualServer
		for i := range cfg.VirtualServers {
			if cfg.VirtualServers[i].Name == vb.label {
				vs = &cfg.VirtualServers[i]
			}
		}
		if vs == nil {
			continue // a duplicate, reported already
		}
		vs.Announce = AnnounceBGP
		if cfg.BGP == nil {
			b.errorf(v.rng, "announce = \"bgp\" needs a bgp block")
		}
		if vb.get("fwmark") != nil {
			b.errorf(v.rng, "an fwmark service has no VIP to announce: announce = \"bgp\" needs address")
			continue
		}
		b.maglev(vb, vs, v.rng)
		if o := vb.get("on_failure"); o != nil && vs.OnFailure == Remove {
			b.errorf(o.rng, "an announced service keeps a failed real server at weight 0 so that every director maps flows alike: on_failure must be \"quiescent\"")
		}
		vs.OnFailure = Quiescent
		if !vs.Address.IsValid() {
			continue
		}
		vip := vs.Address.Addr()
		if inst, ok := vrrpVIP[vip]; ok {
			b.errorf(vb.get("address").rng, "VIP %s is announced by BGP and is also a virtual IP of vrrp_instance %q; a VIP is one or the other", vip, inst)
		}
		if cfg.BGP != nil && len(cfg.BGP.Neighbors) > 0 {
			found := false
			for _, n := range cfg.BGP.Neighbors {
				found = found || (n.Address.IsValid() && n.Address.Is6() == vip.Is6())
			}
			if !found {
				b.errorf(v.rng, "VIP %s is %s but no bgp neighbor is: routes go to neighbours of their own family", vip, family(vip.Is6()))
			}
		}
	}
}

// maglev checks the scheduler of an announced service.
func (b *builder) maglev(vb *block, vs *VirtualServer, rng hcl.Range) {
	if vs.Scheduler != "mh" {
		if s := vb.get("scheduler"); s != nil {
			rng = s.rng
		}
		b.errorf(rng, "an announced service needs scheduler = \"mh\" (Maglev), so that every director sends a flow to the same real server; it has %q", vs.Scheduler)
		return
	}
	var missing []string
	for _, f := range []string{"mh-port", "mh-fallback"} {
		if !contains(vs.SchedFlags, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 && vb.ok("sched_flags") {
		if s := vb.get("sched_flags"); s != nil {
			rng = s.rng
		}
		b.errorf(rng, "an announced service needs sched_flags %s (mh-port spreads one client's connections, mh-fallback moves only a failed server's flows); missing %s",
			`["mh-port", "mh-fallback"]`, strings.Join(missing, ", "))
	}
}
