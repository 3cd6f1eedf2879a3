package config

import (
	"strings"
	"testing"
)

func TestBadNameRune(t *testing.T) {
	good := []string{"web", "VI_1", "director-a", "dc1 web", "pôle-été", "东京", "eth0.100", "a:b"}
	for _, s := range good {
		if r := badNameRune(s); r >= 0 {
			t.Errorf("badNameRune(%q) = %U, want none", s, r)
		}
	}
	bad := []struct {
		s    string
		want rune
	}{
		{"a\nb", '\n'}, {"a\rb", '\r'}, {"a\x00", 0}, {"\tx", '\t'}, {"a\x1b[2J", 0x1b},
		{"a\x7f", 0x7f}, {"a\u0085", 0x85}, {"a\u009b", 0x9b},
		{"a\u202ab", 0x202a}, {"a\u202eb", 0x202e}, {"a\u2066b", 0x2066}, {"a\u2069b", 0x2069},
		{"a\u200bb", 0x200b}, {"a\u200fb", 0x200f}, {"a\u00adb", 0xad}, {"\ufeffa", 0xfeff},
		{"a\u2028b", 0x2028}, {"a\u2029b", 0x2029}, {"a\xffb", 0xfffd},
	}
	for _, tt := range bad {
		if r := badNameRune(tt.s); r != tt.want {
			t.Errorf("badNameRune(%q) = %U, want %U", tt.s, r, tt.want)
		}
	}
}

// TestNamesRefused checks every name that status, logs or metrics print
// is checked, with the name's position.
func TestNamesRefused(t *testing.T) {
	const base = `cluster = "CLUSTER"
node "NODE" {
  priority = 100
}
vrrp_instance "INSTANCE" {
  interface        = "IFACE"
  vrid             = 51
  track_interfaces = ["TRACKED"]
  virtual_ips      = ["10.0.0.1/32"]
}
vrrp_sync_group "GROUP" {
  instances = ["INSTANCE"]
}
virtual_server "SERVICE" {
  address = "10.0.0.1:80"
  health_check "http" {
    host = "HOST"
    path = "/PATH"
  }
  real_server "10.0.0.2:80" {}
}
ipvs {
  sync_daemon {
    interface     = "SYNCIF"
    vrrp_instance = "INSTANCE"
  }
}
`
	if _, diags := Parse("names.hcl", []byte(base)); diags.HasErrors() {
		t.Fatalf("base config: %v", diags)
	}
	for _, key := range []string{"CLUSTER", "NODE", "INSTANCE", "IFACE", "TRACKED", "GROUP", "SERVICE", "HOST", "PATH", "SYNCIF"} {
		for _, bad := range []string{`\n`, `\u202e`, `\u0000`} {
			t.Run(key+bad, func(t *testing.T) {
				src := strings.Replace(base, `"`+key, `"`+key+bad, 1)
				src = strings.Replace(src, "/"+key, "/"+key+bad, 1)
				_, diags := Parse("names.hcl", []byte(src))
				line := 1 + strings.Count(src[:strings.Index(src, key+bad)], "\n")
				// A refused instance name leaves its references unknown:
				// those follow, the first diagnostic is the name's.
				if len(diags) == 0 || diags[0].Line != line || !strings.Contains(diags[0].Message, "must not contain control or format characters") {
					t.Errorf("diagnostics %v, want the first at line %d", diags, line)
				}
			})
		}
	}
}
