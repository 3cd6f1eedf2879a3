//go:build vm

package vmtests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
)

// TestCheckOptionsDriveIPVS runs `lvsd run` on a NAT director whose real
// servers are judged by an exec check with dynamic_weight, reading its exit
// status from a file, and a tcp check with connect_ip, bind_to and retry
// against a listener of the director's own; ipvsadm -Ln is the oracle of
// the weights it programs.
func TestCheckOptionsDriveIPVS(t *testing.T) {
	vm.RequireGuest(t)
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "director")
	d := lan.Host("director")
	lan.AddAddr("director", "192.0.2.1/24")

	// The tcp check's target: a listener on the director's loopback that
	// records where each connection came from.
	var ln net.Listener
	if err := d.Do(func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sources := map[string]int{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			mu.Lock()
			sources[host]++
			mu.Unlock()
			c.Close()
		}
	})
	stopListening := sync.OnceFunc(func() { ln.Close(); wg.Wait() })
	t.Cleanup(stopListening)

	dir := t.TempDir()
	statusFile := filepath.Join(dir, "status")
	setStatus := func(code string) {
		t.Helper()
		// Renamed into place, so the check never reads a file cut short.
		if err := os.WriteFile(statusFile+".new", []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(statusFile+".new", statusFile); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("7")
	cfg := filepath.Join(dir, "lvsd.hcl")
	src := fmt.Sprintf(`cluster = "checks"
node "director" {}
virtual_server "web" {
  address   = "192.0.2.100:80"
  scheduler = "wrr"
  method    = "nat"
  real_server "198.51.100.11:80" {
    weight = 3
    health_check "exec" {
      command        = ["/bin/sh", "-c", "exit $(cat %s)"]
      dynamic_weight = true
      # The emulated guest may take a few hundred milliseconds to start
      # a command under load.
      interval       = "2s"
      timeout        = "1500ms"
      rise           = 1
      fall           = 1
    }
  }
  real_server "198.51.100.12:80" {
    weight = 2
    health_check "tcp" {
      connect_ip         = "127.0.0.1"
      port               = 8080
      bind_to            = "127.0.0.2"
      interval           = "500ms"
      timeout            = "400ms"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "100ms"
    }
  }
}
status {
  metrics_listen = ""
}
`, statusFile)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := d.Start(bin, "run", "-c", cfg, "--node", "director", "--socket", filepath.Join(dir, "lvsd.sock"))
	t.Cleanup(func() {
		if err := proc.Stop(3 * time.Second); err != nil {
			t.Errorf("lvsd did not stop cleanly: %v", err)
		}
	})

	const vip, rsExec, rsTCP = "192.0.2.100:80", "198.51.100.11:80", "198.51.100.12:80"
	// waitWeights polls ipvsadm -Ln until the service has exactly want.
	waitWeights := func(what string, want map[string]int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			out := d.MustExec(t, "ipvsadm", "-Ln")
			got := hcParseList(t, out)[vip]
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ipvsadm -Ln shows %v for %s, want %v:\n%s", what, got, vip, want, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitWeights("exit 7 sets weight 5; the listener passes the tcp check", map[string]int{rsExec: 5, rsTCP: 2})
	mu.Lock()
	if len(sources) != 1 || sources["127.0.0.2"] == 0 {
		t.Errorf("the tcp check connected from %v, want 127.0.0.2 only", sources)
	}
	mu.Unlock()

	setStatus("12")
	waitWeights("exit 12 sets weight 10", map[string]int{rsExec: 10, rsTCP: 2})
	setStatus("0")
	waitWeights("exit 0 brings back the configured weight", map[string]int{rsExec: 3, rsTCP: 2})
	setStatus("1")
	waitWeights("exit 1 fails the check", map[string]int{rsTCP: 2})

	stopListening()
	waitWeights("the tcp check fails once its retry failed too", map[string]int{})
	if out := d.MustExec(t, "ipvsadm", "-Sn"); strings.Contains(out, "198.51.100.") {
		t.Errorf("ipvsadm -Sn still lists a real server:\n%s", out)
	}
}
