package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/cli"
)

// These tests run `lvsd realserver` (internal/cli, in-process) inside lab
// namespaces and check the links, addresses and sysctls it leaves there.

// exitRealserverFailed is the exit status of a realserver command that
// failed.
const exitRealserverFailed = 1

// runIn runs lvsd in-process on a thread inside the host's namespace, as
// if it had been started there.
func runIn(t *testing.T, h *lab.Host, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	env := cli.Env{
		Stdout: &o, Stderr: &e,
		Getenv:   func(string) string { return "" },
		Hostname: func() (string, error) { return "", errors.New("no host name in tests") },
	}
	if err := h.Do(func() error {
		code = cli.Main(env, args)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// nsState is what realserver may touch in a namespace, and more: every
// link and address and every net.ipv4.conf sysctl, as iproute2 and
// sysctl(8) print them.
func nsState(t *testing.T, h *lab.Host) []string {
	t.Helper()
	var lines []string
	for _, argv := range [][]string{
		{"ip", "-o", "link", "show"},
		{"ip", "-o", "addr", "show"},
		{"sysctl", "-a", "-r", `^net\.ipv4\.conf\.`},
	} {
		out, err := h.Command(argv...).Output()
		if err != nil {
			t.Fatalf("%s in %s: %v", strings.Join(argv, " "), h.Name, err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	}
	return lines
}

// settledNSState is nsState once a new namespace has settled: right after
// the lab made it, a link's operational state or an IPv6 link-local
// address may still change by itself, which a later comparison would
// blame on the command under test.
func settledNSState(t *testing.T, h *lab.Host) []string {
	t.Helper()
	prev := nsState(t, h)
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		cur := nsState(t, h)
		if slices.Equal(prev, cur) {
			return cur
		}
		prev = cur
	}
	t.Fatalf("namespace %s did not settle within 3 s", h.Name)
	return nil
}

func sysctlIn(t *testing.T, h *lab.Host, key string) string {
	t.Helper()
	return strings.TrimSpace(h.MustExec(t, "sysctl", "-n", key))
}

// answersARP reports whether anything on the client's eth0 answers an ARP
// request for ip within a second.
func answersARP(t *testing.T, client *lab.Host, ip netip.Addr) bool {
	t.Helper()
	var answered bool
	err := client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
			return err
		}
		_, err = c.Resolve(ip)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return nil
		}
		answered = err == nil
		return err
	})
	if err != nil {
		t.Fatalf("ARP request for %s: %v", ip, err)
	}
	return answered
}

// TestRealserverDRInNamespace runs `lvsd realserver up` twice and `down`
// once in a lab namespace: the VIPs must sit on lo, the ARP sysctls be
// set and keep the VIP quiet on the LAN, the second up change nothing,
// and down leave the namespace exactly as it was.
func TestRealserverDRInNamespace(t *testing.T) {
	lab.RequireRoot(t, "ip", "sysctl")
	lan := lab.NewLAN(t, "rs", "client")
	lan.AddAddr("rs", "198.51.100.10/24")
	lan.AddAddr("client", "198.51.100.20/24")
	rs, client := lan.Host("rs"), lan.Host("client")
	state := filepath.Join(t.TempDir(), "lvsd", "realserver.json")
	vip := netip.MustParseAddr("192.0.2.100")

	before := settledNSState(t, rs)
	ignore, announce := sysctlIn(t, rs, "net.ipv4.conf.all.arp_ignore"), sysctlIn(t, rs, "net.ipv4.conf.all.arp_announce")
	if ignore != "0" || announce != "0" {
		t.Fatalf("a new namespace has arp_ignore %s, arp_announce %s; the test expects the kernel defaults", ignore, announce)
	}

	args := []string{"realserver", "up", "--vip", "192.0.2.100,2001:db8::100", "--state", state}
	out, errOut, code := runIn(t, rs, args...)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s%s", code, out, errOut)
	}
	want := "set net.ipv4.conf.all.arp_ignore 0 -> 1\n" +
		"set net.ipv4.conf.all.arp_announce 0 -> 2\n" +
		"add 192.0.2.100/32 to lo\n" +
		"add 2001:db8::100/128 to lo\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("up output (-want +got):\n%s", diff)
	}
	lo := rs.MustExec(t, "ip", "-o", "addr", "show", "dev", "lo")
	for _, a := range []string{"inet 192.0.2.100/32 scope global lo", "inet6 2001:db8::100/128 scope global nodad"} {
		if !strings.Contains(lo, a) {
			t.Errorf("lo lacks %q:\n%s", a, lo)
		}
	}
	if got := sysctlIn(t, rs, "net.ipv4.conf.all.arp_ignore"); got != "1" {
		t.Errorf("arp_ignore = %s after up, want 1", got)
	}
	if got := sysctlIn(t, rs, "net.ipv4.conf.all.arp_announce"); got != "2" {
		t.Errorf("arp_announce = %s after up, want 2", got)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("up left no state file: %v", err)
	}

	// The point of it all: the VIP is on the real server, yet nobody on
	// the LAN learns its MAC for it. Turning arp_ignore off by hand shows
	// the check can tell the difference.
	if answersARP(t, client, vip) {
		t.Error("the real server answers ARP for its VIP after up")
	}
	rs.MustExec(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=0")
	if !answersARP(t, client, vip) {
		t.Error("with arp_ignore=0 nobody answers ARP for the VIP: the ARP check sees nothing")
	}
	rs.MustExec(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")

	out, errOut, code = runIn(t, rs, args...)
	if code != 0 || out != "nothing to do (192.0.2.100/32 on lo, 2001:db8::100/128 on lo, method dr)\n" {
		t.Errorf("second up: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	args[1] = "down"
	out, errOut, code = runIn(t, rs, args...)
	if code != 0 {
		t.Fatalf("down: exit %d\n%s%s", code, out, errOut)
	}
	want = "remove 192.0.2.100/32 from lo\n" +
		"remove 2001:db8::100/128 from lo\n" +
		"set net.ipv4.conf.all.arp_announce 2 -> 0\n" +
		"set net.ipv4.conf.all.arp_ignore 1 -> 0\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("down output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, nsState(t, rs)); diff != "" {
		t.Errorf("namespace after up, up, down (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file after down: %v, want none", err)
	}

	out, errOut, code = runIn(t, rs, args...)
	if code != 0 || out != fmt.Sprintf("note: no state file %s: removing the VIPs that are there\nnothing to do (192.0.2.100/32 on lo, 2001:db8::100/128 on lo, method dr)\n", state) {
		t.Errorf("second down: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestRealserverDownWithoutState prepares a real server by hand, as an
// older script would, and undoes it with down, which has no record and
// falls back to the kernel defaults.
func TestRealserverDownWithoutState(t *testing.T) {
	lab.RequireRoot(t, "ip", "sysctl")
	rs := lab.NewLAN(t, "rs").Host("rs")
	before := settledNSState(t, rs)
	rs.MustExec(t, "ip", "addr", "add", "192.0.2.100/32", "dev", "lo")
	rs.MustExec(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")

	state := filepath.Join(t.TempDir(), "realserver.json")
	out, errOut, code := runIn(t, rs, "realserver", "down", "--vip", "192.0.2.100", "--state", state)
	if code != 0 {
		t.Fatalf("down: exit %d\n%s%s", code, out, errOut)
	}
	want := "note: no state file " + state + ": removing the VIPs that are there\n" +
		"note: no record of the previous sysctl values: setting the kernel defaults (0)\n" +
		"remove 192.0.2.100/32 from lo\n" +
		"set net.ipv4.conf.all.arp_ignore 1 -> 0\n" +
		"set net.ipv4.conf.all.arp_announce 2 -> 0\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("down output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, nsState(t, rs)); diff != "" {
		t.Errorf("namespace after down (-before +after):\n%s", diff)
	}
}

// TestRealserverTUNWithoutIPIP checks the error on a kernel without IPIP
// tunnels (the lab hosts' kernel): one line that says what to do, exit 1,
// and the namespace untouched. Kernels with IPIP run the TUN path in the
// VM lab instead (integration/vmtests).
func TestRealserverTUNWithoutIPIP(t *testing.T) {
	lab.RequireRoot(t, "ip", "sysctl")
	if _, err := os.Stat("/sys/module/ipip"); err == nil {
		t.Skip("this kernel has IPIP loaded: the TUN path is tested in the VM lab")
	}
	if err := exec.Command("modinfo", "ipip").Run(); err == nil {
		t.Skip("this kernel has an ipip module: the TUN path is tested in the VM lab")
	}
	rs := lab.NewLAN(t, "rs").Host("rs")
	before := settledNSState(t, rs)
	state := filepath.Join(t.TempDir(), "realserver.json")
	out, errOut, code := runIn(t, rs, "realserver", "up", "--method", "tun", "--vip", "192.0.2.100", "--state", state)
	if code != exitRealserverFailed {
		t.Fatalf("up --method tun: exit %d, want %d\n%s%s", code, exitRealserverFailed, out, errOut)
	}
	if !strings.Contains(errOut, "modprobe ipip") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr should be one line naming modprobe ipip:\n%s", errOut)
	}
	if out != "" {
		t.Errorf("stdout %q, want no change reported", out)
	}
	if diff := cmp.Diff(before, nsState(t, rs)); diff != "" {
		t.Errorf("namespace after a failed up (-before +after):\n%s", diff)
	}
}
