package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/internal/bgp"
	"github.com/lvsd/lvsd/internal/bgp/bgptest"
)

const bgpConfig = `cluster = "unit"
node "a" {
  router_id = "192.0.2.11"
}
bgp {
  asn        = 65010
  drain_wait = "50ms"
  linger     = "200ms"
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
virtual_server "web" {
  address     = "203.0.113.10:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  health_check "exec" {
    command  = ["test", "-e", "FLAG"]
    interval = "300ms"
    timeout  = "250ms" # a race build starts the supervisor in about 100 ms
    rise     = 1
    fall     = 1
  }
  real_server "198.51.100.2" {}
  real_server "198.51.100.3" {}
}
ipvs {
  reconcile_interval = "1s"
}
status {
  metrics_listen = ""
}
`

// orderSpeaker is the recording fake that also notes the kernel's table
// at each announcement: a VIP must be announced only once its service
// takes connections there.
type orderSpeaker struct {
	*bgptest.Speaker
	kernel *fakeKernel
	mu     sync.Mutex
	tables [][]string
}

func (s *orderSpeaker) Announce(vip netip.Addr, graceful bool) error {
	s.mu.Lock()
	s.tables = append(s.tables, s.kernel.dests())
	s.mu.Unlock()
	return s.Speaker.Announce(vip, graceful)
}

func TestRunBGPAnnounceWithdrawDrain(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	flag := filepath.Join(dir, "healthy")
	file := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(file, []byte(strings.Replace(bgpConfig, "FLAG", flag, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.11", "eth0")
	sp := &orderSpeaker{Speaker: bgptest.New(bgp.Neighbor{Name: "tor1", Address: netip.MustParseAddr("192.0.2.1")}), kernel: sys.kernel}
	var gotCfg bgp.Config
	d := New(Options{
		ConfigFile: file, Node: "a", Socket: filepath.Join(dir, "lvsd.sock"), Logger: testLogger(t),
		Notifier: &recordingNotifier{}, sys: sys,
		speaker: func(c bgp.Config, _ *slog.Logger) bgp.Speaker { gotCfg = c; return sp },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	vip := netip.MustParseAddr("203.0.113.10")

	// Unhealthy at start: the decision runs and announces nothing.
	eventually(t, 2*time.Second, "a decision", func() bool {
		doc := d.Status()
		return doc.BGP != nil && len(doc.BGP.Routes) == 1 && doc.BGP.Routes[0].Reason == "no healthy real server in web"
	})
	if calls := sp.Calls(); len(calls) != 0 {
		t.Fatalf("calls before any server is healthy: %v", calls)
	}
	if gotCfg.RouterID != netip.MustParseAddr("192.0.2.11") || gotCfg.ASN != 65010 || len(gotCfg.Neighbors) != 1 {
		t.Errorf("speaker config = %+v", gotCfg)
	}
	sys.mu.Lock()
	holds := slices.Clone(sys.holds)
	sys.mu.Unlock()
	if !slices.ContainsFunc(holds, func(h []netip.Addr) bool { return slices.Equal(h, []netip.Addr{vip}) }) {
		t.Errorf("VIP not held on lo: holds %v", holds)
	}

	// Healthy: announced, and only once the kernel forwards to the servers.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "announced", func() bool { _, ok := sp.Routes()[vip]; return ok })
	sp.mu.Lock()
	first := sp.tables[0]
	sp.mu.Unlock()
	if diff := cmp.Diff([]string{"198.51.100.2:80 w1", "198.51.100.3:80 w1"}, first); diff != "" {
		t.Errorf("kernel table when the VIP was announced (-want +got):\n%s", diff)
	}
	var m bytes.Buffer
	if err := d.Metrics().WriteText(&m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lvsd_bgp_announced{vip="203.0.113.10/32"} 1`, `lvsd_bgp_session_up{neighbor="tor1"} 0`} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Every server fails: withdrawn, and the servers stay at weight 0 so
	// that every director keeps the same Maglev table.
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "withdrawn", func() bool { _, ok := sp.Routes()[vip]; return !ok })
	eventually(t, 2*time.Second, "weight 0", func() bool {
		return slices.Equal(sys.kernel.dests(), []string{"198.51.100.2:80 w0", "198.51.100.3:80 w0"})
	})

	// Healthy again, then a stop: GRACEFUL_SHUTDOWN, then the withdrawal,
	// then the VIP leaves lo.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "announced again", func() bool { _, ok := sp.Routes()[vip]; return ok })
	sp.SetPeer("tor1", true)
	if doc := d.Status(); !doc.BGP.Sessions[0].Up || !doc.BGP.Routes[0].Announced {
		t.Errorf("status bgp = %+v", doc.BGP)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil
	want := []bgptest.Call{
		{Op: "announce", VIP: vip}, {Op: "withdraw", VIP: vip}, {Op: "announce", VIP: vip},
		{Op: "announce", VIP: vip, Graceful: true}, {Op: "withdraw", VIP: vip},
	}
	if diff := cmp.Diff(want, sp.Calls(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("speaker calls (-want +got):\n%s", diff)
	}
	sys.mu.Lock()
	last := sys.holds[len(sys.holds)-1]
	sys.mu.Unlock()
	if len(last) != 0 {
		t.Errorf("VIPs still held on lo after the stop: %v", last)
	}
}
