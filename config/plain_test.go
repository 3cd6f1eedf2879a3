package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// plainOpts compares decoded blocks field by field, kinds by identity.
var plainOpts = cmp.Options{
	cmp.AllowUnexported(block{}, value{}, item{}, entry{}),
	cmp.Comparer(func(a, b *blockSpec) bool { return a == b }),
}

// checkPlain reads src with the plain reader at start and, when it takes
// it, checks that HCL and the decoder make the same of it without a word.
// It reports whether the reader took it.
func checkPlain(t *testing.T, src []byte, start hcl.Pos, spec *blockSpec) bool {
	t.Helper()
	got, ok := readPlain("f.hcl", src, start, spec)
	if !ok {
		return false
	}
	want, diags, parsed := parseAt("f.hcl", src, start, spec)
	if !parsed || len(diags) > 0 {
		t.Fatalf("the plain reader took what HCL and the decoder report:\n%s\nsource:\n%s", diags.Error(), src)
	}
	if diff := cmp.Diff(want, got, plainOpts); diff != "" {
		t.Fatalf("the plain reader decodes differently (-HCL +plain):\n%s\nsource:\n%s", diff, src)
	}
	return true
}

// plainForms is every form the plain reader takes.
const plainForms = "cluster = \"c\" # the name\n" +
	"\n" +
	"// a comment\n" +
	"node \"a\" {   # the first\n" +
	"\tpriority=150\n" +
	"}\n" +
	"vrrp_instance \"VI_1\"{\n" +
	"  interface   = \"eth0\"\n" +
	"  vrid        = 051\n" +
	"  virtual_ips = [\"192.0.2.1/32\", \"192.0.2.2/32\",]\n" +
	"  preempt     = false\n" +
	"  advert_interval = \"1s\" // one second\n" +
	"}\n" +
	"virtual_server \"vs-0\" {\n" +
	"  address   = \"10.0.0.0:80\"\n" +
	"  scheduler = \"\"\n" +
	"\n" +
	"  health_check \"http\" {\n" +
	"    path          = \"/a$b%c{}\"\n" +
	"    expect_status = [\n" +
	"      200,\n" +
	"      204\n" +
	"    ]\n" +
	"    interval      = \"5s\"\n" +
	"  }\n" +
	"  real_server \"172.16.0.0:8080\" {\n" +
	"    weight = 0\n" +
	"  }\n" +
	"  real_server \"172.16.0.1:8080\" {\n" +
	"  }\n" +
	"  real_server \"172.16.0.4:8080\" {}\n" +
	"  real_server \"172.16.0.5:8080\" { weight = 2 }\n" +
	"  real_server \"172.16.0.6:8080\" {weight=3}\n" +
	"}\n" +
	"virtual_server \"vs-1\" {\n" +
	"  address = \"10.0.0.1:80\"\n" +
	"  real_server \"172.16.0.2:8080\" {\n" +
	"    weight = 1\n" +
	"  }\n" +
	"}"

// TestPlainReadsTheCommonForms checks that the plain reader takes the
// forms a large file is made of, with the positions HCL gives them, from
// the start of a file or from further down.
func TestPlainReadsTheCommonForms(t *testing.T) {
	for _, start := range []hcl.Pos{hcl.InitialPos, {Line: 40, Column: 1, Byte: 1234}} {
		if !checkPlain(t, []byte(plainForms), start, schema) {
			t.Fatalf("the plain reader did not take its forms at %v", start)
		}
	}
	if !checkPlain(t, bigConfig(20), hcl.InitialPos, schema) {
		t.Fatal("the plain reader did not take the generated file")
	}
	inc := "virtual_server \"vs-9\" {\n  address = \"10.0.0.9:80\"\n}\n"
	if !checkPlain(t, []byte(inc), hcl.InitialPos, includeSpec) {
		t.Fatal("the plain reader did not take an included file")
	}
}

// TestPlainLeavesTheRestToHCL checks that the plain reader gives up
// whatever is outside its subset or would be reported, each a change to
// a file it takes.
func TestPlainLeavesTheRestToHCL(t *testing.T) {
	for _, c := range []struct{ name, old, new string }{
		{"escape", `"/a$b%c{}"`, `"/a\"b"`},
		{"interpolation", `"/a$b%c{}"`, `"/a${b}"`},
		{"template directive", `"/a$b%c{}"`, `"/a%{if true}x%{endif}"`},
		{"escaped interpolation", `"/a$b%c{}"`, `"/a$${b}"`},
		{"map", `preempt     = false`, `priorities = { "a" = 100 }`},
		{"block comment", "// a comment", "/* a comment */"},
		{"heredoc", `"/a$b%c{}"`, "<<EOT\n/a\nEOT"},
		{"carriage return", "// a comment\n", "// a comment\r\n"},
		{"not ASCII", `"eth0"`, `"eth0é"`},
		{"tab in a string", `"eth0"`, "\"eth\t0\""},
		{"unknown attribute", "weight = 0", "wieght = 0"},
		{"unknown block", `real_server "172.16.0.1:8080"`, `real_sever "172.16.0.1:8080"`},
		{"attribute set twice", "weight = 0\n", "weight = 0\n    weight = 1\n"},
		{"wrong type", "weight = 0", `weight = "0"`},
		{"out of range", "vrid        = 051", "vrid        = 256"},
		{"float", "weight = 0", "weight = 1.0"},
		{"exponent", "weight = 0", "weight = 1e2"},
		{"negative", "weight = 0", "weight = -1"},
		{"null", "weight = 0", "weight = null"},
		{"variable", "preempt     = false", "preempt     = no"},
		{"bad duration", `interval      = "5s"`, `interval      = "5"`},
		{"check of another kind", `interval      = "5s"`, `query_name = "a."`},
		{"no label", `node "a" {`, `node {`},
		{"two labels", `node "a" {`, `node "a" "b" {`},
		{"bare label", `node "a" {`, `node a {`},
		{"bad label", `health_check "http"`, `health_check "htp"`},
		{"empty label", `node "a" {`, `node " " {`},
		{"one-line block of two attributes", "{ weight = 2 }", "{ weight = 2, upper_threshold = 1 }"},
		{"one-line block of a block", `health_check "http" {`, `health_check "http" { real_server "x" {} }`},
		{"one-line block with a comment", "{ weight = 2 }", "{ weight = 2 # two }"},
		{"one-line block left open", "{weight=3}", "{weight=3"},
		{"two items on a line", "cluster = \"c\" # the name\n", "cluster = \"c\" node \"b\" {\n}\n"},
		{"missing required", "  interface   = \"eth0\"\n", ""},
		{"second block of a single kind", "    interval      = \"5s\"\n  }\n", "    interval      = \"5s\"\n  }\n  health_check \"tcp\" {\n  }\n"},
		{"unclosed block", "    weight = 1\n  }\n}", "    weight = 1\n  }\n"},
		{"unclosed list", `"192.0.2.2/32",]`, `"192.0.2.2/32",`},
		{"empty list element", `"192.0.2.2/32",]`, `"192.0.2.2/32",,]`},
		{"comparison", "weight = 0", "weight == 0"},
		{"NUL", "weight = 0", "weight = 0\x00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(plainForms, c.old, c.new, 1)
			if src == plainForms {
				t.Fatalf("%q is not in the forms", c.old)
			}
			if checkPlain(t, []byte(src), hcl.InitialPos, schema) {
				t.Errorf("the plain reader took it")
			}
		})
	}
}

// FuzzPlainMatchesHCL checks that whatever the plain reader takes,
// wherever it starts, decodes to what HCL and the decoder make of it, and
// that they report nothing about it.
func FuzzPlainMatchesHCL(f *testing.F) {
	f.Add([]byte(plainForms), uint16(0), false)
	f.Add(bigConfig(2), uint16(7), false)
	f.Add([]byte("virtual_server \"vs-9\" {\n  address = \"10.0.0.9:80\"\n}\n"), uint16(3), true)
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, uint16(len(src)), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, at uint16, included bool) {
		start := hcl.Pos{Line: 1 + int(at%500), Column: 1, Byte: int(at)}
		spec := schema
		if included {
			spec = includeSpec
		}
		checkPlain(t, src, start, spec)
	})
}
