package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// The two files describe the same director: one VRRP instance holding the
// VIPs and n TCP NAT services of four real servers, each checked over
// HTTP. keepalived.conf is what `lvsd convert` would be given; lvsd.hcl is
// the cluster file with the same services.

// serviceAddr is service i's virtual address: 10.x.y.z port 80.
func serviceAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 80)
}

// realAddr is real server j of service i: 172.16.0.0/12, port 8080.
func realAddr(i, j int) netip.AddrPort {
	n := i*4 + j
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16 + byte(n>>16&15), byte(n >> 8), byte(n)}), 8080)
}

// writeHCL writes lvsd's cluster file for n services. weight0 is the
// weight of the first real server of the first service, so that a reload
// benchmark can change one weight.
func writeHCL(w io.Writer, n, weight0 int) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "cluster = \"bench\"\n\nnode \"director-a\" {\n  priority = 150\n}\n\n")
	fmt.Fprintf(b, "vrrp_instance \"VI_1\" {\n  interface   = \"eth0\"\n  vrid        = 51\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n\n")
	for i := range n {
		fmt.Fprintf(b, "virtual_server \"vs-%d\" {\n  address   = %q\n  scheduler = \"wlc\"\n  method    = \"nat\"\n\n", i, serviceAddr(i))
		fmt.Fprintf(b, "  health_check \"http\" {\n    path     = \"/healthz\"\n    interval = \"5s\"\n    timeout  = \"1s\"\n  }\n")
		for j := range 4 {
			weight := 1
			if i == 0 && j == 0 {
				weight = weight0
			}
			fmt.Fprintf(b, "\n  real_server %q {\n    weight = %d\n  }\n", realAddr(i, j), weight)
		}
		fmt.Fprintf(b, "}\n\n")
	}
	return b.Flush()
}

// writeKeepalived writes the equivalent keepalived.conf.
func writeKeepalived(w io.Writer, n int) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "global_defs {\n  router_id director-a\n}\n\n")
	fmt.Fprintf(b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.1/32\n  }\n}\n\n")
	for i := range n {
		a := serviceAddr(i)
		fmt.Fprintf(b, "virtual_server %s %d {\n  delay_loop 5\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n", a.Addr(), a.Port())
		for j := range 4 {
			r := realAddr(i, j)
			fmt.Fprintf(b, "\n  real_server %s %d {\n    weight 1\n    HTTP_GET {\n      url {\n        path /healthz\n        status_code 200\n      }\n      connect_timeout 1\n    }\n  }\n", r.Addr(), r.Port())
		}
		fmt.Fprintf(b, "}\n\n")
	}
	return b.Flush()
}

// generate writes lvsd.hcl and keepalived.conf for n services into dir.
func generate(dir string, n, weight0 int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"lvsd.hcl", func(w io.Writer) error { return writeHCL(w, n, weight0) }},
		{"keepalived.conf", func(w io.Writer) error { return writeKeepalived(w, n) }},
	}
	for _, f := range files {
		out, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if err := f.write(out); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}

// nodesHCL is a cluster file of n node blocks, each with its own
// priority, one VRRP instance they all run and one service.
func nodesHCL(n int) []byte {
	var b strings.Builder
	b.WriteString("cluster = \"nodes\"\n\n")
	for i := range n {
		fmt.Fprintf(&b, "node \"director-%d\" {\n  priority = %d\n}\n\n", i, 1+i%254)
	}
	b.WriteString("vrrp_instance \"VI_1\" {\n  interface   = \"eth0\"\n  vrid        = 51\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n\n")
	fmt.Fprintf(&b, "virtual_server \"web\" {\n  address = %q\n  method  = \"nat\"\n  real_server %q {}\n}\n", serviceAddr(0), realAddr(0, 0))
	return []byte(b.String())
}
