//go:build vm

// Package vmtests holds tests that need a kernel with IPVS. They are built
// only with the vm tag and run inside the lab VM: the host-side test
// TestVMGoTests in package integration boots it and runs them there.
package vmtests

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
)

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out)
}

func TestIPVSModuleLoads(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("no /proc/net/ip_vs after modprobe ip_vs: %v", err)
	}
	// The scheduler is loaded by the kernel on demand through
	// /sbin/modprobe: this fails if that path is missing.
	run(t, "ipvsadm", "-A", "-t", "192.0.2.80:80", "-s", "wlc")
	t.Cleanup(func() { _, _ = exec.Command("ipvsadm", "-C").CombinedOutput() })
	out := run(t, "ipvsadm", "-S", "-n")
	if want := "-A -t 192.0.2.80:80 -s wlc"; !strings.Contains(out, want) {
		t.Errorf("ipvsadm -S -n = %q, want a line %q", out, want)
	}
}

// TestNamespacesInsideVM builds a lab LAN inside the guest and checks that
// each namespace has IPVS tables of its own, as lvsd's per-namespace
// tests will rely on.
func TestNamespacesInsideVM(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "a", "b")
	lan.AddAddr("a", "192.0.2.1/24")
	lan.AddAddr("b", "192.0.2.2/24")
	lan.Host("a").MustExec(t, "busybox", "ping", "-c", "1", "-W", "3", "192.0.2.2")

	lan.Host("a").MustExec(t, "ipvsadm", "-A", "-t", "192.0.2.1:80", "-s", "rr")
	if out := lan.Host("a").MustExec(t, "ipvsadm", "-S", "-n"); !strings.Contains(out, "-A -t 192.0.2.1:80 -s rr") {
		t.Errorf("service missing in a's namespace: %q", out)
	}
	if out := lan.Host("b").MustExec(t, "ipvsadm", "-S", "-n"); strings.TrimSpace(out) != "" {
		t.Errorf("a's service leaked into b's namespace: %q", out)
	}
}

// TestNATForwarding sends a request through a NAT director to a real
// server on a second LAN and checks the server's page comes back: real
// IPVS forwarding between lab namespaces.
func TestNATForwarding(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")
	front := lab.NewLAN(t, "client", "director")
	back := front.NewLAN("director", "server")
	front.AddAddr("client", "192.0.2.10/24")
	front.AddAddr("director", "192.0.2.1/24")
	back.AddAddr("director", "198.51.100.1/24")
	back.AddAddr("server", "198.51.100.10/24")

	d, s := front.Host("director"), back.Host("server")
	d.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.ip_forward=1")
	s.MustExec(t, "ip", "route", "add", "default", "via", "198.51.100.1")
	d.MustExec(t, "ipvsadm", "-A", "-t", "192.0.2.1:80", "-s", "rr")
	d.MustExec(t, "ipvsadm", "-a", "-t", "192.0.2.1:80", "-r", "198.51.100.10:80", "-m")

	www := t.TempDir()
	if err := os.WriteFile(www+"/index.html", []byte("served by 198.51.100.10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start("busybox", "httpd", "-f", "-p", "80", "-h", www)

	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		body, err = get(front.Host("client"), "192.0.2.1:80")
		if err == nil && bytes.Contains(body, []byte("served by 198.51.100.10")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no page through the director: %v: %q", err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := d.MustExec(t, "ipvsadm", "-Ln", "--stats"); !strings.Contains(out, "198.51.100.10:80") {
		t.Errorf("director's stats lack the real server: %s", out)
	}
}

// get sends an HTTP/1.0 request from inside the host. The socket is made
// on the namespace's thread; once made, it stays in that namespace.
func get(h *lab.Host, addr string) ([]byte, error) {
	var conn net.Conn
	err := h.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: vip\r\n\r\n"); err != nil {
		return nil, err
	}
	return io.ReadAll(conn)
}

// TestCaptureInsideVM checks the lab's observer capture works in the
// guest (tcpdump and its libraries are there when the host test asks for
// them).
func TestCaptureInsideVM(t *testing.T) {
	vm.RequireGuest(t)
	lan := lab.NewLAN(t, "a", "b")
	lan.AddAddr("a", "192.0.2.1/24")
	lan.AddAddr("b", "192.0.2.2/24")
	capture := lan.Capture(t, "arp")
	lan.Host("a").MustExec(t, "busybox", "ping", "-c", "1", "-W", "3", "192.0.2.2")
	if _, err := capture.WaitMatch(5*time.Second, `Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1`); err != nil {
		t.Fatalf("%v; captured %q", err, capture.Lines())
	}
}
