package config

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// The plain reader. Nearly all of a large cluster file is blocks with a
// quoted label whose attributes are a quoted string, a whole number,
// true or false, or a list of strings or numbers, one to a line. HCL's
// parser reads such text through a token list of 96 bytes a token and a
// syntax tree, which the decoder then walks: at 20,000 services that is
// most of a load's CPU and of its garbage. The plain reader decodes that
// subset straight from the bytes into blocks (decode.go), with the
// positions HCL would give.
//
// It reads a batch (parse.go) whole or not at all: at the first thing
// outside the subset (an escape or interpolation in a string, a block
// comment, a map, a heredoc, a byte outside printable ASCII, a carriage
// return) or that the decoder would report (an unknown name, a missing
// label, a value of the wrong type or out of range, an attribute set
// twice), it gives the batch up and HCL parses and decodes it as ever.
// So every diagnostic still comes from HCL and the decoder, and what the
// reader does take decodes to exactly what they make of it
// (FuzzPlainMatchesHCL).
type plainReader struct {
	filename string
	src      []byte
	i        int // the next byte
	line     int // its line
	col      int // its column: in printable ASCII, a byte is a column
	base     int // the offset of src[0] in its file
	// strs holds the strings read so far: a file repeats a few values
	// (schedulers, methods, paths, durations) thousands of times.
	strs map[string]string
}

// readPlain decodes src, which starts at start in its file, as the top
// level of spec; ok is false when it is not all plain.
func readPlain(filename string, src []byte, start hcl.Pos, spec *blockSpec) (root *block, ok bool) {
	r := &plainReader{filename: filename, src: src, line: start.Line, col: start.Column, base: start.Byte}
	root = &block{}
	root.init(spec)
	if !r.body(spec, root, true) {
		return nil, false
	}
	return root, true
}

func (r *plainReader) pos() hcl.Pos {
	return hcl.Pos{Line: r.line, Column: r.col, Byte: r.base + r.i}
}

func (r *plainReader) rangeFrom(start hcl.Pos) hcl.Range {
	return hcl.Range{Filename: r.filename, Start: start, End: r.pos()}
}

func (r *plainReader) peek() byte { return at(r.src, r.i) }

func (r *plainReader) eof() bool { return r.i == len(r.src) }

// skip moves past n bytes of one line.
func (r *plainReader) skip(n int) {
	r.i += n
	r.col += n
}

func (r *plainReader) newline() {
	r.i++
	r.line++
	r.col = 1
}

func (r *plainReader) spaces() {
	for r.i < len(r.src) && (r.src[r.i] == ' ' || r.src[r.i] == '\t') {
		r.skip(1)
	}
}

// endOfLine reads what ends an item: spaces, then a newline, a line
// comment (which HCL takes for a newline) or, at the top level, the end
// of the batch.
func (r *plainReader) endOfLine(top bool) bool {
	r.spaces()
	switch {
	case r.eof():
		return top
	case r.peek() == '\n':
		r.newline()
		return true
	case r.peek() == '#', r.peek() == '/' && at(r.src, r.i+1) == '/':
		return r.lineComment()
	}
	return false
}

// lineComment reads a comment to the end of its line, the newline
// included.
func (r *plainReader) lineComment() bool {
	for r.i < len(r.src) {
		c := r.src[r.i]
		if c == '\n' {
			r.newline()
			return true
		}
		if c != '\t' && (c < 0x20 || c >= 0x7f) {
			return false
		}
		r.skip(1)
	}
	return true
}

// body reads the items of a block, or of the top level, into b; in a
// block it stops before the closing brace.
func (r *plainReader) body(spec *blockSpec, b *block, top bool) bool {
	for {
		r.spaces()
		switch c := r.peek(); {
		case r.eof():
			return top
		case c == '\n', c == '#', c == '/':
			if !r.endOfLine(top) {
				return false
			}
		case c == '}' && !top:
			return true
		case isIdentStart(c):
			if !r.item(spec, b) || !r.endOfLine(top) {
				return false
			}
		default:
			return false
		}
	}
}

// word reads an identifier, or nothing if none starts here. Looking it up
// as string(word) does not allocate: the conversion does not escape.
func (r *plainReader) word() []byte {
	j := r.i
	for j < len(r.src) && isIdentCont(r.src[j]) {
		j++
	}
	w := r.src[r.i:j]
	r.skip(j - r.i)
	return w
}

// item reads an attribute or a block into b; the caller reads what ends
// its line.
func (r *plainReader) item(spec *blockSpec, b *block) bool {
	start := r.pos()
	name := r.word()
	nameRng := r.rangeFrom(start)
	r.spaces()
	if r.peek() != '=' {
		return r.block(b, spec.block(string(name)), nameRng)
	}
	r.skip(1)
	if r.peek() == '=' {
		return false
	}
	r.spaces()
	i := b.index(string(name))
	if i < 0 || i < len(b.attrs) && b.attrs[i] != nil {
		return false
	}
	v, ok := r.value(spec.Attrs[i], b)
	if !ok {
		return false
	}
	v.nameRng = nameRng
	b.set(i, v)
	return true
}

// value reads an attribute's value, checked as decodeAttr checks it.
func (r *plainReader) value(as *attrSpec, b *block) (*value, bool) {
	if len(as.Checks) > 0 && !contains(as.Checks, b.label) {
		return nil, false
	}
	v := &value{}
	start := r.pos()
	switch as.Kind {
	case kString, kDuration:
		s, ok := r.quoted()
		if !ok {
			return nil, false
		}
		v.str = s
		if as.Kind == kDuration {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return nil, false
			}
			v.dur = d
		}
	case kInt:
		n, ok := r.number(as)
		if !ok {
			return nil, false
		}
		v.num = n
	case kBool:
		switch string(r.word()) {
		case "true":
			v.b = true
		case "false":
		default:
			return nil, false
		}
	case kStringList, kIntList:
		if !r.list(as, v) {
			return nil, false
		}
	default:
		return nil, false
	}
	v.rng = r.rangeFrom(start)
	return v, true
}

// quoted reads a quoted string of printable ASCII without escapes or
// template sequences, whose value is its text.
func (r *plainReader) quoted() (string, bool) {
	if r.peek() != '"' {
		return "", false
	}
	j := r.i + 1
	for ; j < len(r.src) && r.src[j] != '"'; j++ {
		c := r.src[j]
		if c == '\\' || c < 0x20 || c >= 0x7f || c == '{' && (r.src[j-1] == '$' || r.src[j-1] == '%') {
			return "", false
		}
	}
	if j == len(r.src) {
		return "", false
	}
	text := r.src[r.i+1 : j]
	s, ok := r.strs[string(text)]
	if !ok {
		if r.strs == nil {
			r.strs = map[string]string{}
		}
		s = string(text)
		r.strs[s] = s
	}
	r.skip(j + 1 - r.i)
	return s, true
}

// number reads a whole number in decimal digits, within the attribute's
// bounds.
func (r *plainReader) number(as *attrSpec) (int64, bool) {
	j := r.i
	var n int64
	for ; j < len(r.src) && isDigit(r.src[j]); j++ {
		n = n*10 + int64(r.src[j]-'0')
	}
	if j == r.i || j-r.i > 18 {
		return 0, false
	}
	switch at(r.src, j) {
	case ' ', '\t', '\n', '#', '/', ',', ']', '}':
	default:
		if j < len(r.src) {
			return 0, false
		}
	}
	if as.bounded() && (n < as.Min || n > as.Max) {
		return 0, false
	}
	r.skip(j - r.i)
	return n, true
}

// list reads a list of strings or numbers, on one line or several.
func (r *plainReader) list(as *attrSpec, v *value) bool {
	if r.peek() != '[' {
		return false
	}
	r.skip(1)
	for {
		r.blank()
		if r.peek() == ']' {
			r.skip(1)
			return true
		}
		start := r.pos()
		var it item
		ok := false
		if as.Kind == kStringList {
			it.str, ok = r.quoted()
		} else {
			it.num, ok = r.number(as)
		}
		if !ok {
			return false
		}
		it.rng = r.rangeFrom(start)
		v.list = append(v.list, it)
		r.blank()
		switch r.peek() {
		case ',':
			r.skip(1)
		case ']':
			r.skip(1)
			return true
		default:
			return false
		}
	}
}

// blank skips spaces and newlines, which a list may hold anywhere.
func (r *plainReader) blank() {
	for r.i < len(r.src) {
		switch r.src[r.i] {
		case ' ', '\t':
			r.skip(1)
		case '\n':
			r.newline()
		default:
			return
		}
	}
}

// block reads a block of kind bs after its type, checked as decodeItems
// checks it, and adds it to parent.
func (r *plainReader) block(parent *block, bs *blockSpec, typeRng hcl.Range) bool {
	if bs == nil {
		return false
	}
	child := &block{typeRng: typeRng}
	labels := 0
	for r.peek() == '"' {
		start := r.pos()
		s, ok := r.quoted()
		if !ok {
			return false
		}
		child.label, child.labelRng = s, r.rangeFrom(start)
		labels++
		r.spaces()
	}
	if r.peek() != '{' {
		return false
	}
	r.skip(1)
	switch {
	case (bs.Label == "") != (labels == 0), labels > 1,
		bs.Label != "" && bs.LabelValues != nil && !contains(bs.LabelValues, child.label),
		bs.Label != "" && (strings.TrimSpace(child.label) == "" || badNameRune(child.label) >= 0),
		!bs.Multi && len(parent.blocks[bs.Name]) > 0:
		return false
	}
	child.init(bs)
	r.spaces()
	switch c := r.peek(); {
	case c == '}':
		// An empty block on one line.
	case isIdentStart(c):
		// A block on one line holds one attribute and nothing else.
		if !r.item(bs, child) || len(child.blocks) > 0 {
			return false
		}
		r.spaces()
		if r.peek() != '}' {
			return false
		}
	default:
		if !r.endOfLine(false) || !r.body(bs, child, false) {
			return false
		}
	}
	r.skip(1) // the closing brace
	for _, as := range bs.Attrs {
		if as.Required && child.attr(as.Name) == nil {
			return false
		}
	}
	parent.addChild(bs.Name, child)
	return true
}
