//go:build vm

// These tests drive a real IPVS kernel through the Reconciler, with
// ipvsadm as the independent oracle. They run inside the project's VM lab
// (go test -tags vm), where the tests are root and ip_vs can be loaded; a
// missing prerequisite there is a failure, never a skip.

package reconcile

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/internal/sysctl"
	"github.com/lvsd/lvsd/ipvs"
)

// inNS runs f on a thread of its own in the network namespace ns. The
// thread is never unlocked: it dies with its goroutine, so the namespace
// never leaks into other goroutines.
func inNS(t *testing.T, ns int, f func() error) error {
	t.Helper()
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			ch <- err
			return
		}
		ch <- f()
	}()
	return <-ch
}

// runIn runs a program in the namespace ns: a child inherits the network
// namespace of the thread that forks it.
func runIn(t *testing.T, ns int, name string, args ...string) string {
	t.Helper()
	var out []byte
	err := inNS(t, ns, func() error {
		var err error
		out, err = exec.Command(name, args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetNS makes a network namespace for one test, with lo up and
// 198.51.100.254/24 on it: ip_vs refuses an IPv4 destination ("address
// not unicast") in a namespace without a local routing table. The
// namespace goes with its descriptor at the end of the test.
func newNetNS(t *testing.T) int {
	t.Helper()
	// The module must be there before a namespace is made for ip_vs to
	// set up its per-namespace state in it; modprobe is idempotent.
	if out, err := exec.Command("modprobe", "ip_vs").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs: %v: %s", err, out)
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("creating a network namespace: %v", r.err)
	}
	t.Cleanup(func() { _ = unix.Close(r.fd) })

	h, err := netlink.NewHandleAt(netns.NsHandle(r.fd), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in the namespace: %v", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatalf("setting lo up: %v", err)
	}
	a, _ := netlink.ParseAddr("198.51.100.254/24")
	if err := h.AddrAdd(lo, a); err != nil {
		t.Fatalf("adding %s to lo: %v", a, err)
	}
	return r.fd
}

// dialIn opens an IPVS client in the network namespace ns. It dials on a
// thread of its own that enters ns and is never unlocked, so the thread
// ends with the goroutine; the socket stays in ns.
func dialIn(ns int) (*ipvs.Client, error) {
	type result struct {
		c   *ipvs.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		c, err := ipvs.Dial()
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

func kernelReconciler(t *testing.T, cfg Settings) (*ipvs.Client, *Reconciler, int) {
	t.Helper()
	ns := newNetNS(t)
	c, err := dialIn(ns)
	if err != nil {
		t.Fatalf("dialing IPVS in the test namespace: %v", Explain(err))
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := Check(c); err != nil {
		t.Fatalf("Check: %v", err)
	}
	r := New(c, WithSettings(cfg), WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	return c, r, ns
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// run starts r.Run and stops it at the end of the test.
func run(t *testing.T, r *Reconciler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-r.Reconciled():
	case <-time.After(10 * time.Second):
		t.Fatal("no first reconcile within 10s")
	}
	return stop
}

func kernelDesired(down ...string) []ipvs.Service {
	ap := netip.MustParseAddrPort
	web := ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap("192.0.2.10:80")}, Scheduler: "wlc", Netmask: 32}
	for _, d := range []ipvs.Destination{
		{Addr: ap("198.51.100.1:80"), Forward: ipvs.Route, Weight: 1},
		{Addr: ap("198.51.100.2:80"), Forward: ipvs.Route, Weight: 2},
		{Addr: ap("198.51.100.3:8080"), Forward: ipvs.Masquerade, Weight: 3},
	} {
		if !strings.Contains(strings.Join(down, " "), d.Addr.String()) {
			web.Destinations = append(web.Destinations, d)
		}
	}
	return []ipvs.Service{
		web,
		{ServiceKey: ipvs.ServiceKey{FWMark: 7}, Scheduler: "sh", Flags: ipvs.FlagPersistent, Timeout: 300 * time.Second, Netmask: 32,
			Destinations: []ipvs.Destination{{Addr: ap("198.51.100.4:0"), Forward: ipvs.Route, Weight: 1}}},
	}
}

func saveText(svcs []ipvs.Service) string {
	var b strings.Builder
	if err := ipvs.WriteSave(&b, svcs); err != nil {
		panic(err)
	}
	return b.String()
}

// waitTable polls ipvsadm -S -n until it prints want or the deadline
// passes; it returns how long that took.
func waitTable(t *testing.T, ns int, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < within {
		if got = runIn(t, ns, "ipvsadm", "-S", "-n"); got == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ipvsadm -S -n after %s (-want +got):\n%s", within, cmp.Diff(want, got))
	return 0
}

// handMade is the service the tests add with ipvsadm -A.
var handMade = ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddrPort("192.0.2.99:443")}, Scheduler: "rr"}

func TestKernelFlushRepairedAndHandMadeKept(t *testing.T) {
	const interval = time.Second
	_, r, ns := kernelReconciler(t, Settings{Interval: interval})
	want := kernelDesired()
	r.SetDesired(want)
	stop := run(t, r)

	if got := runIn(t, ns, "ipvsadm", "-S", "-n"); got != saveText(want) {
		t.Fatalf("after the first reconcile, ipvsadm -S -n (-want +got):\n%s", cmp.Diff(saveText(want), got))
	}

	runIn(t, ns, "ipvsadm", "-C")
	runIn(t, ns, "ipvsadm", "-A", "-t", "192.0.2.99:443", "-s", "rr")
	took := waitTable(t, ns, saveText(append(want, handMade)), 3*interval)
	t.Logf("flushed table back after %s", took)
	if took > interval+500*time.Millisecond {
		t.Errorf("flushed table came back after %s, want within one interval (%s)", took, interval)
	}

	// ipvsadm -e is put back too.
	runIn(t, ns, "ipvsadm", "-e", "-t", "192.0.2.10:80", "-r", "198.51.100.2:80", "-g", "-w", "9")
	waitTable(t, ns, saveText(append(want, handMade)), 3*interval)

	// Stop with cleanup_on_exit: lvsd's services go, the hand-made one stays.
	stop()
	if err := r.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if got, want := runIn(t, ns, "ipvsadm", "-S", "-n"), saveText([]ipvs.Service{handMade}); got != want {
		t.Errorf("after Cleanup, ipvsadm -S -n (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestKernelHealthChangeIsOneRequest counts the requests the real client
// sends for one real server's change: exactly one.
func TestKernelHealthChangeIsOneRequest(t *testing.T) {
	c, r, ns := kernelReconciler(t, Settings{Interval: time.Hour})
	r.SetDesired(kernelDesired())
	run(t, r)

	for _, step := range []struct {
		name string
		down []string
	}{
		{"server down", []string{"198.51.100.2:80"}},
		{"server back", nil},
	} {
		before := c.Requests()
		after := kernelDesired(step.down...)
		r.SetDesired(after)
		waitTable(t, ns, saveText(after), 5*time.Second)
		if got := c.Requests() - before; got != 1 {
			t.Errorf("%s: %d netlink requests, want 1", step.name, got)
		}
	}
}

// TestKernelSettings checks the timeouts and the sysctls in the
// director's namespace.
func TestKernelSettings(t *testing.T) {
	cfg := Settings{
		Interval: time.Second,
		Timeouts: ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
	}
	sysctls := Sysctls{ExpireNodestConn: true, ExpireQuiescentTemplate: false}
	_, r, ns := kernelReconciler(t, cfg)
	run(t, r)
	if got := runIn(t, ns, "ipvsadm", "-L", "-n", "--timeout"); !strings.Contains(got, "900 120 300") {
		t.Errorf("ipvsadm -Ln --timeout = %q, want 900 120 300", got)
	}

	read := func() map[string]string {
		out := map[string]string{}
		err := inNS(t, ns, func() error {
			if err := ApplySysctls(sysctl.Root, sysctls); err != nil {
				return err
			}
			for _, name := range []string{"expire_nodest_conn", "expire_quiescent_template"} {
				b, err := os.ReadFile(filepath.Join(sysctl.Root, "net/ipv4/vs", name))
				if err != nil {
					return err
				}
				out[name] = strings.TrimSpace(string(b))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("sysctls in the namespace: %v", err)
		}
		return out
	}
	want := map[string]string{"expire_nodest_conn": "1", "expire_quiescent_template": "0"}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("sysctls (-want +got):\n%s", diff)
	}
}
