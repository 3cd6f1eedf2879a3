// Package manpage writes manual pages in roff with the man(7) macros, the
// format man(1) renders. Text given to it is plain: it escapes what roff
// would take for requests, and turns `code` spans (as the config schema
// and the usage text write them) into bold, the man-pages(7) convention
// for literal text.
package manpage

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Writer writes one page. Errors are sticky: Close reports the first.
type Writer struct {
	w *bufio.Writer
}

// New starts a page: the .TH line with the page's name (written in
// capitals, as man pages are), section and the manual's title. The date
// is left out so that a page changes only when its text does.
func New(w io.Writer, name string, section int, source, manual string) *Writer {
	p := &Writer{w: bufio.NewWriter(w)}
	p.line(fmt.Sprintf(".TH %s %d \"\" %s %s", quote(strings.ToUpper(name)), section, quote(source), quote(manual)))
	return p
}

// Comment writes a roff comment line.
func (p *Writer) Comment(text string) {
	p.line(`.\" ` + text)
}

// Section starts a section (.SH).
func (p *Writer) Section(title string) {
	p.line(".SH " + quote(strings.ToUpper(title)))
}

// Subsection starts a subsection (.SS).
func (p *Writer) Subsection(title string) {
	p.line(".SS " + quote(title))
}

// Para writes a paragraph of plain text with `code` spans.
func (p *Writer) Para(text string) {
	p.line(".PP")
	p.text(text)
}

// Name writes the NAME section's one line: "name \- what it is".
func (p *Writer) Name(name, what string) {
	p.Section("NAME")
	p.line(Escape(name) + ` \- ` + Escape(what))
}

// Synopsis writes one synopsis line: the command in bold, then its
// arguments, indented under itself when the line wraps.
func (p *Writer) Synopsis(command, args string) {
	p.line(".HP")
	p.line(`\fB` + Escape(command) + `\fR ` + Escape(args))
}

// Item writes a tagged paragraph (.TP): the tag on its own line, then the
// text indented under it. The tag is literal unless it holds `code` spans.
func (p *Writer) Item(tag, text string) {
	p.line(".TP")
	if strings.Contains(tag, "`") {
		p.line(Inline(tag))
	} else {
		p.line(`\fB` + Escape(tag) + `\fR`)
	}
	p.text(text)
}

// ItemArg is Item with a tag of a literal (bold) and an argument
// (italic): "--node NAME".
func (p *Writer) ItemArg(literal, arg, text string) {
	p.line(".TP")
	tag := `\fB` + Escape(literal) + `\fR`
	if arg != "" {
		tag += ` \fI` + Escape(arg) + `\fR`
	}
	p.line(tag)
	p.text(text)
}

// Example writes lines as they are, unfilled and indented.
func (p *Writer) Example(lines ...string) {
	p.line(".PP")
	p.line(".RS 4")
	p.line(".nf")
	for _, l := range lines {
		if l == "" {
			p.line(`\&`)
			continue
		}
		p.line(`\&` + Escape(l))
	}
	p.line(".fi")
	p.line(".RE")
}

// Close flushes the page.
func (p *Writer) Close() error {
	return p.w.Flush()
}

// text writes filled text, a line per input line.
func (p *Writer) text(s string) {
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		p.line(Inline(l))
	}
}

func (p *Writer) line(s string) {
	p.w.WriteString(s)
	p.w.WriteByte('\n')
}

// Inline escapes text and turns `code` spans into bold.
func Inline(s string) string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // an unpaired backquote is text
		return guard(Escape(s))
	}
	var b strings.Builder
	for i, part := range parts {
		if i%2 == 1 {
			b.WriteString(`\fB` + Escape(part) + `\fR`)
		} else {
			b.WriteString(Escape(part))
		}
	}
	return guard(b.String())
}

// guard keeps a text line that starts with a dot or a quote from being
// read as a request.
func guard(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// Escape makes s literal roff text: backslashes, hyphens (which roff would
// typeset as hyphens, not the minus signs of options) and any rune outside
// ASCII, which goes as its Unicode name so the page reads the same
// whatever input encoding the formatter assumes.
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > 0x7e || (r < 0x20 && r != '\t'):
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// quote makes a macro argument of s.
func quote(s string) string {
	return `"` + strings.ReplaceAll(Escape(s), `"`, `\(dq`) + `"`
}
