package convert

import (
	"slices"
	"strconv"
	"time"

	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/zclconf/go-cty/cty"
)

// keepalived's tracking keywords (vrrp_parser.c, track_file.c) and their
// lvsd blocks: vrrp_script becomes a top-level track_script,
// vrrp_track_file (and track_file) a top-level track_file, and an
// instance's track_script, track_file and track_interface lists become
// blocks of the instance with their weights.

// trackDecls is what a pre-pass of a file learns before the instances are
// converted: the declared scripts and files with their own weights, and
// the sync groups' members (keepalived ignores weighted tracking of a
// member unless its group sets sync_group_tracking_weight).
type trackDecls struct {
	scriptWeight map[string]int
	fileWeight   map[string]int
	// syncWeights: instance -> whether its sync group honours weights.
	syncWeights map[string]bool
}

// scanTracking fills fc.decls from the top-level statements.
func (fc *fileConv) scanTracking() {
	d := trackDecls{scriptWeight: map[string]int{}, fileWeight: map[string]int{}, syncWeights: map[string]bool{}}
	for _, s := range fc.f.Stmts {
		if len(s.Args) != 1 || !s.HasBlock {
			continue
		}
		switch s.Key.Text {
		case "vrrp_script":
			// One without a script is dropped (vrrpScript says so).
			if slices.ContainsFunc(s.Block, func(k *keepalived.Stmt) bool { return k.Key.Text == "script" }) {
				d.scriptWeight[s.Arg(0)] = declWeight(s, 0)
			}
		case "vrrp_track_file", "track_file":
			d.fileWeight[s.Arg(0)] = declWeight(s, 1)
		case "vrrp_sync_group":
			honour := false
			var members []string
			for _, k := range s.Block {
				switch k.Key.Text {
				case "sync_group_tracking_weight":
					honour = true
				case "group":
					for _, m := range k.Block {
						members = append(members, m.Key.Text)
						for _, a := range m.Args {
							members = append(members, a.Text)
						}
					}
				}
			}
			for _, m := range members {
				d.syncWeights[m] = honour
			}
		}
	}
	fc.decls = d
}

// declWeight is the weight a vrrp_script or track_file block sets, else def.
func declWeight(s *keepalived.Stmt, def int) int {
	for _, k := range s.Block {
		if k.Key.Text == "weight" && len(k.Args) > 0 {
			if w, err := strconv.Atoi(k.Arg(0)); err == nil {
				return w
			}
		}
	}
	return def
}

// weight reads "weight W [reverse]" at args[i:] of a tracking line,
// within -limit..limit; "reverse" is reported.
func (fc *fileConv) weight(s *keepalived.Stmt, i, limit int, ctx, what string) (int, bool) {
	if i >= len(s.Args) || s.Args[i].Text != "weight" {
		fc.c.errorf(s.Args[i].Pos, "%s: want weight W after the name, got %q", what, s.Args[i].Text)
		return 0, false
	}
	if i+1 >= len(s.Args) {
		fc.c.errorf(s.Args[i].Pos, "%s: weight needs a value", what)
		return 0, false
	}
	return fc.weightValue(s, i+1, limit, ctx, what)
}

// weightValue reads "W [reverse]" at args[i:], within -limit..limit;
// "reverse" is reported.
func (fc *fileConv) weightValue(s *keepalived.Stmt, i, limit int, ctx, what string) (int, bool) {
	w, err := strconv.Atoi(s.Args[i].Text)
	switch {
	case err != nil || w < -limit || w > limit:
		fc.c.errorf(s.Args[i].Pos, "%s: weight %q is not a number in -%d..%d", what, s.Args[i].Text, limit, limit)
	case i+2 < len(s.Args):
		fc.c.errorf(s.Args[i+2].Pos, "%s: unexpected %q", what, s.Args[i+2].Text)
	case i+1 < len(s.Args) && s.Args[i+1].Text == "reverse":
		fc.unsupported(s.Args[i+1].Pos, ctx, "weight.reverse", what+" … weight "+s.Args[i].Text+" reverse")
	case i+1 < len(s.Args):
		fc.c.errorf(s.Args[i+1].Pos, "%s: unknown weight option %q", what, s.Args[i+1].Text)
	default:
		return w, true
	}
	return 0, false
}

// vrrpScript converts vrrp_script NAME { script … interval … } into a
// top-level track_script; lvsd's defaults are keepalived's (interval 1s,
// timeout the interval, rise and fall 1, weight 0), so only what is set is
// written.
func (fc *fileConv) vrrpScript(s *keepalived.Stmt) {
	if !fc.args(s, 1, 1) || !fc.needBlock(s, true) {
		return
	}
	blk := &block{typ: "track_script", labels: []string{s.Arg(0)}, pos: s.Pos()}
	hasCommand := false
	for _, k := range s.Block {
		switch k.Key.Text {
		case "script":
			sc, err := keepalived.SplitScript(k)
			if err != nil {
				fc.c.errorf(k.Pos(), "script: %v", err)
				continue
			}
			if sc.User != "" {
				fc.c.warnf(k.Pos(), "script: keepalived runs only %q and ignores the words after it (quote the whole command to pass arguments)", sc.Argv)
			}
			argv, ok := fc.scriptArgv(k, sc.Argv)
			if ok {
				blk.set("command", strList(argv), k.Pos())
				hasCommand = true
			}
		case "interval", "timeout":
			if !fc.args(k, 1, 1) {
				continue
			}
			d, ok := fc.seconds(k, 0, 0, 1<<31*time.Second)
			if !ok {
				continue
			}
			if d == 0 {
				d = time.Second // keepalived: "must be greater than 0, setting to 1"
			}
			blk.set(k.Key.Text, cty.StringVal(fmtDur(d)), k.Pos())
		case "rise", "fall":
			if fc.args(k, 1, 1) {
				if v, ok := fc.uint(k, 0, 1, 1000); ok {
					blk.set(k.Key.Text, cty.NumberIntVal(int64(v)), k.Pos())
				}
			}
		case "weight":
			if !fc.args(k, 1, 2) {
				continue
			}
			if w, ok := fc.weightValue(k, 0, 253, "vrrp_script", "vrrp_script "+s.Arg(0)); ok && w != 0 {
				blk.set("weight", cty.NumberIntVal(int64(w)), k.Pos())
			}
		case "user":
			if fc.args(k, 1, 2) && !(k.Arg(0) == "root" && (len(k.Args) == 1 || k.Arg(1) == "root")) {
				fc.unsupported(k.Pos(), "vrrp_script", "user", "user "+k.Arg(0))
			}
		default:
			fc.other("vrrp_script", k)
		}
	}
	if !hasCommand {
		fc.c.warnf(s.Pos(), "vrrp_script %s has no script: keepalived drops it and every track_script naming it, and so does the conversion", s.Arg(0))
		return
	}
	fc.trackers = append(fc.trackers, blk)
}

// scriptArgv warns about shell syntax and relative paths as fc.script does.
func (fc *fileConv) scriptArgv(k *keepalived.Stmt, argv []string) ([]string, bool) {
	for _, w := range argv {
		if shellWord(w) {
			fc.c.warnf(k.Pos(), "%s: %q looks like shell syntax; keepalived runs the command without a shell (it is a plain argument there too), and so does lvsd: write [\"/bin/sh\", \"-c\", …] if a shell was meant", k.Key.Text, w)
			break
		}
	}
	if argv[0] == "" || argv[0][0] != '/' {
		fc.c.warnf(k.Pos(), "%s: %q is not an absolute path; keepalived searches PATH for it", k.Key.Text, argv[0])
	}
	return argv, true
}

// trackFile converts vrrp_track_file (or track_file) NAME { file PATH
// weight W } into a top-level track_file.
func (fc *fileConv) trackFile(s *keepalived.Stmt) {
	if !fc.args(s, 1, 1) || !fc.needBlock(s, true) {
		return
	}
	blk := &block{typ: "track_file", labels: []string{s.Arg(0)}, pos: s.Pos()}
	hasPath := false
	for _, k := range s.Block {
		switch k.Key.Text {
		case "file":
			if fc.args(k, 1, 1) {
				if k.Arg(0) == "" || k.Arg(0)[0] != '/' {
					fc.c.errorf(k.Args[0].Pos, "file: %q is not an absolute path", k.Arg(0))
					continue
				}
				blk.set("path", cty.StringVal(k.Arg(0)), k.Pos())
				hasPath = true
			}
		case "weight":
			if !fc.args(k, 1, 2) {
				continue
			}
			if w, ok := fc.weightValue(k, 0, 254, "track_file", s.Key.Text+" "+s.Arg(0)); ok && w != 1 {
				blk.set("weight", cty.NumberIntVal(int64(w)), k.Pos())
			}
		default:
			fc.other("track_file", k)
		}
	}
	if !hasPath {
		fc.c.errorf(s.Pos(), "%s %s has no file", s.Key.Text, s.Arg(0))
		return
	}
	fc.trackers = append(fc.trackers, blk)
}

// instTracking collects an instance's tracking as lvsd blocks.
type instTracking struct {
	ifaces    []string // weight 0: track_interfaces
	ifacesPos Pos
	blocks    []*block // track_interface, track_script, track_file
}

// trackList converts one of an instance's track_interface, track_script
// and track_file blocks: one NAME [weight W] per line. A member of a sync
// group without sync_group_tracking_weight tracks as keepalived makes it:
// interfaces at weight 0, weighted scripts and files not at all (a file
// at its default weight 1 at 0).
func (fc *fileConv) trackList(in string, k *keepalived.Stmt, t *instTracking) {
	if !fc.needBlock(k, true) {
		return
	}
	honour, inSync := fc.decls.syncWeights[in]
	ignore := inSync && !honour
	kind := k.Key.Text
	limit := 254
	if kind == "track_script" {
		limit = 253
	}
	for _, l := range k.Block {
		name := l.Key.Text
		w, explicit := 0, len(l.Args) > 0
		switch kind {
		case "track_script":
			def, ok := fc.decls.scriptWeight[name]
			if !ok {
				fc.c.warnf(l.Pos(), "track_script %s: no vrrp_script %s in this file: keepalived ignores the reference, and so does the conversion", name, name)
				continue
			}
			w = def
		case "track_file":
			def, ok := fc.decls.fileWeight[name]
			if !ok {
				fc.c.warnf(l.Pos(), "track_file %s: no vrrp_track_file %s in this file: keepalived ignores the reference, and so does the conversion", name, name)
				continue
			}
			w = def
		}
		if explicit {
			var ok bool
			if w, ok = fc.weight(l, 0, limit, "vrrp_instance", kind+" "+name); !ok {
				continue
			}
		}
		if ignore && w != 0 {
			switch {
			case kind == "track_interface":
				fc.c.warnf(l.Pos(), "%s %s weight %d: keepalived ignores the weight of a sync group member without sync_group_tracking_weight, and so does the conversion (a down interface means FAULT)", kind, name, w)
				w, explicit = 0, false
			case kind == "track_file" && w == 1:
				fc.c.warnf(l.Pos(), "track_file %s: keepalived tracks a sync group member's file at weight 0 (any number but 0 means FAULT), and so does the conversion", name)
				w, explicit = 0, true
			default:
				fc.c.warnf(l.Pos(), "%s %s: keepalived ignores weighted tracking of a sync group member without sync_group_tracking_weight, and so does the conversion", kind, name)
				continue
			}
		}
		if kind == "track_interface" && w == 0 {
			t.ifaces = append(t.ifaces, name)
			if t.ifacesPos == (Pos{}) {
				t.ifacesPos = k.Pos()
			}
			continue
		}
		b := &block{typ: kind, labels: []string{name}, pos: l.Pos()}
		if explicit || kind == "track_interface" {
			b.set("weight", cty.NumberIntVal(int64(w)), l.Pos())
		}
		t.blocks = append(t.blocks, b)
	}
}

// groupNotify converts a sync group's notify keywords into its notify block.
func (fc *fileConv) groupNotify(blk *block, k *keepalived.Stmt) {
	argv, ok := fc.script(k, "vrrp_sync_group", "notify.user")
	if !ok {
		return
	}
	nb := blk.child("notify")
	if nb == nil {
		nb = &block{typ: "notify", pos: k.Pos()}
		blk.blocks = append(blk.blocks, nb)
	}
	nb.set(notifyAttr(k.Key.Text), strList(argv), k.Pos())
}

// notifyAttr is the lvsd notify attribute of a keepalived notify keyword.
func notifyAttr(key string) string {
	if key == "notify" {
		return "command"
	}
	return key[len("notify_"):]
}

// healthNotify converts notify_up, notify_down, quorum_up and quorum_down
// into the attribute of the same name.
func (fc *fileConv) healthNotify(blk *block, k *keepalived.Stmt, ctx string) {
	if argv, ok := fc.script(k, ctx, "notify.user"); ok {
		blk.set(k.Key.Text, strList(argv), k.Pos())
	}
}

// quorumCommands keeps a quorum without a sorry server when quorum_up or
// quorum_down runs on it. keepalived's quorum counts the weights of the
// healthy real servers, lvsd's counts the servers: the same only when
// every weight is 1.
func (fc *fileConv) quorumCommands(blk *block, quorum uint64, at Pos, weights []uint64) {
	if quorum == 1 {
		return // lvsd's default
	}
	for _, w := range weights {
		if w != 1 {
			fc.unsupported(at, "virtual_server", "quorum.weights", "quorum with real-server weights other than 1")
			return
		}
	}
	if n := uint64(len(weights)); quorum > n {
		fc.c.warnf(at, "quorum %d exceeds the real servers' total weight %d; keepalived lowers it to %d, and so does the conversion", quorum, n, n)
		quorum = n
	}
	blk.set("quorum", cty.NumberIntVal(int64(quorum)), at)
}
