package realserver

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	cmpAddr = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	v4      = netip.MustParseAddr("192.0.2.100")
	v4b     = netip.MustParseAddr("192.0.2.101")
	v6      = netip.MustParseAddr("2001:db8::100")
	p4      = netip.MustParsePrefix("192.0.2.100/32")
	p4b     = netip.MustParsePrefix("192.0.2.101/32")
	p6      = netip.MustParsePrefix("2001:db8::100/128")
	lo4     = netip.MustParsePrefix("127.0.0.1/8")
	lo6     = netip.MustParsePrefix("::1/128")
)

// host is a namespace as a freshly booted host has it: lo up with its
// loopback addresses, every sysctl at the kernel default, no tunnels.
func host() Snapshot {
	s := Snapshot{
		Links:   map[string]Link{Loopback: {Up: true, Addrs: []netip.Prefix{lo4, lo6}}},
		Sysctls: map[string]string{},
	}
	for _, k := range SysctlKeys() {
		if !strings.Contains(k, "."+TunnelV4+".") {
			s.Sysctls[k] = "0"
		}
	}
	return s
}

// with returns a copy of s changed by f.
func with(s Snapshot, f func(*Snapshot)) Snapshot {
	c := Snapshot{Links: map[string]Link{}, Sysctls: maps.Clone(s.Sysctls)}
	for n, l := range s.Links {
		c.Links[n] = Link{Up: l.Up, Addrs: slices.Clone(l.Addrs)}
	}
	f(&c)
	return c
}

func TestParseVIPs(t *testing.T) {
	tests := []struct {
		in      string
		want    []netip.Addr
		wantErr string
	}{
		{in: "192.0.2.100", want: []netip.Addr{v4}},
		{in: "192.0.2.100/32, 2001:db8::100/128", want: []netip.Addr{v4, v6}},
		{in: "192.0.2.100,192.0.2.100,::ffff:192.0.2.101", want: []netip.Addr{v4, v4b}},
		{in: "", wantErr: "no VIP"},
		{in: " , ", wantErr: "no VIP"},
		{in: "192.0.2.0/24", wantErr: "host address (/32)"},
		{in: "2001:db8::100/64", wantErr: "host address (/128)"},
		{in: "192.0.2.100/x", wantErr: "host address"},
		{in: "web", wantErr: "not an IP address"},
		{in: "127.0.0.1", wantErr: "not a unicast service address"},
		{in: "fe80::1", wantErr: "not a unicast service address"},
		{in: "224.0.0.18", wantErr: "not a unicast service address"},
		{in: "0.0.0.0", wantErr: "not a unicast service address"},
		{in: "fe80::1%eth0", wantErr: "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVIPs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseVIPs(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("ParseVIPs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"dr": DR, "TUN": TUN, " dr ": DR} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMethod("nat"); err == nil || !strings.Contains(err.Error(), "NAT") {
		t.Errorf("ParseMethod(nat) error = %v, want one that explains NAT", err)
	}
}

func TestChangeString(t *testing.T) {
	tests := []struct {
		c    Change
		want string
	}{
		{Change{Kind: AddrAdd, Link: "lo", Addr: netip.MustParsePrefix("10.10.10.100/32")}, "add 10.10.10.100/32 to lo"},
		{Change{Kind: AddrDel, Link: "tunl0", Addr: p6}, "remove 2001:db8::100/128 from tunl0"},
		{Change{Kind: SysctlSet, Key: "net.ipv4.conf.all.arp_ignore", From: "0", To: "1"}, "set net.ipv4.conf.all.arp_ignore 0 -> 1"},
		{Change{Kind: SysctlSet, Key: "net.ipv4.conf.tunl0.rp_filter", To: "0"}, "set net.ipv4.conf.tunl0.rp_filter to 0"},
		{Change{Kind: LinkCreate, Link: TunnelV4}, "create tunl0 (ipip)"},
		{Change{Kind: LinkCreate, Link: TunnelV6}, "create ip6tnl0 (ip6tnl)"},
		{Change{Kind: LinkUp, Link: "lo"}, "set lo up"},
		{Change{Kind: LinkDown, Link: "tunl0"}, "set tunl0 down"},
		{Change{Kind: LinkDelete, Link: "tunl0"}, "delete tunl0"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestPlanUp(t *testing.T) {
	const (
		ignore   = "net.ipv4.conf.all.arp_ignore"
		announce = "net.ipv4.conf.all.arp_announce"
		rpAll    = "net.ipv4.conf.all.rp_filter"
		rpTun    = "net.ipv4.conf.tunl0.rp_filter"
	)
	prepared := with(host(), func(s *Snapshot) {
		s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4, p4, lo6}}
		s.Sysctls[ignore], s.Sysctls[announce] = "1", "2"
	})
	tests := []struct {
		name string
		req  Request
		cur  Snapshot
		want []Change
	}{
		{
			name: "DR on a fresh host: sysctls before the address",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  host(),
			want: []Change{
				{Kind: SysctlSet, Key: ignore, From: "0", To: "1"},
				{Kind: SysctlSet, Key: announce, From: "0", To: "2"},
				{Kind: AddrAdd, Link: "lo", Addr: p4},
			},
		},
		{
			name: "DR already prepared: nothing",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  prepared,
		},
		{
			name: "DR second VIP: only its address",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4, v4b}},
			cur:  prepared,
			want: []Change{{Kind: AddrAdd, Link: "lo", Addr: p4b}},
		},
		{
			name: "arp_ignore 2 is quiet enough and stays",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  with(host(), func(s *Snapshot) { s.Sysctls[ignore] = "2" }),
			want: []Change{
				{Kind: SysctlSet, Key: announce, From: "0", To: "2"},
				{Kind: AddrAdd, Link: "lo", Addr: p4},
			},
		},
		{
			name: "arp_announce 1 is not enough",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  with(prepared, func(s *Snapshot) { s.Sysctls[announce] = "1" }),
			want: []Change{{Kind: SysctlSet, Key: announce, From: "1", To: "2"}},
		},
		{
			name: "DR IPv6 only: no ARP sysctls",
			req:  Request{Method: DR, VIPs: []netip.Addr{v6}},
			cur:  host(),
			want: []Change{{Kind: AddrAdd, Link: "lo", Addr: p6}},
		},
		{
			name: "the same address as a network is not the VIP",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur: with(prepared, func(s *Snapshot) {
				s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4, netip.MustParsePrefix("192.0.2.100/24")}}
			}),
			want: []Change{{Kind: AddrAdd, Link: "lo", Addr: p4}},
		},
		{
			name: "lo down is brought up first",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  with(prepared, func(s *Snapshot) { s.Links[Loopback] = Link{} }),
			want: []Change{
				{Kind: LinkUp, Link: "lo"},
				{Kind: AddrAdd, Link: "lo", Addr: p4},
			},
		},
		{
			name: "TUN without tunl0: create it; its rp_filter starts from conf.default",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur: with(host(), func(s *Snapshot) {
				s.Sysctls[rpAll] = "1"
				s.Sysctls["net.ipv4.conf.default.rp_filter"] = "2"
			}),
			want: []Change{
				{Kind: LinkCreate, Link: TunnelV4},
				{Kind: LinkUp, Link: TunnelV4},
				{Kind: SysctlSet, Key: ignore, From: "0", To: "1"},
				{Kind: SysctlSet, Key: announce, From: "0", To: "2"},
				{Kind: SysctlSet, Key: rpAll, From: "1", To: "0"},
				{Kind: SysctlSet, Key: rpTun, From: "2", To: "0"},
				{Kind: AddrAdd, Link: TunnelV4, Addr: p4},
			},
		},
		{
			name: "TUN with the module's tunl0, down",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur: with(prepared, func(s *Snapshot) {
				s.Links[TunnelV4] = Link{}
				s.Sysctls[rpTun] = "1"
			}),
			want: []Change{
				{Kind: LinkUp, Link: TunnelV4},
				{Kind: SysctlSet, Key: rpTun, From: "1", To: "0"},
				{Kind: AddrAdd, Link: TunnelV4, Addr: p4},
			},
		},
		{
			name: "TUN loose rp_filter (2) is set to 0 too",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur: with(prepared, func(s *Snapshot) {
				s.Links[TunnelV4] = Link{Up: true, Addrs: []netip.Prefix{p4}}
				s.Sysctls[rpTun] = "0"
				s.Sysctls[rpAll] = "2"
			}),
			want: []Change{{Kind: SysctlSet, Key: rpAll, From: "2", To: "0"}},
		},
		{
			name: "TUN IPv4 and IPv6: two tunnels, sysctls for IPv4 only",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v6, v4}},
			cur: with(prepared, func(s *Snapshot) {
				s.Links[TunnelV4] = Link{Up: true}
				s.Sysctls[rpTun] = "0"
			}),
			want: []Change{
				{Kind: LinkCreate, Link: TunnelV6},
				{Kind: LinkUp, Link: TunnelV6},
				{Kind: AddrAdd, Link: TunnelV6, Addr: p6},
				{Kind: AddrAdd, Link: TunnelV4, Addr: p4},
			},
		},
		{
			name: "TUN IPv6 only: no sysctls at all",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v6}},
			cur:  host(),
			want: []Change{
				{Kind: LinkCreate, Link: TunnelV6},
				{Kind: LinkUp, Link: TunnelV6},
				{Kind: AddrAdd, Link: TunnelV6, Addr: p6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanUp(tt.req, tt.cur)
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("PlanUp (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanDown(t *testing.T) {
	const (
		ignore   = "net.ipv4.conf.all.arp_ignore"
		announce = "net.ipv4.conf.all.arp_announce"
		rpAll    = "net.ipv4.conf.all.rp_filter"
		rpTun    = "net.ipv4.conf.tunl0.rp_filter"
	)
	drUp := with(host(), func(s *Snapshot) {
		s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4, p4, p4b, lo6, p6}}
		s.Sysctls[ignore], s.Sysctls[announce] = "1", "2"
	})
	tunUp := with(host(), func(s *Snapshot) {
		s.Links[TunnelV4] = Link{Up: true, Addrs: []netip.Prefix{p4}}
		s.Sysctls[ignore], s.Sysctls[announce] = "1", "2"
		s.Sysctls[rpTun] = "0"
	})
	drRec := Record{
		Addrs:   []AddrRecord{{"lo", p4}},
		Sysctls: map[string]string{ignore: "0", announce: "0"},
	}
	tests := []struct {
		name      string
		req       Request
		cur       Snapshot
		rec       *Record
		want      []Change
		wantNotes []string
		wantNext  Record
	}{
		{
			name: "record: address first, then the sysctls as they were",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  drUp,
			rec:  &drRec,
			want: []Change{
				{Kind: AddrDel, Link: "lo", Addr: p4},
				{Kind: SysctlSet, Key: announce, From: "2", To: "0"},
				{Kind: SysctlSet, Key: ignore, From: "1", To: "0"},
			},
		},
		{
			name: "record: sysctls restored to non-default values, lo set down again",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  drUp,
			rec: &Record{
				Addrs:   []AddrRecord{{"lo", p4}},
				Sysctls: map[string]string{announce: "1"},
				Links:   []LinkRecord{{Name: "lo"}},
			},
			want: []Change{
				{Kind: AddrDel, Link: "lo", Addr: p4},
				{Kind: SysctlSet, Key: announce, From: "2", To: "1"},
				{Kind: LinkDown, Link: "lo"},
			},
		},
		{
			name: "record: another recorded VIP keeps the sysctls",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  drUp,
			rec:  &Record{Addrs: []AddrRecord{{"lo", p4}, {"lo", p4b}}, Sysctls: drRec.Sysctls},
			want: []Change{{Kind: AddrDel, Link: "lo", Addr: p4}},
			wantNotes: []string{
				"sysctls kept: still needed by 192.0.2.101/32 on lo",
			},
			wantNext: Record{Addrs: []AddrRecord{{"lo", p4b}}, Sysctls: drRec.Sysctls},
		},
		{
			name: "record: an IPv6 VIP left needs no sysctl, but keeps its device",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  with(drUp, func(s *Snapshot) { s.Sysctls[announce] = "1" }),
			rec: &Record{
				Addrs:   []AddrRecord{{"lo", p4}, {"lo", p6}},
				Sysctls: map[string]string{announce: "0"},
				Links:   []LinkRecord{{Name: "lo"}},
			},
			want: []Change{
				{Kind: AddrDel, Link: "lo", Addr: p4},
				{Kind: SysctlSet, Key: announce, From: "1", To: "0"},
			},
			wantNext: Record{Addrs: []AddrRecord{{"lo", p6}}, Links: []LinkRecord{{Name: "lo"}}},
		},
		{
			name: "record: TUN VIP gone, DR VIP left: the tunnel goes down, the sysctls stay",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur: with(tunUp, func(s *Snapshot) {
				s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4, p4b}}
			}),
			rec: &Record{
				Addrs:   []AddrRecord{{"lo", p4b}, {TunnelV4, p4}},
				Sysctls: map[string]string{ignore: "0", rpTun: "1"},
				Links:   []LinkRecord{{Name: "lo"}, {Name: TunnelV4}},
			},
			want: []Change{
				{Kind: AddrDel, Link: TunnelV4, Addr: p4},
				{Kind: LinkDown, Link: TunnelV4},
			},
			wantNotes: []string{"sysctls kept: still needed by 192.0.2.101/32 on lo"},
			wantNext: Record{
				Addrs:   []AddrRecord{{"lo", p4b}},
				Sysctls: map[string]string{ignore: "0", rpTun: "1"},
				Links:   []LinkRecord{{Name: "lo"}},
			},
		},
		{
			name:      "record: a VIP that was there before up stays",
			req:       Request{Method: DR, VIPs: []netip.Addr{v4b}},
			cur:       drUp,
			rec:       &Record{},
			wantNotes: []string{"192.0.2.101/32 on lo was not added by lvsd realserver up: left in place"},
		},
		{
			name: "record: a VIP already removed by hand",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  with(drUp, func(s *Snapshot) { s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4}} }),
			rec:  &drRec,
			want: []Change{
				{Kind: SysctlSet, Key: announce, From: "2", To: "0"},
				{Kind: SysctlSet, Key: ignore, From: "1", To: "0"},
			},
		},
		{
			name: "record: a created tunnel goes down, then away",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur:  tunUp,
			rec: &Record{
				Addrs:   []AddrRecord{{TunnelV4, p4}},
				Sysctls: map[string]string{ignore: "0", announce: "0", rpTun: "0"},
				Links:   []LinkRecord{{Name: TunnelV4, Created: true}},
			},
			want: []Change{
				{Kind: AddrDel, Link: TunnelV4, Addr: p4},
				{Kind: SysctlSet, Key: announce, From: "2", To: "0"},
				{Kind: SysctlSet, Key: ignore, From: "1", To: "0"},
				{Kind: LinkDown, Link: TunnelV4},
				{Kind: LinkDelete, Link: TunnelV4},
			},
		},
		{
			name: "no record: remove and set the kernel defaults",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4, v4b, v6}},
			cur:  drUp,
			want: []Change{
				{Kind: AddrDel, Link: "lo", Addr: p4},
				{Kind: AddrDel, Link: "lo", Addr: p4b},
				{Kind: AddrDel, Link: "lo", Addr: p6},
				{Kind: SysctlSet, Key: ignore, From: "1", To: "0"},
				{Kind: SysctlSet, Key: announce, From: "2", To: "0"},
			},
			wantNotes: []string{"no record of the previous sysctl values: setting the kernel defaults (0)"},
		},
		{
			name: "no record: other VIPs keep the sysctls",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  drUp,
			want: []Change{{Kind: AddrDel, Link: "lo", Addr: p4}},
			wantNotes: []string{
				"no record of the previous sysctl values, and other VIPs remain (192.0.2.101/32 on lo, 2001:db8::100/128 on lo): sysctls left as they are",
			},
		},
		{
			name: "no record: IPv6 touches no sysctl",
			req:  Request{Method: DR, VIPs: []netip.Addr{v6}},
			cur:  drUp,
			want: []Change{{Kind: AddrDel, Link: "lo", Addr: p6}},
		},
		{
			name: "no record, TUN: rp_filter is left as it is, and the tunnel up",
			req:  Request{Method: TUN, VIPs: []netip.Addr{v4}},
			cur:  with(tunUp, func(s *Snapshot) { s.Sysctls[rpAll] = "1" }),
			want: []Change{
				{Kind: AddrDel, Link: TunnelV4, Addr: p4},
				{Kind: SysctlSet, Key: ignore, From: "1", To: "0"},
				{Kind: SysctlSet, Key: announce, From: "2", To: "0"},
			},
			wantNotes: []string{"no record of the previous sysctl values: setting the kernel defaults (0)"},
		},
		{
			name: "no record, nothing there: nothing to do",
			req:  Request{Method: DR, VIPs: []netip.Addr{v4}},
			cur:  host(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, next := PlanDown(tt.req, tt.cur, tt.rec)
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNext, next, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("next record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordWithKeepsTheFirstValue(t *testing.T) {
	r := Record{}.With([]Change{
		{Kind: LinkCreate, Link: TunnelV4},
		{Kind: LinkUp, Link: TunnelV4},
		{Kind: SysctlSet, Key: "k", From: "0", To: "1"},
		{Kind: AddrAdd, Link: TunnelV4, Addr: p4},
	})
	r = r.With([]Change{
		{Kind: LinkUp, Link: "lo"},
		{Kind: SysctlSet, Key: "k", From: "3", To: "1"},
		{Kind: AddrAdd, Link: TunnelV4, Addr: p4},
		{Kind: AddrAdd, Link: "lo", Addr: p6},
	})
	want := Record{
		Addrs:   []AddrRecord{{TunnelV4, p4}, {"lo", p6}},
		Sysctls: map[string]string{"k": "0"},
		Links:   []LinkRecord{{Name: TunnelV4, Created: true}, {Name: "lo"}},
	}
	if diff := cmp.Diff(want, r, cmpAddr); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestRecordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "lvsd", "realserver.json")
	if rec, err := LoadRecord(path); rec != nil || err != nil {
		t.Fatalf("LoadRecord of a missing file = %v, %v; want nil, nil", rec, err)
	}
	want := Record{
		Addrs:   []AddrRecord{{TunnelV4, p4}, {"lo", p6}},
		Sysctls: map[string]string{"net.ipv4.conf.all.arp_ignore": "0"},
		Links:   []LinkRecord{{Name: TunnelV4, Created: true}},
	}
	if err := SaveRecord(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got, cmpAddr); diff != "" {
		t.Errorf("record read back (-want +got):\n%s", diff)
	}
	if err := RemoveRecord(path); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRecord(path); err != nil {
		t.Errorf("removing a missing record: %v", err)
	}
	if rec, err := LoadRecord(path); rec != nil || err != nil {
		t.Errorf("LoadRecord after RemoveRecord = %v, %v", rec, err)
	}
}

func TestRecordFileVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "realserver.json")
	if err := SaveRecord(path, Record{}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRecord(path); err != nil {
		t.Fatalf("an empty record: %v", err)
	}
	writeFile(t, path, `{"version": 7}`)
	if _, err := LoadRecord(path); err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Errorf("LoadRecord of version 7: %v", err)
	}
	writeFile(t, path, `{"version": 1`)
	if _, err := LoadRecord(path); err == nil {
		t.Error("LoadRecord of broken JSON: no error")
	}
}

// fakeSystem is a namespace in memory. It records every change applied
// and can be told to fail at one of them.
type fakeSystem struct {
	s       Snapshot
	applied []Change
	failAt  int // 1-based index of the Apply call that fails; 0 never
	calls   int
}

var errInjected = errors.New("injected failure")

func (f *fakeSystem) Snapshot() (Snapshot, error) { return with(f.s, func(*Snapshot) {}), nil }

func (f *fakeSystem) Apply(c Change) error {
	f.calls++
	if f.calls == f.failAt {
		return fmt.Errorf("%s: %w", c, errInjected)
	}
	f.applied = append(f.applied, c)
	l, exists := f.s.Links[c.Link]
	switch c.Kind {
	case LinkCreate:
		if exists {
			return fmt.Errorf("%s: exists", c)
		}
		f.s.Links[c.Link] = Link{}
		if c.Link == TunnelV4 {
			for _, name := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
				f.s.Sysctls[sysctlKey(TunnelV4, name)] = f.s.Sysctls[sysctlKey("default", name)]
			}
		}
		return nil
	case SysctlSet:
		if _, ok := f.s.Sysctls[c.Key]; !ok {
			return fmt.Errorf("%s: no such key", c)
		}
		f.s.Sysctls[c.Key] = c.To
		return nil
	}
	if !exists {
		return fmt.Errorf("%s: no such device", c)
	}
	switch c.Kind {
	case LinkUp, LinkDown:
		l.Up = c.Kind == LinkUp
	case LinkDelete:
		delete(f.s.Links, c.Link)
		for _, name := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			delete(f.s.Sysctls, sysctlKey(c.Link, name))
		}
		return nil
	case AddrAdd:
		if l.has(c.Addr) {
			return fmt.Errorf("%s: exists", c)
		}
		l.Addrs = append(l.Addrs, c.Addr)
	case AddrDel:
		if !l.has(c.Addr) {
			return fmt.Errorf("%s: not there", c)
		}
		l.Addrs = slices.DeleteFunc(l.Addrs, func(p netip.Prefix) bool { return p == c.Addr })
	}
	f.s.Links[c.Link] = l
	return nil
}

// TestUpUpDownRestores runs up twice and down once against the fake and
// requires the namespace to be exactly as before, from several starting
// points, and the second up to change nothing.
func TestUpUpDownRestores(t *testing.T) {
	starts := map[string]Snapshot{
		"fresh host": host(),
		"lo down":    with(host(), func(s *Snapshot) { s.Links[Loopback] = Link{} }),
		"odd sysctls": with(host(), func(s *Snapshot) {
			s.Sysctls["net.ipv4.conf.all.arp_announce"] = "1"
			s.Sysctls["net.ipv4.conf.all.rp_filter"] = "1"
			s.Sysctls["net.ipv4.conf.default.rp_filter"] = "2"
		}),
		"one VIP there already": with(host(), func(s *Snapshot) {
			s.Links[Loopback] = Link{Up: true, Addrs: []netip.Prefix{lo4, p4b}}
			s.Sysctls["net.ipv4.conf.all.arp_ignore"] = "1"
		}),
		"tunl0 down": with(host(), func(s *Snapshot) {
			s.Links[TunnelV4] = Link{}
			s.Sysctls["net.ipv4.conf.tunl0.rp_filter"] = "1"
		}),
	}
	for name, start := range starts {
		for _, m := range []Method{DR, TUN} {
			t.Run(name+"/"+string(m), func(t *testing.T) {
				req := Request{Method: m, VIPs: []netip.Addr{v4, v4b, v6}}
				f := &fakeSystem{s: with(start, func(*Snapshot) {})}
				applied, rec, err := Up(f, req, Record{})
				if err != nil {
					t.Fatalf("up: %v", err)
				}
				if len(applied) == 0 {
					t.Fatal("up changed nothing")
				}
				if got := PlanUp(req, f.s); len(got) != 0 {
					t.Fatalf("after up, PlanUp still wants %v", got)
				}
				again, rec2, err := Up(f, req, rec)
				if err != nil || len(again) != 0 {
					t.Fatalf("second up = %v, %v; want no change", again, err)
				}
				if diff := cmp.Diff(rec, rec2, cmpAddr); diff != "" {
					t.Errorf("second up changed the record (-want +got):\n%s", diff)
				}
				_, _, next, err := Down(f, req, &rec)
				if err != nil {
					t.Fatalf("down: %v", err)
				}
				if !next.Empty() {
					t.Errorf("record after down = %+v, want empty", next)
				}
				if diff := cmp.Diff(start, f.s, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("after up, up, down (-before +after):\n%s", diff)
				}
			})
		}
	}
}

// TestUpFailureIsRecorded breaks up at every step in turn: what was done
// before the failure must be in the record, so down still restores all.
func TestUpFailureIsRecorded(t *testing.T) {
	req := Request{Method: TUN, VIPs: []netip.Addr{v4, v6}}
	n := len(PlanUp(req, host()))
	for failAt := 1; failAt <= n; failAt++ {
		t.Run(fmt.Sprint(failAt), func(t *testing.T) {
			f := &fakeSystem{s: host(), failAt: failAt}
			applied, rec, err := Up(f, req, Record{})
			if !errors.Is(err, errInjected) {
				t.Fatalf("up error = %v, want the injected one", err)
			}
			if diff := cmp.Diff(f.applied, applied, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reported changes (-applied +reported):\n%s", diff)
			}
			if _, _, _, err := Down(f, req, &rec); err != nil {
				t.Fatalf("down: %v", err)
			}
			if diff := cmp.Diff(host(), f.s, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("after a failed up and down (-before +after):\n%s", diff)
			}
		})
	}
}

// TestDownFailureKeepsTheRest breaks down half-way: the record must still
// hold what is left, and a second down must finish.
func TestDownFailureKeepsTheRest(t *testing.T) {
	req := Request{Method: DR, VIPs: []netip.Addr{v4, v4b}}
	f := &fakeSystem{s: host()}
	_, rec, err := Up(f, req, Record{})
	if err != nil {
		t.Fatal(err)
	}
	f.failAt = f.calls + 2 // the second removal
	_, _, next, err := Down(f, req, &rec)
	if !errors.Is(err, errInjected) {
		t.Fatalf("down error = %v, want the injected one", err)
	}
	want := Record{Addrs: []AddrRecord{{"lo", p4b}}, Sysctls: rec.Sysctls}
	if diff := cmp.Diff(want, next, cmpAddr); diff != "" {
		t.Errorf("record after a failed down (-want +got):\n%s", diff)
	}
	f.failAt = 0
	if _, _, next, err = Down(f, req, &next); err != nil || !next.Empty() {
		t.Fatalf("second down = %+v, %v", next, err)
	}
	if diff := cmp.Diff(host(), f.s, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after up and two downs (-before +after):\n%s", diff)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPiecewise brings VIPs up and down in separate runs, mixing methods,
// as an operator would: the namespace must come back exactly as before
// once the last one is down, and not earlier lose what a VIP still needs.
func TestPiecewise(t *testing.T) {
	type step struct {
		up  bool
		req Request
	}
	dr4 := Request{Method: DR, VIPs: []netip.Addr{v4}}
	dr6 := Request{Method: DR, VIPs: []netip.Addr{v6}}
	tun4 := Request{Method: TUN, VIPs: []netip.Addr{v4b}}
	tun6 := Request{Method: TUN, VIPs: []netip.Addr{v6}}
	scenarios := map[string][]step{
		"DR v4 and v6, v4 down first": {{true, dr4}, {true, dr6}, {false, dr4}, {false, dr6}},
		"DR v4 and v6, v6 down first": {{true, dr4}, {true, dr6}, {false, dr6}, {false, dr4}},
		"DR and TUN, DR down first":   {{true, dr4}, {true, tun4}, {true, tun6}, {false, dr4}, {false, tun6}, {false, tun4}},
		"DR and TUN, TUN down first":  {{true, tun4}, {true, dr4}, {false, tun4}, {false, dr4}},
	}
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			start := with(host(), func(s *Snapshot) { s.Sysctls["net.ipv4.conf.default.rp_filter"] = "1" })
			f := &fakeSystem{s: with(start, func(*Snapshot) {})}
			var rec Record
			var upNow []Request
			for i, st := range steps {
				var err error
				if st.up {
					_, rec, err = Up(f, st.req, rec)
					upNow = append(upNow, st.req)
				} else {
					_, _, rec, err = Down(f, st.req, &rec)
					upNow = slices.DeleteFunc(upNow, func(r Request) bool { return r.Method == st.req.Method && slices.Equal(r.VIPs, st.req.VIPs) })
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				// Every VIP still up must still be fully prepared.
				for _, r := range upNow {
					if got := PlanUp(r, f.s); len(got) != 0 {
						t.Errorf("after step %d, %s %v is no longer prepared: %v", i, r.Method, r.VIPs, got)
					}
				}
			}
			if !rec.Empty() {
				t.Errorf("record after the last down = %+v", rec)
			}
			if diff := cmp.Diff(start, f.s, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("after all steps (-before +after):\n%s", diff)
			}
		})
	}
}
