package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/internal/sysctl"
)

// sysctlNames are the sysctls ApplySysctls writes.
var sysctlNames = []string{"expire_nodest_conn", "expire_quiescent_template", "conn_reuse_mode", "sloppy_tcp", "sloppy_sctp"}

// sysctlDir makes root/net/ipv4/vs with the files holding old, as the
// kernel shows them once ip_vs is loaded.
func sysctlDir(t *testing.T, old string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "net", "ipv4", "vs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range sysctlNames {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readSysctls(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range sysctlNames {
		v, err := sysctl.Read(root, "net.ipv4.vs."+name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	return out
}

func TestApplySysctls(t *testing.T) {
	for _, tc := range []struct {
		name string
		// The config's resolved values: they default from the
		// services' on_failure, config/ does the resolving.
		cfg  Sysctls
		old  string
		want map[string]string
	}{
		{"remove services (default nodest)", Sysctls{ExpireNodestConn: true, ConnReuseMode: 1}, "0\n",
			map[string]string{"expire_nodest_conn": "1", "expire_quiescent_template": "0", "conn_reuse_mode": "1", "sloppy_tcp": "0", "sloppy_sctp": "0"}},
		{"quiescent services (default template)", Sysctls{ExpireQuiescentTemplate: true, ConnReuseMode: 1}, "0\n",
			map[string]string{"expire_nodest_conn": "0", "expire_quiescent_template": "1", "conn_reuse_mode": "1", "sloppy_tcp": "0", "sloppy_sctp": "0"}},
		{"both, DR services", Sysctls{ExpireNodestConn: true, ExpireQuiescentTemplate: true, ConnReuseMode: 3}, "0\n",
			map[string]string{"expire_nodest_conn": "1", "expire_quiescent_template": "1", "conn_reuse_mode": "3", "sloppy_tcp": "0", "sloppy_sctp": "0"}},
		{"announced by BGP: sloppy", Sysctls{ExpireQuiescentTemplate: true, ConnReuseMode: 3, SloppyTCP: true, SloppySCTP: true}, "0\n",
			map[string]string{"expire_nodest_conn": "0", "expire_quiescent_template": "1", "conn_reuse_mode": "3", "sloppy_tcp": "1", "sloppy_sctp": "1"}},
		{"turned off", Sysctls{}, "1\n",
			map[string]string{"expire_nodest_conn": "0", "expire_quiescent_template": "0", "conn_reuse_mode": "0", "sloppy_tcp": "1", "sloppy_sctp": "1"}}, // sloppy left alone
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := sysctlDir(t, tc.old)
			if err := ApplySysctls(root, tc.cfg); err != nil {
				t.Fatalf("ApplySysctls: %v", err)
			}
			if diff := cmp.Diff(tc.want, readSysctls(t, root)); diff != "" {
				t.Errorf("sysctls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplySysctlsWithoutIPVS(t *testing.T) {
	root := t.TempDir() // no net/ipv4/vs: ip_vs not loaded
	err := ApplySysctls(root, Sysctls{ExpireNodestConn: true})
	if err == nil {
		t.Fatal("ApplySysctls without the files = nil")
	}
	if !strings.Contains(err.Error(), "modprobe ip_vs") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %q, want one line that says to load ip_vs", err)
	}
	if _, err := os.Stat(filepath.Join(root, "net")); !os.IsNotExist(err) {
		t.Errorf("ApplySysctls created files: %v", err)
	}
}
