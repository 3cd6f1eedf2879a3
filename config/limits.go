package config

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on a cluster file, checked before HCL sees it. HCL's parser
// recurses once per nested bracket, template sequence or prefix operator,
// and a Go program cannot recover from running out of stack: a file of
// 100,000 "[" would kill the daemon on reload. So Parse refuses what is
// too big or too deep with a diagnostic, and HCL only parses the rest.
const (
	// MaxFileSize bounds a cluster file. A generated file of 50,000
	// virtual servers, each with two real servers and an HTTP check
	// (bigConfig in the tests), is 16 MiB, so the limit leaves four
	// times the largest real use. What it bounds is memory: validating
	// those 16 MiB takes 1.8 GB today, so 64 MiB is about as much as a
	// director can spare.
	MaxFileSize = 64 << 20

	// MaxNesting bounds the nesting of a cluster file: blocks and object
	// braces, brackets, parentheses and template sequences (${ and %{),
	// plus the operators and index brackets chained inside one of them
	// (HCL nests those too: - - - x is three levels, and so is a[x][x][x]).
	// A real file needs fewer than 10; HCL overflows the stack somewhere
	// beyond 10,000.
	MaxNesting = 64
)

// scanFile reports a file over MaxFileSize or nested deeper than
// MaxNesting, positioned at the token that crossed the limit; and, when
// pieceSize > 0 and the file is within the limits, the offsets where it
// may be cut into pieces of about pieceSize bytes, each a run of whole
// top-level items.
func scanFile(filename string, src []byte, pieceSize int) (*Diagnostic, []int) {
	if len(src) > MaxFileSize {
		return &Diagnostic{Filename: filename, Message: tooLarge(int64(len(src)))}, nil
	}
	s := newNestScanner(src, MaxNesting)
	s.pieceSize = pieceSize
	s.run()
	msg := fmt.Sprintf("nested more than %d levels deep (blocks, brackets, parentheses, template sequences and operators)", MaxNesting)
	off := s.over
	if s.nonASCII >= 0 {
		off = s.nonASCII
		msg = "a character that is not ASCII outside a string or comment: write names and labels in quotes"
	}
	if off < 0 {
		return nil, s.cuts
	}
	pos := posAt(src, off)
	return &Diagnostic{
		Filename: filename, Line: pos.Line, Column: pos.Column, EndLine: pos.Line, EndColumn: pos.Column + 1,
		Message: msg,
	}, nil
}

func tooLarge(size int64) string {
	return fmt.Sprintf("the file is %d bytes, more than the %d MiB a cluster file may have", size, MaxFileSize>>20)
}

// posAt returns the position of src[off] as HCL counts it: lines from 1,
// columns in characters from 1.
func posAt(src []byte, off int) hcl.Pos {
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{
		Line:   bytes.Count(src[:start], []byte{'\n'}) + 1,
		Column: utf8.RuneCount(src[start:off]) + 1,
		Byte:   off,
	}
}

// The nesting scanner is one pass over the bytes that follows the
// lexical modes of HCL's own scanner (hclsyntax/scan_tokens.rl) exactly:
// code, quoted templates, heredoc templates and the ${ and %{ sequences
// inside them, comments. It must agree with HCL on where a string, a
// heredoc or a comment ends, or the text HCL parses as code could pass
// unseen as a string here. Where agreeing is not cheap (a heredoc marker
// that is not ASCII) it asks HCL's scanner. Code that is not ASCII it
// refuses: HCL's scanner reads some bytes above 0x7f as starting an
// identifier that takes the next byte whatever it is ("\xde\"" is one
// identifier, no quote), and no name of the language needs them.
//
// Depth counts what HCL's parser recurses on. A level opens at { [ ( ${
// %{ and closes at the closer of the same kind only: a stray closer is
// ignored, so a level HCL still has open is never forgotten here (HCL
// skips a mismatched region without recursing; this count only errs
// high). Inside a level, prefix and binary operators, ?, == and index
// brackets each add one until a comma or the end of the level; in a
// block body (and at the top) a newline ends them too, since it ends the
// attribute. A %{ directive adds one until its template ends, since
// %{if} and %{for} nest without brackets.

type nestKind uint8

const (
	nestBody    nestKind = iota // a block's { }: a newline ends an item
	nestObject                  // any other { }
	nestBrack                   // [ ]
	nestParen                   // ( )
	nestSeq                     // ${ or %{ up to its }
	nestQuote                   // "…", a template
	nestHeredoc                 // <<EOF … EOF, a template
)

type nest struct {
	kind nestKind
	base int // depth before the level opened
}

// lexMode is one entry of HCL's scanner stack above its first code mode.
type lexMode struct {
	kind   nestKind // nestSeq (code), nestQuote or nestHeredoc
	sol    bool     // heredoc: at the start of a line, where the marker may be
	marker []byte   // heredoc: the closing marker
}

// prev kinds: what the last code token was, to tell a block's { from an
// object's.
const (
	prevOther = iota
	prevIdent
	prevQuote
)

type nestScanner struct {
	src   []byte
	limit int
	depth int
	max   int // the deepest depth seen
	over  int // offset where depth passed limit, or -1
	// nonASCII is the offset of a byte above 0x7f in code, or -1.
	nonASCII int
	nests    []nest
	modes    []lexMode
	// braces and retBraces are HCL's scanner's own: which } ends a
	// template sequence rather than a brace.
	braces    int
	retBraces []int
	prev      int
	// noCommentEnd is set once a search for */ failed: every later /*
	// is unterminated too, and HCL scans it as / and *.
	noCommentEnd bool
	// pieceSize, when set, asks for cuts: offsets where a top-level item
	// ends with a newline, about pieceSize bytes apart (cutAfter).
	pieceSize int
	cuts      []int
	lastCut   int
	itemStart int // where the top-level item under way starts
}

func newNestScanner(src []byte, limit int) *nestScanner {
	// Every level adds at least one to depth except a template, which
	// only opens inside a sequence, so the stacks never pass 2*limit+2
	// before the scan stops.
	n := 2*limit + 4
	return &nestScanner{
		src: src, limit: limit, over: -1, nonASCII: -1,
		nests:     make([]nest, 0, n),
		modes:     make([]lexMode, 0, n),
		retBraces: make([]int, 0, n),
	}
}

// deeper adds n levels at src[off].
func (s *nestScanner) deeper(off, n int) {
	s.depth += n
	if s.depth > s.max {
		s.max = s.depth
	}
	if s.depth > s.limit && s.over < 0 {
		s.over = off
	}
}

// open starts a level of kind at src[off]; templates add no depth of
// their own.
func (s *nestScanner) open(off int, kind nestKind) {
	if len(s.nests) == cap(s.nests) {
		// Only stale levels (opened, never closed by their own kind)
		// can get here; refuse rather than grow.
		if s.over < 0 {
			s.over = off
		}
		return
	}
	s.nests = append(s.nests, nest{kind: kind, base: s.depth})
	if kind != nestQuote && kind != nestHeredoc {
		s.deeper(off, 1)
	}
}

// close ends the innermost level if it is one of kinds; a stray closer
// is ignored.
func (s *nestScanner) close(a, b nestKind) {
	if len(s.nests) == 0 {
		return
	}
	top := s.nests[len(s.nests)-1]
	if top.kind != a && top.kind != b {
		return
	}
	s.depth = top.base
	s.nests = s.nests[:len(s.nests)-1]
}

// reset ends the operators of the current level (a comma, or a newline
// in a body).
func (s *nestScanner) reset() {
	if len(s.nests) == 0 {
		s.depth = 0
		return
	}
	top := s.nests[len(s.nests)-1]
	s.depth = top.base
	if top.kind != nestQuote && top.kind != nestHeredoc {
		s.depth++
	}
}

// newline is a newline token in code; the next token starts at next. At
// the top level it ends an item (an attribute or a block), which is where
// the file may be cut into pieces that parse on their own.
func (s *nestScanner) newline(next int) {
	s.prev = prevOther
	switch {
	case len(s.nests) == 0 && len(s.modes) == 0:
		s.reset()
		if s.pieceSize > 0 && s.src[next-1] == '\n' {
			if cutAfter(s.src[s.itemStart:next], next-s.lastCut, s.pieceSize) {
				s.cuts = append(s.cuts, next)
				s.lastCut = next
			}
			s.itemStart = next
		}
	case len(s.nests) > 0 && s.nests[len(s.nests)-1].kind == nestBody:
		s.reset()
	}
}

// cutAfter decides whether a piece ends after a top-level item, the piece
// being sofar bytes long with it. The choice is made by the item's own
// text: an item of n bytes ends a piece with a chance of n in pieceSize,
// so pieces are about pieceSize bytes long, and a piece shorter than a
// quarter of that is not ended. An edit of one item thus changes the cuts
// around it alone: the pieces after it are cut where they were, and a
// Loader finds them unchanged (ahead of the edit, they only moved). A
// piece four times pieceSize is ended whatever its last item. The chance
// is drawn from the item's first bytes, which name a block and its label.
func cutAfter(item []byte, sofar, pieceSize int) bool {
	switch {
	case sofar < pieceSize/4:
		return false
	case sofar >= 4*pieceSize:
		return true
	}
	// FNV-1a.
	h := uint64(14695981039346656037)
	for _, c := range item[:min(len(item), 64)] {
		h ^= uint64(c)
		h *= 1099511628211
	}
	// The high half, scaled to [0, pieceSize): FNV's low bits depend on
	// the low bits of the input alone.
	return (h>>32)*uint64(pieceSize)>>32 < uint64(len(item))
}

func (s *nestScanner) pushMode(m lexMode) bool {
	if len(s.modes) == cap(s.modes) || len(s.retBraces) == cap(s.retBraces) {
		return false
	}
	s.modes = append(s.modes, m)
	return true
}

func (s *nestScanner) run() {
	src := s.src
	i := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		i = 3 // HCL skips a UTF-8 byte order mark
	}
	for i < len(src) && s.over < 0 && s.nonASCII < 0 {
		if len(s.modes) == 0 || s.modes[len(s.modes)-1].kind == nestSeq {
			// Indentation is most of a file's code: skip it here.
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			if i < len(src) {
				i = s.code(i)
			}
		} else {
			i = s.template(i)
		}
	}
}

func at(src []byte, i int) byte {
	if i < len(src) {
		return src[i]
	}
	return 0
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// code scans one token of code at src[i] and returns where the next
// starts.
func (s *nestScanner) code(i int) int {
	src := s.src
	c := src[i]
	switch c {
	case ' ', '\t':
		return i + 1
	case '\r':
		// HCL reads "\r\n" as a newline but a lone '\r' as an invalid
		// character, which a label is not followed by.
		if at(src, i+1) != '\n' {
			s.prev = prevOther
		}
		return i + 1
	case '\n':
		s.newline(i + 1)
		return i + 1
	case '#':
		return s.lineComment(i)
	case '/':
		switch at(src, i+1) {
		case '/':
			return s.lineComment(i)
		case '*':
			if !s.noCommentEnd {
				if end := bytes.Index(src[i+2:], []byte("*/")); end >= 0 {
					return i + 2 + end + 2
				}
				s.noCommentEnd = true
			}
		}
		s.prev = prevOther
		s.deeper(i, 1)
		return i + 1
	case '"':
		if !s.pushMode(lexMode{kind: nestQuote}) {
			s.over = i
			return i
		}
		s.open(i, nestQuote)
		return i + 1
	case '<':
		if at(src, i+1) == '<' {
			if next, ok := s.heredoc(i); ok {
				return next
			}
		}
		s.prev = prevOther
		s.deeper(i, 1)
		return s.comparison(i)
	case '{':
		s.braces++
		kind := nestObject
		if s.prev != prevOther && (len(s.nests) == 0 && len(s.modes) == 0 ||
			len(s.nests) > 0 && s.nests[len(s.nests)-1].kind == nestBody) {
			kind = nestBody
		}
		s.prev = prevOther
		s.open(i, kind)
		return i + 1
	case '}':
		s.closeBrace(false)
		return i + 1
	case '~':
		if at(src, i+1) == '}' {
			s.closeBrace(true)
			return i + 2
		}
	case '[':
		// An index or splat nests in the expression before it; a tuple
		// counts the same, which is only ever more careful.
		s.deeper(i, 1)
		s.prev = prevOther
		s.open(i, nestBrack)
		return i + 1
	case ']':
		s.prev = prevOther
		s.close(nestBrack, nestBrack)
		return i + 1
	case '(':
		s.prev = prevOther
		s.open(i, nestParen)
		return i + 1
	case ')':
		s.prev = prevOther
		s.close(nestParen, nestParen)
		return i + 1
	case ',':
		s.prev = prevOther
		s.reset()
		return i + 1
	case '=':
		s.prev = prevOther
		switch at(src, i+1) {
		case '=':
			s.deeper(i, 1)
			return i + 2
		case '>':
			return i + 2
		}
		return i + 1
	case '!', '>':
		s.prev = prevOther
		s.deeper(i, 1)
		return s.comparison(i)
	case '+', '-', '*', '%', '?', '&', '|':
		s.prev = prevOther
		s.deeper(i, 1)
		return i + 1
	}
	switch {
	case isIdentStart(c):
		// HCL's identifiers take dashes: foo-bar is one token, no minus.
		j := i + 1
		for j < len(src) && isIdentCont(src[j]) {
			j++
		}
		s.prev = prevIdent
		return j
	case isDigit(c):
		return s.number(i)
	case c >= utf8.RuneSelf:
		s.nonASCII = i
		return i
	}
	s.prev = prevOther
	return i + 1
}

// comparison skips the operator at i, which is '!', '<' or '>', and the
// '=' after it, as HCL's scanner reads "!=", "<=" and ">=" as one token:
// in "!=>" the '>' is an operator of its own, not part of "=>".
func (s *nestScanner) comparison(i int) int {
	if at(s.src, i+1) == '=' {
		return i + 2
	}
	return i + 1
}

// number skips a number literal as HCL's scanner reads it, exponent sign
// included (1e-5 has no minus token).
func (s *nestScanner) number(i int) int {
	src := s.src
	j := i + 1
	end := j // the longest literal not ending in '.'
	for j < len(src) {
		switch c := src[j]; {
		case isDigit(c):
			j++
			end = j
		case c == '.':
			j++
		case c == 'e' || c == 'E':
			k := j + 1
			if k < len(src) && (src[k] == '+' || src[k] == '-') {
				k++
			}
			if k < len(src) && isDigit(src[k]) {
				j = k + 1
				end = j
				continue
			}
			s.prev = prevOther
			return end
		default:
			s.prev = prevOther
			return end
		}
	}
	s.prev = prevOther
	return end
}

// lineComment skips a # or // comment with its newline, which HCL then
// reads as a newline.
func (s *nestScanner) lineComment(i int) int {
	nl := bytes.IndexByte(s.src[i:], '\n')
	if nl < 0 {
		return len(s.src)
	}
	s.newline(i + nl + 1)
	return i + nl + 1
}

// closeBrace is } or ~} in code: the end of a template sequence when
// HCL's brace count says so, else a closing brace.
func (s *nestScanner) closeBrace(tilde bool) {
	s.prev = prevOther
	if n := len(s.retBraces); n > 0 && s.retBraces[n-1] == s.braces {
		s.braces--
		s.retBraces = s.retBraces[:n-1]
		s.modes = s.modes[:len(s.modes)-1]
		s.close(nestSeq, nestSeq)
		return
	}
	s.braces--
	if tilde {
		// HCL reads a ~} that ends nothing as the end of a sequence.
		s.close(nestSeq, nestSeq)
		return
	}
	s.close(nestBody, nestObject)
}

// heredoc recognises <<MARKER or <<-MARKER and its newline at src[i],
// as HCL does, and enters the heredoc.
func (s *nestScanner) heredoc(i int) (int, bool) {
	src := s.src
	j := i + 2
	if at(src, j) == '-' {
		j++
	}
	k := j
	if isIdentStart(at(src, k)) {
		k++
		for k < len(src) && isIdentCont(src[k]) {
			k++
		}
	}
	var marker []byte
	var next int
	switch {
	case k > j && at(src, k) == '\n':
		marker, next = src[j:k], k+1
	case k > j && at(src, k) == '\r' && at(src, k+1) == '\n':
		marker, next = src[j:k], k+2
	case at(src, k) >= utf8.RuneSelf:
		// A marker with other letters: let HCL's scanner decide, on
		// this line alone (its longest match never looks further).
		nl := bytes.IndexByte(src[k:], '\n')
		if nl < 0 {
			return 0, false
		}
		line := src[i : k+nl+1]
		toks, _ := hclsyntax.LexConfig(line, "", hcl.InitialPos)
		if len(toks) == 0 || toks[0].Type != hclsyntax.TokenOHeredoc || toks[0].Range.End.Byte != len(line) {
			return 0, false
		}
		marker = bytes.TrimSuffix(line[j-i:len(line)-1], []byte("\r"))
		next = k + nl + 1
	default:
		return 0, false
	}
	if !s.pushMode(lexMode{kind: nestHeredoc, sol: true, marker: marker}) {
		s.over = i
		return i, true
	}
	s.prev = prevOther
	s.open(i, nestHeredoc)
	return next, true
}

// template scans template text (a quoted string or a heredoc) at src[i].
func (s *nestScanner) template(i int) int {
	src := s.src
	m := &s.modes[len(s.modes)-1]
	if m.kind == nestHeredoc && m.sol {
		if next, ok := s.heredocEnd(i, m.marker); ok {
			s.modes = s.modes[:len(s.modes)-1]
			s.close(nestHeredoc, nestHeredoc)
			s.newline(next) // HCL emits the marker's newline as a token
			return next
		}
		m.sol = false
	}
	for ; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			if m.kind == nestQuote {
				s.modes = s.modes[:len(s.modes)-1]
				s.close(nestQuote, nestQuote)
				s.prev = prevQuote
				return i + 1
			}
		case '\\':
			if m.kind == nestQuote {
				// An escape takes the next character, so \" and \${
				// are text; a newline is never escaped.
				if n := at(src, i+1); n != '\n' && n != '\r' && i+1 < len(src) {
					i++
				}
			}
		case '\n':
			if m.kind == nestHeredoc {
				m.sol = true
				return i + 1
			}
		case '$', '%':
			switch {
			case at(src, i+1) == '{':
				return s.sequence(i, c == '%')
			case at(src, i+1) == c && at(src, i+2) == '{':
				i += 2 // $${ and %%{ are text
			}
		}
	}
	return i
}

// sequence enters ${ or %{ at src[i] in a template.
func (s *nestScanner) sequence(i int, directive bool) int {
	s.braces++
	if !s.pushMode(lexMode{kind: nestSeq}) {
		s.over = i
		return i
	}
	s.retBraces = append(s.retBraces, s.braces)
	if directive {
		// %{if} and %{for} nest until %{endif}/%{endfor}: count every
		// directive until its template ends.
		s.deeper(i, 1)
	}
	s.prev = prevOther
	s.open(i, nestSeq)
	i += 2
	if at(s.src, i) == '~' {
		i++
	}
	return i
}

// heredocEnd reports whether the line at src[i] closes the heredoc, as
// HCL's scanner decides: after any invalid UTF-8 bytes (which leave it at
// the start of the line), one token of text without $, % or a carriage
// return up to the newline, equal to the marker once trimmed of spaces.
func (s *nestScanner) heredocEnd(i int, marker []byte) (int, bool) {
	src := s.src
	for i < len(src) && hclCharLen(src[i:]) == 0 {
		i++
	}
	nl := bytes.IndexByte(src[i:], '\n')
	if nl < 0 {
		return 0, false
	}
	line := src[i : i+nl]
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < len(marker) {
		return 0, false
	}
	for j := 0; j < len(line); {
		c := line[j]
		if c == '$' || c == '%' || c == '\r' {
			return 0, false
		}
		n := hclCharLen(line[j:])
		if n == 0 {
			return 0, false
		}
		j += n
	}
	if !bytes.Equal(bytes.TrimSpace(line), marker) {
		return 0, false
	}
	return i + nl + 1, true
}

// hclCharLen is the length of the character at b[0] as HCL's scanner
// matches one (AnyUTF8: by lead byte and continuation bytes only), or 0
// for a byte it reads as broken UTF-8.
func hclCharLen(b []byte) int {
	c := b[0]
	n := 0
	switch {
	case c < 0x80:
		return 1
	case c >= 0xC0 && c <= 0xDF:
		n = 2
	case c >= 0xE0 && c <= 0xEF:
		n = 3
	case c >= 0xF0 && c <= 0xF7:
		n = 4
	default:
		return 0
	}
	if len(b) < n {
		return 0
	}
	for _, x := range b[1:n] {
		if x < 0x80 || x > 0xBF {
			return 0
		}
	}
	return n
}
