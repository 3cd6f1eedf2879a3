package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dump writes a tree one statement a line, with positions, for comparison.
func dump(stmts []*Stmt, indent string, b *strings.Builder) {
	for _, s := range stmts {
		b.WriteString(indent + s.Key.Pos.String() + " " + s.Key.Text)
		for _, a := range s.Args {
			b.WriteString(" [" + a.Text + "]@" + fmt.Sprintf("%02d", a.Pos.Col))
		}
		b.WriteString("\n")
		if s.HasBlock {
			dump(s.Block, indent+"  ", b)
		}
	}
}

func tree(f *File) string {
	var b strings.Builder
	dump(f.Stmts, "", &b)
	return b.String()
}

func diagText(ds []Diag) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return strings.Join(out, "\n")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, src, want, diags string
	}{
		{"keyword and block on one line",
			"vrrp_instance VI_1 {\n  state MASTER\n}\n",
			"k:1:1 vrrp_instance [VI_1]@15\n  k:2:3 state [MASTER]@09\n", ""},
		{"brace on the next line",
			"virtual_server 10.0.0.1 80\n{\n  delay_loop 6\n}\n",
			"k:1:1 virtual_server [10.0.0.1]@16 [80]@25\n  k:3:3 delay_loop [6]@14\n", ""},
		{"a block on one line",
			"virtual_ipaddress { 192.0.2.1/24 dev eth0 }\n",
			"k:1:1 virtual_ipaddress\n  k:1:21 192.0.2.1/24 [dev]@34 [eth0]@38\n", ""},
		{"comments with ! and # anywhere, escaped ones kept",
			"! whole line\nrouter_id lb1 # trailing\nnotify_master \"/bin/x #1\" ! c\nsmtp_server a\\#b\n",
			"k:2:1 router_id [lb1]@11\nk:3:1 notify_master [/bin/x #1]@15\nk:4:1 smtp_server [a#b]@13\n", ""},
		{"quoted words and words cut at a quote",
			"a \"b c\"d\"e\"\n",
			"k:1:1 a [b c]@03 [d]@08 [e]@09\n", ""},
		{"nested blocks and closing braces on statement lines",
			"real_server 10.0.0.2 80 {\n  TCP_CHECK {\n    connect_timeout 3 }\n}\n",
			"k:1:1 real_server [10.0.0.2]@13 [80]@22\n  k:2:3 TCP_CHECK\n    k:3:5 connect_timeout [3]@21\n", ""},
		{"extra brace", "a\n}\n", "k:1:1 a\n", "k:2:1: extra '}'"},
		{"missing brace", "a {\n b\n", "k:1:1 a\n  k:2:2 b\n", "k:1:1: block of a is not closed: missing '}'"},
		{"brace with no keyword", "{\n}\n", "k:1:1 {\n", "k:1:1: '{' without a keyword before it"},
		{"unterminated quote", "a \"b c\n", "k:1:1 a [b c]@03\n", "k:1:3: unterminated quote"},
		{"CRLF line ends", "a b\r\nc\r\n", "k:1:1 a [b]@03\nk:2:1 c\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := Parse("k", []byte(tt.src), nil)
			if diff := cmp.Diff(tt.want, tree(f)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.diags, diagText(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	f, _ := Parse("k", []byte("vrrp_instance X {\n  notify_master \"/bin/n 'a b'\" root   # c\n}\n"), nil)
	got := f.Stmts[0].Block[0].Raw
	if want := `notify_master "/bin/n 'a b'" root`; got != want {
		t.Errorf("Raw = %q, want %q", got, want)
	}
}

func TestFeatures(t *testing.T) {
	src := "@lb1 router_id lb1\n$IF=eth0\ninterface $IF\n~SEQ(n,1,3) x\n"
	f, _ := Parse("k", []byte(src), nil)
	var got []string
	for _, ft := range f.Features {
		got = append(got, ft.Name+"@"+ft.Pos.String())
	}
	want := []string{"@@k:1:1", "$@k:2:1", "$@k:3:11", "~SEQ@k:4:1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
}

func TestSplitScript(t *testing.T) {
	tests := []struct {
		raw  string
		want Script
		err  bool
	}{
		{`notify_master /usr/bin/n.sh`, Script{Argv: []string{"/usr/bin/n.sh"}}, false},
		{`notify_master /usr/bin/n.sh master`, Script{Argv: []string{"/usr/bin/n.sh"}, User: "master"}, false},
		{`notify_master "/usr/bin/n.sh master"`, Script{Argv: []string{"/usr/bin/n.sh", "master"}}, false},
		{`notify_master "/bin/n 'a b' c"`, Script{Argv: []string{"/bin/n", "a b", "c"}}, false},
		{`notify_master '/bin/n "a b"' nobody nogroup`, Script{Argv: []string{"/bin/n", "a b"}, User: "nobody", Group: "nogroup"}, false},
		{`misc_path "/bin/x a\tb"`, Script{Argv: []string{"/bin/x", "a\tb"}}, false},
		{`misc_path "/bin/x \x41\101"`, Script{Argv: []string{"/bin/x", "AA"}}, false},
		{`notify_master`, Script{}, true},
		{`notify_master "/bin/x 'a"`, Script{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := SplitScript(&Stmt{Raw: tt.raw})
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SplitScript (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("/etc/{a,b{1,2}}/*.conf")
	want := []string{"/etc/a/*.conf", "/etc/b1/*.conf", "/etc/b2/*.conf"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "global_defs {\n  include defs/*.conf\n}\ninclude services/{web,mail}.conf\ninclude missing.conf\n")
	write("defs/b.conf", "router_id b\n")
	write("defs/a.conf", "router_id a\ninclude ../more/x.conf\n") // relative to defs/
	write("more/x.conf", "smtp_server x\n")
	write("services/web.conf", "virtual_server 10.0.0.1 80 {\n}\n")
	write("services/mail.conf", "virtual_server 10.0.0.1 25 {\n}\n")
	f, diags := Load(filepath.Join(dir, "main.conf"), OSFS{})
	got := strings.ReplaceAll(tree(f), dir+"/", "")
	want := "main.conf:1:1 global_defs\n" +
		"  defs/a.conf:1:1 router_id [a]@11\n" +
		"  more/x.conf:1:1 smtp_server [x]@13\n" +
		"  defs/b.conf:1:1 router_id [b]@11\n" +
		"services/web.conf:1:1 virtual_server [10.0.0.1]@16 [80]@25\n" +
		"services/mail.conf:1:1 virtual_server [10.0.0.1]@16 [25]@25\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	d := strings.ReplaceAll(diagText(diags), dir+"/", "")
	if want := "main.conf:5:1: warning: include missing.conf: no such file missing.conf"; d != want {
		t.Errorf("diagnostics = %q, want %q", d, want)
	}

	write("loop.conf", "include loop.conf\n")
	_, diags = Load(filepath.Join(dir, "loop.conf"), OSFS{})
	if !HasErrors(diags) || !strings.Contains(diagText(diags), "nested more than") {
		t.Errorf("a file including itself: %s", diagText(diags))
	}
}
