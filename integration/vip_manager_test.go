package integration

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/vip"
)

// The tests below run the VIP manager (internal/vip) against the kernel in a network namespace
// built by integration/lab; they need root and fail under CI=true without
// it. "ip -o addr" inside the namespace is the independent oracle.

func managerIn(t *testing.T, h *lab.Host) *vip.Manager {
	t.Helper()
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", h.NS, err)
	}
	t.Cleanup(func() { ns.Close() })
	m, err := vip.NewAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// addrLines returns the "ip -o addr show dev eth0" lines mentioning addr.
func addrLines(t *testing.T, h *lab.Host, addr string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(h.MustExec(t, "ip", "-o", "addr", "show", "dev", "eth0"), "\n") {
		if strings.Contains(l, " "+addr+" ") {
			lines = append(lines, l)
		}
	}
	return lines
}

var cmpPrefix = cmpopts.EquateComparable(netip.Prefix{})

func TestVIPManager(t *testing.T) {
	lan := lab.NewLAN(t, "d1")
	lan.AddAddr("d1", "192.0.2.11/24")
	h := lan.Host("d1")
	// The lab turns duplicate address detection off; turn it on so that
	// the nodad check below means something.
	h.MustExec(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=1", "net.ipv6.conf.eth0.dad_transmits=1")
	m := managerIn(t, h)

	vips := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.100/32"),
		netip.MustParsePrefix("192.0.2.101/32"),
		netip.MustParsePrefix("2001:db8::100/128"),
		netip.MustParsePrefix("2001:db8::101/64"),
	}

	if missing, err := m.Missing("eth0", vips); err != nil || !cmp.Equal(missing, vips, cmpPrefix) {
		t.Fatalf("Missing() before Add = %v, %v; want all missing", missing, err)
	}

	// A control address without nodad is tentative: DAD is really on.
	h.MustExec(t, "ip", "addr", "add", "2001:db8::200/128", "dev", "eth0")
	if l := addrLines(t, h, "2001:db8::200/128"); len(l) != 1 || !strings.Contains(l[0], "tentative") {
		t.Fatalf("control address without nodad: %q, want one tentative line", l)
	}

	for i := range 2 { // the second Add must change nothing
		if err := m.Add("eth0", vips); err != nil {
			t.Fatalf("Add() #%d: %v", i+1, err)
		}
		for _, v := range vips {
			lines := addrLines(t, h, v.String())
			if len(lines) != 1 {
				t.Fatalf("after Add #%d: %d lines for %s, want 1:\n%s", i+1, len(lines), v, strings.Join(lines, "\n"))
			}
			l := lines[0]
			if !strings.Contains(l, "scope global") {
				t.Errorf("%s: not scope global: %s", v, l)
			}
			if v.Addr().Is6() {
				if !strings.Contains(l, "nodad") || strings.Contains(l, "tentative") {
					t.Errorf("%s: want nodad and not tentative: %s", v, l)
				}
			}
		}
	}
	if missing, err := m.Missing("eth0", vips); err != nil || missing != nil {
		t.Fatalf("Missing() after Add = %v, %v; want none missing", missing, err)
	}

	// Someone deletes a VIP behind our back.
	h.MustExec(t, "ip", "addr", "del", "192.0.2.101/32", "dev", "eth0")
	h.MustExec(t, "ip", "addr", "del", "2001:db8::101/64", "dev", "eth0")
	missing, err := m.Missing("eth0", vips)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Prefix{vips[1], vips[3]}, missing, cmpPrefix); diff != "" {
		t.Errorf("Missing() after deletion (-want +got):\n%s", diff)
	}
	// The same address with another prefix length is not our VIP.
	h.MustExec(t, "ip", "addr", "add", "192.0.2.101/24", "dev", "eth0")
	if missing, _ := m.Missing("eth0", vips[1:2]); len(missing) != 1 {
		t.Errorf("Missing() with 192.0.2.101/24 on the link = %v, want the /32 missing", missing)
	}
	if err := m.Add("eth0", vips); err != nil {
		t.Fatal(err)
	}
	if missing, err := m.Missing("eth0", vips); err != nil || missing != nil {
		t.Fatalf("Missing() after putting them back = %v, %v; want none missing", missing, err)
	}

	for i := range 2 { // the second Remove finds nothing and is fine
		if err := m.Remove("eth0", vips); err != nil {
			t.Fatalf("Remove() #%d: %v", i+1, err)
		}
		for _, v := range vips {
			if l := addrLines(t, h, v.String()); len(l) != 0 {
				t.Errorf("after Remove #%d: %s still there: %q", i+1, v, l)
			}
		}
	}
	if missing, err := m.Missing("eth0", vips); err != nil || !cmp.Equal(missing, vips, cmpPrefix) {
		t.Fatalf("Missing() after Remove = %v, %v; want all missing", missing, err)
	}
	// Addresses that are not VIPs are left alone.
	if l := addrLines(t, h, "192.0.2.11/24"); len(l) != 1 {
		t.Errorf("primary address after Remove: %q", l)
	}
	if l := addrLines(t, h, "192.0.2.101/24"); len(l) != 1 {
		t.Errorf("192.0.2.101/24 after Remove: %q", l)
	}

	if err := m.Add("nosuch0", vips); err == nil {
		t.Error("Add() on a missing interface succeeded")
	}
	if err := m.Remove("nosuch0", vips); err != nil {
		t.Errorf("Remove() on a missing interface = %v, want nil", err)
	}
	if _, err := m.Missing("nosuch0", vips); err == nil {
		t.Error("Missing() on a missing interface succeeded")
	}
}

func TestVIPManagerWatch(t *testing.T) {
	lan := lab.NewLAN(t, "d1")
	lan.AddAddr("d1", "192.0.2.11/24")
	h := lan.Host("d1")
	m := managerIn(t, h)
	// A second interface whose deletions must not be reported.
	h2 := lan.NewLAN("d1")
	other := h2.Iface("d1")

	var ifindex int
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if ifi != nil {
			ifindex = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("2001:db8::100/128")}
	if err := m.Add("eth0", vips); err != nil {
		t.Fatal(err)
	}
	h.MustExec(t, "ip", "addr", "add", "198.51.100.1/32", "dev", other)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.Watch(ctx, ifindex)
	if err != nil {
		t.Fatal(err)
	}

	// Adding an address, or deleting one on another interface, is no
	// reason to wake the master.
	h.MustExec(t, "ip", "addr", "add", "192.0.2.102/32", "dev", "eth0")
	h.MustExec(t, "ip", "addr", "del", "198.51.100.1/32", "dev", other)
	select {
	case <-ch:
		t.Fatal("Watch signalled without a deletion on its interface")
	case <-time.After(300 * time.Millisecond):
	}

	for _, v := range vips {
		h.MustExec(t, "ip", "addr", "del", v.String(), "dev", "eth0")
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("Watch channel closed")
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no signal after deleting %s", v)
		}
		missing, err := m.Missing("eth0", vips)
		if err != nil || len(missing) == 0 {
			t.Fatalf("Missing() after deleting %s = %v, %v", v, missing, err)
		}
		if err := m.Add("eth0", vips); err != nil {
			t.Fatal(err)
		}
	}

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Watch channel not closed after cancel")
	}
}
