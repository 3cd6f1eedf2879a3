package convert

import (
	"bytes"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// merge checks that the directors' files agree, then writes the one
// cluster file.
func (c *converter) merge(convs []*fileConv) []byte {
	if len(convs) == 0 {
		return nil
	}
	seen := map[string]*fileConv{}
	for _, fc := range convs {
		if prev, ok := seen[fc.node]; ok {
			c.errorf(Pos{File: fc.f.Name}, "node name %q is taken by %s too; give the nodes names with --names a,b or router_id", fc.node, prev.f.Name)
		}
		seen[fc.node] = fc
	}
	ref := convs[0]
	for _, o := range convs[1:] {
		c.agreeNamed("vrrp_instance", instBlocks(ref), instBlocks(o), ref.f.Name, o.f.Name)
		c.agreeNamed("track_script or track_file", ref.trackers, o.trackers, ref.f.Name, o.f.Name)
		c.agreeNamed("vrrp_sync_group", ref.groups, o.groups, ref.f.Name, o.f.Name)
		c.agreeNamed("virtual_server", ref.services, o.services, ref.f.Name, o.f.Name)
		var a, b []*block
		if ref.ipvs != nil {
			a = []*block{ref.ipvs}
		}
		if o.ipvs != nil {
			b = []*block{o.ipvs}
		}
		c.agreeNamed("ipvs", a, b, ref.f.Name, o.f.Name)
	}
	return c.write(convs)
}

func instBlocks(fc *fileConv) []*block {
	out := make([]*block, len(fc.instances))
	for i, in := range fc.instances {
		out[i] = in.blk
	}
	return out
}

func blockKey(b *block) string { return b.typ + " " + strings.Join(b.labels, " ") }

// agreeNamed compares two files' blocks of one kind, matched by label.
func (c *converter) agreeNamed(kind string, a, b []*block, fa, fb string) {
	index := func(bs []*block) map[string]*block {
		m := make(map[string]*block, len(bs))
		for _, x := range bs {
			m[blockKey(x)] = x
		}
		return m
	}
	ia, ib := index(a), index(b)
	for _, x := range a {
		y, ok := ib[blockKey(x)]
		if !ok {
			c.errorf(x.pos, "%s is in %s but not in %s; every director's file must have it", describe(x), fa, fb)
			continue
		}
		c.agree(x, y, describe(x))
	}
	for _, y := range b {
		if _, ok := ia[blockKey(y)]; !ok {
			c.errorf(y.pos, "%s is in %s but not in %s; every director's file must have it", describe(y), fb, fa)
		}
	}
}

func describe(b *block) string {
	if len(b.labels) == 0 {
		return b.typ
	}
	return b.typ + " " + strings.Join(b.labels, " ")
}

// agree compares two blocks attribute by attribute; a difference is an
// error at the second file's line that names the first's.
func (c *converter) agree(x, y *block, path string) {
	const rule = "the directors' files may differ only in priority, state, unicast_src_ip and router_id"
	for _, ax := range x.attrs {
		ay := y.get(ax.name)
		switch {
		case ay == nil:
			c.errorf(y.pos, "%s: %s is %s at %s but unset here; %s", path, ax.name, valueText(ax.val), ax.pos, rule)
		case valueText(ax.val) != valueText(ay.val):
			c.errorf(ay.pos, "%s: %s is %s here but %s at %s; %s", path, ax.name, valueText(ay.val), valueText(ax.val), ax.pos, rule)
		}
	}
	for _, ay := range y.attrs {
		if x.get(ay.name) == nil {
			c.errorf(ay.pos, "%s: %s is %s here but unset at %s; %s", path, ay.name, valueText(ay.val), x.pos, rule)
		}
	}
	c.agreeNamed(path, x.blocks, y.blocks, x.pos.File, y.pos.File)
}

// valueText writes a value as hclwrite.TokensForValue does, for the
// strings, whole numbers, bools and lists the converter makes; it is
// several times faster, which a file of 20,000 services notices.
func valueText(v cty.Value) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

// textSink is where writeValue writes: a strings.Builder for one value,
// the output's buffer for the whole file.
type textSink interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
	WriteRune(r rune) (int, error)
}

func writeValue(b textSink, v cty.Value) {
	t := v.Type()
	switch {
	case t == cty.String:
		writeString(b, v.AsString())
	case t == cty.Bool:
		b.WriteString(strconv.FormatBool(v.True()))
	case t == cty.Number:
		if i, acc := v.AsBigFloat().Int64(); acc == big.Exact {
			b.WriteString(strconv.FormatInt(i, 10))
			return
		}
		b.Write(hclwrite.TokensForValue(v).Bytes())
	case t.IsListType():
		b.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			_, e := it.Element()
			writeValue(b, e)
		}
		b.WriteByte(']')
	default:
		b.Write(hclwrite.TokensForValue(v).Bytes())
	}
}

// writeString quotes s as an HCL string: escapes as hclwrite writes them,
// and template sequences ("${", "%{") doubled so they stay literal.
func writeString(b textSink, s string) {
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// write renders the cluster file.
func (c *converter) write(convs []*fileConv) []byte {
	body := &textWriter{}

	var names []string
	for _, fc := range convs {
		names = append(names, fmt.Sprintf("%s (node %q)", fc.f.Name, fc.node))
	}
	comment(body, "Converted by lvsd convert from "+strings.Join(names, ", ")+".")
	var notes []string
	for _, fc := range convs {
		for _, n := range fc.notes {
			notes = append(notes, fmt.Sprintf("  %s:%d: %s", n.pos.File, n.pos.Line, n.text))
		}
	}
	if len(notes) > 0 {
		comment(body, "keepalived settings that change nothing lvsd does, left out:")
		for _, n := range notes {
			comment(body, n)
		}
	}
	body.newline()
	// keepalived has no cluster name: give one that says so.
	comment(body, "the cluster's name in status, logs and metrics: rename it")
	body.attrs([]*attr{{name: "cluster", val: cty.StringVal("keepalived")}}, "")

	// Nodes, with their priorities: the node's own when it is the same in
	// every instance, else a priorities entry per instance.
	uniform := map[string]bool{}
	for _, fc := range convs {
		body.newline()
		from := fc.f.Name
		if fc.routerID != "" {
			from = fmt.Sprintf("%s:%d (router_id)", fc.routerPos.File, fc.routerPos.Line)
		}
		comment(body, "from "+from)
		nb := &block{typ: "node", labels: []string{fc.node}}
		u := true
		for _, in := range fc.instances {
			if in.priority != fc.instances[0].priority {
				u = false
			}
		}
		uniform[fc.node] = u
		if len(fc.instances) > 0 {
			nb.set("priority", cty.NumberIntVal(int64(fc.instances[0].priority)), Pos{})
		}
		body.block(nb, "")
	}

	ref := convs[0]
	from := origins(convs)
	for _, b := range ref.trackers {
		body.newline()
		comment(body, "from "+from[blockKey(b)])
		body.block(b, "")
	}
	for _, in := range ref.instances {
		blk := cloneBlock(in.blk)
		var prios []string
		prioVals := map[string]cty.Value{}
		var peers []netip.Addr
		unicast := false
		var froms []string
		for _, fc := range convs {
			o := findInstance(fc, in.name)
			if o == nil {
				continue
			}
			froms = append(froms, fmt.Sprintf("%s:%d", o.pos.File, o.pos.Line))
			if !uniform[fc.node] && o.priority != fc.instances[0].priority {
				prios = append(prios, fc.node)
				prioVals[fc.node] = cty.NumberIntVal(int64(o.priority))
			}
			if len(o.peers) > 0 {
				unicast = true
				for _, a := range append([]netip.Addr{o.srcIP}, o.peers...) {
					if a.IsValid() && !slices.Contains(peers, a) {
						peers = append(peers, a)
					}
				}
			} else if unicast || (fc != ref && len(in.peers) > 0) {
				c.errorf(o.pos, "vrrp_instance %s: multicast here but unicast_peer in %s; the directors must agree", in.name, ref.f.Name)
			}
		}
		if len(prios) > 0 {
			blk.insertAfter("preempt_delay", &attr{name: "priorities", val: cty.MapVal(prioVals)}, "version", "advert_interval", "preempt")
		}
		if unicast {
			vals := make([]string, len(peers))
			for i, p := range peers {
				vals[i] = p.String()
			}
			blk.insertAfter("priorities", &attr{name: "unicast_peers", val: strList(vals)}, "preempt_delay", "preempt", "advert_interval", "version")
		}
		body.newline()
		comment(body, "from "+strings.Join(froms, ", "))
		body.block(blk, "")
	}
	for _, list := range [][]*block{ref.groups, ref.services} {
		for _, b := range list {
			body.newline()
			comment(body, "from "+from[blockKey(b)])
			body.block(b, "")
		}
	}
	if ref.ipvs != nil {
		body.newline()
		comment(body, "from "+from[blockKey(ref.ipvs)])
		body.block(ref.ipvs, "")
	}
	return body.b.Bytes()
}

// origins maps a block's key to where it came from in every file that
// has it, "FILE:LINE, FILE:LINE".
func origins(convs []*fileConv) map[string]string {
	out := map[string]string{}
	add := func(b *block) {
		k := blockKey(b)
		at := fmt.Sprintf("%s:%d", b.pos.File, b.pos.Line)
		if prev, ok := out[k]; ok {
			at = prev + ", " + at
		}
		out[k] = at
	}
	for _, fc := range convs {
		for _, list := range [][]*block{fc.trackers, fc.groups, fc.services} {
			for _, b := range list {
				add(b)
			}
		}
		if fc.ipvs != nil {
			add(fc.ipvs)
		}
	}
	return out
}

func findInstance(fc *fileConv, name string) *instance {
	for _, in := range fc.instances {
		if in.name == name {
			return in
		}
	}
	return nil
}

func cloneBlock(b *block) *block {
	c := *b
	c.attrs = slices.Clone(b.attrs)
	return &c
}

// insertAfter puts a after the last of the named attributes present, else
// before every other attribute's place (after the first ones).
func (b *block) insertAfter(first string, a *attr, others ...string) {
	idx := -1
	for i, x := range b.attrs {
		if x.name == first || slices.Contains(others, x.name) {
			idx = i
		}
	}
	b.attrs = slices.Insert(b.attrs, idx+1, a)
}

func comment(w *textWriter, text string) {
	w.b.WriteString("# " + strings.TrimRight(text, " ") + "\n")
}

// textWriter writes HCL in the layout of hclwrite.Format (a test checks
// that formatting its output changes nothing): hclwrite itself takes
// seconds on a file of 20,000 services, this a fraction of one.
type textWriter struct {
	b bytes.Buffer
}

func (w *textWriter) newline() { w.b.WriteByte('\n') }

func (w *textWriter) block(b *block, indent string) {
	w.b.WriteString(indent)
	w.b.WriteString(b.typ)
	for _, l := range b.labels {
		w.b.WriteByte(' ')
		writeString(&w.b, l)
	}
	w.b.WriteString(" {\n")
	w.attrs(b.attrs, indent+"  ")
	for _, c := range b.blocks {
		w.block(c, indent+"  ")
	}
	w.b.WriteString(indent)
	w.b.WriteString("}\n")
}

// spaces returns n spaces, without allocating for the usual widths.
func spaces(n int) string {
	const pad = "                                "
	if n <= len(pad) {
		return pad[:n]
	}
	return strings.Repeat(" ", n)
}

// attrs writes attributes with their "=" aligned in runs of one-line
// values, as hclwrite.Format aligns them.
func (w *textWriter) attrs(attrs []*attr, indent string) {
	for i := 0; i < len(attrs); {
		if attrs[i].val.Type().IsMapType() {
			w.mapAttr(attrs[i], indent)
			i++
			continue
		}
		j, width := i, 0
		for ; j < len(attrs) && !attrs[j].val.Type().IsMapType(); j++ {
			width = max(width, len(attrs[j].name))
		}
		for _, a := range attrs[i:j] {
			w.b.WriteString(indent)
			w.b.WriteString(a.name)
			w.b.WriteString(spaces(width - len(a.name)))
			w.b.WriteString(" = ")
			writeValue(&w.b, a.val)
			w.b.WriteByte('\n')
		}
		i = j
	}
}

func (w *textWriter) mapAttr(a *attr, indent string) {
	w.b.WriteString(indent + a.name + " = {\n")
	var keys []string
	width := 0
	for it := a.val.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		key := k.AsString()
		if !hclsyntax.ValidIdentifier(key) {
			key = valueText(k)
		}
		keys = append(keys, key)
		width = max(width, len(key))
	}
	i := 0
	for it := a.val.ElementIterator(); it.Next(); i++ {
		_, v := it.Element()
		w.b.WriteString(indent + "  " + keys[i] + strings.Repeat(" ", width-len(keys[i])) + " = ")
		w.b.WriteString(valueText(v))
		w.b.WriteByte('\n')
	}
	w.b.WriteString(indent + "}\n")
}
