package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// deep is deeper than HCL's parser can recurse without overflowing the
// stack (which kills the process).
const deep = 100_000

// TestParseRefusesDeepNesting feeds Parse files nested far deeper than
// HCL can take: each must be one diagnostic at the token that passed
// MaxNesting, not a crash.
func TestParseRefusesDeepNesting(t *testing.T) {
	r := strings.Repeat
	tests := []struct {
		name string
		src  string
		// at is where the limit is passed: the line and the column, or
		// the text that opens the level at that column of line 1.
		line, col int
	}{
		{"tuples", "x = " + r("[", deep) + r("]", deep), 1, 5 + 31 + 1},
		{"parentheses", "x = " + r("(", deep) + "1" + r(")", deep), 1, 5 + MaxNesting},
		{"objects", "x = " + r("{a = ", deep) + "1" + r("}", deep), 1, 5 + 5*MaxNesting},
		{"blocks", r("a {\n", deep) + r("}\n", deep), MaxNesting + 1, 3},
		{"interpolations", "x = " + r(`"${`, deep) + "1" + r(`}"`, deep), 1, 5 + 3*MaxNesting + 1},
		{"directives", "x = \"" + r("%{if true}", deep) + r("%{endif}", deep) + "\"", 1, 6 + 10*(MaxNesting-1)},
		{"heredoc interpolations", "x = <<EOT\n" + r("${<<EOT\n", deep) + "EOT\n", MaxNesting + 2, 1},
		{"mixed", "x = " + r(`[({"${`, deep) + r(`}"})]`, deep), 1, 0},
		{"minus", "x = " + r("-", deep) + "1", 1, 5 + MaxNesting},
		{"not", "x = " + r("!", deep) + "true", 1, 5 + MaxNesting},
		{"conditionals", "x = " + r("true ? 1 : ", deep) + "1", 1, 0},
		{"binary operators", "x = " + r("1 + ", deep) + "1", 1, 0},
		{"indexes", "x = a" + r("[a]", deep), 1, 0},
		{"splats", "x = a" + r("[*]", deep), 1, 0},
		{"attribute splats", "x = a" + r(".*[0]", deep), 1, 0},
		{"minus across lines in brackets", "x = (" + r("-\n", deep) + "1)", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("deep.hcl", []byte(tt.src))
			if len(diags) != 1 || !strings.Contains(diags[0].Message, "nested more than 64 levels deep") {
				t.Fatalf("diagnostics %v, want one saying the file nests too deep", diags)
			}
			d := diags[0]
			if d.Filename != "deep.hcl" || d.Line < 1 || d.Column < 1 {
				t.Errorf("diagnostic %q has no position", d.Error())
			}
			if tt.line > 0 && tt.col > 0 && (d.Line != tt.line || d.Column != tt.col) {
				t.Errorf("diagnostic at %d:%d, want %d:%d", d.Line, d.Column, tt.line, tt.col)
			}
		})
	}
}

// TestParseNestingNotCounted checks that what is not code (comments,
// strings, heredoc text, escapes) adds no depth, and that what HCL reads
// as code does, however it is dressed.
func TestParseNestingNotCounted(t *testing.T) {
	r := strings.Repeat
	ok := []struct{ name, src string }{
		{"hash comment", "# " + r("[", deep) + "\ncluster = \"c\"\n"},
		{"slash comment", "// " + r("(", deep) + "\ncluster = \"c\"\n"},
		{"block comment", "/* " + r("{", deep) + " */\ncluster = \"c\"\n"},
		{"string", "cluster = \"" + r("[({", deep) + "\"\n"},
		{"escaped quote", "cluster = \"\\\"" + r("[", deep) + "\"\n"},
		{"escaped interpolation", "cluster = \"\\${" + r("[", deep) + "\"\n"},
		{"doubled interpolation", "cluster = \"$${" + r("[", deep) + "}\"\n"},
		{"doubled directive", "cluster = \"%%{" + r("(", deep) + "}\"\n"},
		{"heredoc", "cluster = <<EOT\n" + r("[", deep) + "\nEOT\n"},
		{"indented heredoc", "cluster = <<-EOT\n  " + r("[", deep) + "\n  EOT\n"},
		{"dashed identifiers", "cluster = \"c\"\n" + "x = a" + r("-a", deep) + "\n"},
		{"exponent", "cluster = \"c\"\n" + "x = [" + r("1e-5, ", 1000) + "]\n"},
		{"negative list", "cluster = \"c\"\n" + "x = [" + r("-1, ", 1000) + "]\n"},
		{"newline ends an attribute", "cluster = \"c\"\n" + r("x = -1\n", 1000)},
		{"closed levels", "cluster = \"c\"\n" + r("x = [[[(({}))]]]\n", 1000)},
		{"tuples within the limit", "cluster = \"c\"\nx = " + r("[", MaxNesting/2) + r("]", MaxNesting/2) + "\n"},
		{"parentheses within the limit", "cluster = \"c\"\nx = " + r("(", MaxNesting-1) + "1" + r(")", MaxNesting-1) + "\n"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("ok.hcl", []byte(tt.src))
			for _, d := range diags {
				if strings.Contains(d.Message, "nested more than") {
					t.Errorf("%s: a file HCL parses at little depth is refused", d.Error())
				}
			}
		})
	}

	bad := []struct{ name, src string }{
		{"unterminated block comment", "cluster = \"c\" /*\nx = " + r("[", deep)},
		{"heredoc ends where HCL ends it", "x = <<EOT\n\"\nEOT\ny = " + r("[", deep) + "\n\"\n"},
		{"heredoc marker after invalid UTF-8", "x = <<EOT\n\"\n\xffEOT\ny = " + r("[", deep) + "\n\"\n"},
		{"heredoc marker not ASCII", "x = <<ÉTÉ\n\"\nÉTÉ\ny = " + r("[", deep) + "\n\"\n"},
		{"heredoc marker not ASCII ending", "x = <<EOTÉ\n\"\nEOTÉ\ny = " + r("[", deep) + "\n\"\n"},
		{"heredoc marker with CRLF", "x = <<EOT\r\n\"\r\n  EOT  \r\ny = " + r("[", deep) + "\n\"\n"},
		{"not a heredoc", "x = << EOT\n\"\"\ny = " + r("[", deep)},
		{"quote in a comment", "# \"\ny = " + r("[", deep) + "\n# \"\n"},
		{"escaped backslash", "x = \"\\\\\"\ny = " + r("[", deep) + "\n\"\n"},
		{"string across lines", "x = \"\n${" + r("[", deep) + "}\"\n"},
		{"interpolation closed by ~}", "x = \"${1~}\"\ny = " + r("[", deep) + "\n\"\n"},
		{"stray closers", "x = " + r("[)", deep)},
		{"objects in a for", "x = {for k, v in a : k => " + r("-\n", deep) + "v}"},
		{"byte order mark", "\xef\xbb\xbfx = " + r("[", deep)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("bad.hcl", []byte(tt.src))
			if len(diags) != 1 || !strings.Contains(diags[0].Message, "nested more than") {
				t.Errorf("diagnostics %v, want one saying the file nests too deep", diags)
			}
		})
	}
}

// TestNestingOfRealFiles checks that every file the tests and examples
// hold stays far from the limit.
func TestNestingOfRealFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	ex, _ := filepath.Glob("../examples/*/*.hcl")
	files = append(files, ex...)
	if len(files) < 50 {
		t.Fatalf("only %d files", len(files))
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := newNestScanner(src, MaxNesting)
		if s.run(); s.over >= 0 || s.max >= 10 {
			t.Errorf("%s nests %d deep (over at %d), want less than 10", file, s.max, s.over)
		}
	}
}

func TestParseRefusesLargeFile(t *testing.T) {
	src := make([]byte, MaxFileSize+1)
	_, diags := Parse("big.hcl", src)
	want := fmt.Sprintf("big.hcl: the file is %d bytes, more than the 64 MiB a cluster file may have", MaxFileSize+1)
	if diags.Error() != want {
		t.Errorf("diagnostics %q, want %q", diags.Error(), want)
	}
}

// tokenDepth is the depth the nesting scanner's rules give on the tokens
// of HCL's own scanner: the scanner must never see less, or it has read
// as text what HCL reads as code.
func tokenDepth(src []byte) int {
	toks, _ := hclsyntax.LexConfig(src, "f", hcl.InitialPos)
	s := newNestScanner(src, 2*len(toks)+8)
	for _, tok := range toks {
		off := tok.Range.Start.Byte
		switch tok.Type {
		case hclsyntax.TokenOBrace:
			s.braces++
			kind := nestObject
			if s.prev != prevOther && (len(s.nests) == 0 && len(s.modes) == 0 ||
				len(s.nests) > 0 && s.nests[len(s.nests)-1].kind == nestBody) {
				kind = nestBody
			}
			s.prev = prevOther
			s.open(off, kind)
			continue
		case hclsyntax.TokenCBrace:
			s.braces--
			s.close(nestBody, nestObject)
		case hclsyntax.TokenTemplateSeqEnd:
			if n := len(s.retBraces); n > 0 && s.retBraces[n-1] == s.braces {
				s.retBraces = s.retBraces[:n-1]
				s.modes = s.modes[:len(s.modes)-1]
			}
			s.braces--
			s.close(nestSeq, nestSeq)
		case hclsyntax.TokenOBrack:
			s.deeper(off, 1)
			s.open(off, nestBrack)
		case hclsyntax.TokenCBrack:
			s.close(nestBrack, nestBrack)
		case hclsyntax.TokenOParen:
			s.open(off, nestParen)
		case hclsyntax.TokenCParen:
			s.close(nestParen, nestParen)
		case hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			s.braces++
			s.retBraces = append(s.retBraces, s.braces)
			s.modes = append(s.modes, lexMode{kind: nestSeq})
			if tok.Type == hclsyntax.TokenTemplateControl {
				s.deeper(off, 1)
			}
			s.open(off, nestSeq)
		case hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			kind := nestQuote
			if tok.Type == hclsyntax.TokenOHeredoc {
				kind = nestHeredoc
			}
			s.modes = append(s.modes, lexMode{kind: kind})
			s.open(off, kind)
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if n := len(s.modes); n > 0 && s.modes[n-1].kind != nestSeq {
				s.modes = s.modes[:n-1]
			}
			s.close(nestQuote, nestHeredoc)
			if tok.Type == hclsyntax.TokenCQuote {
				s.prev = prevQuote
				continue
			}
		case hclsyntax.TokenComma:
			s.reset()
		case hclsyntax.TokenNewline:
			s.newline(tok.Range.End.Byte)
		case hclsyntax.TokenComment:
			if bytes.HasSuffix(tok.Bytes, []byte("\n")) {
				s.newline(tok.Range.End.Byte)
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenBang, hclsyntax.TokenQuestion, hclsyntax.TokenLessThan,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenAnd, hclsyntax.TokenOr:
			s.deeper(off, 1)
		case hclsyntax.TokenIdent:
			s.prev = prevIdent
			continue
		case hclsyntax.TokenInvalid:
			// HCL's scanner gave up: the rest is one invalid token.
			if len(tok.Bytes) > 1 {
				return s.max
			}
		}
		if tok.Type != hclsyntax.TokenComment && tok.Type != hclsyntax.TokenQuotedLit &&
			tok.Type != hclsyntax.TokenStringLit {
			s.prev = prevOther
		}
	}
	return s.max
}

// FuzzNesting checks the nesting scanner against HCL's scanner: it must
// never count less depth than HCL's tokens give.
func FuzzNesting(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"x = <<EOT\n\"\nEOT\ny = [[[\n\"\n",
		"x = <<EOT\n\"\n\xffEOT\ny = [[[\n\"\n",
		"x = <<ÉTÉ\n\"\nÉTÉ\ny = [[[\n\"\n",
		"x = \"${\"${[[\"}\"}\"",
		"x = \"%{if a}%{for b in c}${d}%{endfor}%{endif}\"",
		"x = \"\\\\\" /* [[ */ y = [[ # \"\n",
		"x = <<-EOT\n  ${<<EOT\nEOT\n}\n  EOT\n",
		"x = \"${1~}\" { ~} }",
		"x = a !=> b <=> c >=> d",
		"x = <<-EOT\r\n  ${\"$${\\\"\"}%%{\r\n  EOT\r\n[[\n",
		"a b \"c\" /* x */ {\n -\n x = <<E\n$x\n%\nE\n}\n# c\r\n// d\n[[",
		"x = \"${ # c \"\n}\" ~} 1.e-5 .5 1e+ a-b-1 => ... :: \t\x00\x0c\r [",
		"x = <<E\n${<<E\n${(}\nE\n)~}\nE\n\"\\${[[}\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		// A byte adds at most two levels ("[" opens one and indexes).
		s := newNestScanner(src, 2*len(src)+8)
		s.run()
		if s.nonASCII >= 0 {
			return // refused, whatever the depth
		}
		if want := tokenDepth(src); s.max < want {
			t.Fatalf("scanner depth %d, HCL's tokens give %d", s.max, want)
		}
	})
}

// BenchmarkNesting measures the nesting scanner on a large generated file.
func BenchmarkNesting(b *testing.B) {
	src := bigConfig(10_000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if off := nestingOver(src, MaxNesting); off >= 0 {
			b.Fatalf("refused at %d", off)
		}
	}
}

// bigConfig is a cluster file of n virtual servers with two real servers
// and a health check each.
func bigConfig(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("cluster = \"big\"\n\n# generated\nnode \"a\" {\n  priority = 150\n}\n\n")
	for i := range n {
		fmt.Fprintf(&buf, `virtual_server "vs-%d" {
  address   = "10.%d.%d.%d:80"
  scheduler = "wlc"
  health_check "http" {
    path          = "/healthz"
    expect_status = [200, 204]
    interval      = "2s"
    timeout       = "1s"
  }
  real_server "192.168.%d.%d:80" {
    weight = 1
  }
  real_server "192.168.%d.%d:80" {
    weight = 2
  }
}

`, i, i>>16&255, i>>8&255, i&255, i>>8&127, i&255, i>>8&127+128, i&255)
	}
	return buf.Bytes()
}

// TestParseHugeNumber checks that a number too large for any attribute is
// refused without being written out in decimal: 1e10000000 has ten
// million digits, which took a minute to print.
func TestParseHugeNumber(t *testing.T) {
	tests := []struct{ value, want string }{
		{"1e10000000", "3:10: vrid must be between 1 and 255, got a number of 33219281 bits"},
		{"-1e10000000", "3:10: vrid must be between 1 and 255, got a number of 33219281 bits"},
		{"1e-10000000", "3:10: vrid must be a whole number"},
		{"1.5", "3:10: vrid must be a whole number, got 1.5"},
		{"300", "3:10: vrid must be between 1 and 255, got 300"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			src := "cluster = \"c\"\nvrrp_instance \"V\" {\n  vrid = " + tt.value + "\n  interface = \"eth0\"\n  virtual_ips = [\"10.0.0.1/32\"]\n}\n"
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, diags := Parse("n.hcl", []byte(src))
			runtime.ReadMemStats(&after)
			if len(diags) != 1 || diags.Error() != "n.hcl:"+tt.want {
				t.Errorf("diagnostics %q, want n.hcl:%s", diags.Error(), tt.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("Parse allocated %d bytes", n)
			}
		})
	}
}

// TestParseRefusesNonASCIICode checks that a byte above 0x7f outside a
// string or comment is refused: HCL's scanner reads "\xde\"" as one
// identifier, so a quote after such a byte opens no string for HCL.
func TestParseRefusesNonASCIICode(t *testing.T) {
	for _, src := range []string{
		"x = \xde\"" + strings.Repeat("[", deep) + "\"\n",
		"cluster = \"c\"\nnode été {\n}\n",
		"cluster = \"c\"\nx = \"${a\xc4\"}\"\n",
	} {
		_, diags := Parse("u.hcl", []byte(src))
		if len(diags) != 1 || diags[0].Line < 1 || !strings.Contains(diags[0].Message, "not ASCII outside a string or comment") {
			t.Errorf("%.40q: diagnostics %v, want one refusing the character", src, diags)
		}
	}
	src := "cluster = \"été\" # été\nnode \"été\" {\n  priority = 1 /* été */\n}\n"
	if _, diags := Parse("u.hcl", []byte(src)); diags.HasErrors() {
		t.Errorf("letters in strings and comments: %v", diags)
	}
}

// checkLimits reports a file over MaxFileSize or nested deeper than
// MaxNesting, positioned at the token that crossed the limit.
func checkLimits(filename string, src []byte) *Diagnostic {
	d, _ := scanFile(filename, src, 0)
	return d
}

// nestingOver returns the offset of the first byte at which src nests
// deeper than limit, or -1 if it never does.
func nestingOver(src []byte, limit int) int {
	s := newNestScanner(src, limit)
	s.run()
	return s.over
}
