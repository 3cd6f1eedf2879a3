package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHex(t *testing.T) {
	tests := []struct {
		in        string
		wildcards bool
		data      []byte
		mask      []byte
		wantErr   bool
	}{
		// The example of keepalived.conf(5): a lone last digit of a
		// group is a byte of its own.
		{in: "Ab12f 3 456 546443123", data: []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03}},
		{in: "", data: nil},
		{in: " \t ", data: nil},
		{in: "00ff", data: []byte{0x00, 0xff}},
		{in: "4f4bXX", wildcards: true, data: []byte{0x4f, 0x4b, 0x00}, mask: []byte{0, 0, 0xff}},
		{in: "4f x", wildcards: true, data: []byte{0x4f, 0x00}, mask: []byte{0, 0x0f}},
		{in: "1X", wildcards: true, data: []byte{0x10}, mask: []byte{0x0f}},
		{in: "4f4bXX", wantErr: true},
		{in: "0g", wantErr: true},
		{in: "0x10", wildcards: true, data: []byte{0x00, 0x10}, mask: []byte{0x0f, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			data, mask, err := ParseHex(tt.in, tt.wildcards)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHex(%q, %t) error = %v, want error %t", tt.in, tt.wildcards, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.data, data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.mask, mask); diff != "" {
				t.Errorf("mask (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckTypeDefaults holds the builder to the defaults the reference
// gives for the udp, dns, ping and smtp types.
func TestCheckTypeDefaults(t *testing.T) {
	src := `cluster = "c"
node "n" {}
virtual_server "s" {
  address = "10.0.0.1:53"
  protocol = "udp"
  real_server "10.0.0.2" {
    health_check "udp" {}
  }
  real_server "10.0.0.3" {
    health_check "dns" {}
  }
  real_server "10.0.0.4" {
    health_check "ping" {}
  }
  real_server "10.0.0.5" {
    health_check "smtp" {}
  }
}
`
	f, diags := Parse("d.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := f.Resolve("n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got []TypeOptions
	for _, rs := range cfg.VirtualServers[0].RealServers {
		got = append(got, rs.Check.TypeOptions)
	}
	want := []TypeOptions{
		{},
		{QueryType: "SOA", QueryName: "."},
		{},
		{HELOName: "smtpchecker.keepalived.org"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("type options (-want +got):\n%s", diff)
	}
	for _, a := range checkTypeAttrs {
		var v string
		switch a.Name {
		case "type":
			v = `"` + got[1].QueryType + `"`
		case "name":
			v = `"` + got[1].QueryName + `"`
		case "helo_name":
			v = `"` + got[3].HELOName + `"`
		default:
			continue
		}
		if v != a.Default {
			t.Errorf("%s: reference says default %s, builder gives %s", a.Name, a.Default, v)
		}
	}
}
