//go:build linux

package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// cmpNetip lets cmp compare netip values, whose fields are unexported.
var cmpNetip = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

// attr is a decoded netlink attribute, nested ones opened up, so that
// requests can be compared with hand-written expectations.
type attr struct {
	Type   uint16
	Data   []byte `json:",omitempty"`
	Nested []attr `json:",omitempty"`
}

func attrTree(t *testing.T, b []byte) []attr {
	t.Helper()
	as, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		t.Fatalf("unmarshalling attributes: %v", err)
	}
	var out []attr
	for _, a := range as {
		if a.Type&netlink.Nested != 0 {
			out = append(out, attr{Type: a.Type &^ netlink.Nested, Nested: attrTree(t, a.Data)})
			continue
		}
		out = append(out, attr{Type: a.Type, Data: a.Data})
	}
	return out
}

// Host-order integers as the kernel's nla_get_u16/u32 read them.
func ne16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func ne32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func flagsAttr(flags uint32) []byte {
	return append(ne32(flags), 0xff, 0xff, 0xff, 0xff)
}

func TestNotAvailable(t *testing.T) {
	k := newFakeKernel()
	k.absent = true
	_, err := newClient(nltest.Dial(k.serve))
	if !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("newClient error = %v, want ErrNotAvailable", err)
	}
	if !strings.Contains(err.Error(), "modprobe ip_vs") {
		t.Errorf("error %q does not tell the user to modprobe ip_vs", err)
	}
}

func TestRequestEncoding(t *testing.T) {
	vip4 := ServiceKey{Protocol: TCP, Addr: mustAddrPort("10.0.0.1:80")}
	vip6 := ServiceKey{Protocol: UDP, Addr: mustAddrPort("[2001:db8::1]:53")}
	svc4 := []attr{
		{Type: svcAF, Data: ne16(2)},
		{Type: svcProtocol, Data: ne16(6)},
		{Type: svcAddr, Data: []byte{10, 0, 0, 1}},
		{Type: svcPort, Data: []byte{0, 80}},
	}
	v6addr := netip.MustParseAddr("2001:db8::1").As16()
	svc6 := []attr{
		{Type: svcAF, Data: ne16(10)},
		{Type: svcProtocol, Data: ne16(17)},
		{Type: svcAddr, Data: v6addr[:]},
		{Type: svcPort, Data: []byte{0, 53}},
	}
	dst4 := Destination{Addr: mustAddrPort("10.0.0.2:8080"), Forward: Masquerade, Weight: 3, UpperThreshold: 100, LowerThreshold: 10}
	dst4Key := []attr{
		{Type: destAddr, Data: []byte{10, 0, 0, 2}},
		{Type: destPort, Data: []byte{0x1f, 0x90}},
	}
	dst4Full := append(append([]attr{}, dst4Key[:2]...),
		attr{Type: destFwdMethod, Data: ne32(0)},
		attr{Type: destWeight, Data: ne32(3)},
		attr{Type: destUThresh, Data: ne32(100)},
		attr{Type: destLThresh, Data: ne32(10)},
		attr{Type: destAddrFamily, Data: ne16(2)},
	)

	tests := []struct {
		name string
		op   Op
		cmd  uint8
		want []attr
	}{
		{
			name: "add IPv4 service",
			op:   Op{Kind: AddService, Service: Service{ServiceKey: vip4, Scheduler: "wlc"}},
			cmd:  cmdNewService,
			want: []attr{{Type: attrService, Nested: append(append([]attr{}, svc4...),
				attr{Type: svcSchedName, Data: []byte("wlc\x00")},
				attr{Type: svcFlags, Data: flagsAttr(0)},
				attr{Type: svcTimeout, Data: ne32(0)},
				attr{Type: svcNetmask, Data: []byte{255, 255, 255, 255}},
			)}},
		},
		{
			name: "update persistent IPv4 service with /24 granularity, hashed bit dropped",
			op: Op{Kind: UpdateService, Service: Service{ServiceKey: vip4, Scheduler: "sh",
				Flags: FlagPersistent | FlagHashed | FlagSchedFlag1, Timeout: 300 * time.Second, Netmask: 24}},
			cmd: cmdSetService,
			want: []attr{{Type: attrService, Nested: append(append([]attr{}, svc4...),
				attr{Type: svcSchedName, Data: []byte("sh\x00")},
				attr{Type: svcFlags, Data: flagsAttr(FlagPersistent | FlagSchedFlag1)},
				attr{Type: svcTimeout, Data: ne32(300)},
				attr{Type: svcNetmask, Data: []byte{255, 255, 255, 0}},
			)}},
		},
		{
			name: "add IPv6 service: netmask is a host-order prefix length",
			op:   Op{Kind: AddService, Service: Service{ServiceKey: vip6, Scheduler: "rr", Flags: FlagPersistent, Timeout: 60 * time.Second, Netmask: 64}},
			cmd:  cmdNewService,
			want: []attr{{Type: attrService, Nested: append(append([]attr{}, svc6...),
				attr{Type: svcSchedName, Data: []byte("rr\x00")},
				attr{Type: svcFlags, Data: flagsAttr(FlagPersistent)},
				attr{Type: svcTimeout, Data: ne32(60)},
				attr{Type: svcNetmask, Data: ne32(64)},
			)}},
		},
		{
			name: "add IPv6 service without persistence: netmask 128",
			op:   Op{Kind: AddService, Service: Service{ServiceKey: vip6, Scheduler: "rr"}},
			cmd:  cmdNewService,
			want: []attr{{Type: attrService, Nested: append(append([]attr{}, svc6...),
				attr{Type: svcSchedName, Data: []byte("rr\x00")},
				attr{Type: svcFlags, Data: flagsAttr(0)},
				attr{Type: svcTimeout, Data: ne32(0)},
				attr{Type: svcNetmask, Data: ne32(128)},
			)}},
		},
		{
			name: "add fwmark IPv6 service: mark and family only",
			op:   Op{Kind: AddService, Service: Service{ServiceKey: ServiceKey{FWMark: 7, IPv6: true}, Scheduler: "wlc"}},
			cmd:  cmdNewService,
			want: []attr{{Type: attrService, Nested: []attr{
				{Type: svcAF, Data: ne16(10)},
				{Type: svcFWMark, Data: ne32(7)},
				{Type: svcSchedName, Data: []byte("wlc\x00")},
				{Type: svcFlags, Data: flagsAttr(0)},
				{Type: svcTimeout, Data: ne32(0)},
				{Type: svcNetmask, Data: ne32(128)},
			}}},
		},
		{
			name: "delete service: key only",
			op:   Op{Kind: DelService, Service: Service{ServiceKey: vip4, Scheduler: "wlc", Flags: FlagPersistent}},
			cmd:  cmdDelService,
			want: []attr{{Type: attrService, Nested: svc4}},
		},
		{
			name: "add destination",
			op:   Op{Kind: AddDest, Service: Service{ServiceKey: vip4, Scheduler: "wlc"}, Dest: dst4},
			cmd:  cmdNewDest,
			want: []attr{{Type: attrService, Nested: svc4}, {Type: attrDest, Nested: dst4Full}},
		},
		{
			name: "update destination",
			op:   Op{Kind: UpdateDest, Service: Service{ServiceKey: vip4}, Dest: dst4},
			cmd:  cmdSetDest,
			want: []attr{{Type: attrService, Nested: svc4}, {Type: attrDest, Nested: dst4Full}},
		},
		{
			name: "delete destination: key and family only",
			op:   Op{Kind: DelDest, Service: Service{ServiceKey: vip4}, Dest: dst4},
			cmd:  cmdDelDest,
			want: []attr{{Type: attrService, Nested: svc4}, {Type: attrDest, Nested: append(append([]attr{}, dst4Key...),
				attr{Type: destAddrFamily, Data: ne16(2)})}},
		},
		{
			name: "IPv4 tunnel destination of an IPv6 service",
			op: Op{Kind: AddDest, Service: Service{ServiceKey: vip6},
				Dest: Destination{Addr: mustAddrPort("192.0.2.7:53"), Forward: Tunnel, Weight: 1}},
			cmd: cmdNewDest,
			want: []attr{{Type: attrService, Nested: svc6}, {Type: attrDest, Nested: []attr{
				{Type: destAddr, Data: []byte{192, 0, 2, 7}},
				{Type: destPort, Data: []byte{0, 53}},
				{Type: destFwdMethod, Data: ne32(2)},
				{Type: destWeight, Data: ne32(1)},
				{Type: destUThresh, Data: ne32(0)},
				{Type: destLThresh, Data: ne32(0)},
				{Type: destAddrFamily, Data: ne16(2)},
			}}},
		},
		{
			name: "GUE tunnel destination with checksums",
			op: Op{Kind: AddDest, Service: Service{ServiceKey: vip4},
				Dest: Destination{Addr: mustAddrPort("192.0.2.7:80"), Forward: Tunnel, Weight: 1,
					TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum}},
			cmd: cmdNewDest,
			want: []attr{{Type: attrService, Nested: svc4}, {Type: attrDest, Nested: []attr{
				{Type: destAddr, Data: []byte{192, 0, 2, 7}},
				{Type: destPort, Data: []byte{0, 80}},
				{Type: destFwdMethod, Data: ne32(2)},
				{Type: destWeight, Data: ne32(1)},
				{Type: destUThresh, Data: ne32(0)},
				{Type: destLThresh, Data: ne32(0)},
				{Type: destTunType, Data: []byte{1}},
				{Type: destTunPort, Data: []byte{0x17, 0xc0}},
				{Type: destTunFlags, Data: ne16(1)},
				{Type: destAddrFamily, Data: ne16(2)},
			}}},
		},
		{
			name: "tunnel settings of a direct-routing destination are not sent",
			op: Op{Kind: UpdateDest, Service: Service{ServiceKey: vip4},
				Dest: Destination{Addr: mustAddrPort("192.0.2.7:80"), Forward: Route, Weight: 1, TunnelType: TunnelGRE}},
			cmd: cmdSetDest,
			want: []attr{{Type: attrService, Nested: svc4}, {Type: attrDest, Nested: []attr{
				{Type: destAddr, Data: []byte{192, 0, 2, 7}},
				{Type: destPort, Data: []byte{0, 80}},
				{Type: destFwdMethod, Data: ne32(3)},
				{Type: destWeight, Data: ne32(1)},
				{Type: destUThresh, Data: ne32(0)},
				{Type: destLThresh, Data: ne32(0)},
				{Type: destAddrFamily, Data: ne16(2)},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel()
			c := k.client(t)
			_, _ = c.Apply([]Op{tt.op}) // the fake's table may refuse; the request is what counts
			reqs := k.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests sent, want the op's and a fence", len(reqs))
			}
			checkFence(t, reqs)
			r := reqs[0]
			if want := netlink.Request; r.Header.Flags != want {
				t.Errorf("flags = %v, want %v", r.Header.Flags, want)
			}
			var gm genetlink.Message
			if err := gm.UnmarshalBinary(r.Data); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(genetlink.Header{Command: tt.cmd, Version: 1}, gm.Header); diff != "" {
				t.Errorf("generic netlink header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, attrTree(t, gm.Data)); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyBatchMapsErrorsToOps(t *testing.T) {
	k := newFakeKernel()
	vip := ServiceKey{Protocol: TCP, Addr: mustAddrPort("10.0.0.1:80")}
	k.load([]Service{{ServiceKey: vip, Scheduler: "wlc", Destinations: []Destination{
		{Addr: mustAddrPort("10.0.0.2:80"), Forward: Route, Weight: 1},
	}}})
	c := k.client(t)
	svc := Service{ServiceKey: vip, Scheduler: "wlc"}
	ops := []Op{
		{Kind: AddDest, Service: svc, Dest: Destination{Addr: mustAddrPort("10.0.0.3:80"), Forward: Route, Weight: 1}},
		{Kind: AddDest, Service: svc, Dest: Destination{Addr: mustAddrPort("10.0.0.2:80"), Forward: Route, Weight: 1}},
		{Kind: UpdateDest, Service: svc, Dest: Destination{Addr: mustAddrPort("10.0.0.9:80"), Weight: 2}},
		{Kind: DelService, Service: Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("10.0.0.1:53")}}},
		{Kind: AddService, Service: Service{ServiceKey: ServiceKey{FWMark: 1}, Scheduler: "nosuch"}},
		{Kind: AddDest, Service: svc, Dest: Destination{}}, // refused before sending
		{Kind: AddDest, Service: svc, Dest: Destination{Addr: mustAddrPort("10.0.0.4:80"), Forward: Route, Weight: 1}},
	}
	results, err := c.Apply(ops)

	sends := k.ipvsSends()
	if len(sends) != 1 {
		t.Fatalf("%d sendmsg calls, want 1 batch", len(sends))
	}
	if len(sends[0]) != 7 {
		t.Fatalf("batch of %d requests, want 6 and a fence", len(sends[0]))
	}
	seqs := map[uint32]bool{}
	for _, m := range checkFence(t, sends[0]) {
		seqs[m.Header.Sequence] = true
		if want := netlink.Request; m.Header.Flags != want {
			t.Errorf("request %d flags = %v, want %v", m.Header.Sequence, m.Header.Flags, want)
		}
	}
	if len(seqs) != 6 {
		t.Errorf("sequence numbers %v are not distinct", seqs)
	}
	if got := c.Requests(); got != 6 {
		t.Errorf("Requests() = %d, want 6", got)
	}

	type outcome struct {
		Text  string
		Errno unix.Errno
	}
	want := []outcome{
		{},
		{"adding destination 10.0.0.2:80 to tcp 10.0.0.1:80: file exists", unix.EEXIST},
		{"updating destination 10.0.0.9:80 of tcp 10.0.0.1:80: destination does not exist", unix.ENOENT},
		{"deleting service udp 10.0.0.1:53: service does not exist", unix.ESRCH},
		{"adding service fwmark 1: scheduler or persistence engine not found (is its ip_vs_* module available?)", unix.ENOENT},
		{"adding destination invalid AddrPort to tcp 10.0.0.1:80: destination has no address", 0},
		{},
	}
	var got []outcome
	for i, r := range results {
		if diff := cmp.Diff(ops[i].String(), r.Op.String()); diff != "" {
			t.Errorf("result %d is for another op (-want +got):\n%s", i, diff)
		}
		o := outcome{}
		if r.Err != nil {
			o.Text = r.Err.Error()
			for _, e := range []unix.Errno{unix.EEXIST, unix.ENOENT, unix.ESRCH} {
				if errors.Is(r.Err, e) {
					o.Errno = e
				}
			}
		}
		got = append(got, o)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if err == nil {
		t.Fatal("Apply returned no error")
	}
	for _, w := range want {
		if w.Text != "" && !strings.Contains(err.Error(), w.Text) {
			t.Errorf("Apply error %q lacks %q", err, w.Text)
		}
	}

	// The kernel went on after the failures: both good adds are there.
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, d := range svcs[0].Destinations {
		addrs = append(addrs, d.Addr.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}, addrs); diff != "" {
		t.Errorf("destinations after Apply (-want +got):\n%s", diff)
	}
}

// checkFence fails t unless batch ends with Apply's fence, a GET_INFO
// request whose answer closes the batch, and returns the rest.
func checkFence(t *testing.T, batch []netlink.Message) []netlink.Message {
	t.Helper()
	f := batch[len(batch)-1]
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(f.Data); err != nil {
		t.Fatal(err)
	}
	if gm.Header.Command != cmdGetInfo || f.Header.Flags != netlink.Request {
		t.Errorf("the batch ends with command %d, flags %v; want the fence, GET_INFO (%d) without acknowledgement", gm.Header.Command, f.Header.Flags, cmdGetInfo)
	}
	return batch[:len(batch)-1]
}

func TestApplySplitsLargeBatches(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	ops := Diff(bigTable(75), nil, nil) // 75 services + 300 destinations
	results, err := c.Apply(ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(results) != len(ops) {
		t.Fatalf("%d results for %d ops", len(results), len(ops))
	}
	var sizes []int
	for _, s := range k.ipvsSends() {
		sizes = append(sizes, len(checkFence(t, s)))
	}
	if diff := cmp.Diff([]int{128, 128, 119}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if got := c.Requests(); got != uint64(len(ops)) {
		t.Errorf("Requests() = %d, want %d", got, len(ops))
	}
}

func TestApplyNothingSendsNothing(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	results, err := c.Apply(nil)
	if err != nil || results != nil {
		t.Errorf("Apply(nil) = %v, %v; want nil, nil", results, err)
	}
	if c.Requests() != 0 {
		t.Errorf("Requests() = %d, want 0", c.Requests())
	}
}

func TestServicesDecodesDumps(t *testing.T) {
	k := newFakeKernel()
	k.load([]Service{
		{ServiceKey: ServiceKey{FWMark: 9, IPv6: true}, Scheduler: "rr"},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("[2001:db8::10]:53")}, Scheduler: "sh", Flags: FlagSchedFlag1 | FlagPersistent, Timeout: 30 * time.Second,
			Destinations: []Destination{{Addr: mustAddrPort("[2001:db8::21]:53"), Forward: Masquerade, Weight: 0, UpperThreshold: 5, LowerThreshold: 1}}},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: mustAddrPort("192.0.2.1:443")}, Scheduler: "wlc",
			Destinations: []Destination{
				{Addr: mustAddrPort("198.51.100.3:443"), Forward: Route, Weight: 2},
				{Addr: mustAddrPort("198.51.100.2:443"), Forward: Tunnel, Weight: 1},
			}},
		{ServiceKey: ServiceKey{FWMark: 9}, Scheduler: "wlc"},
	})
	// The persistence granularity of the IPv4 service is /24 in the kernel.
	k.services[2].netmask = [4]byte{255, 255, 255, 0}
	c := k.client(t)

	got, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	// The fake counts services' statistics from zero (load) and
	// destinations' from 1<<32, which only the 64-bit block holds whole.
	stats := func(base uint64) Stats {
		return Stats{Conns: base + 1, InPkts: base + 2, OutPkts: base + 3, InBytes: base + 4, OutBytes: base + 5,
			CPS: base + 6, InPPS: base + 7, OutPPS: base + 8, InBPS: base + 9, OutBPS: base + 10}
	}
	dstats := stats(1 << 32)
	want := []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: mustAddrPort("192.0.2.1:443")}, Scheduler: "wlc", Flags: FlagHashed, Netmask: 24,
			Stats: stats(0),
			Destinations: []Destination{
				{Addr: mustAddrPort("198.51.100.2:443"), Forward: Tunnel, Weight: 1, Stats: dstats},
				{Addr: mustAddrPort("198.51.100.3:443"), Forward: Route, Weight: 2, Stats: dstats},
			}},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("[2001:db8::10]:53")}, Scheduler: "sh",
			Flags: FlagSchedFlag1 | FlagPersistent | FlagHashed, Timeout: 30 * time.Second, Netmask: 128, Stats: stats(0),
			Destinations: []Destination{{Addr: mustAddrPort("[2001:db8::21]:53"), Forward: Masquerade, UpperThreshold: 5, LowerThreshold: 1, Stats: dstats}}},
		{ServiceKey: ServiceKey{FWMark: 9}, Scheduler: "wlc", Flags: FlagHashed, Netmask: 32, Stats: stats(0)},
		{ServiceKey: ServiceKey{FWMark: 9, IPv6: true}, Scheduler: "rr", Flags: FlagHashed, Netmask: 128, Stats: stats(0)},
	}
	if diff := cmp.Diff(want, got, cmpNetip); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	if got := c.Requests(); got != 5 {
		t.Errorf("Requests() = %d, want 1 service dump + 4 destination dumps", got)
	}

	// The same table a service at a time.
	list, err := c.ListServices()
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	for i := range want {
		ds, err := c.Destinations(want[i].ServiceKey)
		if err != nil {
			t.Fatalf("Destinations(%s): %v", want[i].ServiceKey, err)
		}
		if diff := cmp.Diff(want[i].Destinations, ds, cmpNetip); diff != "" {
			t.Errorf("Destinations(%s) (-want +got):\n%s", want[i].ServiceKey, diff)
		}
		want[i].Destinations = nil
	}
	if diff := cmp.Diff(want, list, cmpNetip); diff != "" {
		t.Errorf("ListServices (-want +got):\n%s", diff)
	}
	missing := ServiceKey{Protocol: TCP, Addr: mustAddrPort("192.0.2.9:80")}
	if ds, err := c.Destinations(missing); ds != nil || err != nil {
		t.Errorf("Destinations of a missing service = %v, %v; want none, no error", ds, err)
	}
	if got := c.Requests(); got != 5+1+4+1 {
		t.Errorf("Requests() = %d, want 11", got)
	}
}

func TestServicesPrefersStats64(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	if _, err := c.Apply(Diff(bigTable(2), nil, nil)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	// Services added through the fake get statistics from (n+1)<<33: the
	// 32-bit counters would have lost the high bits.
	for i, s := range got {
		base := uint64(i+1) << 33
		want := Stats{Conns: base + 1, InPkts: base + 2, OutPkts: base + 3, InBytes: base + 4, OutBytes: base + 5,
			CPS: base + 6, InPPS: base + 7, OutPPS: base + 8, InBPS: base + 9, OutBPS: base + 10}
		if diff := cmp.Diff(want, s.Stats); diff != "" {
			t.Errorf("stats of %s (-want +got):\n%s", s.ServiceKey, diff)
		}
		d := s.Destinations[0]
		if d.ActiveConns != 3 || d.InactiveConns != 5 || d.PersistConns != 7 {
			t.Errorf("connection counts of %s = %d/%d/%d, want 3/5/7", d.Addr, d.ActiveConns, d.InactiveConns, d.PersistConns)
		}
		if d.Stats.InBytes != 1<<32+4 {
			t.Errorf("destination InBytes = %d, want %d", d.Stats.InBytes, uint64(1<<32+4))
		}
	}
}

func TestDecodeStats32Only(t *testing.T) {
	// A kernel before 4.1 sends only the 32-bit block.
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrService, func(nae *netlink.AttributeEncoder) error {
		nae.Uint16(svcAF, afInet)
		nae.Uint32(svcFWMark, 3)
		nae.String(svcSchedName, "rr")
		encodeStats(nae, svcStats, 100, false)
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeService(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Conns: 101, InPkts: 102, OutPkts: 103, InBytes: 104, OutBytes: 105, CPS: 106, InPPS: 107, OutPPS: 108, InBPS: 109, OutBPS: 110}
	if diff := cmp.Diff(want, s.Stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := map[string][]byte{
		"truncated attribute": {8, 0, 1},
		"no service attribute": func() []byte {
			b, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: attrDest, Data: nil}})
			return b
		}(),
		"bad family": func() []byte {
			ae := netlink.NewAttributeEncoder()
			ae.Nested(attrService, func(nae *netlink.AttributeEncoder) error {
				nae.Uint16(svcAF, 7)
				return nil
			})
			b, _ := ae.Encode()
			return b
		}(),
		"short address": func() []byte {
			ae := netlink.NewAttributeEncoder()
			ae.Nested(attrService, func(nae *netlink.AttributeEncoder) error {
				nae.Uint16(svcAF, afInet6)
				nae.Bytes(svcAddr, []byte{1, 2, 3, 4})
				nae.Bytes(svcPort, []byte{0, 80})
				return nil
			})
			b, _ := ae.Encode()
			return b
		}(),
		"one-byte port": func() []byte {
			ae := netlink.NewAttributeEncoder()
			ae.Nested(attrService, func(nae *netlink.AttributeEncoder) error {
				nae.Uint16(svcAF, afInet)
				nae.Bytes(svcAddr, []byte{1, 2, 3, 4})
				nae.Bytes(svcPort, []byte{80})
				return nil
			})
			b, _ := ae.Encode()
			return b
		}(),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeService(b); err == nil {
				t.Error("decodeService accepted it")
			}
			if _, err := decodeDest(b, afInet); err == nil {
				t.Error("decodeDest accepted it")
			}
		})
	}
}

func TestRoundTripThroughFakeKernel(t *testing.T) {
	desired := []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: mustAddrPort("192.0.2.1:80")}, Scheduler: "wlc",
			Destinations: []Destination{
				{Addr: mustAddrPort("198.51.100.1:80"), Forward: Route, Weight: 1},
				{Addr: mustAddrPort("198.51.100.2:8080"), Forward: Masquerade, Weight: 5, UpperThreshold: 100, LowerThreshold: 50},
			}},
		{ServiceKey: ServiceKey{Protocol: SCTP, Addr: mustAddrPort("192.0.2.1:9")}, Scheduler: "rr", Flags: FlagPersistent, Timeout: 360 * time.Second, Netmask: 16},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("[2001:db8::1]:53")}, Scheduler: "mh", Flags: FlagPersistent | FlagSchedFlag2, Timeout: 60 * time.Second, Netmask: 48,
			Destinations: []Destination{{Addr: mustAddrPort("[2001:db8::2]:53"), Forward: Tunnel, Weight: 1}}},
		{ServiceKey: ServiceKey{FWMark: 42, Protocol: TCP}, Scheduler: "lc",
			Destinations: []Destination{{Addr: mustAddrPort("198.51.100.9:0"), Forward: Route, Weight: 1}}},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("192.0.2.2:53")}, Scheduler: "sh", Flags: FlagOnePacket | FlagSchedFlag1 | FlagSchedFlag2,
			Destinations: []Destination{
				{Addr: mustAddrPort("198.51.100.3:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 5555, TunnelFlags: TunnelRemoteChecksum},
				{Addr: mustAddrPort("198.51.100.4:53"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
			}},
	}
	k := newFakeKernel()
	c := k.client(t)
	if _, err := c.Apply(Diff(desired, nil, nil)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	actual, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	if ops := Diff(desired, actual, func(ServiceKey) bool { return true }); len(ops) != 0 {
		t.Errorf("table read back differs from what was programmed: %v", ops)
	}
}

func TestOneWeightChangeIsOneRequest(t *testing.T) {
	const n = 5000
	k := newFakeKernel()
	k.dumpChunk = 64
	k.load(bigTable(n))
	c := k.client(t)

	desired := bigTable(n)
	desired[1234].Destinations[2].Weight = 0 // quiescent
	actual, err := c.Services()
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	ops := Diff(desired, actual, func(ServiceKey) bool { return true })
	want := []Op{{Kind: UpdateDest, Service: opService(&desired[1234], desired[1234].ServiceKey), Dest: desired[1234].Destinations[2]}}
	if diff := cmp.Diff(want, ops, cmpNetip); diff != "" {
		t.Fatalf("Diff (-want +got):\n%s", diff)
	}

	before, sendsBefore := c.Requests(), len(k.ipvsSends())
	if _, err := c.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := c.Requests() - before; got != 1 {
		t.Errorf("Apply sent %d requests, want 1", got)
	}
	if got := len(k.ipvsSends()) - sendsBefore; got != 1 {
		t.Errorf("Apply made %d sendmsg calls, want 1", got)
	}
	if w := k.services[1234].dests[2].weight; w != 0 {
		t.Errorf("kernel weight = %d, want 0", w)
	}
}

func TestInfoAndTimeouts(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	info, err := c.Info()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Info{Version: 0x010201, ConnTableSize: 4096}, info); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if v := info.VersionString(); v != "1.2.1" {
		t.Errorf("VersionString = %q, want 1.2.1", v)
	}

	if err := c.SetTimeouts(Timeouts{TCP: 600 * time.Second, UDP: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	reqs := k.requests()
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(reqs[len(reqs)-1].Data); err != nil {
		t.Fatal(err)
	}
	if gm.Header.Command != cmdSetConfig {
		t.Errorf("command = %d, want IPVS_CMD_SET_CONFIG", gm.Header.Command)
	}
	wantAttrs := []attr{{Type: attrTimeoutTCP, Data: ne32(600)}, {Type: attrTimeoutUDP, Data: ne32(30)}}
	if diff := cmp.Diff(wantAttrs, attrTree(t, gm.Data)); diff != "" {
		t.Errorf("SET_CONFIG attributes, zero TCPFin left out (-want +got):\n%s", diff)
	}

	got, err := c.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Timeouts{TCP: 600 * time.Second, TCPFin: 120 * time.Second, UDP: 30 * time.Second}, got); diff != "" {
		t.Errorf("Timeouts (-want +got):\n%s", diff)
	}
	if err := c.SetTimeouts(Timeouts{TCP: 500 * time.Millisecond}); err == nil {
		t.Error("SetTimeouts accepted a sub-second timeout")
	}
}

func TestSyncDaemons(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	if err := c.StartSyncDaemon(SyncDaemon{State: SyncMaster, Interface: "eth1", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	reqs := k.requests()
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(reqs[len(reqs)-1].Data); err != nil {
		t.Fatal(err)
	}
	want := []attr{{Type: attrDaemon, Nested: []attr{
		{Type: daemonState, Data: ne32(1)},
		{Type: daemonMcastIfn, Data: []byte("eth1\x00")},
		{Type: daemonSyncID, Data: ne32(7)},
	}}}
	if gm.Header.Command != cmdNewDaemon {
		t.Errorf("command = %d, want IPVS_CMD_NEW_DAEMON", gm.Header.Command)
	}
	if diff := cmp.Diff(want, attrTree(t, gm.Data)); diff != "" {
		t.Errorf("NEW_DAEMON attributes (-want +got):\n%s", diff)
	}
	if err := c.StartSyncDaemon(SyncDaemon{State: SyncBackup, Interface: "eth1", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	err := c.StartSyncDaemon(SyncDaemon{State: SyncMaster, Interface: "eth2"})
	if !errors.Is(err, unix.EEXIST) {
		t.Errorf("second master: error %v, want EEXIST", err)
	}

	ds, err := c.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	group := netip.MustParseAddr("224.0.0.81")
	wantDs := []SyncDaemon{
		{State: SyncMaster, Interface: "eth1", SyncID: 7, MaxLen: 1472, Group: group, Port: 8848, TTL: 1},
		{State: SyncBackup, Interface: "eth1", SyncID: 7, MaxLen: 1472, Group: group, Port: 8848, TTL: 1},
	}
	if diff := cmp.Diff(wantDs, ds, cmpNetip); diff != "" {
		t.Errorf("SyncDaemons (-want +got):\n%s", diff)
	}

	if err := c.StopSyncDaemon(SyncMaster); err != nil {
		t.Fatal(err)
	}
	if err := c.StopSyncDaemon(SyncMaster); !errors.Is(err, unix.ESRCH) {
		t.Errorf("stopping a stopped daemon: error %v, want ESRCH", err)
	}
	ds, err = c.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != SyncBackup {
		t.Errorf("SyncDaemons after stop = %+v, want the backup only", ds)
	}
	if err := c.StopSyncDaemon(0); err == nil {
		t.Error("StopSyncDaemon(0) accepted an invalid state")
	}
}

// TestStopSyncDaemonUnanswered: a daemon stopped before its thread ran
// gets no answer from the kernel (-EINTR); the stop must return, as a
// success, and leave the socket in step for the next request.
func TestStopSyncDaemonUnanswered(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	if err := c.StartSyncDaemon(SyncDaemon{State: SyncBackup, Interface: "eth1", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	k.silentStop = true
	if err := c.StopSyncDaemon(SyncBackup); err != nil {
		t.Fatalf("StopSyncDaemon without an answer: %v, want nil", err)
	}
	if err := c.StopSyncDaemon(SyncBackup); !errors.Is(err, unix.ESRCH) {
		t.Errorf("stopping it again: error %v, want ESRCH", err)
	}
	ds, err := c.SyncDaemons()
	if err != nil || len(ds) != 0 {
		t.Errorf("SyncDaemons after the stop = %+v, %v; want none", ds, err)
	}
	if len(k.queue) != 0 {
		t.Errorf("%d answers left unread", len(k.queue))
	}
}

func TestFlush(t *testing.T) {
	k := newFakeKernel()
	k.load(bigTable(3))
	c := k.client(t)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 0 {
		t.Errorf("%d services after Flush", len(svcs))
	}
}

func TestStaleRepliesAreSkipped(t *testing.T) {
	k := newFakeKernel()
	c := k.client(t)
	// An acknowledgement left over from an exchange that was abandoned.
	k.queue = append(k.queue, []netlink.Message{{
		Header: netlink.Header{Type: netlink.Error, Sequence: 9999, PID: nltest.PID},
		Data:   make([]byte, 20),
	}})
	info, err := c.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version != 0x010201 {
		t.Errorf("Info = %+v", info)
	}
}

func TestOpString(t *testing.T) {
	svc := Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: mustAddrPort("[2001:db8::1]:53")}}
	d := Destination{Addr: mustAddrPort("[2001:db8::2]:53")}
	fw := Service{ServiceKey: ServiceKey{FWMark: 5, IPv6: true}}
	tests := []struct {
		op   Op
		want string
	}{
		{Op{Kind: AddService, Service: svc}, "adding service udp [2001:db8::1]:53"},
		{Op{Kind: UpdateService, Service: fw}, "updating service fwmark 5 (IPv6)"},
		{Op{Kind: DelService, Service: Service{ServiceKey: ServiceKey{FWMark: 5}}}, "deleting service fwmark 5"},
		{Op{Kind: AddDest, Service: svc, Dest: d}, "adding destination [2001:db8::2]:53 to udp [2001:db8::1]:53"},
		{Op{Kind: UpdateDest, Service: svc, Dest: d}, "updating destination [2001:db8::2]:53 of udp [2001:db8::1]:53"},
		{Op{Kind: DelDest, Service: svc, Dest: d}, "deleting destination [2001:db8::2]:53 from udp [2001:db8::1]:53"},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// ackAll answers, as the kernel does for requests that succeed, those that
// ask for an acknowledgement with one and the others with nothing (a GET
// request with an empty reply), so that a benchmark measures the client.
type ackAll struct {
	queue []netlink.Message
	n     int
}

func (a *ackAll) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) == 0 {
		if len(a.queue) == 0 {
			return nil, fmt.Errorf("nothing to answer")
		}
		m := a.queue[0]
		a.queue = a.queue[1:]
		return []netlink.Message{m}, nil
	}
	for _, r := range reqs {
		if r.Header.Type == unix.GENL_ID_CTRL {
			ae := netlink.NewAttributeEncoder()
			ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, 0x30)
			ae.String(unix.CTRL_ATTR_FAMILY_NAME, genlName)
			b, _ := ae.Encode()
			gb, _ := genetlink.Message{Header: genetlink.Header{Command: unix.CTRL_CMD_NEWFAMILY}, Data: b}.MarshalBinary()
			a.queue = append(a.queue, netlink.Message{Header: netlink.Header{Sequence: r.Header.Sequence, PID: r.Header.PID}, Data: gb})
			continue
		}
		a.n++
		var gm genetlink.Message
		_ = gm.UnmarshalBinary(r.Data)
		switch {
		case gm.Header.Command == cmdGetInfo:
			a.queue = append(a.queue, netlink.Message{Header: netlink.Header{Type: r.Header.Type, Sequence: r.Header.Sequence, PID: r.Header.PID}, Data: r.Data[:4]})
		case r.Header.Flags&netlink.Acknowledge != 0:
			a.queue = append(a.queue, netlink.Message{
				Header: netlink.Header{Type: netlink.Error, Sequence: r.Header.Sequence, PID: r.Header.PID},
				Data:   make([]byte, 20),
			})
		}
	}
	return nil, nil
}

func BenchmarkEncode(b *testing.B) {
	ops := Diff(bigTable(5000), nil, nil) // 5,000 services + 20,000 destinations
	ops = ops[:0:0]
	for _, s := range bigTable(5000) {
		for _, d := range s.Destinations {
			ops = append(ops, Op{Kind: UpdateDest, Service: opService(&s, s.ServiceKey), Dest: d})
		}
	}
	if len(ops) != 20000 {
		b.Fatalf("%d ops", len(ops))
	}
	fake := &ackAll{}
	c, err := newClient(nltest.Dial(fake.serve))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fake.n)/float64(b.N), "requests/op")
}
