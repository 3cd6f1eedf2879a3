//go:build linux

package realserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/internal/sysctl"
)

// sysctlTree makes a directory shaped like /proc/sys with the given values.
func sysctlTree(t *testing.T, values map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for k, v := range values {
		p := sysctl.Path(root, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, v+"\n")
	}
	return root
}

func TestSysctlFiles(t *testing.T) {
	root := sysctlTree(t, map[string]string{
		"net.ipv4.conf.all.arp_ignore":   "0",
		"net.ipv4.conf.all.arp_announce": "1",
		"net.ipv4.conf.lo.rp_filter":     "2",
	})
	got, err := readSysctls(root, SysctlKeys())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"net.ipv4.conf.all.arp_ignore":   "0",
		"net.ipv4.conf.all.arp_announce": "1",
		"net.ipv4.conf.lo.rp_filter":     "2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readSysctls (-want +got):\n%s", diff)
	}

	k := &Kernel{root: root}
	if err := k.Apply(Change{Kind: SysctlSet, Key: "net.ipv4.conf.all.arp_ignore", From: "0", To: "1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sysctl.Path(root, "net.ipv4.conf.all.arp_ignore"))
	if err != nil || string(b) != "1\n" {
		t.Errorf("arp_ignore file = %q, %v; want \"1\\n\"", b, err)
	}
	// A key without a file is an error, not a new file.
	err = k.Apply(Change{Kind: SysctlSet, Key: "net.ipv4.conf.tunl0.rp_filter", To: "0"})
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.tunl0.rp_filter") {
		t.Errorf("setting a missing key: %v", err)
	}
	if _, err := os.Stat(sysctl.Path(root, "net.ipv4.conf.tunl0.rp_filter")); !os.IsNotExist(err) {
		t.Errorf("setting a missing key created it: %v", err)
	}
}
