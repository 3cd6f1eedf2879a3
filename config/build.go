package config

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Documented defaults. Defaults of the schema's docs must say the same.
const (
	defaultPriority          = 100
	defaultVersion           = 3
	defaultAdvertInterval    = time.Second
	defaultGARPRepeat        = 5
	defaultGARPDelay         = 5 * time.Second
	defaultCheckInterval     = 5 * time.Second
	defaultCheckTimeout      = 2 * time.Second
	defaultCheckRise         = 2
	defaultCheckFall         = 3
	defaultCheckPath         = "/"
	defaultCheckRetryDelay   = time.Second
	defaultReconcileInterval = 10 * time.Second
	defaultSocket            = "/run/lvsd/lvsd.sock"
	defaultMetricsListen     = "127.0.0.1:9469"

	maxPreemptDelay = 1000 * time.Second
	// RFC 3768 §5.3.7: the v2 advert interval is an 8-bit count of seconds.
	maxV2Interval = 255 * time.Second
	// RFC 5798 §5.2.7: the v3 interval is 12 bits of centiseconds.
	v3IntervalStep = 10 * time.Millisecond
	maxV3Interval  = 4095 * v3IntervalStep
	// RFC 3768 §5.3.6 and §5.3.10: the simple password fills 8 octets.
	maxAuthPass = 8
	// Linux IFNAMSIZ is 16 with the terminating NUL.
	maxIfName = 15
)

// builder turns decoded blocks into domain values and runs the semantic
// checks. It is run once by Parse, which keeps its diagnostics, and again by
// Resolve for a File resolved a second time. A Loader's builds reuse the
// virtual servers built from blocks that did not change (builtServer).
type builder struct {
	diags Diagnostics
	// The top-level track_script and track_file blocks, by name, for
	// the instances' references.
	scripts map[string]*TrackScript
	files   map[string]*TrackFile
	// memo: keep each virtual server built in its block, and take it
	// from there when the block has one (builtServer).
	memo bool
}

// builtServer is a virtual server built from its block without a
// diagnostic. A Loader keeps the decoded blocks of the pieces that did
// not change from one load to the next (parse.go), and a virtual server
// without a group depends on its block alone: a reload builds again only
// the virtual servers of the pieces that changed. Nothing changes a built
// virtual server's slices and pointers afterwards, so the Configs of
// successive loads may share them.
type builtServer struct {
	vs VirtualServer
}

// virtualServerOnce is virtualServer, taking what an earlier build of the
// same block made when the block has no group.
func (b *builder) virtualServerOnce(vb *block, groups map[string]*serverGroup) (VirtualServer, *serverGroup) {
	if !b.memo || vb.attr("group") != nil {
		return b.virtualServer(vb, groups)
	}
	if r := vb.built; r != nil {
		return r.vs, nil
	}
	n := len(b.diags)
	vs, grp := b.virtualServer(vb, groups)
	if len(b.diags) == n {
		// Kept only without diagnostics, which have positions: a
		// piece's blocks move (parsed.move), a built server does not.
		vb.built = &builtServer{vs: vs}
	}
	return vs, grp
}

func (b *builder) errorf(rng hcl.Range, format string, args ...any) {
	b.diags = append(b.diags, diagAt(rng, format, args...))
}

// instInfo keeps what cross-instance checks need.
type instInfo struct {
	blk *block
	// prioRng is where each node's priority for this instance comes from.
	prioRng map[string]hcl.Range
}

func (b *builder) build(root *block) *Config {
	cfg := &Config{}
	if v := root.get("cluster"); v != nil {
		if strings.TrimSpace(v.str) == "" {
			b.errorf(v.rng, "cluster must not be empty")
		} else {
			b.name("cluster", v.str, v.rng)
		}
		cfg.Cluster = v.str
	}

	nodeRng := map[string]hcl.Range{} // node name -> its priority's range (or label)
	nodeLine := map[string]int{}
	for _, nb := range root.blocks["node"] {
		if line, dup := nodeLine[nb.label]; dup {
			b.errorf(nb.labelRng, "duplicate node %q (the first is at line %d)", nb.label, line)
			continue
		}
		nodeLine[nb.label] = nb.labelRng.Start.Line
		n := Node{Name: nb.label, Priority: defaultPriority}
		nodeRng[nb.label] = nb.labelRng
		if v := nb.get("priority"); v != nil {
			n.Priority = uint8(v.num)
			nodeRng[nb.label] = v.rng
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}

	cfg.TrackScripts = b.trackScripts(root.blocks["track_script"])
	cfg.TrackFiles = b.trackFiles(root.blocks["track_file"])

	insts := map[string]*instInfo{}
	type vridKey struct {
		ifname string
		ipv6   bool
		vrid   uint8
	}
	vrids := map[vridKey]string{}
	vipOwner := map[netip.Addr]string{}
	for _, ib := range root.blocks["vrrp_instance"] {
		if first, dup := insts[ib.label]; dup {
			b.errorf(ib.labelRng, "duplicate vrrp_instance %q (the first is at line %d)", ib.label, first.blk.labelRng.Start.Line)
			continue
		}
		info := &instInfo{blk: ib, prioRng: map[string]hcl.Range{}}
		insts[ib.label] = info
		vi, famOK := b.instance(ib, cfg.Nodes, nodeRng, info)
		if famOK && ib.ok("interface") && ib.ok("vrid") {
			k := vridKey{vi.Interface, vi.IPv6(), vi.VRID}
			if other, dup := vrids[k]; dup {
				b.errorf(ib.get("vrid").rng, "vrid %d is already used on %s by vrrp_instance %q", vi.VRID, vi.Interface, other)
			} else {
				vrids[k] = vi.Name
			}
		}
		if v := ib.get("virtual_ips"); v != nil && famOK {
			for i, p := range vi.VirtualIPs {
				if other, dup := vipOwner[p.Addr()]; dup && other != vi.Name {
					b.errorf(v.list[i].rng, "virtual IP %s is also in vrrp_instance %q", p.Addr(), other)
				} else {
					vipOwner[p.Addr()] = vi.Name
				}
			}
		}
		b.owner255(vi, cfg.Nodes, info)
		cfg.VRRPInstances = append(cfg.VRRPInstances, vi)
	}

	groupOf := map[string]string{}
	groupLine := map[string]int{}
	for _, gb := range root.blocks["vrrp_sync_group"] {
		if line, dup := groupLine[gb.label]; dup {
			b.errorf(gb.labelRng, "duplicate vrrp_sync_group %q (the first is at line %d)", gb.label, line)
			continue
		}
		groupLine[gb.label] = gb.labelRng.Start.Line
		g := SyncGroup{Name: gb.label}
		if ns := gb.blocks["notify"]; len(ns) > 0 {
			g.Notify = b.notify(ns[0])
		}
		if v := gb.get("instances"); v != nil {
			if len(v.list) == 0 {
				b.errorf(v.rng, "instances of vrrp_sync_group %q must not be empty", gb.label)
			}
			for _, it := range v.list {
				switch other, in := groupOf[it.str]; {
				case insts[it.str] == nil:
					b.errorf(it.rng, "vrrp_sync_group %q names %q, which is not a vrrp_instance%s", gb.label, it.str, didYouMean(it.str, mapKeys(insts)))
				case in && other == gb.label:
					b.errorf(it.rng, "vrrp_sync_group %q lists %q twice", gb.label, it.str)
				case in:
					b.errorf(it.rng, "vrrp_instance %q is already in vrrp_sync_group %q", it.str, other)
				default:
					groupOf[it.str] = gb.label
				}
				g.Instances = append(g.Instances, it.str)
			}
		}
		cfg.SyncGroups = append(cfg.SyncGroups, g)
	}

	// The kernel knows a service by protocol and address, or by firewall
	// mark and family: two blocks with one key would fight over it.
	type serviceKey struct {
		proto Protocol
		addr  netip.AddrPort
		mark  uint32
		ipv6  bool
	}
	vbs := root.blocks["virtual_server"]
	vsLine := make(map[string]int, len(vbs))
	services := make(map[serviceKey]string, len(vbs))
	cfg.VirtualServers = make([]VirtualServer, 0, len(vbs))
	groups := b.groups(root)
	memberOf := map[string]string{} // member name -> group
	for _, vb := range vbs {
		if line, dup := vsLine[vb.label]; dup {
			b.errorf(vb.labelRng, "duplicate virtual_server %q (the first is at line %d)", vb.label, line)
			continue
		}
		vsLine[vb.label] = vb.labelRng.Start.Line
		vs, grp := b.virtualServerOnce(vb, groups)
		first := len(cfg.VirtualServers)
		if grp != nil {
			cfg.VirtualServers = append(cfg.VirtualServers, members(&vs, grp)...)
		} else {
			cfg.VirtualServers = append(cfg.VirtualServers, vs)
		}
		for i := first; i < len(cfg.VirtualServers); i++ {
			m := &cfg.VirtualServers[i]
			var k serviceKey
			var rng hcl.Range
			switch {
			case grp != nil:
				rng = vb.get("group").rng
				k = serviceKey{mark: m.FWMark, ipv6: m.IPv6}
				if m.FWMark == 0 {
					k = serviceKey{proto: m.Protocol, addr: m.Address}
				}
				memberOf[m.Name] = grp.name
			case m.Address.IsValid() && vb.ok("protocol"):
				k, rng = serviceKey{proto: m.Protocol, addr: m.Address}, vb.get("address").rng
			case m.FWMark != 0:
				k, rng = serviceKey{mark: m.FWMark, ipv6: m.IPv6}, vb.get("fwmark").rng
			}
			if rng.Start.Line > 0 {
				if other, dup := services[k]; dup {
					b.errorf(rng, "virtual_server %q is the same IPVS service as %q", m.Name, other)
				} else {
					services[k] = m.Name
				}
			}
		}
	}
	for _, vb := range vbs {
		if g, clash := memberOf[vb.label]; clash {
			b.errorf(vb.labelRng, "%s", memberClash(vb.label, g))
		}
	}

	var ipvsBlk, statusBlk *block
	if bs := root.blocks["ipvs"]; len(bs) > 0 {
		ipvsBlk = bs[0]
	}
	if bs := root.blocks["status"]; len(bs) > 0 {
		statusBlk = bs[0]
	}
	if bs := root.blocks["bgp"]; len(bs) > 0 {
		cfg.BGP = b.bgp(bs[0])
	}
	b.nodeRouterIDs(root, cfg)
	b.announced(root, cfg)
	cfg.IPVS = b.ipvs(ipvsBlk, cfg.VirtualServers, insts)
	cfg.Status = b.status(statusBlk)
	return cfg
}

// instance builds one vrrp_instance. famOK reports whether its virtual IPs
// were valid, so that family-dependent checks can run.
func (b *builder) instance(ib *block, nodes []Node, nodeRng map[string]hcl.Range, info *instInfo) (VRRPInstance, bool) {
	vi := VRRPInstance{
		Name:           ib.label,
		Version:        defaultVersion,
		AdvertInterval: defaultAdvertInterval,
		Preempt:        true,
		Accept:         true,
		Handover:       Release,
		NodePriorities: map[string]uint8{},
		GARP:           GARP{Repeat: defaultGARPRepeat, Delay: defaultGARPDelay},
	}
	if v := ib.get("interface"); v != nil {
		b.ifName(v.str, v.rng, "interface")
		vi.Interface = v.str
	}
	if v := ib.get("vrid"); v != nil {
		vi.VRID = uint8(v.num)
	}
	if v := ib.get("version"); v != nil {
		vi.Version = int(v.num)
	}
	if v := ib.get("advert_interval"); v != nil {
		vi.AdvertInterval = v.dur
		if ib.ok("version") {
			b.advertInterval(vi.Version, v)
		}
	}
	if v := ib.get("preempt"); v != nil {
		vi.Preempt = v.b
	}
	if v := ib.get("preempt_delay"); v != nil {
		if v.dur > maxPreemptDelay {
			b.errorf(v.rng, "preempt_delay must be at most %s, got %s", maxPreemptDelay, v.str)
		}
		vi.PreemptDelay = v.dur
	}

	// Priorities: priorities[node] over node.priority over the default.
	for _, n := range nodes {
		vi.NodePriorities[n.Name] = n.Priority
		info.prioRng[n.Name] = nodeRng[n.Name]
	}
	declared := make([]string, len(nodes))
	for i, n := range nodes {
		declared[i] = n.Name
	}
	if v := ib.get("priorities"); v != nil {
		for _, e := range v.entries {
			if _, ok := vi.NodePriorities[e.key]; !ok {
				b.errorf(e.keyRng, "priorities names node %q, which is not declared%s", e.key, declaredList(declared))
				continue
			}
			vi.NodePriorities[e.key] = uint8(e.num)
			info.prioRng[e.key] = e.rng
		}
	}

	famOK := false
	if v := ib.get("virtual_ips"); v != nil {
		famOK = b.virtualIPs(&vi, v)
	}
	if famOK && vi.IPv6() && vi.Version == 2 && ib.ok("version") {
		rng := ib.where()
		if vv := ib.get("version"); vv != nil {
			rng = vv.rng
		}
		b.errorf(rng, "VRRP version 2 is IPv4 only (RFC 3768); IPv6 virtual IPs need version = 3")
	}
	if v := ib.get("unicast_peers"); v != nil {
		seen := map[netip.Addr]bool{}
		for _, it := range v.list {
			a, ok := b.addr(it.str, it.rng, "unicast peer")
			if !ok {
				continue
			}
			if famOK && a.Is6() != vi.IPv6() {
				b.errorf(it.rng, "unicast peer %s is %s but the virtual IPs are %s", a, family(a.Is6()), family(vi.IPv6()))
				continue
			}
			if seen[a] {
				b.errorf(it.rng, "unicast peer %s is listed twice", a)
				continue
			}
			seen[a] = true
			vi.UnicastPeers = append(vi.UnicastPeers, a)
		}
		// unicast_peers names the directors' own addresses: a VIP equal
		// to one would be removed from that director whenever it is not
		// master (lvsd never removes an address the host had at start,
		// so the VIP would rather stay on two directors).
		if vips := ib.get("virtual_ips"); vips != nil {
			for _, it := range vips.list {
				if p, err := netip.ParsePrefix(it.str); err == nil && seen[p.Addr()] {
					b.errorf(it.rng, "virtual IP %s is a director's own address (it is in unicast_peers): a VIP must be an address of its own", p.Addr())
				} else if a, err := netip.ParseAddr(it.str); err == nil && seen[a] {
					b.errorf(it.rng, "virtual IP %s is a director's own address (it is in unicast_peers): a VIP must be an address of its own", a)
				}
			}
		}
	}
	b.tracking(&vi, ib)
	if v := ib.get("accept"); v != nil {
		vi.Accept = v.b
	}
	if v := ib.get("handover"); v != nil && b.enum(v, "handover", []string{string(Release), string(Relay)}) {
		vi.Handover = Handover(v.str)
		// The peer is the unicast peer that is not us: with multicast a
		// master never hears its backup, so it cannot know where to relay.
		if vi.Handover == Relay && (len(vi.UnicastPeers) == 0 || len(vi.UnicastPeers) > 2) && ib.ok("unicast_peers") {
			b.errorf(v.rng, "handover = \"relay\" needs the peer director's address: unicast_peers must list the two directors (it lists %d)", len(vi.UnicastPeers))
		}
	}
	if v := ib.get("auth_pass"); v != nil {
		switch {
		case vi.Version != 2 && ib.ok("version"):
			b.errorf(v.rng, "auth_pass needs version = 2 (VRRPv3 has no authentication, RFC 5798 §9)")
		case len(v.str) > maxAuthPass:
			b.errorf(v.rng, "auth_pass must be at most %d bytes, got %d", maxAuthPass, len(v.str))
		}
		vi.AuthPass = v.str
	}
	if gs := ib.blocks["garp"]; len(gs) > 0 {
		g := gs[0]
		if v := g.get("repeat"); v != nil {
			vi.GARP.Repeat = int(v.num)
		}
		if v := g.get("interval"); v != nil {
			vi.GARP.Interval = v.dur
		}
		if v := g.get("delay"); v != nil {
			vi.GARP.Delay = v.dur
		}
		if v := g.get("refresh"); v != nil {
			vi.GARP.Refresh = v.dur
		}
	}
	if ns := ib.blocks["notify"]; len(ns) > 0 {
		vi.Notify = b.notify(ns[0])
	}
	return vi, famOK
}

func (b *builder) notify(n *block) Notify {
	return Notify{
		Master:  b.argv(n, "master"),
		Backup:  b.argv(n, "backup"),
		Fault:   b.argv(n, "fault"),
		Stop:    b.argv(n, "stop"),
		Command: b.argv(n, "command"),
	}
}

// tracking reads what an instance follows: track_interfaces (weight 0)
// and the track_interface, track_script and track_file blocks.
func (b *builder) tracking(vi *VRRPInstance, ib *block) {
	seen := map[string]int{} // tracked interface -> line of its first mention
	addIf := func(name string, rng hcl.Range, weight int) {
		b.ifName(name, rng, "tracked interface")
		if line, dup := seen[name]; dup {
			b.errorf(rng, "interface %s is already tracked (at line %d)", name, line)
			return
		}
		seen[name] = rng.Start.Line
		vi.TrackInterfaces = append(vi.TrackInterfaces, Tracked{Name: name, Weight: weight})
	}
	if v := ib.get("track_interfaces"); v != nil {
		for _, it := range v.list {
			addIf(it.str, it.rng, 0)
		}
	}
	for _, tb := range ib.blocks["track_interface"] {
		addIf(tb.label, tb.labelRng, weightOf(tb, 0))
	}
	refs := func(kind string, known func(string) (int, bool), names []string) []Tracked {
		var out []Tracked
		lines := map[string]int{}
		for _, tb := range ib.blocks[kind] {
			def, ok := known(tb.label)
			if !ok {
				b.errorf(tb.labelRng, "%s %q is not declared: add a top-level %s %q block%s", kind, tb.label, kind, tb.label, didYouMean(tb.label, names))
				continue
			}
			if line, dup := lines[tb.label]; dup {
				b.errorf(tb.labelRng, "%s %q is already followed (at line %d)", kind, tb.label, line)
				continue
			}
			lines[tb.label] = tb.labelRng.Start.Line
			out = append(out, Tracked{Name: tb.label, Weight: weightOf(tb, def)})
		}
		return out
	}
	vi.TrackScripts = refs("track_script", func(n string) (int, bool) {
		s := b.scripts[n]
		if s == nil {
			return 0, false
		}
		return s.Weight, true
	}, mapKeys(b.scripts))
	vi.TrackFiles = refs("track_file", func(n string) (int, bool) {
		f := b.files[n]
		if f == nil {
			return 0, false
		}
		return f.Weight, true
	}, mapKeys(b.files))
}

// weightOf is a block's weight, or def when it sets none.
func weightOf(blk *block, def int) int {
	if v := blk.get("weight"); v != nil {
		return int(v.num)
	}
	return def
}

// unique returns the blocks whose label no earlier block has, reporting
// the others.
func (b *builder) unique(blocks []*block) []*block {
	var out []*block
	lines := map[string]int{}
	for _, blk := range blocks {
		if line, dup := lines[blk.label]; dup {
			b.errorf(blk.labelRng, "duplicate %s %q (the first is at line %d)", blk.spec.Name, blk.label, line)
			continue
		}
		lines[blk.label] = blk.labelRng.Start.Line
		out = append(out, blk)
	}
	return out
}

// trackScripts builds the top-level track_script blocks.
func (b *builder) trackScripts(blocks []*block) []TrackScript {
	b.scripts = map[string]*TrackScript{}
	var out []TrackScript
	for _, sb := range b.unique(blocks) {
		ts := TrackScript{Name: sb.label, Interval: time.Second, Rise: 1, Fall: 1, Weight: weightOf(sb, 0)}
		if v := sb.get("command"); v != nil && len(v.list) == 0 {
			b.errorf(v.rng, "command must not be empty")
		}
		ts.Command = b.argv(sb, "command")
		if v := sb.get("interval"); v != nil {
			if v.dur <= 0 {
				b.errorf(v.rng, "interval must be more than 0s")
			}
			ts.Interval = v.dur
		}
		ts.Timeout = ts.Interval
		if v := sb.get("timeout"); v != nil {
			if v.dur <= 0 {
				b.errorf(v.rng, "timeout must be more than 0s")
			}
			ts.Timeout = v.dur
		}
		if v := sb.get("rise"); v != nil {
			ts.Rise = int(v.num)
		}
		if v := sb.get("fall"); v != nil {
			ts.Fall = int(v.num)
		}
		out = append(out, ts)
	}
	for i := range out {
		b.scripts[out[i].Name] = &out[i]
	}
	return out
}

// trackFiles builds the top-level track_file blocks.
func (b *builder) trackFiles(blocks []*block) []TrackFile {
	b.files = map[string]*TrackFile{}
	var out []TrackFile
	for _, fb := range b.unique(blocks) {
		tf := TrackFile{Name: fb.label, Weight: weightOf(fb, 1)}
		if v := fb.get("path"); v != nil {
			if !path.IsAbs(v.str) {
				b.errorf(v.rng, "path must be absolute, got %q", v.str)
			} else {
				b.name("path", v.str, v.rng)
			}
			tf.Path = v.str
		}
		out = append(out, tf)
	}
	for i := range out {
		b.files[out[i].Name] = &out[i]
	}
	return out
}

func (b *builder) advertInterval(version int, v *value) {
	d := v.dur
	switch version {
	case 2:
		if d < time.Second || d%time.Second != 0 {
			b.errorf(v.rng, "advert_interval %s: VRRP version 2 needs whole seconds (1s..255s)", v.str)
		} else if d > maxV2Interval {
			b.errorf(v.rng, "advert_interval %s: VRRP version 2 allows at most 255s", v.str)
		}
	case 3:
		if d < v3IntervalStep || d > maxV3Interval || d%v3IntervalStep != 0 {
			b.errorf(v.rng, "advert_interval %s: VRRP version 3 needs 10ms..40.95s in steps of 10ms", v.str)
		}
	}
}

func (b *builder) virtualIPs(vi *VRRPInstance, v *value) bool {
	if len(v.list) == 0 {
		b.errorf(v.rng, "virtual_ips must not be empty")
		return false
	}
	good := true
	seen := map[netip.Addr]bool{}
	for _, it := range v.list {
		p, ok := b.prefix(it.str, it.rng)
		if !ok {
			good = false
			continue
		}
		if len(vi.VirtualIPs) > 0 && p.Addr().Is6() != vi.IPv6() {
			b.errorf(it.rng, "virtual IP %s is %s but the first one is %s: an instance's virtual IPs are all of one family", p, family(p.Addr().Is6()), family(vi.IPv6()))
			good = false
			continue
		}
		if seen[p.Addr()] {
			b.errorf(it.rng, "virtual IP %s is listed twice", p.Addr())
			good = false
			continue
		}
		seen[p.Addr()] = true
		vi.VirtualIPs = append(vi.VirtualIPs, p)
	}
	return good && len(vi.VirtualIPs) > 0
}

// owner255 checks that at most one node has priority 255 in an instance:
// 255 means "owns the addresses" (RFC 5798 §5.2.4) and two owners would
// both be master.
func (b *builder) owner255(vi VRRPInstance, nodes []Node, info *instInfo) {
	first := ""
	for _, n := range nodes {
		if vi.NodePriorities[n.Name] != 255 {
			continue
		}
		if first == "" {
			first = n.Name
			continue
		}
		b.errorf(info.prioRng[n.Name], "priority 255 on both %q and %q in vrrp_instance %q: only one node may own the addresses", first, n.Name, vi.Name)
	}
}

func (b *builder) argv(blk *block, name string) []string {
	v := blk.get(name)
	if v == nil {
		return nil
	}
	var out []string
	for _, it := range v.list {
		out = append(out, it.str)
	}
	if len(out) > 0 && out[0] == "" {
		b.errorf(v.list[0].rng, "%s: the command (first element) must not be empty", name)
	}
	return out
}

// virtualServer builds one virtual_server block; with a group it returns
// the group too, whose members the caller expands vs into.
func (b *builder) virtualServer(vb *block, groups map[string]*serverGroup) (VirtualServer, *serverGroup) {
	vs := VirtualServer{
		Name:      vb.label,
		Protocol:  TCP,
		Scheduler: "wlc",
		Method:    DR,
		OnFailure: Remove,
		Quorum:    1,
	}
	addrV, markV, groupV := vb.get("address"), vb.get("fwmark"), vb.get("group")
	famKnown := false
	switch {
	case addrV != nil && markV != nil:
		b.errorf(markV.nameRng, "virtual_server %q sets both address and fwmark; set only one", vb.label)
	case groupV != nil && (addrV != nil || markV != nil):
		other := "address"
		if addrV == nil {
			other = "fwmark"
		}
		b.errorf(groupV.nameRng, "virtual_server %q sets group and %s; set only one", vb.label, other)
		groupV = nil
	case addrV == nil && markV == nil && groupV == nil && vb.ok("address") && vb.ok("fwmark") && vb.ok("group"):
		b.errorf(vb.labelRng, "virtual_server %q needs address, fwmark or group", vb.label)
	}
	var grp *serverGroup
	if groupV != nil {
		grp = b.groupRef(groupV, groups)
	}
	if addrV != nil {
		if ap, ok := b.addrPort(addrV.str, addrV.rng, "address", true); ok {
			vs.Address = ap
			vs.IPv6 = ap.Addr().Is6()
			famKnown = true
		}
	}
	// A real server without a port gets the service's port (ipvsadm's
	// rule); in a group, the members' port when they share one.
	svcPort := vs.Address.Port()
	if grp != nil {
		svcPort = grp.port
		if grp.hasAddr {
			vs.IPv6, famKnown = grp.ipv6, true
		}
	}
	if markV != nil && addrV == nil {
		vs.FWMark = uint32(markV.num)
	}
	if v := vb.get("protocol"); v != nil {
		if b.enum(v, "protocol", []string{"tcp", "udp", "sctp"}) {
			vs.Protocol = Protocol(v.str)
		}
	}
	if v := vb.get("scheduler"); v != nil {
		if b.enum(v, "scheduler", Schedulers) {
			vs.Scheduler = v.str
		}
	}
	methodOK := vb.ok("method")
	if v := vb.get("method"); v != nil {
		methodOK = b.enum(v, "method", []string{"nat", "dr", "tun"})
		if methodOK {
			vs.Method = Method(v.str)
		}
	}
	if v := vb.get("on_failure"); v != nil {
		if b.enum(v, "on_failure", []string{"remove", "quiescent"}) {
			vs.OnFailure = OnFailure(v.str)
		}
	}
	if v := vb.get("persistence"); v != nil {
		if v.dur%time.Second != 0 {
			b.errorf(v.rng, "persistence must be whole seconds, got %s", v.str)
		}
		vs.Persistence = v.dur
	}
	if v := vb.get("quorum"); v != nil {
		vs.Quorum = int(v.num)
	}
	vs.QuorumUp, vs.QuorumDown = b.argv(vb, "quorum_up"), b.argv(vb, "quorum_down")
	if addrV != nil && famKnown && vs.Address.Port() == 0 && vs.Persistence == 0 && vb.ok("persistence") {
		b.errorf(addrV.rng, "port 0 (all ports) needs persistence > 0, as in ipvsadm")
	}
	if grp != nil && grp.zeroPort != nil && vs.Persistence == 0 && vb.ok("persistence") {
		b.errorf(groupV.rng, "group %q has a member on port 0 (all ports, line %d), which needs persistence > 0, as in ipvsadm", grp.name, grp.zeroPort.Start.Line)
	}

	var defCheck *HealthCheck
	if hs := vb.blocks["health_check"]; len(hs) > 0 {
		defCheck = b.healthCheck(hs[0])
	}
	b.serviceOptions(vb, &vs)
	tun, svcTunnel := b.serviceTunnel(vb, &vs, methodOK)

	seen := map[netip.AddrPort]int{}
	for _, rb := range vb.blocks["real_server"] {
		rs, ok := b.realServer(rb, &vs, svcPort, famKnown, methodOK)
		if !ok {
			continue
		}
		rs.Tunnel = b.realServerTunnel(rb, &vs, methodOK, tun, svcTunnel)
		if !famKnown && (vs.FWMark != 0 || grp != nil) {
			// An fwmark service takes its family from its first real server.
			vs.IPv6 = rs.Address.Addr().Is6()
			famKnown = true
		}
		if line, dup := seen[rs.Address]; dup {
			b.errorf(rb.labelRng, "real server %s is listed twice in virtual_server %q (the first is at line %d)", rs.Address, vs.Name, line)
			continue
		}
		seen[rs.Address] = rb.labelRng.Start.Line
		rs.Check = defCheck
		if hs := rb.blocks["health_check"]; len(hs) > 0 {
			rs.Check = b.healthCheck(hs[0])
		}
		if rs.Check != nil && rs.Check.Type.hasPort() && rs.Check.Port == 0 && rs.Address.Port() == 0 {
			b.errorf(rb.labelRng, "real server %s has no port for its %s check: set port in the health_check", rs.Address.Addr(), rs.Check.Type)
		}
		if c := rs.Check; c != nil && c.BindTo.IsValid() && !c.ConnectIP.IsValid() && c.BindTo.Is6() != rs.Address.Addr().Is6() {
			b.errorf(rb.labelRng, "real server %s is %s but its check's bind_to %s is %s", rs.Address.Addr(), family(rs.Address.Addr().Is6()), c.BindTo, family(c.BindTo.Is6()))
		}
		vs.RealServers = append(vs.RealServers, *rs)
	}

	if v := vb.get("sorry_server"); v != nil {
		if ap, ok := b.addrPort(v.str, v.rng, "sorry_server", false); ok {
			switch {
			case famKnown && ap.Addr().Is6() != vs.IPv6:
				b.errorf(v.rng, "sorry_server %s is %s but the service is %s", ap.Addr(), family(ap.Addr().Is6()), family(vs.IPv6))
			default:
				if !famKnown {
					vs.IPv6 = ap.Addr().Is6()
					famKnown = true
				}
				if ap.Port() == 0 {
					ap = netip.AddrPortFrom(ap.Addr(), svcPort)
				}
				vs.SorryServer = ap
			}
		}
	}

	vs.PersistenceNetmask = 32
	if vs.IPv6 {
		vs.PersistenceNetmask = 128
	}
	if v := vb.get("persistence_netmask"); v != nil {
		switch {
		case vs.Persistence == 0 && vb.ok("persistence"):
			b.errorf(v.nameRng, "persistence_netmask needs persistence > 0")
		case famKnown || vs.FWMark != 0 || grp != nil:
			if bits, ok := b.netmask(v, vs.IPv6); ok {
				vs.PersistenceNetmask = bits
			}
		}
	}
	return vs, grp
}

func (b *builder) realServer(rb *block, vs *VirtualServer, svcPort uint16, famKnown, methodOK bool) (*RealServer, bool) {
	ap, ok := b.addrPort(rb.label, rb.labelRng, "real server", false)
	if !ok {
		return nil, false
	}
	if famKnown && ap.Addr().Is6() != vs.IPv6 {
		b.errorf(rb.labelRng, "real server %s is %s but the service is %s", ap.Addr(), family(ap.Addr().Is6()), family(vs.IPv6))
		return nil, false
	}
	// ipvsadm gives a destination without a port the service's port;
	// fwmark services have none, so the client's port is kept.
	if !hasPort(rb.label) {
		ap = netip.AddrPortFrom(ap.Addr(), svcPort)
	}
	if methodOK && (vs.Method == DR || vs.Method == TUN) && vs.FWMark == 0 &&
		vs.Address.IsValid() && vs.Address.Port() != 0 && ap.Port() != 0 && ap.Port() != vs.Address.Port() {
		b.errorf(rb.labelRng, "real server port %d differs from the service port %d: method %s cannot map ports (use nat, or the same port)", ap.Port(), vs.Address.Port(), vs.Method)
	}
	rs := &RealServer{Address: ap, Weight: 1, NotifyUp: b.argv(rb, "notify_up"), NotifyDown: b.argv(rb, "notify_down")}
	if v := rb.get("weight"); v != nil {
		rs.Weight = int(v.num)
	}
	if v := rb.get("upper_threshold"); v != nil {
		rs.UpperThreshold = uint32(v.num)
	}
	if v := rb.get("lower_threshold"); v != nil {
		rs.LowerThreshold = uint32(v.num)
		if rs.UpperThreshold > 0 && rs.LowerThreshold > rs.UpperThreshold {
			b.errorf(v.rng, "lower_threshold %d is above upper_threshold %d", rs.LowerThreshold, rs.UpperThreshold)
		}
	}
	return rs, true
}

func (b *builder) healthCheck(hb *block) *HealthCheck {
	hc := &HealthCheck{
		Type:     CheckType(hb.label),
		Interval: defaultCheckInterval,
		Timeout:  defaultCheckTimeout,
		Rise:     defaultCheckRise,
		Fall:     defaultCheckFall,
	}
	if hc.Type == CheckHTTP || hc.Type == CheckHTTPS {
		hc.Path = defaultCheckPath
	}
	iv, tv := hb.get("interval"), hb.get("timeout")
	if iv != nil {
		hc.Interval = iv.dur
		if iv.dur == 0 {
			b.errorf(iv.rng, "interval must be more than 0s")
		}
	}
	if tv != nil {
		hc.Timeout = tv.dur
		if tv.dur == 0 {
			b.errorf(tv.rng, "timeout must be more than 0s")
		}
	}
	if hb.ok("interval") && hb.ok("timeout") && hc.Interval > 0 && hc.Timeout > 0 && hc.Timeout >= hc.Interval {
		switch {
		case tv != nil:
			b.errorf(tv.rng, "timeout %s must be less than interval %s", hc.Timeout, hc.Interval)
		default:
			b.errorf(iv.rng, "interval %s must be more than the timeout (%s, the default)", hc.Interval, hc.Timeout)
		}
	}
	if v := hb.get("rise"); v != nil {
		hc.Rise = int(v.num)
	}
	if v := hb.get("fall"); v != nil {
		hc.Fall = int(v.num)
	}
	if v := hb.get("port"); v != nil {
		hc.Port = uint16(v.num)
	}
	if v := hb.get("path"); v != nil {
		// The path and the host go into the request line and headers:
		// a control character there would split them.
		if !strings.HasPrefix(v.str, "/") {
			b.errorf(v.rng, "path must start with /, got %q", v.str)
		} else {
			b.name("path", v.str, v.rng)
		}
		hc.Path = v.str
	}
	if v := hb.get("host"); v != nil {
		b.name("host", v.str, v.rng)
		hc.Host = v.str
	}
	if v := hb.get("expect_status"); v != nil {
		for _, it := range v.list {
			hc.ExpectStatus = append(hc.ExpectStatus, int(it.num))
		}
	}
	if v := hb.get("body_contains"); v != nil {
		hc.BodyContains = v.str
	}
	if v := hb.get("tls_skip_verify"); v != nil {
		hc.TLSSkipVerify = v.b
	}
	b.checkNet(hb, hc)
	b.checkURLs(hb, hc)
	if hc.Type == CheckExec {
		if v := hb.get("dynamic_weight"); v != nil {
			hc.DynamicWeight = v.b
		}
		v := hb.get("command")
		switch {
		case v == nil && hb.ok("command"):
			b.errorf(hb.labelRng, "an exec health check needs command = [\"/path/to/check\", ...]")
		case v != nil && len(v.list) == 0:
			b.errorf(v.rng, "command must not be empty")
		case v != nil && v.list[0].str == "":
			b.errorf(v.list[0].rng, "command: the program (first element) must not be empty")
		}
		if v != nil {
			for _, it := range v.list {
				hc.Command = append(hc.Command, it.str)
			}
		}
	}
	b.typeOptions(hb, hc)
	return hc
}

func (b *builder) ipvs(ib *block, services []VirtualServer, insts map[string]*instInfo) IPVS {
	out := IPVS{
		ConnReuseMode:     1,
		ReconcileInterval: defaultReconcileInterval,
		CleanupOnExit:     true,
	}
	for _, vs := range services {
		switch vs.OnFailure {
		case Remove:
			out.ExpireNodestConn = true
		case Quiescent:
			out.ExpireQuiescentTemplate = true
		}
		if vs.Method == DR || vs.Method == TUN {
			out.ConnReuseMode = 3
		}
		if vs.Announce == AnnounceBGP {
			out.SloppyTCP = out.SloppyTCP || vs.Protocol == TCP
			out.SloppySCTP = out.SloppySCTP || vs.Protocol == SCTP
		}
	}
	if ib == nil {
		return out
	}
	if v := ib.get("expire_nodest_conn"); v != nil {
		out.ExpireNodestConn = v.b
	}
	if v := ib.get("expire_quiescent_template"); v != nil {
		out.ExpireQuiescentTemplate = v.b
	}
	if v := ib.get("conn_reuse_mode"); v != nil {
		out.ConnReuseMode = int(v.num)
	}
	if v := ib.get("reconcile_interval"); v != nil {
		if v.dur < time.Second {
			b.errorf(v.rng, "reconcile_interval must be at least 1s, got %s", v.str)
		}
		out.ReconcileInterval = v.dur
	}
	if v := ib.get("cleanup_on_exit"); v != nil {
		out.CleanupOnExit = v.b
	}
	if ts := ib.blocks["timeouts"]; len(ts) > 0 {
		t := ts[0]
		out.TimeoutTCP = b.seconds(t, "tcp")
		out.TimeoutTCPFin = b.seconds(t, "tcp_fin")
		out.TimeoutUDP = b.seconds(t, "udp")
	}
	if ss := ib.blocks["sync_daemon"]; len(ss) > 0 {
		s := ss[0]
		sd := &SyncDaemon{}
		if v := s.get("interface"); v != nil {
			b.ifName(v.str, v.rng, "interface")
			sd.Interface = v.str
		}
		if v := s.get("vrrp_instance"); v != nil {
			if insts[v.str] == nil {
				b.errorf(v.rng, "sync_daemon names %q, which is not a vrrp_instance%s", v.str, didYouMean(v.str, mapKeys(insts)))
			}
			sd.VRRPInstance = v.str
		}
		if v := s.get("sync_id"); v != nil {
			sd.SyncID = uint8(v.num)
		}
		b.syncOptions(s, sd)
		out.SyncDaemon = sd
	}
	return out
}

// seconds reads an IPVS timeout: the kernel keeps them in whole seconds.
func (b *builder) seconds(blk *block, name string) time.Duration {
	v := blk.get(name)
	if v == nil {
		return 0
	}
	if v.dur%time.Second != 0 {
		b.errorf(v.rng, "%s must be whole seconds, got %s", name, v.str)
	}
	return v.dur
}

func (b *builder) status(sb *block) Status {
	out := Status{Socket: defaultSocket, MetricsListen: defaultMetricsListen}
	if sb == nil {
		return out
	}
	if v := sb.get("socket"); v != nil {
		if !path.IsAbs(v.str) {
			b.errorf(v.rng, "socket must be an absolute path, got %q", v.str)
		}
		out.Socket = v.str
	}
	if v := sb.get("metrics_listen"); v != nil {
		if v.str != "" {
			_, port, err := net.SplitHostPort(v.str)
			if err == nil {
				_, err = strconv.ParseUint(port, 10, 16)
			}
			if err != nil {
				b.errorf(v.rng, "metrics_listen must be HOST:PORT (or \"\" for off), got %q", v.str)
			}
		}
		out.MetricsListen = v.str
	}
	return out
}

// --- value helpers

func (b *builder) enum(v *value, name string, allowed []string) bool {
	if contains(allowed, v.str) {
		return true
	}
	b.errorf(v.rng, "unknown %s %q (want one of %s)", name, v.str, strings.Join(allowed, ", "))
	return false
}

func (b *builder) ifName(s string, rng hcl.Range, what string) {
	if !b.name(what, s, rng) {
		return
	}
	if s == "" || len(s) > maxIfName || strings.ContainsAny(s, "/ \t\n:") || s == "." || s == ".." {
		b.errorf(rng, "invalid %s name %q (1..15 bytes, no '/', ':' or spaces)", what, s)
	}
}

func (b *builder) addr(s string, rng hcl.Range, what string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		b.errorf(rng, "invalid %s address %q", what, s)
		return netip.Addr{}, false
	}
	return b.checkAddr(a, s, rng, what)
}

func (b *builder) checkAddr(a netip.Addr, s string, rng hcl.Range, what string) (netip.Addr, bool) {
	switch {
	case a.Zone() != "":
		b.errorf(rng, "%s %q: leave out the zone, the interface is known", what, s)
		return netip.Addr{}, false
	case a.Is4In6():
		b.errorf(rng, "%s %q: write an IPv4 address as IPv4", what, s)
		return netip.Addr{}, false
	case a.IsUnspecified() || a.IsMulticast():
		b.errorf(rng, "%s %q is not a unicast address", what, s)
		return netip.Addr{}, false
	}
	return a, true
}

// prefix parses a virtual IP: CIDR, or a bare address as a host prefix.
func (b *builder) prefix(s string, rng hcl.Range) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			b.errorf(rng, "invalid virtual IP %q (want ADDRESS/PREFIX such as \"10.0.0.1/32\")", s)
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			b.errorf(rng, "invalid virtual IP %q (want ADDRESS/PREFIX such as \"10.0.0.1/32\")", s)
			return netip.Prefix{}, false
		}
		if a.Zone() == "" {
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			p = netip.PrefixFrom(a.WithZone(""), a.BitLen())
			if _, ok := b.checkAddr(a, s, rng, "virtual IP"); !ok {
				return netip.Prefix{}, false
			}
		}
	}
	if _, ok := b.checkAddr(p.Addr(), s, rng, "virtual IP"); !ok {
		return netip.Prefix{}, false
	}
	return p, true
}

// hasPort reports whether an ADDR[:PORT] string carries a port.
func hasPort(s string) bool {
	if strings.HasPrefix(s, "[") {
		return true
	}
	return strings.Count(s, ":") == 1
}

// addrPort parses ADDR:PORT, [ADDR6]:PORT or, unless needPort, a bare
// address (returned with port 0).
func (b *builder) addrPort(s string, rng hcl.Range, what string, needPort bool) (netip.AddrPort, bool) {
	if !hasPort(s) {
		if needPort {
			b.errorf(rng, "invalid %s %q (want ADDR:PORT or [ADDR6]:PORT)", what, s)
			return netip.AddrPort{}, false
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			b.errorf(rng, "invalid %s %q (want ADDR[:PORT] or [ADDR6][:PORT])", what, s)
			return netip.AddrPort{}, false
		}
		a, ok := b.checkAddr(a, s, rng, what)
		return netip.AddrPortFrom(a, 0), ok
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		want := "ADDR:PORT or [ADDR6]:PORT"
		if !needPort {
			want = "ADDR[:PORT] or [ADDR6][:PORT]"
		}
		b.errorf(rng, "invalid %s %q (want %s)", what, s, want)
		return netip.AddrPort{}, false
	}
	a, ok := b.checkAddr(ap.Addr(), s, rng, what)
	return netip.AddrPortFrom(a, ap.Port()), ok
}

// netmask parses persistence_netmask into a prefix length.
func (b *builder) netmask(v *value, ipv6 bool) (int, bool) {
	s := v.str
	if ipv6 {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
		if err != nil || n < 1 || n > 128 {
			b.errorf(v.rng, "persistence_netmask of an IPv6 service must be a prefix length 1..128 such as \"64\", got %q", s)
			return 0, false
		}
		return n, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		b.errorf(v.rng, "persistence_netmask of an IPv4 service must be a dotted mask such as \"255.255.255.0\", got %q", s)
		return 0, false
	}
	m := a.As4()
	ones, bits := net.IPMask(m[:]).Size()
	if bits == 0 {
		b.errorf(v.rng, "persistence_netmask %q is not a contiguous mask", s)
		return 0, false
	}
	if ones == 0 {
		b.errorf(v.rng, "persistence_netmask %q would put every client in one group", s)
		return 0, false
	}
	return ones, true
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

func declaredList(names []string) string {
	if len(names) == 0 {
		return " (no node is declared)"
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}

func didYouMean(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if abs(len(s)-len(n)) > bestD {
			continue
		}
		if d := editDistance(s, n); d < bestD || (d == bestD && n < best) {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// badNameRune returns the first rune of s that a name must not hold, or
// -1. Names are printed by lvsd status, in logs and in metrics labels: a
// newline there would let a name pass for a line of its own, and a
// bidirectional override (U+202E) would let it read as another name. So
// C0 and C1 controls, DEL, format characters (bidi controls and
// isolates, zero-width characters, the byte order mark), line and
// paragraph separators and invalid UTF-8 are refused.
func badNameRune(s string) rune {
	for _, r := range s {
		switch {
		case r == utf8.RuneError,
			r < 0x20, r >= 0x7f && r <= 0x9f,
			unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			return r
		}
	}
	return -1
}

// nameError describes a name holding r.
func nameError(what, s string, r rune) string {
	if r == utf8.RuneError {
		return fmt.Sprintf("%s %q must be valid UTF-8", what, s)
	}
	return fmt.Sprintf("%s %q must not contain control or format characters (%U)", what, s, r)
}

// name checks a name-like value of the file.
func (b *builder) name(what, s string, rng hcl.Range) bool {
	if r := badNameRune(s); r >= 0 {
		b.errorf(rng, "%s", nameError(what, s, r))
		return false
	}
	return true
}

// checkNet reads a check's connect_ip, bind_to, retry and
// delay_before_retry.
func (b *builder) checkNet(hb *block, hc *HealthCheck) {
	if v := hb.get("connect_ip"); v != nil {
		if a, err := netip.ParseAddr(v.str); err != nil || a.Zone() != "" {
			b.errorf(v.rng, "connect_ip %q is not an IP address", v.str)
		} else {
			hc.ConnectIP = a.Unmap()
		}
	}
	if v := hb.get("bind_to"); v != nil {
		a, err := netip.ParseAddr(v.str)
		switch {
		case err != nil || a.Zone() != "":
			b.errorf(v.rng, "bind_to %q is not an IP address", v.str)
		case hc.ConnectIP.IsValid() && a.Unmap().Is6() != hc.ConnectIP.Is6():
			b.errorf(v.rng, "bind_to %s is %s but connect_ip %s is %s", a, family(a.Unmap().Is6()), hc.ConnectIP, family(hc.ConnectIP.Is6()))
		default:
			hc.BindTo = a.Unmap()
		}
	}
	if v := hb.get("retry"); v != nil && v.num > 0 {
		hc.Retry = int(v.num)
		hc.RetryDelay = defaultCheckRetryDelay
	}
	if v := hb.get("delay_before_retry"); v != nil {
		switch {
		case hc.Retry == 0 && hb.ok("retry"):
			b.errorf(v.nameRng, "delay_before_retry needs retry > 0")
		default:
			hc.RetryDelay = v.dur
		}
	}
}

// checkURLs reads the url blocks of an http or https check, or makes its
// one url of path, expect_status and body_contains.
func (b *builder) checkURLs(hb *block, hc *HealthCheck) {
	ubs := hb.blocks["url"]
	if hc.Type != CheckHTTP && hc.Type != CheckHTTPS {
		if len(ubs) > 0 {
			b.errorf(ubs[0].typeRng, "url does not apply to a %s health check (only http, https)", hc.Type)
		}
		return
	}
	if len(ubs) == 0 {
		hc.URLs = []CheckURL{{Path: hc.Path, ExpectStatus: hc.ExpectStatus, BodyContains: hc.BodyContains}}
		return
	}
	for _, name := range []string{"path", "expect_status", "body_contains"} {
		if v := hb.attr(name); v != nil {
			b.errorf(v.nameRng, "%s is set both here and in url blocks: with url blocks, set it in each url", name)
		}
	}
	for _, ub := range ubs {
		u := CheckURL{}
		if v := ub.get("path"); v != nil {
			if !strings.HasPrefix(v.str, "/") {
				b.errorf(v.rng, "path must start with /, got %q", v.str)
			} else {
				b.name("path", v.str, v.rng)
			}
			u.Path = v.str
		}
		if v := ub.get("expect_status"); v != nil {
			for _, it := range v.list {
				u.ExpectStatus = append(u.ExpectStatus, int(it.num))
			}
		}
		if v := ub.get("digest"); v != nil {
			if d, err := hex.DecodeString(v.str); err != nil || len(d) != md5.Size {
				b.errorf(v.rng, "digest must be an MD5 in hex (32 hex digits, as `lvsd digest URL` prints), got %q", v.str)
			}
			u.Digest = strings.ToLower(v.str)
		}
		if v := ub.get("body_contains"); v != nil {
			u.BodyContains = v.str
		}
		hc.URLs = append(hc.URLs, u)
	}
	// The first url stands for the check where one path is shown.
	hc.Path, hc.ExpectStatus, hc.BodyContains = hc.URLs[0].Path, hc.URLs[0].ExpectStatus, hc.URLs[0].BodyContains
}
