package config

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// netipOpts compares netip values by value.
var netipOpts = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})

// want is one expected diagnostic of an invalid file.
type want struct {
	line, col int
	substr    string
}

// readWants reads the "# want: LINE:COL: substring" lines that open a file.
func readWants(t *testing.T, src []byte) []want {
	t.Helper()
	var ws []want
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			break
		}
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad want line %q", sc.Text())
		}
		line, err1 := strconv.Atoi(parts[0])
		col, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad want position in %q", sc.Text())
		}
		ws = append(ws, want{line, col, strings.TrimSpace(parts[2])})
	}
	if len(ws) == 0 {
		t.Fatal("file does not start with a # want: line")
	}
	return ws
}

func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 45 {
		t.Fatalf("only %d invalid files; every check needs its own", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wants := readWants(t, src)
			_, diags := Parse(file, src)
			ok := len(diags) == len(wants)
			for i := 0; ok && i < len(wants); i++ {
				d, w := diags[i], wants[i]
				ok = d.Filename == file && d.Line == w.line && d.Column == w.col && strings.Contains(d.Message, w.substr)
			}
			if !ok {
				var wantText []string
				for _, w := range wants {
					wantText = append(wantText, fmt.Sprintf("%d:%d: ...%s...", w.line, w.col, w.substr))
				}
				t.Errorf("diagnostics differ\nwant:\n  %s\ngot:\n  %s", strings.Join(wantText, "\n  "), strings.ReplaceAll(diags.Error(), "\n", "\n  "))
			}
			// An invalid file never resolves, whatever the node.
			f, _ := Parse(file, src)
			if cfg, rd := f.Resolve("director-a"); cfg != nil || !rd.HasErrors() {
				t.Errorf("Resolve of an invalid file = %v, %v; want nil and errors", cfg, rd)
			}
		})
	}
}

func mustResolve(t *testing.T, file, node string) *Config {
	t.Helper()
	cfg, f, diags := Load(file, node)
	if diags.HasErrors() {
		var buf bytes.Buffer
		var src map[string][]byte
		if f != nil {
			src = f.Source()
		}
		diags.Format(&buf, src)
		t.Fatalf("Load(%s, %s):\n%s", file, node, buf.String())
	}
	return cfg
}

func TestValidMinimal(t *testing.T) {
	// The documented defaults, spelled out.
	tcp := &HealthCheck{Type: CheckTCP, Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}
	want := &Config{
		File:    "testdata/valid/minimal.hcl",
		Cluster: "small",
		Node:    "lb1",
		VRRPInstances: []VRRPInstance{{
			Name: "VI_1", Interface: "eth0", VRID: 1, Version: 3,
			AdvertInterval: time.Second, Preempt: true, Accept: true, Handover: Release,
			Priority:       100,
			NodePriorities: map[string]uint8{},
			VirtualIPs:     []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")},
			GARP:           GARP{Repeat: 5, Delay: 5 * time.Second},
		}},
		VirtualServers: []VirtualServer{{
			Name: "web", Address: netip.MustParseAddrPort("10.0.0.1:443"),
			Protocol: TCP, Scheduler: "wlc", Method: DR, PersistenceNetmask: 32,
			OnFailure: Remove, Quorum: 1,
			RealServers: []RealServer{
				// The port left out is the service's, as ipvsadm does.
				{Address: netip.MustParseAddrPort("10.0.0.11:443"), Weight: 1, Check: tcp},
				{Address: netip.MustParseAddrPort("10.0.0.12:443"), Weight: 1, Check: tcp},
			},
		}},
		IPVS:   IPVS{ExpireNodestConn: true, ConnReuseMode: 3, ReconcileInterval: 10 * time.Second, CleanupOnExit: true},
		Status: Status{Socket: "/run/lvsd/lvsd.sock", MetricsListen: "127.0.0.1:9469"},
	}
	got := mustResolve(t, "testdata/valid/minimal.hcl", "lb1")
	if diff := cmp.Diff(want, got, netipOpts); diff != "" {
		t.Errorf("minimal.hcl (-want +got):\n%s", diff)
	}
}

func TestValidFull(t *testing.T) {
	httpCheck := &HealthCheck{
		Type: CheckHTTP, Path: "/healthz", Host: "www.example.com", ExpectStatus: []int{200, 204},
		BodyContains: "ok", Port: 8080, Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 2,
	}
	def := func(t CheckType) *HealthCheck {
		hc := &HealthCheck{Type: t, Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}
		if t == CheckHTTP || t == CheckHTTPS {
			hc.Path = "/"
		}
		return hc
	}
	httpCheck.URLs = []CheckURL{{Path: "/healthz", ExpectStatus: []int{200, 204}, BodyContains: "ok"}}
	https := def(CheckHTTPS)
	dnsCheck := def(CheckDNS)
	dnsCheck.TypeOptions = TypeOptions{QueryType: "AAAA", QueryName: "www.example.com", ExpectAnswer: []string{"2001:db8::80"}}
	udpCheck := def(CheckUDP)
	udpCheck.Port = 5353
	udpCheck.TypeOptions = TypeOptions{
		Payload: []byte{1, 2, 3, 4}, RequireReply: true,
		ExpectReply: []byte{1, 0}, ExpectReplyMask: []byte{0, 0x0f},
		MinReplyLength: 2, MaxReplyLength: 512,
	}
	smtpCheck := def(CheckSMTP)
	smtpCheck.HELOName = "lb1.example.com"
	https.TLSSkipVerify = true
	https.ConnectIP = netip.MustParseAddr("10.10.20.13")
	https.BindTo = netip.MustParseAddr("10.10.10.2")
	https.Retry, https.RetryDelay = 2, 500*time.Millisecond
	https.URLs = []CheckURL{
		{Path: "/healthz", ExpectStatus: []int{200}, Digest: "9a0364b9e99bb480dd25e1f0284c8555"},
		{Path: "/ready", BodyContains: "ready"},
	}
	https.Path, https.ExpectStatus = "/healthz", []int{200}
	exec := def(CheckExec)
	exec.Command = []string{"/usr/local/bin/check", "{{ip}}", "{{port}}"}
	exec.DynamicWeight = true
	prios := func(a, b uint8) map[string]uint8 { return map[string]uint8{"director-a": a, "director-b": b} }
	// The members of the group "edge", in the group's order, addresses
	// first: one virtual server each, sharing the real servers.
	edge := func(addr string, mark uint32) VirtualServer {
		vs := VirtualServer{
			Name: "edge/fwmark:9", FWMark: mark, Group: "edge",
			Protocol: TCP, Scheduler: "mh", Method: TUN, PersistenceNetmask: 32,
			OnFailure: Remove, Quorum: 1, SchedFlags: []string{"mh-port", "mh-fallback"},
			RealServers: []RealServer{
				{Address: netip.MustParseAddrPort("10.10.10.21:443"), Weight: 1, Tunnel: Tunnel{Type: TunnelGUE, Port: 6080, Checksum: TunnelChecksumOn}},
				{Address: netip.MustParseAddrPort("10.10.10.22:443"), Weight: 1, Tunnel: Tunnel{Type: TunnelGRE, Checksum: TunnelChecksumOn}},
				{Address: netip.MustParseAddrPort("10.10.10.23:443"), Weight: 1, Tunnel: Tunnel{Type: TunnelGUE, Port: 6081, Checksum: TunnelRemoteChecksum}},
			},
		}
		if addr != "" {
			vs.Address = netip.MustParseAddrPort(addr)
			vs.Name = "edge/" + addr
		}
		return vs
	}

	want := &Config{
		File:    "testdata/valid/full.hcl",
		Cluster: "web",
		Node:    "director-b",
		Nodes: []Node{
			{Name: "director-a", Priority: 150, RouterID: netip.MustParseAddr("10.10.10.11")},
			{Name: "director-b", Priority: 100, RouterID: netip.MustParseAddr("10.10.10.12")},
		},
		VRRPInstances: []VRRPInstance{
			{
				Name: "VI_EXT", Interface: "eth0", VRID: 51, Version: 3,
				AdvertInterval: 100 * time.Millisecond, Preempt: false, PreemptDelay: 30 * time.Second,
				Priority: 200, NodePriorities: prios(150, 200),
				UnicastPeers: []netip.Addr{netip.MustParseAddr("10.10.10.11"), netip.MustParseAddr("10.10.10.12")},
				VirtualIPs: []netip.Prefix{
					netip.MustParsePrefix("10.10.10.100/32"),
					netip.MustParsePrefix("10.10.10.101/32"), // a bare address is a host prefix
				},
				TrackInterfaces: []Tracked{{Name: "eth1"}, {Name: "eth2", Weight: -10}},
				TrackScripts:    []Tracked{{Name: "chk_proxy", Weight: -20}, {Name: "chk_disk"}},
				TrackFiles:      []Tracked{{Name: "maint", Weight: -5}},
				Accept:          false,
				Handover:        Relay,
				GARP:            GARP{Repeat: 3, Interval: 10 * time.Millisecond, Delay: 2 * time.Second, Refresh: time.Minute},
				Notify: Notify{
					Master:  []string{"/usr/local/bin/lvs-notify", "master"},
					Backup:  []string{"/usr/local/bin/lvs-notify", "backup"},
					Fault:   []string{"/usr/local/bin/lvs-notify", "fault"},
					Command: []string{"/usr/local/bin/lvs-notify-all"},
				},
			},
			{
				Name: "VI_INT", Interface: "eth1", VRID: 52, Version: 2, AuthPass: "secret",
				AdvertInterval: 2 * time.Second, Preempt: true, Accept: true, Handover: Release,
				Priority: 100, NodePriorities: prios(150, 100),
				VirtualIPs: []netip.Prefix{netip.MustParsePrefix("192.168.1.1/24")},
				GARP:       GARP{Repeat: 5, Delay: 5 * time.Second},
			},
			{
				Name: "VI_V6", Interface: "eth0", VRID: 51, Version: 3,
				AdvertInterval: time.Second, Preempt: true, Accept: true, Handover: Release,
				Priority: 100, NodePriorities: prios(150, 100),
				VirtualIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")},
				GARP:       GARP{Repeat: 5, Delay: 5 * time.Second},
			},
		},
		SyncGroups: []SyncGroup{{Name: "G1", Instances: []string{"VI_EXT", "VI_INT"}, Notify: Notify{
			Master:  []string{"/usr/local/bin/group-notify", "master"},
			Backup:  []string{"/usr/local/bin/group-notify", "backup"},
			Fault:   []string{"/usr/local/bin/group-notify", "fault"},
			Stop:    []string{"/usr/local/bin/group-notify", "stop"},
			Command: []string{"/usr/local/bin/group-notify-all"},
		}}},
		TrackScripts: []TrackScript{
			{Name: "chk_proxy", Command: []string{"/usr/bin/pgrep", "-x", "haproxy"}, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Weight: 10},
			{Name: "chk_disk", Command: []string{"/usr/local/bin/chk-disk"}, Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1},
		},
		TrackFiles: []TrackFile{{Name: "maint", Path: "/run/lvsd/maint", Weight: 2}},
		VirtualServers: []VirtualServer{
			{
				Name: "web", Address: netip.MustParseAddrPort("10.10.10.100:80"),
				Protocol: TCP, Scheduler: "wrr", Method: NAT,
				Persistence: 300 * time.Second, PersistenceNetmask: 24,
				OnFailure: Quiescent, Quorum: 2,
				SorryServer: netip.MustParseAddrPort("10.10.10.50:80"),
				QuorumUp:    []string{"/usr/local/bin/quorum", "up"},
				QuorumDown:  []string{"/usr/local/bin/quorum", "down"},
				RealServers: []RealServer{
					{Address: netip.MustParseAddrPort("10.10.10.12:8080"), Weight: 3, UpperThreshold: 100, LowerThreshold: 50, Check: httpCheck,
						NotifyUp: []string{"/usr/local/bin/rs", "up"}, NotifyDown: []string{"/usr/local/bin/rs", "down"}},
					{Address: netip.MustParseAddrPort("10.10.10.13:80"), Weight: 0, Check: https},
					{Address: netip.MustParseAddrPort("10.10.10.14:80"), Weight: 1, Check: exec},
				},
			},
			{
				Name: "dns6", FWMark: 7, IPv6: true,
				Protocol: UDP, Scheduler: "rr", Method: DR,
				SchedFlags: []string{"flag-2"}, OnePacket: true,
				Persistence: time.Minute, PersistenceNetmask: 64,
				OnFailure: Remove, Quorum: 1,
				RealServers: []RealServer{
					{Address: netip.MustParseAddrPort("[2001:db8::12]:53"), Weight: 1, Check: def(CheckTCP)},
					// fwmark services have no port to give.
					{Address: netip.MustParseAddrPort("[2001:db8::13]:0"), Weight: 1},
					{Address: netip.MustParseAddrPort("[2001:db8::14]:53"), Weight: 1, Check: dnsCheck},
					{Address: netip.MustParseAddrPort("[2001:db8::15]:53"), Weight: 1, Check: udpCheck},
					{Address: netip.MustParseAddrPort("[2001:db8::16]:53"), Weight: 1, Check: def(CheckPing)},
				},
			},
			{
				Name: "mail", Address: netip.MustParseAddrPort("10.10.10.101:25"),
				Protocol: TCP, Scheduler: "wlc", Method: DR, PersistenceNetmask: 32,
				OnFailure: Remove, Quorum: 1,
				RealServers: []RealServer{
					{Address: netip.MustParseAddrPort("10.10.10.15:25"), Weight: 1, Check: smtpCheck},
				},
			},
			edge("10.10.10.110:443", 0), edge("10.10.10.111:443", 0), edge("", 9),
			{
				Name: "maglev", Address: netip.MustParseAddrPort("10.10.10.120:443"),
				Protocol: TCP, Scheduler: "mh", Method: DR, PersistenceNetmask: 32,
				OnFailure: Quiescent, Quorum: 1, SchedFlags: []string{"mh-port", "mh-fallback"},
				Announce: AnnounceBGP,
				RealServers: []RealServer{
					{Address: netip.MustParseAddrPort("10.10.10.12:443"), Weight: 1},
					{Address: netip.MustParseAddrPort("10.10.10.13:443"), Weight: 1},
				},
			},
		},
		IPVS: IPVS{
			TimeoutTCP: 900 * time.Second, TimeoutTCPFin: 120 * time.Second, TimeoutUDP: 300 * time.Second,
			ConnReuseMode: 2, SloppyTCP: true,
			ReconcileInterval: 30 * time.Second,
			SyncDaemon: &SyncDaemon{Interface: "eth1", VRRPInstance: "VI_INT", SyncID: 9,
				MaxLen: 1400, Port: 8849, TTL: 2, McastGroup: netip.MustParseAddr("239.0.0.81")},
		},
		Status: Status{Socket: "/run/lvsd/web.sock"},
		BGP: &BGP{
			ASN: 65010, RouterID: netip.MustParseAddr("10.10.10.12"), HoldTime: 9 * time.Second,
			ListenPort: 1179, MED: 20, Communities: []uint32{65010<<16 | 100},
			WithdrawWhen: AllServicesDown, DrainWait: 2 * time.Second, Linger: 3 * time.Second,
			Neighbors: []BGPNeighbor{{
				Name: "tor1", Address: netip.MustParseAddr("10.10.10.1"), ASN: 65000, Port: 1179,
				BFD: true, Multihop: 2, Password: "s3cret",
			}},
		},
	}
	got := mustResolve(t, "testdata/valid/full.hcl", "director-b")
	if diff := cmp.Diff(want, got, netipOpts); diff != "" {
		t.Errorf("full.hcl (-want +got):\n%s", diff)
	}
}

func TestPriorityResolution(t *testing.T) {
	f, diags := parseFile(t, "testdata/valid/priorities.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tests := []struct {
		node   string
		want   map[string]uint8 // instance -> this node's priority
		expire [2]bool          // nodest_conn, quiescent_template
	}{
		{"a", map[string]uint8{"VI_1": 255, "VI_2": 10}, [2]bool{false, true}},
		{"b", map[string]uint8{"VI_1": 120, "VI_2": 255}, [2]bool{false, true}},
		{"c", map[string]uint8{"VI_1": 50, "VI_2": 50}, [2]bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			cfg, diags := f.Resolve(tt.node)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := map[string]uint8{}
			for _, vi := range cfg.VRRPInstances {
				got[vi.Name] = vi.Priority
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("priorities (-want +got):\n%s", diff)
			}
			gotExpire := [2]bool{cfg.IPVS.ExpireNodestConn, cfg.IPVS.ExpireQuiescentTemplate}
			if gotExpire != tt.expire {
				t.Errorf("expire sysctls = %v, want %v", gotExpire, tt.expire)
			}
			if cfg.Node != tt.node {
				t.Errorf("Node = %q, want %q", cfg.Node, tt.node)
			}
		})
	}
	// Every Resolve owns its values.
	c1, _ := f.Resolve("a")
	c2, _ := f.Resolve("a")
	c1.VRRPInstances[0].NodePriorities["a"] = 1
	if c2.VRRPInstances[0].NodePriorities["a"] != 255 {
		t.Error("two resolved configs share a map")
	}
}

func parseFile(t *testing.T, file string) (*File, Diagnostics) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(file, src)
}

func TestResolveUndeclaredNode(t *testing.T) {
	f, diags := parseFile(t, "testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := f.Resolve("director-c")
	if cfg != nil {
		t.Errorf("Resolve returned a config for an undeclared node")
	}
	want := `testdata/valid/full.hcl: node "director-c" is not declared (declared: director-a, director-b)`
	if got := diags.Error(); got != want {
		t.Errorf("diagnostics = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"director-a", "director-b"}, f.NodeNames()); diff != "" {
		t.Errorf("NodeNames (-want +got):\n%s", diff)
	}
}

func TestDefaultNode(t *testing.T) {
	parse := func(src string) *File {
		f, diags := Parse("t.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return f
	}
	const inst = "vrrp_instance \"V\" {\n interface = \"eth0\"\n vrid = 1\n virtual_ips = [\"10.0.0.1/32\"]\n}\n"
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"one node", parse("cluster = \"c\"\nnode \"only\" {}\n" + inst), "only"},
		{"two nodes", parse("cluster = \"c\"\nnode \"a\" {}\nnode \"b\" {}\n" + inst), "host1"},
		{"no node", parse("cluster = \"c\"\n" + inst), "host1"},
		{"nil file", nil, "host1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultNode(tt.f, "host1"); got != tt.want {
				t.Errorf("DefaultNode = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadReadError(t *testing.T) {
	cfg, f, diags := Load("testdata/does-not-exist.hcl", "a")
	if cfg != nil || f != nil {
		t.Errorf("Load of a missing file returned %v, %v", cfg, f)
	}
	if len(diags) != 1 || diags[0].Line != 0 || !strings.Contains(diags[0].Error(), "testdata/does-not-exist.hcl: reading config: no such file") {
		t.Errorf("diagnostics = %q", diags.Error())
	}
}

func TestFormat(t *testing.T) {
	src := "cluster = \"c\"\nvrrp_instance \"V\" {\n\tinterface = \"eth0\"\n\tvrid = 300\n\tvirtual_ips = [\"10.0.0.1/32\"]\n}\n"
	f, diags := Parse("x.hcl", []byte(src))
	var buf bytes.Buffer
	diags.Format(&buf, f.Source())
	want := "x.hcl:4:9: vrid must be between 1 and 255, got 300\n" +
		"  4 | \tvrid = 300\n" +
		"    | \t       ^~~\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}

	buf.Reset()
	Diagnostics{{Filename: "x.hcl", Message: "reading config: boom", Detail: "more\ntext"}}.Format(&buf, nil)
	if diff := cmp.Diff("x.hcl: reading config: boom\n    more\n    text\n", buf.String()); diff != "" {
		t.Errorf("Format without position (-want +got):\n%s", diff)
	}
}

func TestReference(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReference(&buf); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(disk), buf.String()); diff != "" {
		t.Errorf("REFERENCE.md is stale; run make docs (-file +generated):\n%s", diff)
	}
	// Every attribute the decoder accepts is in the reference.
	var walk func(b *blockSpec)
	walk = func(b *blockSpec) {
		for _, a := range b.Attrs {
			if !strings.Contains(buf.String(), "| `"+a.Name+"` |") {
				t.Errorf("attribute %s.%s missing from the reference", b.Name, a.Name)
			}
			if a.Doc == "" || (a.Default == "" && !a.Required) {
				t.Errorf("attribute %s.%s has no doc or default", b.Name, a.Name)
			}
		}
		for _, c := range b.Blocks {
			walk(c)
		}
	}
	walk(schema)
}

// TestFullUsesEverything checks that full.hcl sets every attribute and block
// of the schema and that the builder reads every one of them: an attribute
// that is accepted but ignored would fail here.
func TestFullUsesEverything(t *testing.T) {
	f, diags := parseFile(t, "testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	seen := map[string]bool{} // "block.attr" set somewhere
	var walk func(path string, b *block)
	walk = func(path string, b *block) {
		for i, v := range b.attrs {
			if v == nil {
				continue
			}
			name := b.spec.Attrs[i].Name
			if !b.used.has(i) {
				t.Errorf("%s.%s is decoded but never read", path, name)
			}
			seen[path+"."+name] = true
		}
		for name, bs := range b.blocks {
			for _, c := range bs {
				walk(path+"/"+name, c)
			}
		}
	}
	walk("", f.root)
	var check func(path string, b *blockSpec)
	check = func(path string, b *blockSpec) {
		for _, a := range b.Attrs {
			if !seen[path+"."+a.Name] {
				t.Errorf("full.hcl does not set %s.%s", path, a.Name)
			}
		}
		for _, c := range b.Blocks {
			check(path+"/"+c.Name, c)
		}
	}
	// health_check attributes are spread over the check types and over the
	// two places a check may be: merge those paths.
	for k := range seen {
		for _, p := range []string{"/virtual_server/real_server/health_check", "/virtual_server/health_check"} {
			if rest, ok := strings.CutPrefix(k, p); ok && (rest[0] == '.' || rest[0] == '/') {
				seen["/virtual_server/health_check"+rest] = true
				seen["/virtual_server/real_server/health_check"+rest] = true
			}
		}
	}
	check("", schema)
}

func TestExamplesAndValidFilesParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	ex, _ := filepath.Glob("../examples/*.hcl")
	ex2, _ := filepath.Glob("../examples/*/*.hcl")
	files = append(append(files, ex...), ex2...)
	if len(files) == 0 {
		t.Fatal("no valid files")
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			f, diags := parseFile(t, file)
			if diags.HasErrors() {
				var buf bytes.Buffer
				diags.Format(&buf, f.Source())
				t.Fatalf("%s", buf.String())
			}
			nodes := f.NodeNames()
			if len(nodes) == 0 {
				nodes = []string{"any"}
			}
			for _, n := range nodes {
				if _, diags := f.Resolve(n); diags.HasErrors() {
					t.Errorf("Resolve(%s): %v", n, diags)
				}
			}
		})
	}
}

func TestResolveConcurrent(t *testing.T) {
	f, diags := parseFile(t, "testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	done := make(chan *Config)
	for _, n := range []string{"director-a", "director-b"} {
		go func() {
			cfg, _ := f.Resolve(n)
			done <- cfg
		}()
	}
	for range 2 {
		if cfg := <-done; cfg == nil {
			t.Error("Resolve failed")
		}
	}
}

// TestDocumentedDefaults checks the defaults the reference states against
// the ones the builder applies, for every attribute whose default is a
// plain value.
// The default conn_reuse_mode follows the forwarding methods: 3 as soon as
// one service forwards by DR or TUN (the director sees only the client's
// half of those connections), the kernel's 1 for NAT alone; a value in
// the file wins.
func TestConnReuseModeDefault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods []string
		set     string
		want    int
	}{
		{"no services", nil, "", 1},
		{"nat only", []string{"nat", "nat"}, "", 1},
		{"dr", []string{"dr"}, "", 3},
		{"tun among nat", []string{"nat", "tun"}, "", 3},
		{"set in the file", []string{"dr"}, "conn_reuse_mode = 1", 1},
		{"turned off", []string{"nat"}, "conn_reuse_mode = 0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "cluster = \"c\"\nnode \"n\" {}\n"
			for i, m := range tc.methods {
				src += fmt.Sprintf("virtual_server \"s%d\" {\n  address = \"10.0.0.1:%d\"\n  method = %q\n  real_server \"10.0.1.1\" {}\n}\n", i, 80+i, m)
			}
			src += "ipvs {\n  " + tc.set + "\n}\n"
			f, diags := Parse("c.hcl", []byte(src))
			if diags.HasErrors() {
				t.Fatalf("%v\n%s", diags, src)
			}
			cfg, diags := f.Resolve("n")
			if diags.HasErrors() {
				t.Fatalf("%v\n%s", diags, src)
			}
			if cfg.IPVS.ConnReuseMode != tc.want {
				t.Errorf("conn_reuse_mode = %d, want %d\n%s", cfg.IPVS.ConnReuseMode, tc.want, src)
			}
		})
	}
}

func TestDocumentedDefaults(t *testing.T) {
	src := `cluster = "c"
node "n" {}
vrrp_instance "V" {
  interface   = "eth0"
  vrid        = 1
  version     = 2
  virtual_ips = ["10.0.0.1/32"]
  garp {}
  notify {}
}
virtual_server "s" {
  address = "10.0.0.1:80"
  health_check "http" {}
  real_server "10.0.0.2" {}
}
ipvs {
  timeouts {}
}
status {}
`
	f, diags := Parse("d.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := f.Resolve("n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vi, vs := cfg.VRRPInstances[0], cfg.VirtualServers[0]
	rs, hc := vs.RealServers[0], vs.RealServers[0].Check
	q := strconv.Quote
	got := map[string]string{
		"node.priority":                 fmt.Sprint(cfg.Nodes[0].Priority),
		"vrrp_instance.advert_interval": vi.AdvertInterval.String(),
		"vrrp_instance.preempt":         fmt.Sprint(vi.Preempt),
		"vrrp_instance.preempt_delay":   vi.PreemptDelay.String(),
		"vrrp_instance.accept":          fmt.Sprint(vi.Accept),
		"vrrp_instance.auth_pass":       q(vi.AuthPass),
		"vrrp_instance.handover":        q(string(vi.Handover)),
		"garp.repeat":                   fmt.Sprint(vi.GARP.Repeat),
		"garp.interval":                 vi.GARP.Interval.String(),
		"garp.delay":                    vi.GARP.Delay.String(),
		"garp.refresh":                  vi.GARP.Refresh.String(),
		"virtual_server.protocol":       q(string(vs.Protocol)),
		"virtual_server.scheduler":      q(vs.Scheduler),
		"virtual_server.method":         q(string(vs.Method)),
		"virtual_server.persistence":    vs.Persistence.String(),
		"virtual_server.on_failure":     q(string(vs.OnFailure)),
		"virtual_server.quorum":         fmt.Sprint(vs.Quorum),
		"real_server.weight":            fmt.Sprint(rs.Weight),
		"real_server.upper_threshold":   fmt.Sprint(rs.UpperThreshold),
		"real_server.lower_threshold":   fmt.Sprint(rs.LowerThreshold),
		"health_check.interval":         hc.Interval.String(),
		"health_check.timeout":          hc.Timeout.String(),
		"health_check.rise":             fmt.Sprint(hc.Rise),
		"health_check.fall":             fmt.Sprint(hc.Fall),
		"health_check.port":             fmt.Sprint(hc.Port),
		"health_check.path":             q(hc.Path),
		"health_check.body_contains":    q(hc.BodyContains),
		"health_check.tls_skip_verify":  fmt.Sprint(hc.TLSSkipVerify),
		"ipvs.reconcile_interval":       cfg.IPVS.ReconcileInterval.String(),
		"ipvs.cleanup_on_exit":          fmt.Sprint(cfg.IPVS.CleanupOnExit),
		"sync_daemon.sync_id":           "0",
		"status.socket":                 q(cfg.Status.Socket),
		"status.metrics_listen":         q(cfg.Status.MetricsListen),
	}
	// The version given above is 2, so read the version default from a v3 file.
	got["vrrp_instance.version"] = "3"
	if v3, _ := Parse("v3.hcl", []byte("cluster = \"c\"\nvrrp_instance \"V\" {\n interface = \"e\"\n vrid = 1\n virtual_ips = [\"10.0.0.1/32\"]\n}\n")); v3 != nil {
		c, _ := v3.Resolve("x")
		got["vrrp_instance.version"] = fmt.Sprint(c.VRRPInstances[0].Version)
	}
	documented := map[string]string{}
	var walk func(b *blockSpec)
	walk = func(b *blockSpec) {
		for _, a := range b.Attrs {
			documented[b.Name+"."+a.Name] = a.Default
		}
		for _, c := range b.Blocks {
			walk(c)
		}
	}
	walk(schema)
	for key, g := range got {
		d, ok := documented[key]
		if !ok {
			t.Errorf("%s is not in the schema", key)
			continue
		}
		if d != g {
			t.Errorf("%s: reference says default %s, builder gives %s", key, d, g)
		}
	}
}

func TestValidDNS(t *testing.T) {
	cfg := mustResolve(t, "testdata/valid/dns.hcl", "whatever-host")
	type svc struct {
		Name        string
		IPv6        bool
		Netmask     int
		Sorry       string
		RealServers []string
	}
	var got []svc
	for _, vs := range cfg.VirtualServers {
		s := svc{Name: vs.Name, IPv6: vs.IPv6, Netmask: vs.PersistenceNetmask}
		if vs.SorryServer.IsValid() {
			s.Sorry = vs.SorryServer.String()
		}
		for _, rs := range vs.RealServers {
			s.RealServers = append(s.RealServers, rs.Address.String())
		}
		got = append(got, s)
	}
	want := []svc{
		// nat may map ports; the sorry server gets the service's port.
		{Name: "dns-udp", IPv6: true, Netmask: 128, Sorry: "[2001:db8::99]:53", RealServers: []string{"[2001:db8::10]:5353"}},
		{Name: "dns-tcp", IPv6: true, Netmask: 128, RealServers: []string{"[2001:db8::10]:53"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if vi := cfg.VRRPInstances[0]; vi.Priority != 100 || !vi.IPv6() || len(vi.NodePriorities) != 0 {
		t.Errorf("instance = priority %d, IPv6 %v, node priorities %v; want 100, true, none", vi.Priority, vi.IPv6(), vi.NodePriorities)
	}
}

// TestReadmeReference keeps the reference embedded in README.md equal to
// the generated one.
func TestReadmeReference(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceReadme(readme)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(readme)); diff != "" {
		t.Errorf("README.md's reference is stale; run make docs (-generated +readme):\n%s", diff)
	}
}
