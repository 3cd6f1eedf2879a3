package config

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostic is one error with its position. Line and Column are 1-based
// and name the offending token; a Line of 0 means the error has no place in
// the file (it could not be read, or the node asked for is not declared).
type Diagnostic struct {
	Filename           string
	Line, Column       int
	EndLine, EndColumn int
	Message            string // one line
	Detail             string // optional longer text
}

// Error returns "FILE:LINE:COL: message" (or "FILE: message" without a position).
func (d *Diagnostic) Error() string {
	if d.Line <= 0 {
		if d.Filename == "" {
			return d.Message
		}
		return d.Filename + ": " + d.Message
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.Filename, d.Line, d.Column, d.Message)
}

// Diagnostics is a list of errors, in file order.
type Diagnostics []*Diagnostic

// HasErrors reports whether there is any diagnostic. Every diagnostic lvsd
// produces is an error: unknown or dubious input is never just a warning.
func (ds Diagnostics) HasErrors() bool { return len(ds) > 0 }

// Error returns every diagnostic, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// maxSnippetLines bounds the source shown for one diagnostic so a range
// spanning a whole block does not flood the terminal.
const maxSnippetLines = 3

// Format writes each diagnostic as "FILE:LINE:COL: message", then the
// offending source line(s) with line numbers and a ^~~~ marker under the
// range, then Detail if any. src maps file names to their contents; it may
// be nil, and then no snippet is shown.
func (ds Diagnostics) Format(w io.Writer, src map[string][]byte) {
	for _, d := range ds {
		fmt.Fprintln(w, d.Error())
		if d.Line > 0 {
			if body, ok := src[d.Filename]; ok {
				writeSnippet(w, d, body)
			}
		}
		if d.Detail != "" {
			for _, l := range strings.Split(d.Detail, "\n") {
				fmt.Fprintln(w, "    "+l)
			}
		}
	}
}

func writeSnippet(w io.Writer, d *Diagnostic, src []byte) {
	lines := bytes.Split(src, []byte("\n"))
	if d.Line > len(lines) {
		return
	}
	end := d.EndLine
	if end < d.Line {
		end = d.Line
	}
	if end > len(lines) {
		end = len(lines)
	}
	if end-d.Line+1 > maxSnippetLines {
		end = d.Line + maxSnippetLines - 1
	}
	width := len(strconv.Itoa(end))
	for n := d.Line; n <= end; n++ {
		line := strings.TrimRight(string(lines[n-1]), "\r")
		fmt.Fprintf(w, "  %*d | %s\n", width, n, line)
		if n != d.Line {
			continue
		}
		// The marker runs from Column to EndColumn on a one-line range and
		// to the end of the line otherwise. Columns count characters, so
		// walk the runes, copying tabs to keep the marker aligned.
		stop := utf8.RuneCountInString(line) + 1
		if d.EndLine == d.Line && d.EndColumn > d.Column {
			stop = d.EndColumn
		}
		var mark strings.Builder
		col := 1
		for _, r := range line {
			if col >= d.Column {
				break
			}
			if r == '\t' {
				mark.WriteByte('\t')
			} else {
				mark.WriteByte(' ')
			}
			col++
		}
		for ; col < d.Column; col++ {
			mark.WriteByte(' ')
		}
		mark.WriteByte('^')
		for c := d.Column + 1; c < stop; c++ {
			mark.WriteByte('~')
		}
		fmt.Fprintf(w, "  %*s | %s\n", width, "", mark.String())
	}
}

// diagAt builds a diagnostic covering rng.
func diagAt(rng hcl.Range, format string, args ...any) *Diagnostic {
	return &Diagnostic{
		Filename:  rng.Filename,
		Line:      rng.Start.Line,
		Column:    rng.Start.Column,
		EndLine:   rng.End.Line,
		EndColumn: rng.End.Column,
		Message:   fmt.Sprintf(format, args...),
	}
}

// fromHCL converts HCL's own diagnostics (syntax errors, forbidden
// variables and functions) without letting an HCL type out of the package.
func fromHCL(hds hcl.Diagnostics) Diagnostics {
	var out Diagnostics
	for _, hd := range hds {
		if hd.Severity != hcl.DiagError {
			continue
		}
		msg := lowerFirst(hd.Summary)
		detail := ""
		if hd.Detail != "" {
			first := firstSentence(hd.Detail)
			msg += ": " + strings.TrimSuffix(first, ".")
			if first != hd.Detail {
				detail = hd.Detail
			}
		}
		d := &Diagnostic{Message: msg, Detail: detail}
		if hd.Subject != nil {
			d.Filename = hd.Subject.Filename
			d.Line, d.Column = hd.Subject.Start.Line, hd.Subject.Start.Column
			d.EndLine, d.EndColumn = hd.Subject.End.Line, hd.Subject.End.Column
		}
		out = append(out, d)
	}
	return out
}

// firstSentence keeps a one-line message short; the rest goes to Detail.
func firstSentence(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	// Keep acronyms such as "HCL" as they are.
	if n < len(s) {
		r2, _ := utf8.DecodeRuneInString(s[n:])
		if r2 >= 'A' && r2 <= 'Z' {
			return s
		}
	}
	if r >= 'A' && r <= 'Z' {
		return string(r+('a'-'A')) + s[n:]
	}
	return s
}
