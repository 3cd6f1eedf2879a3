package config

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The decoder turns the HCL syntax tree into blocks of typed values, driven
// by schema. It checks names, types and numeric ranges; the meaning of the
// values is checked by the builder.

// value is one decoded attribute. Which fields are set depends on the kind.
type value struct {
	nameRng hcl.Range // the attribute's name
	rng     hcl.Range // its value expression
	str     string
	num     int64
	b       bool
	dur     time.Duration
	list    []item  // kStringList, kIntList
	entries []entry // kPriorityMap
}

type item struct {
	rng hcl.Range
	str string
	num int64
}

type entry struct {
	key    string
	keyRng hcl.Range
	num    int64
	rng    hcl.Range
}

// block is one decoded block. It is kept small: a large file has hundreds
// of thousands, and a Loader keeps them from one load to the next.
type block struct {
	spec     *blockSpec
	typeRng  hcl.Range
	label    string
	labelRng hcl.Range
	// attrs are the attributes set, at their index in spec.Attrs; nil
	// when none is.
	attrs []*value
	// bad holds attributes that were present but invalid, or required and
	// missing: checks that involve them are skipped, so one mistake gives
	// one diagnostic.
	bad attrSet
	// used records the attributes the builder read; a test checks that
	// nothing the decoder accepts is ignored.
	used   attrSet
	blocks map[string][]*block // nil when the block has none
	// built is the virtual server built from a virtual_server block,
	// once built (builtServer).
	built *builtServer
}

// attrSet is a set of a block's attributes: bit i is spec.Attrs[i]. A
// test checks that no block type has more than 64 attributes.
type attrSet uint64

func (s attrSet) has(i int) bool { return i >= 0 && s&(1<<i) != 0 }

// index is the index of the attribute name in the block's spec, or -1.
func (b *block) index(name string) int {
	for i, a := range b.spec.Attrs {
		if a.Name == name {
			return i
		}
	}
	return -1
}

// attr returns the attribute if it was set and valid, without marking it
// read.
func (b *block) attr(name string) *value {
	if i := b.index(name); i >= 0 && i < len(b.attrs) {
		return b.attrs[i]
	}
	return nil
}

func (b *block) set(i int, v *value) {
	if b.attrs == nil {
		b.attrs = make([]*value, len(b.spec.Attrs))
	}
	b.attrs[i] = v
}

// get returns the attribute if it was set and valid.
func (b *block) get(name string) *value {
	i := b.index(name)
	if i < 0 {
		return nil
	}
	b.used |= 1 << i
	if i < len(b.attrs) {
		return b.attrs[i]
	}
	return nil
}

// ok reports whether the attribute is usable: set and valid, or unset
// (and then defaulted).
func (b *block) ok(name string) bool { return !b.bad.has(b.index(name)) }

// move shifts every position in the block and its children by dl lines
// and db bytes (parsed.move).
func (b *block) move(dl, db int) {
	shiftRange(&b.typeRng, dl, db)
	shiftRange(&b.labelRng, dl, db)
	for _, v := range b.attrs {
		if v != nil {
			v.move(dl, db)
		}
	}
	for _, children := range b.blocks {
		for _, c := range children {
			c.move(dl, db)
		}
	}
}

// move shifts every position in the value by dl lines and db bytes.
func (v *value) move(dl, db int) {
	shiftRange(&v.nameRng, dl, db)
	shiftRange(&v.rng, dl, db)
	for i := range v.list {
		shiftRange(&v.list[i].rng, dl, db)
	}
	for i := range v.entries {
		shiftRange(&v.entries[i].keyRng, dl, db)
		shiftRange(&v.entries[i].rng, dl, db)
	}
}

// shiftRange shifts a set range by dl lines and db bytes.
func shiftRange(r *hcl.Range, dl, db int) {
	if r.Start.Line > 0 {
		r.Start.Line += dl
		r.Start.Byte += db
		r.End.Line += dl
		r.End.Byte += db
	}
}

func (b *block) addChild(name string, child *block) {
	if b.blocks == nil {
		b.blocks = map[string][]*block{}
	}
	b.blocks[name] = append(b.blocks[name], child)
}

// where is the most precise range naming the block: its label, else its type.
func (b *block) where() hcl.Range {
	if b.label != "" || b.labelRng.Start.Line > 0 {
		return b.labelRng
	}
	return b.typeRng
}

type decoder struct {
	diags Diagnostics
}

func (d *decoder) errorf(rng hcl.Range, format string, args ...any) {
	d.diags = append(d.diags, diagAt(rng, format, args...))
}

// decodeBody decodes body into a new block described by spec.
func (d *decoder) decodeBody(body *hclsyntax.Body, spec *blockSpec, b *block) {
	b.init(spec)
	d.decodeItems(body, spec, b)
	d.checkRequired(spec, b, body.SrcRange)
}

func (b *block) init(spec *blockSpec) {
	b.spec = spec
}

// decodeItems decodes the attributes and blocks of body into b. The top
// level of a file is decoded piece by piece (see parse.go): the checks
// that need all of it are addBlock's and checkRequired's.
func (d *decoder) decodeItems(body *hclsyntax.Body, spec *blockSpec, b *block) {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	slices.SortFunc(attrs, func(a, b *hclsyntax.Attribute) int { return a.NameRange.Start.Byte - b.NameRange.Start.Byte })

	for _, a := range attrs {
		i := b.index(a.Name)
		if i < 0 {
			d.unknownAttr(spec, a)
			continue
		}
		as := spec.Attrs[i]
		if len(as.Checks) > 0 && !contains(as.Checks, b.label) {
			d.errorf(a.NameRange, "%s does not apply to a %s health check (only %s)", a.Name, b.label, strings.Join(as.Checks, ", "))
			b.bad |= 1 << i
			continue
		}
		v, ok := d.decodeAttr(as, a)
		if !ok {
			b.bad |= 1 << i
			continue
		}
		b.set(i, v)
	}

	for _, hb := range body.Blocks {
		bs := spec.block(hb.Type)
		if bs == nil {
			d.unknownBlock(spec, hb)
			continue
		}
		child := &block{typeRng: hb.TypeRange}
		if !d.labels(bs, hb, child) || d.duplicate(b, bs, hb.TypeRange) {
			continue
		}
		d.decodeBody(hb.Body, bs, child)
		b.addChild(bs.Name, child)
	}
}

// duplicate reports a second block of a kind that parent may have once.
func (d *decoder) duplicate(parent *block, bs *blockSpec, typeRng hcl.Range) bool {
	if bs.Multi || len(parent.blocks[bs.Name]) == 0 {
		return false
	}
	first := parent.blocks[bs.Name][0]
	d.errorf(typeRng, "duplicate %s block (the first is at line %d)", bs.Name, first.typeRng.Start.Line)
	return true
}

// checkRequired reports the required attributes b lacks; bodyRng is the
// body's range, which names the file at the top level.
func (d *decoder) checkRequired(spec *blockSpec, b *block, bodyRng hcl.Range) {
	for i, as := range spec.Attrs {
		if as.Required && b.attr(as.Name) == nil && !b.bad.has(i) {
			b.bad |= 1 << i
			if spec.Name == "" {
				// The top level has no token of its own: point at the start.
				d.errorf(bodyRng, "missing required attribute %q", as.Name)
				last := d.diags[len(d.diags)-1]
				last.Line, last.Column, last.EndLine, last.EndColumn = 1, 1, 1, 1
				continue
			}
			d.errorf(b.where(), "%s: missing required attribute %q", describe(b), as.Name)
		}
	}
}

// describe names a block as it is written: vrrp_instance "VI_1".
func describe(b *block) string {
	if b.spec.Label != "" {
		return fmt.Sprintf("%s %q", b.spec.Name, b.label)
	}
	return b.spec.Name
}

func (d *decoder) labels(bs *blockSpec, hb *hclsyntax.Block, child *block) bool {
	switch {
	case bs.Label == "" && len(hb.Labels) > 0:
		d.errorf(hb.LabelRanges[0], "a %s block takes no label", bs.Name)
		return false
	case bs.Label != "" && len(hb.Labels) == 0:
		d.errorf(hb.TypeRange, "a %s block needs a label: %s %q {", bs.Name, bs.Name, bs.Label)
		return false
	case bs.Label != "" && len(hb.Labels) > 1:
		d.errorf(hb.LabelRanges[1], "a %s block takes one label, not %d", bs.Name, len(hb.Labels))
		return false
	}
	if bs.Label == "" {
		return true
	}
	child.label, child.labelRng = hb.Labels[0], hb.LabelRanges[0]
	if bs.LabelValues != nil && !contains(bs.LabelValues, child.label) {
		d.errorf(child.labelRng, "unknown %s type %q (want %s)", bs.Name, child.label, strings.Join(bs.LabelValues, ", "))
		return false
	}
	if strings.TrimSpace(child.label) == "" {
		d.errorf(child.labelRng, "empty %s label", bs.Name)
		return false
	}
	if r := badNameRune(child.label); r >= 0 {
		d.errorf(child.labelRng, "%s", nameError(bs.Name, child.label, r))
		return false
	}
	return true
}

// mainOnly reports a top-level name of the main file met in an included
// one.
func (d *decoder) mainOnly(spec *blockSpec, name string, rng hcl.Range) bool {
	if spec != includeSpec || schema.attr(name) == nil && schema.block(name) == nil {
		return false
	}
	d.errorf(rng, "%s belongs in the main file: an included file holds only %s blocks", name, includedBlocks())
	return true
}

func (d *decoder) unknownAttr(spec *blockSpec, a *hclsyntax.Attribute) {
	if d.mainOnly(spec, a.Name, a.NameRange) {
		return
	}
	where := "here"
	if spec.Name != "" {
		where = "in a " + spec.Name + " block"
	}
	if spec.block(a.Name) != nil {
		d.errorf(a.NameRange, "%s is a block, not an attribute: write %s { ... }", a.Name, a.Name)
		return
	}
	msg := fmt.Sprintf("unsupported attribute %q %s", a.Name, where)
	if s := suggest(a.Name, spec); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	d.errorf(a.NameRange, "%s", msg)
}

func (d *decoder) unknownBlock(spec *blockSpec, hb *hclsyntax.Block) {
	if d.mainOnly(spec, hb.Type, hb.TypeRange) {
		return
	}
	where := "here"
	if spec.Name != "" {
		where = "in a " + spec.Name + " block"
	}
	if spec.attr(hb.Type) != nil {
		d.errorf(hb.TypeRange, "%s is an attribute, not a block: write %s = ...", hb.Type, hb.Type)
		return
	}
	msg := fmt.Sprintf("unsupported block type %q %s", hb.Type, where)
	if s := suggest(hb.Type, spec); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	d.errorf(hb.TypeRange, "%s", msg)
}

// suggest returns the schema name closest to a misspelt one, if close.
func suggest(name string, spec *blockSpec) string {
	best, bestD := "", 3
	try := func(n string) {
		// The distance is at least the difference in length: skip the
		// quadratic work for a name that cannot be close (or is huge).
		if abs(len(name)-len(n)) >= bestD {
			return
		}
		if dist := editDistance(name, n); dist < bestD {
			best, bestD = n, dist
		}
	}
	for _, a := range spec.Attrs {
		try(a.Name)
	}
	for _, b := range spec.Blocks {
		try(b.Name)
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeAttr evaluates an attribute without variables or functions (the
// file is plain data) and checks its type and range.
func (d *decoder) decodeAttr(as *attrSpec, a *hclsyntax.Attribute) (*value, bool) {
	v := &value{nameRng: a.NameRange, rng: a.Expr.Range()}
	if as.Kind == kPriorityMap {
		return v, d.decodeMap(as, a.Expr, v)
	}
	cv, hd := literal(a.Expr)
	if hd.HasErrors() {
		d.diags = append(d.diags, fromHCL(hd)...)
		return nil, false
	}
	switch as.Kind {
	case kStringList, kIntList:
		if cv.IsNull() || !(cv.Type().IsTupleType() || cv.Type().IsListType()) {
			d.errorf(v.rng, "%s must be a list, got %s", as.Name, typeName(cv))
			return nil, false
		}
		elemKind := kString
		if as.Kind == kIntList {
			elemKind = kInt
		}
		var exprs []hclsyntax.Expression
		if t, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
			exprs = t.Exprs
		}
		i := 0
		good := true
		for it := cv.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			rng := v.rng
			if i < len(exprs) {
				rng = exprs[i].Range()
			}
			s, n, ok := d.scalar(as, elemKind, ev, rng, fmt.Sprintf("element %d of %s", i+1, as.Name))
			if !ok {
				good = false
				continue
			}
			v.list = append(v.list, item{rng: rng, str: s, num: n})
		}
		return v, good
	case kBool:
		if cv.IsNull() || cv.Type() != cty.Bool || !cv.IsKnown() {
			d.errorf(v.rng, "%s must be true or false, got %s", as.Name, typeName(cv))
			return nil, false
		}
		v.b = cv.True()
		return v, true
	}
	s, n, ok := d.scalar(as, as.Kind, cv, v.rng, as.Name)
	if !ok {
		return nil, false
	}
	v.str, v.num = s, n
	if as.Kind == kDuration {
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(v.rng, "%s: invalid duration %q (write a Go duration such as \"1s\" or \"100ms\")", as.Name, s)
			return nil, false
		}
		if dur < 0 {
			d.errorf(v.rng, "%s must not be negative, got %s", as.Name, s)
			return nil, false
		}
		v.dur = dur
	}
	return v, true
}

// literal evaluates expr. Most of a file's values are a quoted string
// without interpolation or a number: those are read from the syntax tree
// as they are, which is what evaluating them would give, without building
// the string again.
func literal(expr hclsyntax.Expression) (cty.Value, hcl.Diagnostics) {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val, nil
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			if lit, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
				return lit.Val, nil
			}
		}
	}
	return expr.Value(nil)
}

// scalar checks one string, duration or number.
func (d *decoder) scalar(as *attrSpec, k kind, cv cty.Value, rng hcl.Range, what string) (string, int64, bool) {
	switch k {
	case kString, kDuration:
		if cv.IsNull() || cv.Type() != cty.String || !cv.IsKnown() {
			want := "a string"
			if k == kDuration {
				want = "a duration string such as \"1s\""
			}
			d.errorf(rng, "%s must be %s, got %s", what, want, typeName(cv))
			return "", 0, false
		}
		return cv.AsString(), 0, true
	case kInt:
		if cv.IsNull() || cv.Type() != cty.Number || !cv.IsKnown() {
			d.errorf(rng, "%s must be a number, got %s", what, typeName(cv))
			return "", 0, false
		}
		bf := cv.AsBigFloat()
		// Writing out a number such as 1e10000000 in decimal takes
		// minutes: past 64 bits, say what it is without its digits.
		exp := bf.MantExp(nil)
		switch {
		case exp > 64 && as.bounded():
			d.errorf(rng, "%s must be between %d and %d, got a number of %d bits", what, as.Min, as.Max, exp)
			return "", 0, false
		case exp > 64:
			d.errorf(rng, "%s is out of range: a number of %d bits", what, exp)
			return "", 0, false
		case !bf.IsInt() && exp < -64:
			d.errorf(rng, "%s must be a whole number", what)
			return "", 0, false
		case !bf.IsInt():
			d.errorf(rng, "%s must be a whole number, got %s", what, bf.Text('g', -1))
			return "", 0, false
		}
		bi, _ := bf.Int(nil)
		if as.bounded() && (bi.Cmp(big.NewInt(as.Min)) < 0 || bi.Cmp(big.NewInt(as.Max)) > 0) {
			d.errorf(rng, "%s must be between %d and %d, got %s", what, as.Min, as.Max, bi.String())
			return "", 0, false
		}
		if !bi.IsInt64() {
			d.errorf(rng, "%s is out of range: %s", what, bi.String())
			return "", 0, false
		}
		return "", bi.Int64(), true
	}
	return "", 0, false
}

func (d *decoder) decodeMap(as *attrSpec, expr hclsyntax.Expression, v *value) bool {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		d.errorf(v.rng, "%s must be a map such as { \"node-a\" = 150 }", as.Name)
		return false
	}
	good := true
	seen := map[string]bool{}
	for _, it := range obj.Items {
		kv, hd := it.KeyExpr.Value(nil)
		if hd.HasErrors() {
			d.diags = append(d.diags, fromHCL(hd)...)
			good = false
			continue
		}
		krng := it.KeyExpr.Range()
		if kv.IsNull() || kv.Type() != cty.String || !kv.IsKnown() {
			d.errorf(krng, "keys of %s must be node names, got %s", as.Name, typeName(kv))
			good = false
			continue
		}
		key := kv.AsString()
		if seen[key] {
			d.errorf(krng, "%s names %q twice", as.Name, key)
			good = false
			continue
		}
		seen[key] = true
		vv, hd := it.ValueExpr.Value(nil)
		if hd.HasErrors() {
			d.diags = append(d.diags, fromHCL(hd)...)
			good = false
			continue
		}
		vrng := it.ValueExpr.Range()
		_, n, ok := d.scalar(as, kInt, vv, vrng, fmt.Sprintf("%s[%q]", as.Name, key))
		if !ok {
			good = false
			continue
		}
		v.entries = append(v.entries, entry{key: key, keyRng: krng, num: n, rng: vrng})
	}
	return good
}

func typeName(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a bool"
	case t.IsTupleType() || t.IsListType():
		return "a list"
	case t.IsObjectType() || t.IsMapType():
		return "a map"
	}
	return t.FriendlyName()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
