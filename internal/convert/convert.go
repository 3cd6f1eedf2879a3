// Package convert turns keepalived.conf files, one per director of a
// cluster, into one lvsd cluster file (`lvsd convert`, SPEC §8).
//
// Convert is a pure function from parsed files to the text of the cluster
// file and diagnostics. Every keyword is either converted so that
// `lvsd plan` prints the IPVS rules keepalived programs (as `ipvsadm -S -n`
// shows them, every real server healthy) and the same VRRP instances, or
// reported: monitoring-only keywords as warnings (and a comment at the top
// of the output), everything else as "not supported" with what to do
// instead. table.go lists both.
package convert

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/zclconf/go-cty/cty"
)

// Pos is a place in a keepalived file.
type Pos = keepalived.Pos

// Diag is a converter diagnostic; Warning ones do not fail a conversion.
type Diag = keepalived.Diag

// Options change how files are merged.
type Options struct {
	// Names overrides the node names, one per file, in order.
	Names []string
}

// Result is the outcome of Convert.
type Result struct {
	// HCL is the formatted cluster file: everything that converted, even
	// when Diags has errors (`--partial` writes it then).
	HCL []byte
	// Diags are the warnings and errors, in file order.
	Diags []Diag
}

// Convert converts the files, one per director.
func Convert(files []*keepalived.File, opt Options) Result {
	c := &converter{}
	var convs []*fileConv
	for i, f := range files {
		fc := &fileConv{c: c, f: f, defVersion: 2, garp: defaultGARP(), vsGroups: map[string]*vsGroup{}}
		fc.convert()
		fc.node = nodeName(f, fc.routerID)
		if i < len(opt.Names) && opt.Names[i] != "" {
			fc.node = opt.Names[i]
		}
		convs = append(convs, fc)
	}
	if len(opt.Names) > 0 && len(opt.Names) != len(files) {
		c.errorf(Pos{}, "--names gives %d name(s) for %d file(s)", len(opt.Names), len(files))
	}
	out := c.merge(convs)
	sortDiags(c.diags)
	return Result{HCL: out, Diags: c.diags}
}

func nodeName(f *keepalived.File, routerID string) string {
	if routerID != "" {
		return routerID
	}
	base := filepath.Base(f.Name)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

func sortDiags(ds []Diag) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return false // keep the files in the order they were given
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

type converter struct {
	diags []Diag
}

func (c *converter) errorf(pos Pos, format string, args ...any) {
	c.diags = append(c.diags, Diag{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *converter) warnf(pos Pos, format string, args ...any) {
	c.diags = append(c.diags, Diag{Pos: pos, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// block is an lvsd block being built: attributes in output order, each
// with the keepalived position it came from, so that two directors' files
// can be compared and a difference named by line.
type block struct {
	typ    string
	labels []string
	pos    Pos
	attrs  []*attr
	blocks []*block
}

type attr struct {
	name string
	val  cty.Value
	pos  Pos
}

func (b *block) set(name string, v cty.Value, pos Pos) {
	for _, a := range b.attrs {
		if a.name == name {
			a.val, a.pos = v, pos
			return
		}
	}
	b.attrs = append(b.attrs, &attr{name: name, val: v, pos: pos})
}

func (b *block) get(name string) *attr {
	for _, a := range b.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}

func (b *block) child(typ string) *block {
	for _, c := range b.blocks {
		if c.typ == typ {
			return c
		}
	}
	return nil
}

// note is a monitoring-only keyword kept for the comment at the top.
type note struct {
	pos  Pos
	text string
}

// fileConv converts one director's file.
type fileConv struct {
	c         *converter
	f         *keepalived.File
	node      string
	routerID  string
	routerPos Pos

	defVersion   int
	defVersionAt Pos
	defaultIface string
	garp         garpSettings

	decls     trackDecls
	trackers  []*block // track_script and track_file
	instances []*instance
	groups    []*block
	services  []*block // virtual_server_group and virtual_server blocks
	vsGroups  map[string]*vsGroup
	ipvs      *block
	notes     []note
}

// lookup finds a keyword in a table: "CONTEXT KEY" first, then "* KEY".
func lookup(table map[string]string, ctx, key string) (string, bool) {
	if v, ok := table[ctx+" "+key]; ok {
		return v, true
	}
	v, ok := table["* "+key]
	return v, ok
}

// other reports a keyword its block's converter does not handle.
func (fc *fileConv) other(ctx string, s *keepalived.Stmt) {
	key := s.Key.Text
	if why, ok := lookup(monitoringOnly, ctx, key); ok {
		fc.monitoring(s, why)
		return
	}
	if _, ok := lookup(notSupported, ctx, key); ok {
		fc.unsupported(s.Pos(), ctx, key, key)
		return
	}
	fc.c.errorf(s.Pos(), "not supported: %s (not a keyword of keepalived's %s block that lvsd convert knows; check its spelling, or remove it)", key, ctx)
}

// unsupported reports a "not supported" error; key names the table entry,
// shown the keyword as the user wrote it.
func (fc *fileConv) unsupported(pos Pos, ctx, key, shown string) {
	instead, ok := lookup(notSupported, ctx, key)
	if !ok {
		instead = "no equivalent in lvsd"
	}
	fc.c.errorf(pos, "not supported: %s (%s)", shown, instead)
}

func (fc *fileConv) monitoring(s *keepalived.Stmt, why string) {
	text := strings.TrimSpace(s.Raw)
	if s.HasBlock {
		text += " { … }"
	}
	if len(text) > 80 {
		text = text[:77] + "..."
	}
	fc.notes = append(fc.notes, note{pos: s.Pos(), text: text})
	msg := "ignored: " + s.Key.Text + " changes nothing lvsd does"
	if why != "" {
		msg += " (" + why + ")"
	}
	fc.c.warnf(s.Pos(), "%s", msg)
}

func (fc *fileConv) convert() {
	for _, ft := range fc.f.Features {
		fc.unsupported(ft.Pos, "top", ft.Name, ft.Name+" line")
	}
	// global_defs first: its defaults (vrrp_version, garp) apply to every
	// instance wherever it is in the file.
	for _, s := range fc.f.Stmts {
		if s.Key.Text == "global_defs" {
			fc.globalDefs(s)
		}
	}
	fc.virtualServerGroups()
	fc.scanTracking()
	for _, s := range fc.f.Stmts {
		switch s.Key.Text {
		case "global_defs", "virtual_server_group":
		case "vrrp_script":
			fc.vrrpScript(s)
		case "vrrp_track_file", "track_file":
			fc.trackFile(s)
		case "vrrp_instance":
			fc.vrrpInstance(s)
		case "vrrp_sync_group":
			fc.syncGroup(s)
		case "virtual_server":
			fc.virtualServer(s)
		default:
			fc.other("top", s)
		}
	}
	fc.finishSyncDaemon()
}

// needBlock reports a keyword that must have a block and has none, or the
// reverse; it returns false then.
func (fc *fileConv) needBlock(s *keepalived.Stmt, want bool) bool {
	if s.HasBlock == want {
		return true
	}
	if want {
		fc.c.errorf(s.Pos(), "%s needs a { … } block", s.Key.Text)
	} else {
		fc.c.errorf(s.Pos(), "%s takes no { … } block", s.Key.Text)
	}
	return false
}

// args checks the number of arguments; it returns false after reporting.
func (fc *fileConv) args(s *keepalived.Stmt, min, max int) bool {
	n := len(s.Args)
	switch {
	case n < min && min == max:
		fc.c.errorf(s.Pos(), "%s needs %d value(s), got %d", s.Key.Text, min, n)
	case n < min:
		fc.c.errorf(s.Pos(), "%s needs at least %d value(s), got %d", s.Key.Text, min, n)
	case max >= 0 && n > max:
		fc.c.errorf(s.Args[max].Pos, "%s takes at most %d value(s), got %d", s.Key.Text, max, n)
	default:
		return true
	}
	return false
}

func (fc *fileConv) globalDefs(g *keepalived.Stmt) {
	if !fc.needBlock(g, true) {
		return
	}
	for _, s := range g.Block {
		switch s.Key.Text {
		case "router_id":
			if fc.args(s, 1, 1) {
				fc.routerID, fc.routerPos = s.Arg(0), s.Pos()
			}
			fc.monitoring(s, "names the node")
		case "vrrp_version":
			if fc.args(s, 1, 1) {
				v, ok := fc.uint(s, 0, 2, 3)
				if ok {
					fc.defVersion, fc.defVersionAt = int(v), s.Pos()
				}
			}
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh",
			"vrrp_garp_master_refresh_repeat", "vrrp_garp_interval", "vrrp_gna_interval":
			fc.garpKeyword(&fc.garp, s, strings.TrimPrefix(s.Key.Text, "vrrp_"))
		case "default_interface":
			if fc.args(s, 1, 1) {
				fc.defaultIface = s.Arg(0)
			}
		case "lvs_timeouts":
			fc.lvsTimeouts(s)
		case "lvs_sync_daemon":
			fc.lvsSyncDaemon(s)
		case "lvs_flush_on_stop", "lvs_flush_onstop":
			// "VS" removes only keepalived's own services, as lvsd's
			// cleanup_on_exit does by default.
			if s.Arg(0) == "VS" && len(s.Args) == 1 {
				continue
			}
			fc.other("global_defs", s)
		case "script_user":
			if s.Arg(0) == "root" && len(s.Args) <= 2 && (len(s.Args) < 2 || s.Arg(1) == "root") {
				continue
			}
			fc.other("global_defs", s)
		default:
			fc.other("global_defs", s)
		}
	}
}

func (fc *fileConv) ipvsBlock() *block {
	if fc.ipvs == nil {
		fc.ipvs = &block{typ: "ipvs"}
	}
	return fc.ipvs
}

// lvsTimeouts: lvs_timeouts [tcp N] [tcpfin N] [udp N], whole seconds.
func (fc *fileConv) lvsTimeouts(s *keepalived.Stmt) {
	ib := fc.ipvsBlock()
	if ib.pos == (Pos{}) {
		ib.pos = s.Pos()
	}
	t := ib.child("timeouts")
	if t == nil {
		t = &block{typ: "timeouts", pos: s.Pos()}
		ib.blocks = append(ib.blocks, t)
	}
	names := map[string]string{"tcp": "tcp", "tcpfin": "tcp_fin", "udp": "udp"}
	for i := 0; i < len(s.Args); i += 2 {
		name, ok := names[s.Args[i].Text]
		if !ok || i+1 >= len(s.Args) {
			fc.c.errorf(s.Args[i].Pos, "lvs_timeouts: want tcp, tcpfin or udp followed by seconds, got %q", s.Args[i].Text)
			return
		}
		v, ok := fc.uint(s, i+1, 0, 1<<31)
		if !ok {
			return
		}
		t.set(name, cty.StringVal(fmt.Sprintf("%ds", v)), s.Args[i].Pos)
	}
}

// lvsSyncDaemon: lvs_sync_daemon INTERFACE INSTANCE [id N] [maxlen N]
// [port N] [ttl N] [group ADDR].
func (fc *fileConv) lvsSyncDaemon(s *keepalived.Stmt) {
	if !fc.args(s, 2, -1) {
		return
	}
	ib := fc.ipvsBlock()
	if ib.pos == (Pos{}) {
		ib.pos = s.Pos()
	}
	sd := &block{typ: "sync_daemon", pos: s.Pos()}
	sd.set("interface", cty.StringVal(s.Arg(0)), s.Args[0].Pos)
	sd.set("vrrp_instance", cty.StringVal(s.Arg(1)), s.Args[1].Pos)
	// The options and keepalived's ranges (global_parser.c).
	options := map[string]struct {
		attr     string
		min, max uint64
	}{
		"id": {"sync_id", 0, 255}, "maxlen": {"maxlen", 1, 65535 - 20 - 8},
		"port": {"port", 1, 65535}, "ttl": {"ttl", 1, 255},
	}
	for i := 2; i < len(s.Args); i += 2 {
		w := s.Args[i].Text
		if i+1 >= len(s.Args) {
			fc.c.errorf(s.Args[i].Pos, "lvs_sync_daemon %s needs a value", w)
			break
		}
		if o, ok := options[w]; ok {
			if v, ok := fc.uint(s, i+1, o.min, o.max); ok {
				sd.set(o.attr, cty.NumberIntVal(int64(v)), s.Args[i].Pos)
			}
			continue
		}
		if w == "group" {
			if a, ok := fc.addrWord("lvs_sync_daemon group", s.Args[i+1]); ok {
				if !a.IsMulticast() {
					fc.c.errorf(s.Args[i+1].Pos, "lvs_sync_daemon group %s is not multicast: keepalived ignores it", a)
					continue
				}
				sd.set("mcast_group", cty.StringVal(a.String()), s.Args[i].Pos)
			}
			continue
		}
		fc.unsupported(s.Args[i].Pos, "global_defs", "lvs_sync_daemon.option", "lvs_sync_daemon "+w)
	}
	ib.blocks = append(ib.blocks, sd)
}

// finishSyncDaemon checks that the sync daemon's instance exists.
func (fc *fileConv) finishSyncDaemon() {
	if fc.ipvs == nil {
		return
	}
	sd := fc.ipvs.child("sync_daemon")
	if sd == nil {
		return
	}
	name := sd.get("vrrp_instance")
	for _, in := range fc.instances {
		if in.name == name.val.AsString() {
			return
		}
	}
	fc.c.errorf(name.pos, "lvs_sync_daemon names vrrp_instance %q, which this file does not define", name.val.AsString())
}
