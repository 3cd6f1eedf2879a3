//go:build vm

package vmtests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/ipvs"
)

// trafficConfig is the director's cluster file: one virtual service per
// forwarding method and scheduler, each on its own VIP so that the
// connections of one case never meet the rules of another.
const trafficConfig = `
cluster = "traffic"

virtual_server "nat-rr" {
  address   = "192.0.2.100:80"
  scheduler = "rr"
  method    = "nat"
  real_server "198.51.100.11:80" {
    weight = 1
  }
  real_server "198.51.100.12:8080" {
    weight = 1
  }
}

virtual_server "nat-wrr" {
  address   = "192.0.2.101:80"
  scheduler = "wrr"
  method    = "nat"
  real_server "198.51.100.11:80" {
    weight = 3
  }
  real_server "198.51.100.12:8080" {
    weight = 1
  }
}

virtual_server "dr-rr" {
  address   = "192.0.2.102:80"
  scheduler = "rr"
  method    = "dr"
  real_server "192.0.2.21:80" {
    weight = 1
  }
  real_server "192.0.2.22:80" {
    weight = 1
  }
}

virtual_server "dr-wrr" {
  address   = "192.0.2.103:80"
  scheduler = "wrr"
  method    = "dr"
  real_server "192.0.2.21:80" {
    weight = 3
  }
  real_server "192.0.2.22:80" {
    weight = 1
  }
}

ipvs {
  reconcile_interval = "1s"
}
`

// resolveConfig parses and resolves a cluster file that declares no node.
func resolveConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	f, diags := config.NewLoader().Parse("lab.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("parsing the lab config: %v", diags)
	}
	cfg, diags := f.Resolve("")
	if diags.HasErrors() {
		t.Fatalf("resolving the lab config: %v", diags)
	}
	return cfg
}

// dialIPVS opens lvsd's IPVS client on h's namespace: dialled there, its
// socket stays there.
func dialIPVS(t testing.TB, h *lab.Host) *ipvs.Client {
	t.Helper()
	var c *ipvs.Client
	err := h.Do(func() error {
		var err error
		c, err = ipvs.Dial()
		return err
	})
	if err != nil {
		t.Fatalf("dialing IPVS in %s: %v", h.Name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// logWriter sends log lines to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startReconciler runs lvsd's reconciler on c with desired as its table
// until the test ends, and returns once its first round is done.
func startReconciler(t testing.TB, c *ipvs.Client, cfg reconcile.Settings, level slog.Level, desired []ipvs.Service, opts ...reconcile.Option) *reconcile.Reconciler {
	t.Helper()
	opts = append([]reconcile.Option{
		reconcile.WithSettings(cfg),
		reconcile.WithLogger(slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: level}))),
	}, opts...)
	r := reconcile.New(c, opts...)
	if desired != nil {
		r.SetDesired(desired)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reconciler Run = %v", err)
		}
	})
	select {
	case <-r.Reconciled():
	case <-time.After(2 * time.Minute):
		t.Fatal("no first reconcile within 2 minutes")
	}
	return r
}

// saveOf is the ipvsadm -S -n text of a table.
func saveOf(t testing.TB, svcs []ipvs.Service) string {
	t.Helper()
	var b strings.Builder
	if err := ipvs.WriteSave(&b, svcs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// webServer serves name as its only page from h on port.
func webServer(t *testing.T, h *lab.Host, name string, port int) {
	t.Helper()
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Start("busybox", "httpd", "-f", "-p", fmt.Sprint(port), "-h", www)
}

// httpClient is an HTTP client whose connections are made in h's
// namespace, one per request: IPVS schedules connections, not requests.
func httpClient(h *lab.Host) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := h.Do(func() error {
			var err error
			conn, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

// page fetches http://addr/ and returns the body without its newline.
func page(c *http.Client, addr string) (string, error) {
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s/: %s", addr, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// waitPage polls addr until it serves want.
func waitPage(t *testing.T, c *http.Client, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := page(c, addr)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("http://%s/ never served %q: got %q, %v", addr, want, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIPVSTraffic programs a director with lvsd's reconciler from a
// cluster file and sends real HTTP requests through its VIPs: NAT to real
// servers behind it (their default gateway), DR to real servers on the
// client's LAN that hold the VIP on lo. Each real server answers its own
// name; the answers must follow the scheduler.
func TestIPVSTraffic(t *testing.T) {
	vm.RequireGuest(t)
	run(t, "modprobe", "ip_vs")

	front := lab.NewLAN(t, "client", "director", "dr1", "dr2")
	back := front.NewLAN("director", "nat1", "nat2")
	front.AddAddr("client", "192.0.2.10/24")
	front.AddAddr("director", "192.0.2.1/24")
	for _, vip := range []string{"192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103"} {
		front.AddAddr("director", vip+"/32")
	}
	back.AddAddr("director", "198.51.100.1/24")
	d := front.Host("director")
	d.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.ip_forward=1")

	// NAT: the replies must come back through the director.
	for i, name := range []string{"nat1", "nat2"} {
		h := back.Host(name)
		back.AddAddr(name, fmt.Sprintf("198.51.100.%d/24", 11+i))
		h.MustExec(t, "ip", "route", "add", "default", "via", "198.51.100.1")
		webServer(t, h, name, []int{80, 8080}[i])
	}
	// DR: the real servers accept the VIPs locally but never answer ARP
	// for them, so the client's LAN keeps resolving them to the director.
	for i, name := range []string{"dr1", "dr2"} {
		h := front.Host(name)
		front.AddAddr(name, fmt.Sprintf("192.0.2.%d/24", 21+i))
		for _, vip := range []string{"192.0.2.102", "192.0.2.103"} {
			h.MustExec(t, "ip", "addr", "add", vip+"/32", "dev", "lo")
		}
		h.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.conf.all.arp_ignore=1")
		h.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.conf.all.arp_announce=2")
		webServer(t, h, name, 80)
	}

	cfg := resolveConfig(t, trafficConfig)
	desired := plan.Services(cfg, plan.AllHealthy)
	startReconciler(t, dialIPVS(t, d), reconcile.Settings{Interval: cfg.IPVS.ReconcileInterval}, slog.LevelInfo, desired)
	if diff := cmp.Diff(saveOf(t, desired), d.MustExec(t, "ipvsadm", "-S", "-n")); diff != "" {
		t.Fatalf("ipvsadm -S -n after the first reconcile (-plan +kernel):\n%s", diff)
	}

	// Every real server is up before counting, so no request of the
	// count can fail and shift the scheduler's sequence.
	direct := httpClient(d)
	waitPage(t, direct, "198.51.100.11:80", "nat1")
	waitPage(t, direct, "198.51.100.12:8080", "nat2")
	waitPage(t, direct, "192.0.2.21:80", "dr1")
	waitPage(t, direct, "192.0.2.22:80", "dr2")

	client := httpClient(front.Host("client"))
	const n = 40
	for _, tc := range []struct {
		name, vip    string
		heavy, light string
		weighted     bool
	}{
		{name: "nat-rr", vip: "192.0.2.100:80", heavy: "nat1", light: "nat2"},
		{name: "nat-wrr", vip: "192.0.2.101:80", heavy: "nat1", light: "nat2", weighted: true},
		{name: "dr-rr", vip: "192.0.2.102:80", heavy: "dr1", light: "dr2"},
		{name: "dr-wrr", vip: "192.0.2.103:80", heavy: "dr1", light: "dr2", weighted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seq []string
			counts := map[string]int{}
			for i := 0; i < n; i++ {
				got, err := page(client, tc.vip)
				if err != nil {
					t.Fatalf("request %d through %s: %v (answers so far: %v)", i+1, tc.vip, err, seq)
				}
				seq = append(seq, got)
				counts[got]++
			}
			t.Logf("%d requests through %s: %v", n, tc.vip, counts)
			if len(counts) != 2 || counts[tc.heavy] == 0 || counts[tc.light] == 0 {
				t.Fatalf("answers %v, want both %s and %s", counts, tc.heavy, tc.light)
			}
			if !tc.weighted {
				// rr: strictly alternating, hence equal halves.
				for i := 1; i < len(seq); i++ {
					if seq[i] == seq[i-1] {
						t.Fatalf("rr answered %s twice in a row at request %d: %v", seq[i], i+1, seq)
					}
				}
				return
			}
			// wrr 3:1: 30 and 10 of 40, give or take one for where the
			// scheduler's cycle stood.
			if h, l := counts[tc.heavy], counts[tc.light]; h < 29 || h > 31 || l < 9 || l > 11 {
				t.Errorf("wrr 3:1 answered %s %d times and %s %d times of %d, want 30±1 and 10±1: %v", tc.heavy, h, tc.light, l, n, seq)
			}
		})
	}
	out := d.MustExec(t, "ipvsadm", "-Ln", "--stats")
	t.Logf("director's counters:\n%s", out)
}
