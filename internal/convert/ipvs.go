package convert

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/zclconf/go-cty/cty"
)

// keepalived's checker defaults (check_data.c, check_api.c, check_http.c,
// check_misc.c).
const (
	kaDelayLoop         = 60 * time.Second // KEEPALIVED_DEFAULT_DELAY
	kaConnectTimeout    = 5 * time.Second
	kaPersistence       = 360             // IPVS_SVC_PERSISTENT_TIMEOUT, seconds
	kaRetry             = 1               // checker default_retry
	kaMiscRetry         = 0               // MISC_CHECK's default_retry
	kaTCPRetryDelay     = 1 * time.Second // default_delay_before_retry
	kaHTTPRetryDelay    = 3 * time.Second // HTTP_GET/SSL_GET's
	kaDefaultScheduler  = "wlc"           // IPVS_DEF_SCHED
	kaDefaultMethod     = config.NAT      // "no forwarding method set, setting default NAT"
	kaHTTPStatusDefault = "200-299"
)

// checkSettings are the checker settings a virtual_server or real_server
// passes down to its checkers; unset fields have ok false.
type checkSettings struct {
	delayLoop, connectTimeout, retryDelay setting[time.Duration]
	retry                                 setting[uint64]
	virtualhost                           setting[string]
}

type setting[T any] struct {
	v   T
	ok  bool
	pos Pos
}

func (s *setting[T]) put(v T, pos Pos) { *s = setting[T]{v: v, ok: true, pos: pos} }

// over returns s where set, else the inherited value.
func (s setting[T]) over(parent setting[T]) setting[T] {
	if s.ok {
		return s
	}
	return parent
}

func (cs checkSettings) over(parent checkSettings) checkSettings {
	return checkSettings{
		delayLoop:      cs.delayLoop.over(parent.delayLoop),
		connectTimeout: cs.connectTimeout.over(parent.connectTimeout),
		retryDelay:     cs.retryDelay.over(parent.retryDelay),
		retry:          cs.retry.over(parent.retry),
		virtualhost:    cs.virtualhost.over(parent.virtualhost),
	}
}

// checkSetting reads a keyword that sets a checker default; it reports
// whether it was one.
func (fc *fileConv) checkSetting(cs *checkSettings, k *keepalived.Stmt) bool {
	switch k.Key.Text {
	case "delay_loop":
		if fc.args(k, 1, 1) {
			if d, ok := fc.seconds(k, 0, time.Microsecond, 1<<31*time.Second); ok {
				cs.delayLoop.put(d, k.Pos())
			}
		}
	case "connect_timeout":
		if fc.args(k, 1, 1) {
			if d, ok := fc.seconds(k, 0, time.Microsecond, 1<<31*time.Second); ok {
				cs.connectTimeout.put(d, k.Pos())
			}
		}
	case "retry", "nb_get_retry":
		if fc.args(k, 1, 1) {
			if v, ok := fc.uint(k, 0, 0, 1<<32-1); ok {
				cs.retry.put(v, k.Pos())
			}
		}
		if k.Key.Text == "nb_get_retry" {
			fc.c.warnf(k.Pos(), "nb_get_retry is keepalived's old name of retry")
		}
	case "delay_before_retry":
		if fc.args(k, 1, 1) {
			if d, ok := fc.seconds(k, 0, 0, 1<<31*time.Second); ok {
				cs.retryDelay.put(d, k.Pos())
			}
		}
	case "virtualhost":
		if fc.args(k, 1, 1) {
			cs.virtualhost.put(k.Arg(0), k.Pos())
		}
	default:
		return false
	}
	return true
}

// service is what a virtual_server block says, before it is written.
type service struct {
	blk      *block
	fwmark   bool
	port     uint16
	method   config.Method
	settings checkSettings
	weight   uint64
	inhibit  setting[bool]
	group    *vsGroup // the virtual_server_group the service programs
}

func (fc *fileConv) virtualServer(s *keepalived.Stmt) {
	if !fc.needBlock(s, true) || !fc.args(s, 1, 2) {
		return
	}
	sv := &service{weight: 1, method: ""}
	blk := &block{typ: "virtual_server", pos: s.Pos()}
	sv.blk = blk
	var name string
	switch s.Arg(0) {
	case "group":
		if !fc.args(s, 2, 2) {
			return
		}
		g := fc.vsGroups[s.Arg(1)]
		if g == nil {
			fc.c.errorf(s.Args[1].Pos, "virtual_server group %s: no virtual_server_group of that name (keepalived ignores the virtual server)", s.Arg(1))
			return
		}
		sv.group, sv.port = g, g.port
		name = g.name
		blk.set("group", cty.StringVal(g.name), s.Args[0].Pos)
	case "fwmark":
		v, ok := fc.uint(s, 1, 1, 1<<32-1)
		if !ok {
			return
		}
		sv.fwmark = true
		name = "fwmark " + s.Arg(1)
		blk.set("fwmark", cty.NumberIntVal(int64(v)), s.Args[0].Pos)
	default:
		a, ok := fc.addr(s, 0)
		if !ok {
			return
		}
		p, ok := fc.port(s, 1)
		if !ok {
			return
		}
		sv.port = p
		ap := netip.AddrPortFrom(a, p)
		name = ap.String()
		blk.set("address", cty.StringVal(ap.String()), s.Args[0].Pos)
	}

	var (
		proto, protoPos      = "", Pos{}
		sched, schedPos      = kaDefaultScheduler, Pos{}
		methodPos            Pos
		persist              *uint64
		persistPos           Pos
		granularity, granPos = "", Pos{}
		quorum               = uint64(1)
		quorumPos            Pos
		sorry                *keepalived.Stmt
		reals                []*keepalived.Stmt
		flagBits             [4]bool
		tunnel               *block // the tunnel options of lb_kind TUN
		flagPos              Pos
		opsPos               Pos
	)
	for _, k := range s.Block {
		if fc.checkSetting(&sv.settings, k) {
			continue
		}
		switch k.Key.Text {
		case "lb_algo", "lvs_sched":
			if !fc.args(k, 1, 1) {
				continue
			}
			if slices.Contains(config.Schedulers, k.Arg(0)) {
				sched, schedPos = k.Arg(0), k.Pos()
			} else {
				fc.c.warnf(k.Args[0].Pos, "%s %q is not an IPVS scheduler; keepalived ignores it and uses %s", k.Key.Text, k.Arg(0), sched)
			}
		case "lb_kind", "lvs_method":
			if !fc.args(k, 1, -1) {
				continue
			}
			m, ok := methods[k.Arg(0)]
			if !ok {
				fc.c.warnf(k.Args[0].Pos, "%s %q is not NAT, DR or TUN; keepalived ignores it and keeps %s", k.Key.Text, k.Arg(0), strings.ToUpper(string(orMethod(sv.method))))
				continue
			}
			switch {
			case len(k.Args) > 1 && m == config.TUN:
				tunnel = &block{}
				fc.tunnelOptions(k, tunnel)
			case len(k.Args) > 1:
				fc.c.warnf(k.Args[1].Pos, "tunnel options with %s change nothing; dropped", k.Arg(0))
			}
			sv.method, methodPos = m, k.Pos()
		case "persistence_timeout":
			v := uint64(kaPersistence) // keepalived's value when none is given
			if len(k.Args) > 0 {
				var ok bool
				if v, ok = fc.uint(k, 0, 1, 2678400); !ok {
					continue
				}
			}
			persist, persistPos = &v, k.Pos()
		case "persistence_granularity":
			if fc.args(k, 1, 1) {
				granularity, granPos = k.Arg(0), k.Pos()
			}
		case "protocol":
			if !fc.args(k, 1, 1) {
				continue
			}
			switch p := strings.ToLower(k.Arg(0)); p {
			case "tcp", "udp", "sctp":
				proto, protoPos = p, k.Pos()
			default:
				fc.c.warnf(k.Args[0].Pos, "protocol %q is not TCP, UDP or SCTP; keepalived ignores it", k.Arg(0))
			}
		case "quorum":
			if fc.args(k, 1, 1) {
				quorum, _ = fc.uint(k, 0, 1, 65535)
				quorumPos = k.Pos()
			}
		case "hysteresis":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 0, 1<<32-1); ok && v > 0 {
					fc.unsupported(k.Pos(), "virtual_server", "hysteresis", "hysteresis")
				}
			}
		case "sorry_server":
			if fc.args(k, 1, 2) {
				sorry = k
			}
		case "inhibit_on_failure":
			sv.inhibit.put(true, k.Pos())
		case "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			fc.schedFlag(k, sched, &flagBits)
			if flagPos == (Pos{}) {
				flagPos = k.Pos()
			}
		case "ops":
			opsPos = k.Pos()
		case "weight":
			if fc.args(k, 1, 1) {
				sv.weight, _ = fc.uint(k, 0, 1, 65535)
			}
		case "real_server":
			reals = append(reals, k)
		case "quorum_up", "quorum_down":
			fc.healthNotify(blk, k, "virtual_server")
		case "ip_family":
			if fc.args(k, 1, 1) && k.Arg(0) != "inet" && k.Arg(0) != "inet6" {
				fc.c.errorf(k.Args[0].Pos, "ip_family %q is not inet or inet6", k.Arg(0))
			}
		default:
			fc.other("virtual_server", k)
		}
	}
	if sv.method == "" {
		sv.method = kaDefaultMethod
		methodPos = s.Pos()
		fc.c.warnf(s.Pos(), "virtual_server %s has no lb_kind; keepalived uses NAT, and so does the conversion", name)
	}

	// Protocol: keepalived ignores it with fwmark, and defaults it to UDP
	// (the kernel's choice for protocol 0) for an address.
	if sv.fwmark {
		if proto != "" {
			fc.c.warnf(protoPos, "protocol with fwmark: keepalived ignores it, and so does the conversion")
		}
	} else {
		if proto == "" {
			proto, protoPos = "udp", s.Pos()
			fc.c.warnf(s.Pos(), "virtual_server %s has no protocol; keepalived programs UDP, and so does the conversion", name)
		}
		blk.set("protocol", cty.StringVal(proto), protoPos)
		if proto != "tcp" {
			blk.labels = []string{name + "/" + proto}
		}
	}
	if blk.labels == nil {
		blk.labels = []string{name}
	}
	blk.set("scheduler", cty.StringVal(sched), schedPos)
	if flags := schedFlagNames(sched, flagBits); len(flags) > 0 {
		blk.set("sched_flags", cty.ListVal(flags), flagPos)
	}
	if opsPos != (Pos{}) {
		switch {
		case sv.fwmark:
			// The protocol of an fwmark service is only what lvsd checks
			// one_packet against.
			blk.set("protocol", cty.StringVal("udp"), opsPos)
			blk.set("one_packet", cty.True, opsPos)
		case proto != "udp":
			fc.unsupported(opsPos, "virtual_server", "ops.tcp", "ops with protocol "+strings.ToUpper(proto))
		default:
			blk.set("one_packet", cty.True, opsPos)
		}
	}
	blk.set("method", cty.StringVal(string(sv.method)), methodPos)
	if tunnel != nil && sv.method == config.TUN {
		blk.attrs = append(blk.attrs, tunnel.attrs...)
	}

	// Persistence: a granularity, or port 0 on an address, makes
	// keepalived turn persistence on with its default timeout.
	if persist == nil && granularity != "" {
		v := uint64(kaPersistence)
		persist, persistPos = &v, granPos
	}
	if persist == nil && !sv.fwmark && sv.group == nil && sv.port == 0 {
		v := uint64(kaPersistence)
		persist, persistPos = &v, s.Pos()
		fc.c.warnf(s.Pos(), "virtual_server %s: port 0 without persistence_timeout; keepalived makes it persistent for %ds, and so does the conversion", name, kaPersistence)
	}
	if persist != nil {
		blk.set("persistence", cty.StringVal(fmt.Sprintf("%ds", *persist)), persistPos)
	}
	switch {
	case granularity != "" && sv.group != nil:
		// ipvs_group_range_cmd and ipvs_group_cmd program every member
		// with the full netmask.
		fc.c.warnf(granPos, "persistence_granularity with a virtual_server_group: keepalived programs the members with a full mask, and so does the conversion")
	case granularity != "":
		fc.granularity(blk, granularity, granPos)
	}

	// Real servers.
	type realInfo struct {
		inhibit bool
		pos     Pos
		weight  uint64
	}
	var infos []realInfo
	var rsBlocks []*block
	for _, r := range reals {
		rb, info, ok := fc.realServer(sv, r)
		if !ok {
			continue
		}
		infos = append(infos, realInfo{inhibit: info.inhibit, pos: r.Pos(), weight: info.weight})
		rsBlocks = append(rsBlocks, rb)
	}
	onFailure := config.Remove
	for i, in := range infos {
		if in.inhibit != infos[0].inhibit {
			fc.unsupported(in.pos, "real_server", "inhibit_on_failure.mixed", "inhibit_on_failure on some real servers of a virtual_server")
			break
		}
		if i == 0 && in.inhibit {
			onFailure = config.Quiescent
		}
	}
	if onFailure == config.Quiescent {
		at := sv.inhibit.pos
		if !sv.inhibit.ok && len(infos) > 0 {
			at = infos[0].pos
		}
		blk.set("on_failure", cty.StringVal(string(config.Quiescent)), at)
	}

	if sorry != nil {
		if a, ok := fc.addr(sorry, 0); ok {
			p, pok := fc.port(sorry, 1)
			if pok {
				p = fc.normalisePort(sv, p, sorry.Pos(), "sorry server")
				text := a.String()
				if p != 0 {
					text = netip.AddrPortFrom(a, p).String()
				}
				// quorum only matters with a sorry server in lvsd; in
				// keepalived it counts the healthy servers' weights.
				if quorum != 1 {
					for _, in := range infos {
						if in.weight != 1 {
							fc.unsupported(quorumPos, "virtual_server", "quorum.weights", "quorum with real-server weights other than 1")
							break
						}
					}
					if n := uint64(0); true {
						for _, in := range infos {
							n += in.weight
						}
						if quorum > n {
							fc.c.warnf(quorumPos, "quorum %d exceeds the real servers' total weight %d; keepalived lowers it to %d, and so does the conversion", quorum, n, n)
							quorum = n
						}
					}
					blk.set("quorum", cty.NumberIntVal(int64(quorum)), quorumPos)
				} else {
					for _, in := range infos {
						if in.weight == 0 {
							fc.unsupported(in.pos, "virtual_server", "quorum.weights", "a real server of weight 0 with sorry_server (keepalived's quorum counts weights)")
							break
						}
					}
				}
				blk.set("sorry_server", cty.StringVal(text), sorry.Pos())
			}
		}
	} else if quorumPos != (Pos{}) && (blk.get("quorum_up") != nil || blk.get("quorum_down") != nil) {
		weights := make([]uint64, len(infos))
		for i, in := range infos {
			weights[i] = in.weight
		}
		fc.quorumCommands(blk, quorum, quorumPos, weights)
	} else if quorumPos != (Pos{}) {
		fc.c.warnf(quorumPos, "quorum without sorry_server changes nothing lvsd does; dropped")
	}

	fc.hoistChecks(blk, rsBlocks)
	blk.blocks = append(blk.blocks, rsBlocks...)
	fc.services = append(fc.services, blk)
}

var methods = map[string]config.Method{"NAT": config.NAT, "DR": config.DR, "TUN": config.TUN}

func orMethod(m config.Method) config.Method {
	if m == "" {
		return kaDefaultMethod
	}
	return m
}

// granularity converts persistence_granularity: a dotted mask for IPv4
// (ipvsadm -M), a prefix length for IPv6.
func (fc *fileConv) granularity(blk *block, g string, pos Pos) {
	if strings.Contains(g, ".") {
		m, err := netip.ParseAddr(g)
		if err != nil || !m.Is4() {
			fc.c.errorf(pos, "persistence_granularity %q is not an IPv4 netmask", g)
			return
		}
		blk.set("persistence_netmask", cty.StringVal(g), pos)
		return
	}
	n, err := strconv.Atoi(g)
	if err != nil || n < 1 || n > 128 {
		fc.c.errorf(pos, "persistence_granularity %q is not an IPv6 prefix length", g)
		return
	}
	blk.set("persistence_netmask", cty.StringVal(g), pos)
}

// normalisePort applies keepalived's port rules to a real or sorry server
// port: with NAT a missing port is the service's (fwmark: kept as is);
// with DR or TUN the port is the service's, or 0 with fwmark, whatever
// was written. In a group the written port stays: keepalived gives a DR or
// TUN destination each member's port, as lvsd does, and a NAT one the
// port as written.
func (fc *fileConv) normalisePort(sv *service, p uint16, pos Pos, what string) uint16 {
	switch {
	case sv.group != nil:
		return p
	case sv.method == config.NAT:
		if !sv.fwmark && p == 0 {
			return sv.port
		}
		return p
	case sv.fwmark:
		if p != 0 {
			fc.c.warnf(pos, "%s port %d with fwmark and %s: keepalived clears it to 0, and so does the conversion", what, p, strings.ToUpper(string(sv.method)))
		}
		return 0
	case p != 0 && p != sv.port:
		fc.c.warnf(pos, "%s port %d differs from the service's %d with %s: keepalived resets it to %d, and so does the conversion", what, p, sv.port, strings.ToUpper(string(sv.method)), sv.port)
	}
	return sv.port
}

type realResult struct {
	inhibit bool
	weight  uint64
}

func (fc *fileConv) realServer(sv *service, r *keepalived.Stmt) (*block, realResult, bool) {
	res := realResult{weight: sv.weight}
	if !fc.needBlock(r, true) || !fc.args(r, 1, 2) {
		return nil, res, false
	}
	a, ok := fc.addr(r, 0)
	if !ok {
		return nil, res, false
	}
	written, ok := fc.port(r, 1)
	if !ok {
		return nil, res, false
	}
	p := fc.normalisePort(sv, written, r.Pos(), "real server")
	label := a.String()
	if p != 0 || sv.group != nil && sv.group.port != 0 {
		label = netip.AddrPortFrom(a, p).String()
	}
	rb := &block{typ: "real_server", labels: []string{label}, pos: r.Pos()}
	res.inhibit = sv.inhibit.ok && sv.inhibit.v
	var settings checkSettings
	var checks []*keepalived.Stmt
	weightPos := r.Pos()
	var upper, lower *uint64
	var upperPos, lowerPos Pos
	tunnel := &block{}
	for _, k := range r.Block {
		if fc.checkSetting(&settings, k) {
			continue
		}
		switch k.Key.Text {
		case "weight":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 0, 65535); ok {
					res.weight, weightPos = v, k.Pos()
				}
			}
		case "lvs_method":
			if fc.args(k, 1, -1) {
				m, ok := methods[k.Arg(0)]
				switch {
				case ok && m == config.TUN && sv.method == config.TUN:
					fc.tunnelOptions(k, tunnel)
				case !ok || m != sv.method || len(k.Args) > 1:
					fc.unsupported(k.Pos(), "real_server", "lvs_method", "lvs_method "+k.Arg(0)+" on a real server of a "+strings.ToUpper(string(sv.method))+" service")
				}
			}
		case "uthreshold":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 0, 1<<32-1); ok {
					upper, upperPos = &v, k.Pos()
				}
			}
		case "lthreshold":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 0, 1<<32-1); ok {
					lower, lowerPos = &v, k.Pos()
				}
			}
		case "inhibit_on_failure":
			if v, ok := fc.boolArg(k); ok {
				res.inhibit = v
			}
		case "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "UDP_CHECK", "DNS_CHECK", "PING_CHECK", "SMTP_CHECK":
			checks = append(checks, k)
		case "notify_up", "notify_down":
			fc.healthNotify(rb, k, "real_server")
		default:
			fc.other("real_server", k)
		}
	}
	rb.set("weight", cty.NumberIntVal(int64(res.weight)), weightPos)
	if upper != nil {
		rb.set("upper_threshold", cty.NumberIntVal(int64(*upper)), upperPos)
	}
	if lower != nil {
		rb.set("lower_threshold", cty.NumberIntVal(int64(*lower)), lowerPos)
	}
	rb.attrs = append(rb.attrs, tunnel.attrs...)
	if len(checks) > 1 {
		fc.unsupported(checks[1].Pos(), "real_server", "checks", "a second checker ("+checks[1].Key.Text+") on one real server")
	}
	if len(checks) > 0 {
		if hb := fc.check(checks[0], settings.over(sv.settings), written, p); hb != nil {
			rb.blocks = append(rb.blocks, hb)
		}
	}
	return rb, res, true
}

// check converts a TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, UDP_CHECK,
// DNS_CHECK, PING_CHECK or SMTP_CHECK block.
//
// keepalived marks a server up on one passing check and down after a
// failed check of a server that is up was retried `retry` times,
// delay_before_retry apart: lvsd's rise 1, fall 1 and its own retry and
// delay_before_retry, which retry the same way (only while the server is
// healthy).
// baseCheckTypes are the lvsd health_check types of keepalived's TCP,
// HTTP, SSL and MISC checkers; checkTypes has the others.
var baseCheckTypes = map[string]string{"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https", "MISC_CHECK": "exec"}

func (fc *fileConv) check(k *keepalived.Stmt, inherited checkSettings, rsPort, rsRealPort uint16) *block {
	if !fc.needBlock(k, true) {
		return nil
	}
	typ, ok := baseCheckTypes[k.Key.Text]
	if !ok {
		typ = checkTypes[k.Key.Text]
	}
	hb := &block{typ: "health_check", labels: []string{typ}, pos: k.Pos()}
	var own checkSettings
	var port uint16
	var portPos Pos
	var urls []*keepalived.Stmt
	var argv []string
	var argvPos Pos
	var miscTimeout setting[time.Duration]
	var connectIP, bindTo setting[netip.Addr]
	var dynamic setting[bool]
	var user *keepalived.Stmt
	var opts typeOpts
	for _, c := range k.Block {
		if fc.checkSetting(&own, c) {
			if c.Key.Text == "virtualhost" && typ != "http" && typ != "https" {
				fc.other("check", c)
			}
			continue
		}
		switch {
		case fc.typeOption(typ, &opts, c):
		case c.Key.Text == "connect_port" && typ != "exec":
			if fc.args(c, 1, 1) {
				if v, ok := fc.uint(c, 0, 1, 65535); ok {
					port, portPos = uint16(v), c.Pos()
				}
			}
		case (c.Key.Text == "connect_ip" || c.Key.Text == "bindto") && typ != "exec":
			if !fc.args(c, 1, 1) {
				continue
			}
			if a, ok := fc.addr(c, 0); ok {
				if c.Key.Text == "connect_ip" {
					connectIP.put(a, c.Pos())
				} else {
					bindTo.put(a, c.Pos())
				}
			}
		case c.Key.Text == "url" && (typ == "http" || typ == "https"):
			if fc.needBlock(c, true) {
				urls = append(urls, c)
			}
		case c.Key.Text == "misc_path" && typ == "exec":
			if a, ok := fc.script(c, "misc", ""); ok {
				argv, argvPos = a, c.Pos()
			}
		case c.Key.Text == "misc_timeout" && typ == "exec":
			if fc.args(c, 1, 1) {
				if v, ok := fc.uint(c, 0, 0, 1<<31); ok {
					miscTimeout.put(time.Duration(v)*time.Second, c.Pos())
				}
			}
		case c.Key.Text == "misc_dynamic" && typ == "exec":
			if fc.args(c, 0, 0) {
				dynamic.put(true, c.Pos())
			}
		case c.Key.Text == "user" && typ == "exec":
			if fc.args(c, 1, 2) {
				user = c
			}
		default:
			fc.other("check", c)
		}
	}
	cs := own.over(inherited)
	interval := kaDelayLoop
	if cs.delayLoop.ok {
		interval = cs.delayLoop.v
	}
	timeout, timeoutPos := kaConnectTimeout, k.Pos()
	if cs.connectTimeout.ok {
		timeout, timeoutPos = cs.connectTimeout.v, cs.connectTimeout.pos
	}
	retry, retryDelay := uint64(kaRetry), kaTCPRetryDelay
	switch typ {
	case "http", "https":
		retryDelay = kaHTTPRetryDelay
	case "dns":
		retry, retryDelay = kaDNSRetry, interval
	case "exec":
		retry = kaMiscRetry
		// keepalived's misc checker times out after misc_timeout, else
		// after delay_loop.
		timeout, timeoutPos = interval, k.Pos()
		if miscTimeout.ok && miscTimeout.v > 0 {
			timeout, timeoutPos = miscTimeout.v, miscTimeout.pos
		}
	}
	if cs.retry.ok {
		retry = cs.retry.v
	}
	if cs.retryDelay.ok {
		retryDelay = cs.retryDelay.v
	}
	if timeout >= interval {
		what := "connect_timeout"
		if typ == "exec" {
			what = "misc_timeout"
			if !miscTimeout.ok {
				what = "misc_timeout (unset: delay_loop)"
			}
		}
		fc.unsupported(timeoutPos, "check", "timeout", fmt.Sprintf("%s %s with delay_loop %s", what, fmtDur(timeout), fmtDur(interval)))
	}
	hb.set("interval", cty.StringVal(fmtDur(interval)), cs.delayLoop.pos)
	hb.set("timeout", cty.StringVal(fmtDur(timeout)), timeoutPos)
	hb.set("rise", cty.NumberIntVal(1), k.Pos())
	hb.set("fall", cty.NumberIntVal(1), k.Pos())
	if retry > 100 {
		fc.c.errorf(cs.retry.pos, "retry %d: lvsd retries a check at most 100 times", retry)
	}
	if retry > 0 {
		hb.set("retry", cty.NumberIntVal(int64(min(retry, 100))), cs.retry.pos)
		hb.set("delay_before_retry", cty.StringVal(fmtDur(retryDelay)), cs.retryDelay.pos)
	}
	if connectIP.ok {
		hb.set("connect_ip", cty.StringVal(connectIP.v.String()), connectIP.pos)
	}
	if bindTo.ok {
		switch {
		case connectIP.ok && connectIP.v.Is4() != bindTo.v.Is4():
			fc.c.warnf(bindTo.pos, "bindto %s and connect_ip %s are of two families: keepalived skips the bindto, and so does the conversion", bindTo.v, connectIP.v)
		default:
			hb.set("bind_to", cty.StringVal(bindTo.v.String()), bindTo.pos)
		}
	}

	switch typ {
	case "tcp", "http", "https", "udp", "dns", "smtp":
		// keepalived's checker connects to the real server's port as
		// written in the file, before it fixes a DR port.
		if port == 0 {
			if rsPort == 0 {
				fc.c.errorf(k.Pos(), "%s of a real server written without a port: keepalived checks port 0; add connect_port", k.Key.Text)
			}
			port, portPos = rsPort, k.Pos()
		}
		if port != rsRealPort {
			hb.set("port", cty.NumberIntVal(int64(port)), portPos)
		}
	}
	if typ == "http" || typ == "https" {
		fc.urls(hb, k, urls, cs.virtualhost)
		if typ == "https" {
			// keepalived verifies no certificate unless an SSL block
			// names a CA, which is reported on its own.
			hb.set("tls_skip_verify", cty.True, k.Pos())
		}
	}
	if typ == "exec" {
		if argv == nil {
			fc.unsupported(k.Pos(), "misc", "misc_path.none", "MISC_CHECK without misc_path")
			return nil
		}
		if user != nil {
			argv = fc.asUser(user, argv)
		}
		hb.set("command", strList(argv), argvPos)
		if dynamic.ok {
			hb.set("dynamic_weight", cty.True, dynamic.pos)
		}
	}
	fc.typeDone(hb, &opts, k)
	return hb
}

// asUser is argv run as a MISC_CHECK's `user USER [GROUP]` says: through
// runuser (util-linux), which lvsd, running as root, may use to drop to
// the user as keepalived does itself.
func (fc *fileConv) asUser(u *keepalived.Stmt, argv []string) []string {
	name, group := u.Arg(0), ""
	if len(u.Args) > 1 {
		group = u.Arg(1)
	}
	if name == "root" && (group == "" || group == "root") {
		return argv
	}
	wrap := []string{"/usr/sbin/runuser", "-u", name}
	if group != "" {
		wrap = append(wrap, "-g", group)
	}
	wrap = append(wrap, "--")
	fc.c.warnf(u.Pos(), "user: lvsd runs check commands as root; the command is run through %s so that it runs as %s, as keepalived runs it", strings.Join(wrap, " "), name)
	return append(wrap, argv...)
}

// urls converts the url blocks of an HTTP_GET or SSL_GET: one url without
// a digest becomes the check's own path and expect_status, anything else
// url blocks, which lvsd fetches all on every check (keepalived fetches one
// per delay_loop, and all of them must pass before a server is up).
func (fc *fileConv) urls(hb *block, k *keepalived.Stmt, urls []*keepalived.Stmt, vhost setting[string]) {
	if len(urls) == 0 {
		fc.unsupported(k.Pos(), "check", "url.none", k.Key.Text+" without url")
		return
	}
	var blocks []*block
	var host setting[string]
	digests := false
	for i, u := range urls {
		ub, uhost, ok := fc.url(u, vhost)
		if !ok {
			return
		}
		switch {
		case i == 0:
			host = uhost
		case uhost.ok != host.ok || uhost.v != host.v:
			fc.unsupported(uhost.pos, "check", "virtualhost.several", "virtualhost "+uhost.v+" on one url and "+host.v+" on another")
		}
		digests = digests || slices.ContainsFunc(ub.attrs, func(a *attr) bool { return a.name == "digest" })
		blocks = append(blocks, ub)
	}
	if len(blocks) == 1 && !digests {
		hb.attrs = append(hb.attrs, blocks[0].attrs...)
	} else {
		hb.blocks = append(hb.blocks, blocks...)
	}
	if host.ok {
		hb.set("host", cty.StringVal(host.v), host.pos)
	}
}

// url converts one url block into an lvsd url block, and returns the
// virtualhost it is fetched with.
func (fc *fileConv) url(u *keepalived.Stmt, vhost setting[string]) (*block, setting[string], bool) {
	ub := &block{typ: "url", pos: u.Pos()}
	var path string
	var codes []int
	var codesPos Pos
	var digest setting[string]
	for _, c := range u.Block {
		switch c.Key.Text {
		case "path":
			if fc.args(c, 1, 1) {
				path = c.Arg(0)
			}
		case "digest":
			if !fc.args(c, 1, 1) {
				continue
			}
			if d, err := hex.DecodeString(c.Arg(0)); err != nil || len(d) != md5.Size {
				fc.c.warnf(c.Args[0].Pos, "digest %q is not an MD5 in hex (32 hex digits): keepalived checks the url without it, and so does the conversion", c.Arg(0))
				continue
			}
			digest.put(strings.ToLower(c.Arg(0)), c.Pos())
		case "status_code":
			if !fc.args(c, 1, -1) {
				continue
			}
			codesPos = c.Pos()
			for _, w := range c.Args {
				lo, hi, ok := statusRange(w.Text)
				if !ok {
					fc.c.errorf(w.Pos, "status_code %q is not a code or a range of codes in 100..999", w.Text)
					continue
				}
				for v := lo; v <= hi; v++ {
					if !slices.Contains(codes, v) {
						codes = append(codes, v)
					}
				}
			}
		case "virtualhost":
			if fc.args(c, 1, 1) {
				vhost.put(c.Arg(0), c.Pos())
			}
		default:
			fc.other("url", c)
		}
	}
	if path == "" {
		fc.c.errorf(u.Pos(), "url without path: keepalived ignores the url")
		return nil, vhost, false
	}
	ub.set("path", cty.StringVal(path), u.Pos())
	slices.Sort(codes)
	if len(codes) > 0 && !isDefault2xx(codes) {
		for _, v := range codes {
			if v < 100 || v > 599 {
				fc.c.errorf(codesPos, "status_code %d: lvsd accepts codes 100..599", v)
				return nil, vhost, false
			}
		}
		vals := make([]cty.Value, len(codes))
		for i, v := range codes {
			vals[i] = cty.NumberIntVal(int64(v))
		}
		ub.set("expect_status", cty.ListVal(vals), codesPos)
	}
	if digest.ok {
		ub.set("digest", cty.StringVal(digest.v), digest.pos)
	}
	return ub, vhost, true
}

func statusRange(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, false
		}
	}
	if lo < 100 || hi > 999 || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

func isDefault2xx(codes []int) bool {
	if len(codes) != 100 {
		return false
	}
	return codes[0] == 200 && codes[99] == 299
}

// hoistChecks moves a check that every real server has, the same, to the
// service, where lvsd takes it as the default: a smaller file, and the
// way a person would write it.
func (fc *fileConv) hoistChecks(svc *block, reals []*block) {
	if len(reals) < 2 {
		return
	}
	first := reals[0].child("health_check")
	for _, r := range reals {
		hc := r.child("health_check")
		if hc == nil || !sameBlock(hc, first) {
			return
		}
	}
	svc.blocks = append(svc.blocks, reals[0].child("health_check"))
	for _, r := range reals {
		r.blocks = slices.DeleteFunc(r.blocks, func(b *block) bool { return b.typ == "health_check" })
	}
}

// sameBlock reports whether two blocks would be written alike: the same
// type, labels, attributes in the same order with equal values, and
// blocks.
func sameBlock(a, b *block) bool {
	if a.typ != b.typ || !slices.Equal(a.labels, b.labels) || len(a.attrs) != len(b.attrs) || len(a.blocks) != len(b.blocks) {
		return false
	}
	for i, x := range a.attrs {
		if y := b.attrs[i]; x.name != y.name || !sameValue(x.val, y.val) {
			return false
		}
	}
	for i, x := range a.blocks {
		if !sameBlock(x, b.blocks[i]) {
			return false
		}
	}
	return true
}

// sameValue is cty's RawEquals with fast paths for the strings, bools and
// numbers most attributes hold: RawEquals walks both values for marks
// first.
func sameValue(a, b cty.Value) bool {
	if !a.Type().Equals(b.Type()) {
		return false
	}
	if a.IsNull() || b.IsNull() || !a.IsKnown() || !b.IsKnown() {
		return a.RawEquals(b)
	}
	switch a.Type() {
	case cty.String:
		return a.AsString() == b.AsString()
	case cty.Bool:
		return a.True() == b.True()
	case cty.Number:
		return a.AsBigFloat().Cmp(b.AsBigFloat()) == 0
	}
	return a.RawEquals(b)
}
