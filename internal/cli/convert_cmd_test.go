package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const kaDirector = `global_defs {
    router_id %s
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %s
    virtual_ipaddress {
        192.0.2.100
    }
}
virtual_server 192.0.2.100 80 {
    lb_kind DR
    protocol TCP
    real_server 192.0.2.12 80 {
    }
}
`

func writeKA(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConvertTwoDirectorsThenPlan(t *testing.T) {
	dir := t.TempDir()
	a := writeKA(t, dir, "a.conf", strings.Replace(strings.Replace(kaDirector, "%s", "lb1", 1), "%s", "150", 1))
	b := writeKA(t, dir, "b.conf", strings.Replace(strings.Replace(kaDirector, "%s", "lb2", 1), "%s", "100", 1))
	out := filepath.Join(dir, "web.hcl")
	_, errOut, code := run(t, "convert", "-o", out, a, b, "--names", "director-a,director-b")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "a.conf:2:5: warning: ignored: router_id") {
		t.Errorf("no warning for router_id:\n%s", errOut)
	}
	got, _, code := run(t, "plan", "-c", out, "--node", "director-b")
	want := "-A -t 192.0.2.100:80 -s wlc\n" +
		"-a -t 192.0.2.100:80 -r 192.0.2.12:80 -g -w 1\n" +
		"vrrp_instance VI_1 interface eth0 vrid 51 version 2 priority 100 advert_interval 1s multicast virtual_ips 192.0.2.100/32\n"
	if code != exitOK || got != want {
		t.Errorf("plan: exit %d\n%s\nwant:\n%s", code, got, want)
	}
}

func TestConvertNotSupported(t *testing.T) {
	dir := t.TempDir()
	p := writeKA(t, dir, "keepalived.conf", "vrrp_track_process proc {\n  process haproxy\n}\n")
	out := filepath.Join(dir, "out.hcl")
	_, errOut, code := run(t, "convert", "-o", out, p)
	if code != exitConfig || !strings.Contains(errOut, p+":1:1: not supported: vrrp_track_process (") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s written without --partial", out)
	}
	stdout, _, code := run(t, "convert", "--partial", p)
	if code != exitConfig || !strings.Contains(stdout, `cluster = "keepalived"`) {
		t.Errorf("--partial: exit %d, stdout:\n%s", code, stdout)
	}
}

func TestConvertUsage(t *testing.T) {
	_, errOut, code := run(t, "convert")
	if code != exitStart || !strings.Contains(errOut, "no keepalived.conf given") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	_, errOut, code = run(t, "convert", filepath.Join(t.TempDir(), "missing.conf"))
	if code != exitConfig || !strings.Contains(errOut, "missing.conf") {
		t.Errorf("missing file: exit %d, stderr:\n%s", code, errOut)
	}
}
