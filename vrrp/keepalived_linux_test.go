package vrrp

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/integration/lab"
)

// TestTransportKeepalived checks the transport against a real peer: a
// keepalived master's adverts pass Receive and Accept, and keepalived
// accepts ours, which it shows by giving up MASTER to our higher priority.
func TestTransportKeepalived(t *testing.T) {
	lab.RequireRoot(t, "keepalived", "ip")
	tests := []struct {
		name    string
		ipv6    bool
		version int
		auth    string
		vip     string
	}{
		{"v2 ipv4 with password", false, 2, "secret1", "192.0.2.100"},
		{"v3 ipv4", false, 3, "", "192.0.2.100"},
		{"v3 ipv6", true, 3, "", "2001:db8::100"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vrid := uint8(70 + i)
			lan := lab.NewLAN(t, "ka", "us")
			lan.AddAddr("ka", "192.0.2.11/24")
			lan.AddAddr("us", "192.0.2.12/24")
			ka := lan.Host("ka")
			us := listenIn(t, lan.Host("us"), "eth0", tt.ipv6)
			vip := netip.MustParseAddr(tt.vip)
			bits := 32
			if tt.ipv6 {
				bits = 128
			}

			auth := ""
			if tt.auth != "" {
				auth = fmt.Sprintf("authentication {\n    auth_type PASS\n    auth_pass %s\n  }", tt.auth)
			}
			dir := t.TempDir()
			conf := fmt.Sprintf(`global_defs {
  router_id ka
}
vrrp_instance VI {
  state MASTER
  interface eth0
  virtual_router_id %d
  priority 100
  advert_int 1
  version %d
  %s
  virtual_ipaddress {
    %s/%d
  }
}
`, vrid, tt.version, auth, vip, bits)
			file := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			proc := ka.Start("keepalived", "--vrrp", "-n", "-l", "-D", "-f", file,
				"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"))

			// keepalived's advert reaches us and passes every check.
			got, err := tryReceive(us, vrid, 8*time.Second)
			if err != nil {
				t.Fatalf("no advert from keepalived: %v\n%s", err, proc.Output())
			}
			want := &Advert{
				Version: tt.version, Type: TypeAdvertisement, VRID: vrid, Priority: 100,
				MaxAdvertInterval: time.Second, Addresses: []netip.Addr{vip},
			}
			if tt.auth != "" {
				want.AuthType, want.AuthData = AuthSimple, PasswordAuthData(tt.auth)
			}
			if diff := cmp.Diff(want, got.Advert, cmpAdvert); diff != "" {
				t.Errorf("keepalived's advert (-want +got):\n%s", diff)
			}
			f := Filter{IfIndex: us.IfIndex(), VRID: vrid, Version: tt.version, Own: []netip.Addr{us.Source()}}
			if tt.auth != "" {
				f.AuthType, f.AuthData = AuthSimple, PasswordAuthData(tt.auth)
			}
			if err := Accept(got, f); err != nil {
				t.Errorf("Accept(keepalived's advert) = %v", err)
			}
			if !AddressesMatch(got.Advert, []netip.Addr{vip}) {
				t.Errorf("keepalived's addresses %v, want [%s]", got.Advert.Addresses, vip)
			}

			// Our adverts at priority 200 make keepalived step down and
			// remove the VIP: it accepted them (TTL, checksum, auth).
			ours := *want
			ours.Priority = 200
			deadline := time.Now().Add(8 * time.Second)
			for {
				if err := us.Send(&ours, MulticastGroup(tt.ipv6)); err != nil {
					t.Fatal(err)
				}
				addrs := ka.MustExec(t, "ip", "-o", "addr", "show", "dev", "eth0")
				// It was master (it sent the advert above), so a
				// BACKUP line after the last MASTER line is the step
				// down, not its start-up.
				log := proc.Output()
				m := strings.LastIndex(log, "Entering MASTER STATE")
				if m >= 0 && strings.Contains(log[m:], "Entering BACKUP STATE") && !strings.Contains(addrs, " "+vip.String()+"/") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("keepalived did not give way to our priority 200 adverts; addresses:\n%s\nlog:\n%s", addrs, proc.Output())
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
