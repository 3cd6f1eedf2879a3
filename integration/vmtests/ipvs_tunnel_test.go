//go:build vm

package vmtests

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
)

// tunnelConfig has one TUN service per encapsulation, each with one real
// server, so that each real server sees only its own encapsulation.
const tunnelConfig = `
cluster = "tunnels"

virtual_server "ipip" {
  address = "192.0.2.100:80"
  method  = "tun"
  real_server "198.51.100.11:80" {}
}

virtual_server "gue" {
  address         = "192.0.2.101:80"
  method          = "tun"
  tunnel_type     = "gue"
  tunnel_port     = 6080
  tunnel_checksum = "csum"
  real_server "198.51.100.12:80" {}
}

virtual_server "gre" {
  address     = "192.0.2.102:80"
  method      = "tun"
  tunnel_type = "gre"
  real_server "198.51.100.13:80" {}
}
`

// TestIPVSTunnelEncapsulation programs the TUN services of tunnelConfig
// with lvsd's reconciler and sends a client's SYN to each VIP: the real
// server's wire must carry it in the configured encapsulation, IP in IP,
// UDP to the GUE port, or GRE. The kernel (Debian's 6.1 cloud kernel in
// the lab) takes the tunnel attributes; ipvsadm shows what it kept.
func TestIPVSTunnelEncapsulation(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")

	front := lab.NewLAN(t, "client", "director")
	back := front.NewLAN("director", "ipip", "gue", "gre")
	front.AddAddr("client", "192.0.2.10/24")
	front.AddAddr("director", "192.0.2.1/24")
	for _, vip := range []string{"192.0.2.100", "192.0.2.101", "192.0.2.102"} {
		front.AddAddr("director", vip+"/32")
	}
	back.AddAddr("director", "198.51.100.1/24")
	for i, name := range []string{"ipip", "gue", "gre"} {
		back.AddAddr(name, fmt.Sprintf("198.51.100.%d/24", 11+i))
	}
	d := front.Host("director")

	cfg := resolveConfig(t, tunnelConfig)
	desired := plan.Services(cfg, plan.AllHealthy)
	startReconciler(t, dialIPVS(t, d), reconcile.Settings{Interval: time.Hour}, slog.LevelInfo, desired)
	want := "-A -t 192.0.2.100:80 -s wlc\n" +
		"-a -t 192.0.2.100:80 -r 198.51.100.11:80 -i -w 1 --tun-type ipip\n" +
		"-A -t 192.0.2.101:80 -s wlc\n" +
		"-a -t 192.0.2.101:80 -r 198.51.100.12:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n" +
		"-A -t 192.0.2.102:80 -s wlc\n" +
		"-a -t 192.0.2.102:80 -r 198.51.100.13:80 -i -w 1 --tun-type gre --tun-nocsum\n"
	if diff := cmp.Diff(want, d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n (-want +kernel):\n%s", diff)
	}

	client := front.Host("client")
	for _, tc := range []struct {
		server, vip, filter string
		// expr matches tcpdump's line of the encapsulated SYN.
		expr string
	}{
		{"ipip", "192.0.2.100:80", "ip proto 4", `198\.51\.100\.1 > 198\.51\.100\.11: .*192\.0\.2\.10\.\d+ > 192\.0\.2\.100\.80: Flags \[S\]`},
		{"gue", "192.0.2.101:80", "udp dst port 6080", `198\.51\.100\.1\.\d+ > 198\.51\.100\.12\.6080: UDP`},
		{"gre", "192.0.2.102:80", "ip proto 47", `198\.51\.100\.1 > 198\.51\.100\.13: GRE.*192\.0\.2\.10\.\d+ > 192\.0\.2\.102\.80: Flags \[S\]`},
	} {
		t.Run(tc.server, func(t *testing.T) {
			capture := back.Host(tc.server).Capture(t, "eth0", tc.filter)
			// The real server cannot answer (it decapsulates nothing):
			// the connection times out, the SYN is what counts.
			go func() {
				_ = client.Do(func() error {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					c, err := (&net.Dialer{}).DialContext(ctx, "tcp", tc.vip)
					if err == nil {
						c.Close()
					}
					return err
				})
			}()
			f, err := capture.WaitMatch(10*time.Second, tc.expr)
			if err != nil {
				t.Fatalf("no encapsulated SYN on %s's wire: %v; captured:\n%v", tc.server, err, capture.Lines())
			}
			t.Logf("%s", f.Text)
		})
	}
}
