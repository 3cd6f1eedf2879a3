// Package keepalived reads keepalived.conf files into a tree of positioned
// statements, for `lvsd convert`. It follows keepalived's own reader
// (lib/parser.c) where that matters to what a file means:
//
//   - a statement is a keyword and its words on one line; `{` and `}`
//     outside double quotes end a statement wherever they appear, so
//     `virtual_ipaddress { 192.0.2.1 }` is three statements' worth of
//     tokens, and a `{` may also open a block on the line after its keyword;
//   - `!` and `#` outside double quotes start a comment anywhere on a line,
//     and `\!` and `\#` outside quotes stand for the characters;
//   - a word is either double-quoted (the quotes removed, no escapes) or runs
//     to the next blank or double quote;
//   - `include PATTERN` (and includer, includem, includew, includeb,
//     includea) on a line of its own splices the matching files in place,
//     in glob order with brace expansion; a relative pattern is taken from
//     the directory of the file that holds it, as keepalived changes into
//     that directory while it reads the file.
//
// The reader knows no keyword's meaning: every statement keeps its words,
// its raw text (for keywords keepalived re-reads with its script parser,
// see SplitScript) and its position, FILE:LINE:COL. Preprocessor features
// keepalived has beyond this (`@id` conditional lines, `$NAME=` definitions,
// `~SEQ`/`~LST`) are returned as Features for the caller to report.
package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Pos is a place in a file; Line and Col are 1-based, Col counts bytes.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Word is one word of a statement.
type Word struct {
	Text string
	Pos  Pos
}

// Stmt is a keyword with its arguments and, if a `{` followed it, the
// statements of its block.
type Stmt struct {
	Key  Word
	Args []Word
	// Raw is the statement's text after comments were removed, keyword
	// included: keepalived re-reads script keywords (notify_master,
	// misc_path, …) from it with different quoting rules.
	Raw      string
	HasBlock bool
	Block    []*Stmt
}

// Pos returns the keyword's position.
func (s *Stmt) Pos() Pos { return s.Key.Pos }

// Arg returns the i-th argument's text, or "".
func (s *Stmt) Arg(i int) string {
	if i < len(s.Args) {
		return s.Args[i].Text
	}
	return ""
}

// Feature is a line that uses a preprocessor feature of keepalived the
// reader does not expand: Name is "@" (conditional line), "$" (a
// definition or a substitution) or "~SEQ"/"~LST".
type Feature struct {
	Name string
	Pos  Pos
}

// File is a parsed keepalived.conf with its includes spliced in.
type File struct {
	Name     string
	Stmts    []*Stmt
	Features []Feature
	// Files lists every file read, the top file first.
	Files []string
}

// Diag is a positioned problem met while reading. Warnings are things
// keepalived itself only logs (an include matching no file).
type Diag struct {
	Pos     Pos
	Msg     string
	Warning bool
}

func (d Diag) String() string {
	at := d.Pos.String() + ": "
	switch {
	case d.Pos.File == "":
		at = ""
	case d.Pos.Line == 0:
		at = d.Pos.File + ": "
	}
	if d.Warning {
		return at + "warning: " + d.Msg
	}
	return at + d.Msg
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diag) bool {
	for _, d := range ds {
		if !d.Warning {
			return true
		}
	}
	return false
}

// FS is what the reader needs of a file system: a test or a fuzz target
// passes one with nothing in it.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern in lexical order, as
	// filepath.Glob does.
	Glob(pattern string) ([]string, error)
	Stat(name string) (fs.FileInfo, error)
}

// OSFS is the host's file system.
type OSFS struct{}

func (OSFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Limits that keep a hostile or looping file from running away; keepalived
// has none of its own and would loop on a file that includes itself.
const (
	maxIncludeDepth = 32
	maxBlockDepth   = 64
	maxFiles        = 10000
)

// Load reads the file name and everything it includes.
func Load(name string, fsys FS) (*File, []Diag) {
	src, err := fsys.ReadFile(name)
	if err != nil {
		p := &parser{f: &File{Name: name}}
		p.errorf(Pos{File: name}, "reading: %v", unwrapPath(err))
		return p.f, p.diags
	}
	return Parse(name, src, fsys)
}

// Parse reads src as the file name; an include is resolved with fsys,
// which may be nil for none.
func Parse(name string, src []byte, fsys FS) (*File, []Diag) {
	if fsys == nil {
		fsys = emptyFS{}
	}
	p := &parser{fsys: fsys, f: &File{Name: name}}
	p.file(name, src, 0)
	p.finish()
	return p.f, p.diags
}

type emptyFS struct{}

func (emptyFS) ReadFile(name string) ([]byte, error)  { return nil, fs.ErrNotExist }
func (emptyFS) Glob(string) ([]string, error)         { return nil, nil }
func (emptyFS) Stat(name string) (fs.FileInfo, error) { return nil, fs.ErrNotExist }

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type parser struct {
	fsys  FS
	f     *File
	diags []Diag

	// open holds the statements whose blocks are open, innermost last.
	open []*Stmt
	// last is the latest statement of the innermost level, which a `{`
	// opens a block for.
	last *Stmt
	// cols is decomment's buffer, kept from line to line.
	cols []int
	// defined is set once a `$NAME=` definition was seen: from then on
	// keepalived substitutes `$NAME` in later lines.
	defined bool
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diag{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diag{Pos: pos, Msg: fmt.Sprintf(format, args...), Warning: true})
}

func (p *parser) finish() {
	for i := len(p.open) - 1; i >= 0; i-- {
		s := p.open[i]
		p.errorf(s.Key.Pos, "block of %s is not closed: missing '}'", s.Key.Text)
	}
	p.open = nil
}

func (p *parser) file(name string, src []byte, depth int) {
	if len(p.f.Files) >= maxFiles {
		p.errorf(Pos{File: name}, "more than %d files included", maxFiles)
		return
	}
	p.f.Files = append(p.f.Files, name)
	lines := strings.Split(string(src), "\n")
	for i, line := range lines {
		p.line(name, i+1, strings.TrimRight(line, "\r"), depth)
	}
}

// line handles one physical line: comments, preprocessor lines, include,
// then its tokens.
func (p *parser) line(name string, lineNo int, raw string, depth int) {
	text, cols, quoteCol := decomment(raw, p.cols[:0])
	p.cols = cols
	pos := func(i int) Pos {
		if i >= len(cols) {
			if len(cols) == 0 {
				return Pos{name, lineNo, 1}
			}
			return Pos{name, lineNo, cols[len(cols)-1] + 1}
		}
		return Pos{name, lineNo, cols[i]}
	}
	if quoteCol > 0 {
		p.errorf(Pos{name, lineNo, quoteCol}, "unterminated quote")
	}
	if text == "" {
		return
	}
	switch {
	case text[0] == '@':
		p.f.Features = append(p.f.Features, Feature{Name: "@", Pos: pos(0)})
		return
	case text[0] == '$':
		p.defined = true
		p.f.Features = append(p.f.Features, Feature{Name: "$", Pos: pos(0)})
		return
	case strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST"):
		p.f.Features = append(p.f.Features, Feature{Name: text[:4], Pos: pos(0)})
		return
	}
	if p.defined {
		if i := strings.IndexByte(text, '$'); i >= 0 {
			p.f.Features = append(p.f.Features, Feature{Name: "$", Pos: pos(i)})
		}
	}
	if kind, rest, ok := includeLine(text); ok {
		p.include(pos(0), kind, rest, name, depth)
		return
	}
	p.tokens(text, pos)
}

// decomment removes a comment, the backslash of `\#` and `\!`, and blanks
// at both ends, as keepalived's decomment() does. cols[i] is the column of
// text[i] in the physical line. quoteCol is the column of a double quote
// left open, or 0.
func decomment(raw string, cols []int) (text string, _ []int, quoteCol int) {
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t') {
		i++
	}
	if !strings.ContainsAny(raw, "\"\\!#") {
		// Nothing to remove but blanks: the text is part of the line.
		end := len(raw)
		for end > i && (raw[end-1] == ' ' || raw[end-1] == '\t') {
			end--
		}
		for j := i; j < end; j++ {
			cols = append(cols, j+1)
		}
		return raw[i:end], cols, 0
	}
	b := make([]byte, 0, len(raw))
	quote := false
	for ; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"':
			quote = !quote
			if quote {
				quoteCol = i + 1
			}
		case c == '\\' && i+1 < len(raw):
			if !quote && (raw[i+1] == '#' || raw[i+1] == '!') {
				i++
				c = raw[i]
			} else {
				b = append(b, c)
				cols = append(cols, i+1)
				i++
				c = raw[i]
			}
		case !quote && (c == '!' || c == '#'):
			i = len(raw)
			continue
		}
		b = append(b, c)
		cols = append(cols, i+1)
	}
	if !quote {
		quoteCol = 0
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
		cols = cols[:len(cols)-1]
	}
	return string(b), cols, quoteCol
}

// includeLine recognises keepalived's include keywords: "include" and its
// variants with one letter (r, m, w, b, a) that make more problems errors.
func includeLine(text string) (kind, rest string, ok bool) {
	if !strings.HasPrefix(text, "include") || len(text) < 8 {
		return "", "", false
	}
	switch {
	case isBlank(text[7]):
		kind, rest = "include", text[8:]
	case strings.IndexByte("rmwba", text[7]) >= 0 && len(text) > 8 && isBlank(text[8]):
		kind, rest = text[:8], text[9:]
	default:
		return "", "", false
	}
	return kind, strings.TrimLeft(rest, " \t"), true
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *parser) include(pos Pos, kind, pattern, from string, depth int) {
	if pattern == "" {
		p.errorf(pos, "%s needs a file name or pattern", kind)
		return
	}
	if depth >= maxIncludeDepth {
		p.errorf(pos, "includes nested more than %d deep (does a file include itself?)", maxIncludeDepth)
		return
	}
	full := pattern
	if !filepath.IsAbs(pattern) {
		full = filepath.Join(filepath.Dir(from), pattern)
	}
	strict := kind != "include" // includer & co make a missing file an error
	wild := strings.ContainsAny(pattern, "*?[")
	var names []string
	for _, pat := range expandBraces(full) {
		m, err := p.fsys.Glob(pat)
		if err != nil {
			p.errorf(pos, "%s %s: %v", kind, pattern, err)
			return
		}
		if len(m) == 0 && !strings.ContainsAny(pat, "*?[") {
			report := p.warnf
			if strict {
				report = p.errorf
			}
			report(pos, "%s %s: no such file %s", kind, pattern, pat)
			continue
		}
		names = append(names, m...)
	}
	if len(names) == 0 {
		if wild {
			if kind == "includew" || kind == "includea" {
				p.errorf(pos, "%s %s: no file matches", kind, pattern)
			} else {
				p.warnf(pos, "%s %s: no file matches", kind, pattern)
			}
		}
		return
	}
	for _, n := range names {
		st, err := p.fsys.Stat(n)
		switch {
		case err != nil:
			p.errorf(pos, "%s %s: %v", kind, n, unwrapPath(err))
			continue
		case !st.Mode().IsRegular():
			p.warnf(pos, "%s: %s is not a regular file; keepalived skips it", kind, n)
			continue
		case st.Mode()&0o111 != 0:
			p.warnf(pos, "%s: %s is executable; keepalived skips it", kind, n)
			continue
		}
		src, err := p.fsys.ReadFile(n)
		if err != nil {
			p.errorf(pos, "%s %s: %v", kind, n, unwrapPath(err))
			continue
		}
		p.file(n, src, depth+1)
	}
}

// expandBraces expands glob braces ({a,b}) as GLOB_BRACE does: each
// alternative in turn, nested braces included. A pattern without a
// complete brace pair is returned as it is.
func expandBraces(pat string) []string {
	open := -1
	depth := 0
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth > 0 {
				continue
			}
			var alts []string
			start, d := open+1, 0
			for j := open + 1; j < i; j++ {
				switch pat[j] {
				case '{':
					d++
				case '}':
					d--
				case ',':
					if d == 0 {
						alts = append(alts, pat[start:j])
						start = j + 1
					}
				}
			}
			alts = append(alts, pat[start:i])
			var out []string
			for _, a := range alts {
				out = append(out, expandBraces(pat[:open]+a+pat[i+1:])...)
			}
			return out
		}
	}
	return []string{pat}
}

// tokens splits a decommented line into words and braces and feeds them to
// the tree.
func (p *parser) tokens(text string, pos func(int) Pos) {
	var cur *Stmt
	start := 0
	flush := func(end int) {
		if cur == nil {
			return
		}
		cur.Raw = strings.TrimRight(text[start:end], " \t")
		p.add(cur)
		cur = nil
	}
	word := func(at int, w string) {
		if cur == nil {
			cur = &Stmt{Key: Word{Text: w, Pos: pos(at)}}
			start = at
			return
		}
		if cur.Args == nil {
			// Most statements have one to three arguments.
			cur.Args = make([]Word, 0, 3)
		}
		cur.Args = append(cur.Args, Word{Text: w, Pos: pos(at)})
	}
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case isBlank(c):
			i++
		case c == '{':
			flush(i)
			p.openBlock(pos(i))
			i++
		case c == '}':
			flush(i)
			p.closeBlock(pos(i))
			i++
		case c == '"':
			j := strings.IndexByte(text[i+1:], '"')
			if j < 0 {
				// decomment reported the open quote; keep the rest as a word.
				word(i, text[i+1:])
				i = len(text)
				continue
			}
			word(i, text[i+1:i+1+j])
			i += j + 2
		default:
			j := i
			for j < len(text) && !isBlank(text[j]) && text[j] != '"' && text[j] != '{' && text[j] != '}' {
				j++
			}
			word(i, text[i:j])
			i = j
		}
	}
	flush(len(text))
}

func (p *parser) add(s *Stmt) {
	if n := len(p.open); n > 0 {
		o := p.open[n-1]
		o.Block = append(o.Block, s)
	} else {
		p.f.Stmts = append(p.f.Stmts, s)
	}
	p.last = s
}

func (p *parser) openBlock(pos Pos) {
	if p.last == nil || p.last.HasBlock {
		p.errorf(pos, "'{' without a keyword before it")
		// Track the brace all the same so that its '}' matches.
		s := &Stmt{Key: Word{Text: "{", Pos: pos}}
		p.add(s)
	}
	if len(p.open) >= maxBlockDepth {
		p.errorf(pos, "blocks nested more than %d deep", maxBlockDepth)
	}
	p.last.HasBlock = true
	p.open = append(p.open, p.last)
	p.last = nil
}

func (p *parser) closeBlock(pos Pos) {
	if len(p.open) == 0 {
		p.errorf(pos, "extra '}'")
		return
	}
	p.last = p.open[len(p.open)-1]
	p.open = p.open[:len(p.open)-1]
}
