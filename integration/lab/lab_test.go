package lab

import (
	"context"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// namespaces lists the named network namespaces.
func namespaces(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(netnsDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func ping(t *testing.T, h *Host, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// busybox's ping: the lab needs busybox anyway and iputils may be absent.
	if _, err := h.Exec(ctx, "busybox", "ping", "-c", "1", "-W", "3", addr); err != nil {
		t.Fatal(err)
	}
}

func TestLANPingAndObserve(t *testing.T) {
	RequireRoot(t, "ip", "busybox", "tcpdump")
	lan := NewLAN(t, "a", "b")
	lan.AddAddr("a", "192.0.2.1/24")
	lan.AddAddr("b", "192.0.2.2/24")
	lan.AddAddr("a", "2001:db8::1/64")
	lan.AddAddr("b", "2001:db8::2/64")

	if got, want := lan.Host("a").MAC(), "02:1a:00:01:00:00"; got != want {
		t.Errorf("MAC of a = %q, want %q", got, want)
	}
	if !strings.HasPrefix(lan.Host("a").NS, lan.Prefix()+"-") {
		t.Errorf("namespace %q lacks the lab prefix %q", lan.Host("a").NS, lan.Prefix())
	}

	capture := lan.Capture(t, "arp")
	ping(t, lan.Host("a"), "192.0.2.2")
	ping(t, lan.Host("b"), "192.0.2.1")
	ping(t, lan.Host("a"), "2001:db8::2")

	// The observer, a third station, must see a's ARP request for b.
	f, err := capture.WaitMatch(5*time.Second, `02:1a:00:01:00:00 > ff:ff:ff:ff:ff:ff.*Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1`)
	if err != nil {
		t.Fatalf("%v; captured: %q", err, capture.Lines())
	}
	if d := time.Since(f.Time); d < 0 || d > time.Minute {
		t.Errorf("frame timestamp %v is %v from now", f.Time, d)
	}
	frames := capture.Stop()
	if len(frames) == 0 {
		t.Fatal("Stop returned no frames")
	}
}

func TestSecondLANAndLinks(t *testing.T) {
	RequireRoot(t, "ip", "busybox")
	front := NewLAN(t, "client", "director")
	back := front.NewLAN("director", "server")
	if got := back.Iface("director"); got != "eth1" {
		t.Fatalf("director's interface on the second LAN = %q, want eth1", got)
	}
	front.AddAddr("client", "192.0.2.10/24")
	front.AddAddr("director", "192.0.2.1/24")
	back.AddAddr("director", "198.51.100.1/24")
	back.AddAddr("server", "198.51.100.10/24")
	ping(t, front.Host("director"), "192.0.2.10")
	ping(t, back.Host("director"), "198.51.100.10")

	// The two LANs are separate segments: the client cannot reach the
	// server's subnet (it has no route), and the director's address on
	// the back LAN is not on the front one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := front.Host("client").Exec(ctx, "busybox", "ping", "-c", "1", "-W", "1", "198.51.100.10"); err == nil {
		t.Error("client reached the back LAN without a route")
	}

	d := front.Host("director")
	if err := d.LinkDown("eth1"); err != nil {
		t.Fatal(err)
	}
	out := d.MustExec(t, "ip", "-o", "link", "show", "eth1")
	if strings.Contains(out, "state UP") {
		t.Errorf("eth1 still up after LinkDown: %s", out)
	}
	if err := d.LinkUp("eth1"); err != nil {
		t.Fatal(err)
	}

	// Unplugging takes the carrier away from the host's side.
	if err := back.Unplug("server"); err != nil {
		t.Fatal(err)
	}
	out = back.Host("server").MustExec(t, "ip", "-o", "link", "show", "eth0")
	if !strings.Contains(out, "NO-CARRIER") {
		t.Errorf("server's eth0 has carrier after Unplug: %s", out)
	}
	if err := back.Plug("server"); err != nil {
		t.Fatal(err)
	}
}

func TestDoRunsInNamespace(t *testing.T) {
	RequireRoot(t, "ip")
	lan := NewLAN(t, "h")
	var names []string
	err := lan.Host("h").Do(func() error {
		ifs, err := netInterfaces()
		names = ifs
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"eth0", "lo"}, names); diff != "" {
		t.Errorf("interfaces inside the host (-want +got):\n%s", diff)
	}
}

func TestStartedProcessesAreKilled(t *testing.T) {
	RequireRoot(t, "ip", "busybox")
	var p *Proc
	t.Run("inner", func(t *testing.T) {
		lan := NewLAN(t, "h")
		p = lan.Host("h").Start("busybox", "sleep", "600")
	})
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("process %d still running after cleanup", p.Pid())
	}
}

func TestCleanupLeavesNoNamespace(t *testing.T) {
	RequireRoot(t, "ip", "busybox")
	before := namespaces(t)
	var prefix string
	t.Run("inner", func(t *testing.T) {
		lan := NewLAN(t, "x", "y")
		lan.NewLAN("y", "z")
		prefix = lan.Prefix()
		// A process started behind the lab's back, never waited for.
		if err := lan.Host("x").Command("busybox", "sleep", "600").Start(); err != nil {
			t.Fatal(err)
		}
		during := namespaces(t)
		n := 0
		for _, ns := range during {
			if strings.HasPrefix(ns, prefix+"-") {
				n++
			}
		}
		// switch, observer, x, y, z
		if n != 5 {
			t.Errorf("%d namespaces with prefix %s, want 5: %q", n, prefix, during)
		}
	})
	after := namespaces(t)
	existed := map[string]bool{}
	for _, ns := range before {
		existed[ns] = true
	}
	// Other packages' tests may make namespaces meanwhile: only those of
	// this process count.
	mine := "lv" + strconv.FormatInt(int64(os.Getpid()), 36) + "."
	for _, ns := range after {
		if !existed[ns] && strings.HasPrefix(ns, mine) {
			t.Errorf("namespace %s left behind (lab prefix %s)", ns, prefix)
		}
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), prefix+"-") {
		t.Errorf("ip netns list still shows %s namespaces:\n%s", prefix, out)
	}
}

func netInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	sort.Strings(names)
	return names, nil
}

// TestSweepStale leaves a namespace named as if by a run that died before
// its cleanup, and checks the next lab removes it.
func TestSweepStale(t *testing.T) {
	RequireRoot(t, "ip", "busybox")
	dead := exec.Command("busybox", "true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	name := "lv" + strconv.FormatInt(int64(dead.Process.Pid), 36) + ".1-stale"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	NewLAN(t, "h")
	for _, ns := range namespaces(t) {
		if ns == name {
			t.Errorf("stale namespace %s survived a new lab", name)
		}
	}
}
