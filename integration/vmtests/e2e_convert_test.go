//go:build vm

package vmtests

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
)

// convertKeepalived is director a's keepalived.conf of the converted pair,
// as an operator would have it: a tracking script with a weight, notify,
// HTTP_GET checks with digests (keepalived's default retry on one, an
// explicit one on the other), a sorry server and the sync daemon. Director
// b's differs in priority and addresses only. Verbs: router_id,
// unicast_src_ip, priority, unicast_peer, the notify script, the two
// digests.
const convertKeepalived = `global_defs {
  router_id %s
  lvs_sync_daemon eth0 VI_1
}

vrrp_script chk_up {
  script "/sbin/ip link show dev chk0"
  interval 1
  weight -60
}

vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int 1
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  authentication {
    auth_type PASS
    auth_pass e2e-pass
  }
  virtual_ipaddress {
    192.0.2.100/32
  }
  track_script {
    chk_up
  }
  notify %s
}

virtual_server 192.0.2.100 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  sorry_server 192.0.2.23 80

  real_server 192.0.2.21 80 {
    weight 1
    HTTP_GET {
      url {
        path /index.html
        digest %s
      }
      connect_timeout 1
      retry 1
      delay_before_retry 0
    }
  }
  real_server 192.0.2.22 80 {
    weight 1
    HTTP_GET {
      url {
        path /index.html
        digest %s
      }
      connect_timeout 1
    }
  }
}
`

// convertService is the name lvsd convert gives the virtual server.
const convertService = "192.0.2.100:80"

// TestE2EConvertedPair moves a keepalived pair to lvsd as the README
// says: `lvsd convert` of both directors' keepalived.conf, `lvsd validate`
// of the result, then both directors run it under client traffic. The
// client is served by both real servers through the master; the sync
// daemon runs in the master's role; a tracking script failing on the
// master lowers its priority by the script's weight and the backup takes
// over, with keepalived's notify arguments; a real server whose page no
// longer matches its digest leaves the table; with no real server left
// the sorry server answers.
func TestE2EConvertedPair(t *testing.T) {
	vm.RequireGuest(t)
	l := newE2ELab(t)
	a, b := l.dirs["a"], l.dirs["b"]
	dir := t.TempDir()

	notifyLog := filepath.Join(dir, "notify.log")
	notify := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(notify, []byte("#!/bin/sh\necho \"$*\" >> "+notifyLog+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	digest := func(body string) string {
		sum := md5.Sum([]byte(body))
		return hex.EncodeToString(sum[:])
	}
	files := map[string]string{
		"a": fmt.Sprintf(convertKeepalived, "dir_a", e2ePrioA, e2eDirA, e2eDirB, notify, digest("rs1\n"), digest("rs2\n")),
		"b": fmt.Sprintf(convertKeepalived, "dir_b", e2ePrioB, e2eDirB, e2eDirA, notify, digest("rs1\n"), digest("rs2\n")),
	}
	var confs []string
	for _, name := range []string{"a", "b"} {
		p := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		confs = append(confs, p)
	}
	converted := filepath.Join(dir, "cluster.hcl")
	out, err := exec.Command(l.lvsd, append([]string{"convert", "--names", "a,b", "-o", converted}, confs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("lvsd convert a.conf b.conf: %v\n%s", err, out)
	}
	t.Logf("lvsd convert: %s", strings.TrimSpace(string(out)))
	if out, err := exec.Command(l.lvsd, "validate", "-c", converted).CombinedOutput(); err != nil {
		t.Fatalf("lvsd validate -c cluster.hcl: %v\n%s", err, out)
	}
	src, err := os.ReadFile(converted)
	if err != nil {
		t.Fatal(err)
	}
	l.writeFile(src)
	for _, d := range []*e2eDirector{a, b} {
		d.host.MustExec(t, "ip", "link", "add", "chk0", "type", "dummy")
	}
	// The sorry server, rs3, is in no real_server block: it answers
	// only when the service has no real server left.
	for _, name := range []string{"rs1", "rs2"} {
		if err := os.WriteFile(filepath.Join(l.servers[name].www, "index.html"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	l.start(a)
	l.waitState(a, status.StateMaster, 15*time.Second)
	l.start(b)
	l.waitState(b, status.StateBackup, 10*time.Second)
	both := []string{e2eRS1 + ":80", e2eRS2 + ":80"}
	for _, d := range []*e2eDirector{a, b} {
		e2eWaitInIPVS(t, d, convertService, 20*time.Second, both)
	}
	if out := a.host.MustExec(t, "ipvsadm", "-L", "--daemon"); !strings.Contains(out, "master sync daemon") {
		t.Errorf("a, the master, runs no master sync daemon:\n%s", out)
	}
	if out := b.host.MustExec(t, "ipvsadm", "-L", "--daemon"); !strings.Contains(out, "backup sync daemon") {
		t.Errorf("b, the backup, runs no backup sync daemon:\n%s", out)
	}

	c := e2eStartClient(t, l.client)
	defer c.stop()
	begin := time.Now()
	c.waitServed(t, "rs1", begin, 10*time.Second)
	c.waitServed(t, "rs2", begin, 10*time.Second)
	l.say("through a: %s", e2eCounts(c.window(begin, time.Now())))

	// a's tracking script fails: 150 - 60 = 90 < 100, b takes over.
	a.host.MustExec(t, "ip", "link", "del", "chk0")
	l.waitState(b, status.StateMaster, 10*time.Second)
	doc := l.waitState(a, status.StateBackup, 5*time.Second)
	if in, _ := e2eInstance(doc); in.EffectivePriority != e2ePrioA-60 {
		t.Errorf("a's effective priority with its script failing = %d, want %d", in.EffectivePriority, e2ePrioA-60)
	}
	moved := time.Now()
	c.waitServed(t, "rs1", moved, 10*time.Second)
	c.waitServed(t, "rs2", moved, 10*time.Second)
	waitNotify(t, notifyLog, 10*time.Second,
		fmt.Sprintf("INSTANCE VI_1 MASTER %d", e2ePrioA),
		fmt.Sprintf("INSTANCE VI_1 MASTER %d", e2ePrioB),
		fmt.Sprintf("INSTANCE VI_1 BACKUP %d", e2ePrioA-60))

	// rs2's page changes: its digest no longer matches, it leaves both
	// tables and the client is served by rs1 alone.
	if err := os.WriteFile(filepath.Join(l.servers["rs2"].www, "index.html"), []byte("rs2 changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*e2eDirector{b, a} {
		e2eWaitInIPVS(t, d, convertService, 20*time.Second, []string{e2eRS1 + ":80"})
	}
	// Then rs1 dies: no real server is left, the sorry server answers.
	if err := l.servers["rs1"].proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sorry := time.Now()
	c.waitServed(t, "rs3", sorry, 20*time.Second)
	l.say("with no real server left: %s", e2eCounts(c.window(sorry, time.Now())))
}

// waitNotify waits until the notify log holds every line of want.
func waitNotify(t *testing.T, log string, within time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(log)
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(b), w+"\n") {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notify log lacks %q after %v:\n%s", missing, within, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
