package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/ipvs"
)

// TestRunDynamicWeight runs the daemon with an exec check whose exit
// status sets the weight (dynamic_weight), changes the status, and checks
// that each change of weight is one edit of the destination in the kernel,
// and that exit 0 brings back the configured weight.
func TestRunDynamicWeight(t *testing.T) {
	verifyNoLeaks(t)
	status := filepath.Join(t.TempDir(), "status")
	// The check forks a shell through lvsd's supervisor: on a loaded
	// machine that takes a good part of a second, so its timeout is
	// generous and one slow try does not remove the server (fall 3).
	// Written aside and renamed, so the check never reads a file cut short.
	setStatus := func(code string) {
		if err := os.WriteFile(status+".new", []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(status+".new", status); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("7")
	src := `cluster = "unit"
virtual_server "web" {
  address = "192.0.2.100:80"
  method  = "nat"
  real_server "127.0.0.2:80" {
    weight = 3
    health_check "exec" {
      command        = ["/bin/sh", "-c", "exit $(cat STATUS)"]
      dynamic_weight = true
      interval       = "300ms"
      timeout        = "250ms"
      rise           = 1
      fall           = 3
    }
  }
  real_server "127.0.0.3:80" {}
}
status {
  metrics_listen = ""
}
`
	src = strings.Replace(src, "STATUS", status, 1)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	startDaemon(t, src, sys)
	k := sys.kernel
	weightIs := func(want string) func() bool {
		return func() bool { return slices.Contains(k.dests(), want) }
	}
	eventually(t, 10*time.Second, "weight 5 from exit 7", weightIs("127.0.0.2:80 w5"))

	for _, step := range []struct{ code, want string }{
		{"12", "127.0.0.2:80 w10"},
		{"0", "127.0.0.2:80 w3"},
		{"2", "127.0.0.2:80 w0"},
	} {
		n := len(k.opsSince(0))
		setStatus(step.code)
		eventually(t, 10*time.Second, step.want+" from exit "+step.code, weightIs(step.want))
		ops := k.opsSince(n)
		if len(ops) != 1 || ops[0].Kind != ipvs.UpdateDest {
			t.Errorf("exit %s: ops %v, want one destination update", step.code, ops)
		}
	}
	// Exit 1 fails the check: the server leaves the table.
	setStatus("1")
	eventually(t, 10*time.Second, "the failed server removed", func() bool {
		return !slices.ContainsFunc(k.dests(), func(d string) bool { return strings.HasPrefix(d, "127.0.0.2:80 ") })
	})
}
