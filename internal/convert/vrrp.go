package convert

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/zclconf/go-cty/cty"
)

// keepalived's VRRP defaults (vrrp.h, global_data.c) where they differ
// from, or must be compared with, lvsd's.
const (
	kaPriority       = 100 // VRRP_PRIO_DFL
	kaPriorityOwner  = 255 // state MASTER without priority
	kaAuthPassMax    = 8   // sizeof auth_data
	lvsdGARPRepeat   = 5
	lvsdGARPDelay    = 5 * time.Second
	lvsdGARPMaxBurst = 100
)

type garpSettings struct {
	delay, refresh, interval, gnaInterval time.Duration
	repeat, refreshRepeat                 uint64
	refreshRepeatAt                       Pos
	set                                   map[string]Pos
}

func defaultGARP() garpSettings {
	return garpSettings{delay: 5 * time.Second, repeat: 5, refreshRepeat: 1, set: map[string]Pos{}}
}

func (g garpSettings) clone() garpSettings {
	c := g
	c.set = make(map[string]Pos, len(g.set))
	for k, v := range g.set {
		c.set[k] = v
	}
	return c
}

// garpKeyword reads garp_master_delay & co into g; name is the keyword
// without its vrrp_ prefix.
func (fc *fileConv) garpKeyword(g *garpSettings, s *keepalived.Stmt, name string) {
	if !fc.args(s, 1, 1) {
		return
	}
	var ok bool
	switch name {
	case "garp_master_delay":
		var v uint64
		if v, ok = fc.uint(s, 0, 0, 1000); ok {
			g.delay = time.Duration(v) * time.Second
		}
	case "garp_master_repeat":
		if g.repeat, ok = fc.uint(s, 0, 0, 1<<32-1); ok && g.repeat == 0 {
			g.repeat = 1 // keepalived: "must be greater than 0, setting to 1"
		}
	case "garp_master_refresh":
		var v uint64
		if v, ok = fc.uint(s, 0, 0, 1<<32-1); ok {
			g.refresh = time.Duration(v) * time.Second
		}
	case "garp_master_refresh_repeat":
		if g.refreshRepeat, ok = fc.uint(s, 0, 0, 1<<32-1); ok && g.refreshRepeat == 0 {
			g.refreshRepeat = 1
		}
		g.refreshRepeatAt = s.Pos()
	case "garp_interval":
		g.interval, ok = fc.seconds(s, 0, 0, 1000*time.Second)
	case "gna_interval":
		g.gnaInterval, ok = fc.seconds(s, 0, 0, 1000*time.Second)
	}
	if ok {
		g.set[name] = s.Pos()
	}
}

// instance is one vrrp_instance of one file. The parts that differ between
// directors (priority, state, unicast_src_ip) stay outside blk.
type instance struct {
	name string
	pos  Pos
	blk  *block

	priority int
	prioPos  Pos
	state    string

	srcIP    netip.Addr
	peers    []netip.Addr
	peersPos Pos
}

func (fc *fileConv) vrrpInstance(s *keepalived.Stmt) {
	if !fc.args(s, 1, 1) || !fc.needBlock(s, true) {
		return
	}
	in := &instance{name: s.Arg(0), pos: s.Pos(), priority: -1}
	blk := &block{typ: "vrrp_instance", labels: []string{in.name}, pos: s.Pos()}
	in.blk = blk

	var (
		iface, ifacePos     = fc.defaultIface, s.Pos()
		vrid                uint64
		vridPos             Pos
		version, versionPos = 0, Pos{}
		advert, advertPos   = time.Second, Pos{}
		advertSet           bool
		preempt, preemptPos = true, Pos{}
		preemptDelay        time.Duration
		delayAt             Pos
		vips, excluded      []vip
		tracking            instTracking
		accept              *bool
		acceptPos           Pos
		auth                *keepalived.Stmt
		notify              = map[string][]string{}
		notifyPos           = map[string]Pos{}
		garp                = fc.garp.clone()
	)
	// keepalived adds a VIP without `dev` on the instance's interface,
	// wherever the interface keyword is in the block.
	for _, k := range s.Block {
		if k.Key.Text == "interface" && len(k.Args) == 1 {
			iface = k.Arg(0)
		}
	}
	for _, k := range s.Block {
		switch k.Key.Text {
		case "state":
			if fc.args(k, 1, 1) {
				in.state = k.Arg(0)
				if in.state != "MASTER" && in.state != "BACKUP" {
					fc.c.warnf(k.Args[0].Pos, "state %q is neither MASTER nor BACKUP; keepalived takes BACKUP", in.state)
					in.state = "BACKUP"
				}
			}
		case "interface":
			if fc.args(k, 1, 1) {
				iface, ifacePos = k.Arg(0), k.Pos()
			}
		case "virtual_router_id":
			if fc.args(k, 1, 1) {
				vrid, _ = fc.uint(k, 0, 1, 255)
				vridPos = k.Pos()
			}
		case "priority":
			if fc.args(k, 1, 1) {
				if p, ok := fc.uint(k, 0, 1, 255); ok {
					in.priority, in.prioPos = int(p), k.Pos()
				}
			}
		case "version":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 2, 3); ok {
					version, versionPos = int(v), k.Pos()
				}
			}
		case "advert_int":
			if fc.args(k, 1, 1) {
				if d, ok := fc.seconds(k, 0, 10*time.Millisecond, 255*time.Second); ok {
					advert, advertPos, advertSet = d, k.Pos(), true
				}
			}
		case "nopreempt":
			preempt, preemptPos = false, k.Pos()
		case "preempt":
			preempt, preemptPos = true, k.Pos()
		case "preempt_delay":
			if fc.args(k, 1, 1) {
				if d, ok := fc.seconds(k, 0, 0, 1000*time.Second); ok {
					preemptDelay, delayAt = d, k.Pos()
				}
			}
		case "virtual_ipaddress":
			if fc.needBlock(k, true) {
				vips = append(vips, fc.vips(k, iface)...)
			}
		case "virtual_ipaddress_excluded":
			if fc.needBlock(k, true) {
				excluded = append(excluded, fc.vips(k, iface)...)
			}
		case "unicast_src_ip":
			if fc.args(k, 1, 1) {
				in.srcIP, _ = fc.addr(k, 0)
			}
		case "unicast_peer":
			if !fc.needBlock(k, true) {
				continue
			}
			in.peersPos = k.Pos()
			for _, p := range k.Block {
				if a, ok := fc.addrWord("unicast_peer", p.Key); ok {
					in.peers = append(in.peers, a)
				}
				if len(p.Args) > 0 {
					fc.unsupported(p.Args[0].Pos, "vrrp_instance", "unicast_peer.option", "unicast_peer "+p.Arg(0))
				}
			}
		case "track_interface", "track_script", "track_file":
			fc.trackList(in.name, k, &tracking)
		case "accept":
			v := true
			accept, acceptPos = &v, k.Pos()
		case "no_accept":
			v := false
			accept, acceptPos = &v, k.Pos()
			fc.c.warnf(k.Pos(), "no_accept: keepalived drops packets to the VIPs only with vrrp_iptables, nftables or vrrp_strict; lvsd's accept = false always drops them")
		case "authentication":
			if fc.needBlock(k, true) {
				auth = k
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			state := notifyAttr(k.Key.Text)
			if argv, ok := fc.script(k, "vrrp_instance", "notify.user"); ok {
				notify[state], notifyPos[state] = argv, k.Pos()
			}
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat":
			fc.garpKeyword(&garp, k, k.Key.Text)
		case "lvs_sync_daemon_interface":
			// keepalived's old spelling of global lvs_sync_daemon IFACE INSTANCE.
			if !fc.args(k, 1, 1) {
				continue
			}
			if fc.ipvs != nil && fc.ipvs.child("sync_daemon") != nil {
				fc.c.warnf(k.Pos(), "lvs_sync_daemon_interface: the sync daemon is set already; keepalived ignores this one, and so does the conversion")
				continue
			}
			ib := fc.ipvsBlock()
			if ib.pos == (Pos{}) {
				ib.pos = k.Pos()
			}
			sd := &block{typ: "sync_daemon", pos: k.Pos()}
			sd.set("interface", cty.StringVal(k.Arg(0)), k.Args[0].Pos)
			sd.set("vrrp_instance", cty.StringVal(in.name), k.Pos())
			ib.blocks = append(ib.blocks, sd)
		default:
			fc.other("vrrp_instance", k)
		}
	}

	if iface == "" {
		fc.c.errorf(s.Pos(), "vrrp_instance %s has no interface", in.name)
	}
	if vrid == 0 && vridPos == (Pos{}) {
		fc.c.errorf(s.Pos(), "vrrp_instance %s has no virtual_router_id", in.name)
	}
	if len(vips) == 0 {
		fc.c.errorf(s.Pos(), "vrrp_instance %s has no virtual_ipaddress; lvsd instances need virtual IPs", in.name)
	}
	ipv6 := len(vips) > 0 && vips[0].prefix.Addr().Is6()
	for _, v := range vips {
		if v.prefix.Addr().Is6() != ipv6 {
			fc.unsupported(v.pos, "virtual_ipaddress", "family.other", "virtual_ipaddress "+v.prefix.String()+" of another family")
		}
	}
	for _, v := range excluded {
		if v.prefix.Addr().Is6() != ipv6 {
			fc.unsupported(v.pos, "virtual_ipaddress", "family.other", "virtual_ipaddress_excluded "+v.prefix.String()+" of another family")
			continue
		}
		fc.c.warnf(v.pos, "virtual_ipaddress_excluded %s: lvsd adds it with the other VIPs and also lists it in its adverts; a keepalived peer logs an address-count mismatch during the migration but elects all the same", v.prefix)
		vips = append(vips, v)
	}

	// The version: the instance's, else IPv6 forces 3, else vrrp_version.
	if version == 0 {
		version, versionPos = fc.defVersion, fc.defVersionAt
		if ipv6 {
			version = 3
		}
	}
	if version == 2 && ipv6 {
		fc.c.errorf(versionPos, "vrrp_instance %s: version 2 with IPv6 virtual addresses; keepalived ignores the version and runs VRRPv3, so write version 3", in.name)
	}
	if in.priority < 0 {
		in.priority = kaPriority
		if in.state == "MASTER" {
			in.priority = kaPriorityOwner // keepalived: MASTER without priority owns the addresses
		}
		in.prioPos = s.Pos()
	}
	switch {
	case version == 2 && advert%time.Second != 0:
		fc.unsupported(advertPos, "vrrp_instance", "advert_int.v2", "advert_int "+fmtDur(advert)+" with VRRPv2")
	case version == 3 && (advert%(10*time.Millisecond) != 0 || advert > 4095*10*time.Millisecond):
		fc.unsupported(advertPos, "vrrp_instance", "advert_int.v3", "advert_int "+fmtDur(advert)+" with VRRPv3")
	}

	blk.set("interface", cty.StringVal(iface), ifacePos)
	blk.set("vrid", cty.NumberIntVal(int64(vrid)), vridPos)
	blk.set("version", cty.NumberIntVal(int64(version)), versionPos)
	if advertSet || advert != time.Second {
		blk.set("advert_interval", cty.StringVal(fmtDur(advert)), advertPos)
	}
	if !preempt {
		blk.set("preempt", cty.False, preemptPos)
	}
	if preemptDelay > 0 {
		blk.set("preempt_delay", cty.StringVal(fmtDur(preemptDelay)), delayAt)
	}
	vipVals := make([]cty.Value, len(vips))
	var vipPos Pos
	for i, v := range vips {
		vipVals[i] = cty.StringVal(v.prefix.String())
		if i == 0 {
			vipPos = v.pos
		}
	}
	if len(vipVals) > 0 {
		blk.set("virtual_ips", cty.ListVal(vipVals), vipPos)
	}
	if len(tracking.ifaces) > 0 {
		blk.set("track_interfaces", strList(tracking.ifaces), tracking.ifacesPos)
	}
	if accept != nil && !*accept {
		blk.set("accept", cty.False, acceptPos)
	}
	if auth != nil {
		fc.authentication(blk, auth, version)
	}
	fc.garpBlock(blk, garp, ipv6, s.Pos())
	if len(notify) > 0 {
		nb := &block{typ: "notify", pos: s.Pos()}
		for _, st := range []string{"master", "backup", "fault", "stop", "command"} {
			if argv, ok := notify[st]; ok {
				nb.set(st, strList(argv), notifyPos[st])
			}
		}
		blk.blocks = append(blk.blocks, nb)
	}
	blk.blocks = append(blk.blocks, tracking.blocks...)
	fc.instances = append(fc.instances, in)
}

func strList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

type vip struct {
	prefix netip.Prefix
	pos    Pos
}

// vips reads a virtual_ipaddress block: ADDR[/LEN] [dev D] [scope S]
// [label L] [brd B] … per line. lvsd adds VIPs on the instance's interface
// with scope global, so only those options are accepted as they are.
func (fc *fileConv) vips(k *keepalived.Stmt, iface string) []vip {
	var out []vip
	for _, l := range k.Block {
		p, ok := parseVIP(l.Key.Text)
		if !ok {
			fc.c.errorf(l.Pos(), "%s: %q is not an address or ADDR/LEN", k.Key.Text, l.Key.Text)
			continue
		}
		for i := 0; i < len(l.Args); i++ {
			opt := l.Args[i]
			switch {
			case opt.Text == "scope" && l.Arg(i+1) == "global":
				i++
				continue
			case opt.Text == "dev" && l.Arg(i+1) == iface:
				i++
				continue
			}
			fc.unsupported(opt.Pos, "virtual_ipaddress", opt.Text, "virtual_ipaddress … "+opt.Text)
			if i+1 < len(l.Args) {
				i++ // skip the option's value
			}
		}
		out = append(out, vip{prefix: p, pos: l.Pos()})
	}
	return out
}

func parseVIP(s string) (netip.Prefix, bool) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	n := a.BitLen()
	if hasBits {
		v, ok := parseSmallUint(bits)
		if !ok || v > n {
			return netip.Prefix{}, false
		}
		n = v
	}
	return netip.PrefixFrom(a, n), true
}

func parseSmallUint(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// authentication converts { auth_type PASS auth_pass X }.
func (fc *fileConv) authentication(blk *block, a *keepalived.Stmt, version int) {
	var typ, pass string
	var typPos, passPos Pos
	for _, k := range a.Block {
		switch k.Key.Text {
		case "auth_type":
			if fc.args(k, 1, 1) {
				typ, typPos = k.Arg(0), k.Pos()
			}
		case "auth_pass":
			if fc.args(k, 1, 1) {
				pass, passPos = k.Arg(0), k.Args[0].Pos
			}
		default:
			fc.other("authentication", k)
		}
	}
	switch {
	case typ == "AH":
		fc.unsupported(typPos, "authentication", "auth_type.AH", "auth_type AH")
		return
	case typ != "PASS":
		fc.c.warnf(a.Pos(), "authentication without auth_type PASS: keepalived ignores it, and so does the conversion")
		return
	case version == 3:
		fc.c.warnf(a.Pos(), "authentication with VRRPv3: keepalived ignores it (RFC 5798 has none), and so does the conversion")
		return
	case pass == "":
		fc.c.warnf(a.Pos(), "authentication without auth_pass: keepalived ignores it, and so does the conversion")
		return
	}
	if len(pass) > kaAuthPassMax {
		fc.c.warnf(passPos, "auth_pass is longer than %d characters; keepalived uses only %q, and so does lvsd", kaAuthPassMax, pass[:kaAuthPassMax])
		pass = pass[:kaAuthPassMax]
	}
	blk.set("auth_pass", cty.StringVal(pass), passPos)
}

// garpBlock writes the garp block when keepalived's settings differ from
// lvsd's defaults (which are keepalived's: a burst of 5, a second burst
// 5 s later, no refresh).
func (fc *fileConv) garpBlock(blk *block, g garpSettings, ipv6 bool, pos Pos) {
	interval, intervalKey := g.interval, "garp_interval"
	if ipv6 {
		interval, intervalKey = g.gnaInterval, "gna_interval"
	}
	if g.refresh > 0 && g.refreshRepeat != g.repeat {
		at := g.refreshRepeatAt
		if at == (Pos{}) {
			at = g.set["garp_master_refresh"]
		}
		fc.unsupported(at, "vrrp_instance", "garp_master_refresh_repeat.differs",
			"garp_master_refresh with a refresh burst of "+itoa(g.refreshRepeat)+" (garp_master_refresh_repeat) other than garp_master_repeat "+itoa(g.repeat))
	}
	if g.repeat > lvsdGARPMaxBurst {
		fc.unsupported(g.set["garp_master_repeat"], "vrrp_instance", "garp.repeat", "garp_master_repeat "+itoa(g.repeat))
	}
	if g.repeat == lvsdGARPRepeat && interval == 0 && g.delay == lvsdGARPDelay && g.refresh == 0 {
		return
	}
	gb := &block{typ: "garp", pos: pos}
	at := func(k string) Pos {
		if p, ok := g.set[k]; ok {
			return p
		}
		return pos
	}
	if g.repeat != lvsdGARPRepeat {
		gb.set("repeat", cty.NumberIntVal(int64(g.repeat)), at("garp_master_repeat"))
	}
	if interval != 0 {
		gb.set("interval", cty.StringVal(fmtDur(interval)), at(intervalKey))
	}
	if g.delay != lvsdGARPDelay {
		gb.set("delay", cty.StringVal(fmtDur(g.delay)), at("garp_master_delay"))
	}
	if g.refresh != 0 {
		gb.set("refresh", cty.StringVal(fmtDur(g.refresh)), at("garp_master_refresh"))
	}
	blk.blocks = append(blk.blocks, gb)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// script splits a script keyword into argv as keepalived does (see
// keepalived.SplitScript) and warns about shell syntax, which keepalived
// passes to the command as plain words too.
func (fc *fileConv) script(k *keepalived.Stmt, ctx, userKey string) ([]string, bool) {
	sc, err := keepalived.SplitScript(k)
	if err != nil {
		fc.c.errorf(k.Pos(), "%s: %v", k.Key.Text, err)
		return nil, false
	}
	switch {
	case sc.User == "":
	case userKey == "":
		fc.c.warnf(k.Pos(), "%s: keepalived runs only its first word as the command, %q; the words after it are dropped (quote the whole command to pass arguments)", k.Key.Text, strings.Join(sc.Argv, " "))
	case !(sc.User == "root" && (sc.Group == "" || sc.Group == "root")):
		fc.unsupported(k.Args[len(k.Args)-1].Pos, ctx, userKey, k.Key.Text+" … "+sc.User)
		return nil, false
	}
	for _, w := range sc.Argv {
		if shellWord(w) {
			fc.c.warnf(k.Pos(), "%s: %q looks like shell syntax; keepalived runs the command without a shell (it is a plain argument there too), and so does lvsd: write [\"/bin/sh\", \"-c\", …] if a shell was meant", k.Key.Text, w)
			break
		}
	}
	if !strings.HasPrefix(sc.Argv[0], "/") {
		fc.c.warnf(k.Pos(), "%s: %q is not an absolute path; keepalived searches PATH for it", k.Key.Text, sc.Argv[0])
	}
	return sc.Argv, true
}

func shellWord(w string) bool {
	switch w {
	case "|", "||", "&&", ";", ">", ">>", "<", "&", "2>&1":
		return true
	}
	return strings.ContainsAny(w, "`") || strings.Contains(w, "$(") || strings.HasPrefix(w, "$") ||
		strings.HasPrefix(w, ">") || strings.HasSuffix(w, ";")
}

func (fc *fileConv) syncGroup(s *keepalived.Stmt) {
	if !fc.args(s, 1, 1) || !fc.needBlock(s, true) {
		return
	}
	blk := &block{typ: "vrrp_sync_group", labels: []string{s.Arg(0)}, pos: s.Pos()}
	var names []string
	var at Pos
	for _, k := range s.Block {
		switch k.Key.Text {
		case "group":
			if !fc.needBlock(k, true) {
				continue
			}
			at = k.Pos()
			for _, m := range k.Block {
				names = append(names, m.Key.Text)
				for _, a := range m.Args {
					names = append(names, a.Text)
				}
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			fc.groupNotify(blk, k)
		case "sync_group_tracking_weight":
			// Read by scanTracking: the members' weights count.
		default:
			if !k.HasBlock && len(k.Args) == 0 && fc.isInstance(k.Key.Text) {
				// An instance named outside group { }: keepalived takes
				// it for an unknown keyword, which it logs and ignores.
				fc.c.warnf(k.Pos(), "%s outside group { … }: keepalived ignores it, and so does the conversion", k.Key.Text)
				continue
			}
			fc.other("vrrp_sync_group", k)
		}
	}
	if len(names) == 0 {
		fc.c.warnf(s.Pos(), "vrrp_sync_group %s has no group { … } of instances: keepalived removes it, and so does the conversion", s.Arg(0))
		return
	}
	blk.set("instances", strList(names), at)
	fc.groups = append(fc.groups, blk)
}

// isInstance reports whether the file has a vrrp_instance of that name.
func (fc *fileConv) isInstance(name string) bool {
	for _, s := range fc.f.Stmts {
		if s.Key.Text == "vrrp_instance" && s.Arg(0) == name {
			return true
		}
	}
	return false
}
