package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGroupMembers checks the expansion of a group's entries, keepalived's
// range forms included, into one virtual server per member.
func TestGroupMembers(t *testing.T) {
	tests := []struct {
		name      string
		addresses string
		fwmarks   string
		want      []string
	}{
		{"one address", `["192.0.2.1:80"]`, `[]`, []string{"web/192.0.2.1:80"}},
		{"last byte range", `["192.0.2.1-3:80"]`, `[]`, []string{"web/192.0.2.1:80", "web/192.0.2.2:80", "web/192.0.2.3:80"}},
		{"whole range across a byte", `["192.0.2.254-192.0.3.1:443"]`, `[]`, []string{"web/192.0.2.254:443", "web/192.0.2.255:443", "web/192.0.3.0:443", "web/192.0.3.1:443"}},
		{"IPv6 range in hex", `["[2001:db8::9-b]:53"]`, `[]`, []string{"web/[2001:db8::9]:53", "web/[2001:db8::a]:53", "web/[2001:db8::b]:53"}},
		{"one-address range", `["192.0.2.7-7:80"]`, `[]`, []string{"web/192.0.2.7:80"}},
		{"addresses then fwmarks", `["192.0.2.1:80", "192.0.2.1:8080"]`, `[3, 1]`, []string{"web/192.0.2.1:80", "web/192.0.2.1:8080", "web/fwmark:3", "web/fwmark:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "cluster = \"c\"\nvirtual_server_group \"g\" {\n  addresses = " + tt.addresses + "\n  fwmarks = " + tt.fwmarks +
				"\n}\nvirtual_server \"web\" {\n  group = \"g\"\n  persistence = \"60s\"\n  real_server \"192.0.2.50:80\" {}\n}\n"
			if strings.Contains(tt.addresses, "[2001") {
				src = strings.Replace(src, "192.0.2.50:80", "[2001:db8::50]:53", 1)
			}
			f, diags := Parse("g.hcl", []byte(src))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			cfg, _ := f.Resolve("n")
			var got []string
			for i, vs := range cfg.VirtualServers {
				got = append(got, vs.Name)
				if vs.Group != "g" || len(vs.RealServers) != 1 {
					t.Errorf("member %s: group %q, %d real servers; want g, 1", vs.Name, vs.Group, len(vs.RealServers))
				}
				if i > 0 && &vs.RealServers[0] == &cfg.VirtualServers[0].RealServers[0] {
					t.Errorf("member %s shares its real server slice with the first member", vs.Name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGroupRealServerPort checks the port a real server without one gets
// in a group: the members' port when they share one, else 0.
func TestGroupRealServerPort(t *testing.T) {
	for _, tt := range []struct{ addresses, fwmarks, want string }{
		{`["192.0.2.1-2:80"]`, `[]`, "192.0.2.50:80"},
		{`["192.0.2.1:80", "192.0.2.1:443"]`, `[]`, "192.0.2.50:0"},
		{`["192.0.2.1:80"]`, `[5]`, "192.0.2.50:0"},
	} {
		src := "cluster = \"c\"\nvirtual_server_group \"g\" {\n  addresses = " + tt.addresses + "\n  fwmarks = " + tt.fwmarks +
			"\n}\nvirtual_server \"web\" {\n  group = \"g\"\n  real_server \"192.0.2.50\" {}\n}\n"
		f, diags := Parse("g.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		cfg, _ := f.Resolve("n")
		if got := cfg.VirtualServers[0].RealServers[0].Address.String(); got != tt.want {
			t.Errorf("%s %s: real server %s, want %s", tt.addresses, tt.fwmarks, got, tt.want)
		}
	}
}
