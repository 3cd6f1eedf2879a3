package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			out, _, code := run(t, name, "-h")
			if code != 0 {
				t.Fatalf("lvsd %s -h: exit %d", name, code)
			}
			if !strings.Contains(out, "Usage: lvsd "+name) || !strings.Contains(out, "Example:\n  lvsd "+name) {
				t.Errorf("lvsd %s -h lacks usage or example:\n%s", name, out)
			}
		})
	}
	out, _, code := run(t, "-h")
	if code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("lvsd -h: exit %d\n%s", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, code := run(t, "frobnicate")
	if code != exitStart || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "lvsd ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cluster.hcl")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateReportsPositionAndSnippet(t *testing.T) {
	p := writeFile(t, "cluster = \"x\"\n\nvrrp_instance \"VI_1\" {\n  interface = \"eth0\"\n  vrid = 300\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n")
	_, errOut, code := run(t, "validate", "-c", p)
	if code != exitConfig {
		t.Fatalf("exit %d, want %d\n%s", code, exitConfig, errOut)
	}
	if !strings.Contains(errOut, p+":5:10: ") {
		t.Errorf("stderr lacks %s:5:10:\n%s", p, errOut)
	}
	if !strings.Contains(errOut, "vrid = 300") {
		t.Errorf("stderr lacks the source snippet:\n%s", errOut)
	}
}

func TestValidateUndeclaredNode(t *testing.T) {
	p := writeFile(t, "cluster = \"x\"\nnode \"a\" {\n  priority = 100\n}\n")
	_, errOut, code := run(t, "validate", "-c", p, "--node", "b")
	if code != exitConfig || !strings.Contains(errOut, `"b"`) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestPlanDefaultsToTheOnlyNode(t *testing.T) {
	p := writeFile(t, `cluster = "x"
node "solo" {
  priority = 120
}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 9
  virtual_ips = ["192.0.2.1/32"]
}
virtual_server "s" {
  address = "192.0.2.1:443"
  real_server "192.0.2.10" {}
}
`)
	out, errOut, code := run(t, "plan", "-c", p)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	want := "-A -t 192.0.2.1:443 -s wlc\n" +
		"-a -t 192.0.2.1:443 -r 192.0.2.10:443 -g -w 1\n" +
		"vrrp_instance VI_1 interface eth0 vrid 9 version 3 priority 120 advert_interval 1s multicast virtual_ips 192.0.2.1/32\n"
	if out != want {
		t.Errorf("plan output:\n%s\nwant:\n%s", out, want)
	}
}

func TestMissingConfigFlag(t *testing.T) {
	_, errOut, code := run(t, "plan")
	if code != exitConfig || !strings.Contains(errOut, "LVSD_CONFIG") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestValidateRefusesHostileFiles checks that what is not a cluster file,
// or one too deep to parse, is a config error (exit 1) that names the
// file, at once.
func TestValidateRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep := writeFile(t, "cluster = \"x\"\nx = "+strings.Repeat("[", 100_000)+"\n")
	tests := []struct{ file, want string }{
		{"/dev/zero", "/dev/zero: reading config: is a device, not a regular file\n"},
		{fifo, fifo + ": reading config: is a FIFO, not a regular file\n"},
		{dir, dir + ": reading config: is a directory, not a regular file\n"},
		{deep, deep + ":2:"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"validate", "plan"} {
			_, errOut, code := run(t, cmd, "-c", tt.file, "--node", "a")
			if code != exitConfig || !strings.HasPrefix(errOut, tt.want) {
				t.Errorf("lvsd %s -c %s: exit %d, stderr %q; want %d, %q", cmd, tt.file, code, errOut, exitConfig, tt.want)
			}
		}
	}
}

// nodesConfig is a cluster of n node blocks and one instance.
func nodesConfig(n int) string {
	var b strings.Builder
	b.WriteString("cluster = \"x\"\n")
	for i := range n {
		fmt.Fprintf(&b, "node \"n%d\" {\n  priority = %d\n}\n", i, 1+i%254)
	}
	b.WriteString("vrrp_instance \"VI_1\" {\n  interface   = \"eth0\"\n  vrid        = 9\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n")
	return b.String()
}

// TestValidateLinearInNodes checks that validate's work grows with the
// number of node blocks, not with its square: four times the nodes may
// cost at most eight times the allocations (the square would be 16).
// Allocations, unlike time, do not depend on the machine's load.
func TestValidateLinearInNodes(t *testing.T) {
	cost := func(n int) (mallocs, bytes uint64) {
		p := writeFile(t, nodesConfig(n))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, errOut, code := run(t, "validate", "-c", p)
		runtime.ReadMemStats(&after)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("n%d, 1 VRRP instance(s)", n-1)) {
			t.Fatalf("validate of %d nodes: exit %d\n%s", n, code, errOut)
		}
		return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
	}
	m1, b1 := cost(2000)
	m4, b4 := cost(8000)
	t.Logf("2000 nodes: %d allocations, %d bytes; 8000 nodes: %d allocations, %d bytes", m1, b1, m4, b4)
	if m4 > 8*m1 || b4 > 8*b1 {
		t.Errorf("8000 nodes cost %.1f times the allocations and %.1f times the bytes of 2000, want at most 8",
			float64(m4)/float64(m1), float64(b4)/float64(b1))
	}
}
