package sysctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes a sysctl root with the given keys (slash paths) and values.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for k, v := range files {
		p := filepath.Join(root, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPath(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"net.ipv4.vs.expire_nodest_conn", "/r/net/ipv4/vs/expire_nodest_conn"},
		{"net/ipv4/conf/eth0.100/arp_ignore", "/r/net/ipv4/conf/eth0.100/arp_ignore"},
		{"net.ipv4.conf.all.send_redirects", "/r/net/ipv4/conf/all/send_redirects"},
	} {
		if got := Path("/r", tc.key); got != tc.want {
			t.Errorf("Path(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestReadWrite(t *testing.T) {
	root := tree(t, map[string]string{"net/ipv4/vs/conn_reuse_mode": "1"})
	if v, err := Read(root, "net.ipv4.vs.conn_reuse_mode"); err != nil || v != "1" {
		t.Fatalf("Read = %q, %v; want 1", v, err)
	}
	if err := Write(root, "net.ipv4.vs.conn_reuse_mode", "3"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/ipv4/vs/conn_reuse_mode")); string(b) != "3\n" {
		t.Errorf("file holds %q after Write, want \"3\\n\"", b)
	}

	_, err := Read(root, "net.ipv4.vs.snat_reroute")
	if !IsNotExist(err) || !strings.Contains(err.Error(), "net.ipv4.vs.snat_reroute") {
		t.Errorf("Read of a missing key: %v, want a not-exist error naming the key", err)
	}
	err = Write(root, "net/ipv4/conf/eth0.100/arp_ignore", "1")
	if !IsNotExist(err) || !strings.Contains(err.Error(), "net.ipv4.conf.eth0.100.arp_ignore") {
		t.Errorf("Write of a missing key: %v, want a not-exist error naming the key", err)
	}
	if _, err := os.Stat(filepath.Join(root, "net/ipv4/conf")); !os.IsNotExist(err) {
		t.Errorf("Write created a missing key's directory (%v)", err)
	}
}

func TestSavedRestores(t *testing.T) {
	root := tree(t, map[string]string{
		"net/ipv4/conf/all/send_redirects":  "1",
		"net/ipv4/conf/eth0/send_redirects": "1",
	})
	s := NewSaved(root)
	if s.Changed() {
		t.Fatal("a new Saved says it changed something")
	}
	for _, step := range []struct{ key, value string }{
		{"net.ipv4.conf.all.send_redirects", "0"},
		{"net.ipv4.conf.eth0.send_redirects", "0"},
		// A second change must not make "0" the value to restore.
		{"net.ipv4.conf.all.send_redirects", "0"},
	} {
		if err := s.Set(step.key, step.value); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := Read(root, "net.ipv4.conf.eth0.send_redirects"); v != "0" {
		t.Fatalf("after Set: %q, want 0", v)
	}
	if err := s.Set("net.ipv4.conf.eth1.send_redirects", "0"); !IsNotExist(err) {
		t.Errorf("Set of a missing key: %v, want a not-exist error", err)
	}
	if !s.Changed() {
		t.Fatal("Changed is false after two changes")
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"net.ipv4.conf.all.send_redirects", "net.ipv4.conf.eth0.send_redirects"} {
		if v, _ := Read(root, k); v != "1" {
			t.Errorf("%s = %q after Restore, want 1", k, v)
		}
	}
	if s.Changed() {
		t.Error("Changed is true after Restore")
	}
}

func TestRestoreGoesOnPastAFailure(t *testing.T) {
	root := tree(t, map[string]string{
		"net/ipv4/conf/a/send_redirects": "1",
		"net/ipv4/conf/b/send_redirects": "1",
	})
	s := NewSaved(root)
	for _, k := range []string{"net.ipv4.conf.a.send_redirects", "net.ipv4.conf.b.send_redirects"} {
		if err := s.Set(k, "0"); err != nil {
			t.Fatal(err)
		}
	}
	// Device b goes away before the restore.
	if err := os.RemoveAll(filepath.Join(root, "net/ipv4/conf/b")); err != nil {
		t.Fatal(err)
	}
	err := s.Restore()
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.b.send_redirects") {
		t.Errorf("Restore: %v, want the error of device b", err)
	}
	if v, _ := Read(root, "net.ipv4.conf.a.send_redirects"); v != "1" {
		t.Errorf("device a: %q after Restore, want 1 despite b's failure", v)
	}
}
