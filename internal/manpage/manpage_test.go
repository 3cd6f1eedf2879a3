package manpage

import (
	"strings"
	"testing"
)

func TestInline(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"`-c FILE` or `--node`", `\fB\-c FILE\fR or \fB\-\-node\fR`},
		{`a\b`, `a\eb`},
		{".starts with a dot", `\&.starts with a dot`},
		{"'starts with a quote", `\&'starts with a quote`},
		{"Operations → Stop, 5 µs", `Operations \[u2192] Stop, 5 \[u00B5]s`},
		{"one ` unpaired", "one ` unpaired"},
	} {
		if got := Inline(tc.in); got != tc.want {
			t.Errorf("Inline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPage(t *testing.T) {
	var b strings.Builder
	p := New(&b, "x.conf", 5, "src", `Files "quoted"`)
	p.Name("x.conf", "a file")
	p.Item("`key` (string)", "what\n.it is")
	p.Example(".dot", "", `back\slash`)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := `.TH "X.CONF" 5 "" "src" "Files \(dqquoted\(dq"
.SH "NAME"
x.conf \- a file
.TP
\fBkey\fR (string)
what
\&.it is
.PP
.RS 4
.nf
\&.dot
\&
\&back\eslash
.fi
.RE
`
	if b.String() != want {
		t.Errorf("page:\n%s\nwant:\n%s", b.String(), want)
	}
}
