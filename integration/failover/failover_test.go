package failover

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
)

// Lines as tcpdump -nn -tt -e prints them, from the captures of LAB.md and
// of lvsd.
const (
	lineV2   = "1795255843.778123 9e:2b:b4:3e:0d:84 > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 58: 192.0.2.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 110, authtype simple, intvl 1s, length 24"
	lineV3U  = "1795255873.198607 82:9d:53:e5:29:92 > 42:c3:0d:f6:ea:db, ethertype IPv4 (0x0800), length 46: 192.0.2.11 > 192.0.2.12: VRRPv3, Advertisement, vrid 54, prio 0, intvl 50cs, length 12"
	lineGARP = "1795255843.778543 9e:2b:b4:3e:0d:84 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 192.0.2.100 (ff:ff:ff:ff:ff:ff) tell 192.0.2.100, length 28"
	lineRepl = "1795258920.353926 02:1a:00:02:00:00 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Reply 192.0.2.100 is-at 02:1a:00:02:00:00, length 46"
	lineARP  = "1795255873.198583 82:9d:53:e5:29:92 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 192.0.2.12 tell 192.0.2.11, length 28"
)

func TestParseAdvert(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Advert
		ok   bool
	}{
		{lineV2, Advert{Src: "192.0.2.11", Dst: "224.0.0.18", Version: 2, VRID: 51, Priority: 110}, true},
		{lineV3U, Advert{Src: "192.0.2.11", Dst: "192.0.2.12", Version: 3, VRID: 54, Priority: 0}, true},
		{lineGARP, Advert{}, false},
	} {
		got, ok := ParseAdvert(lab.Frame{Text: tc.line})
		if ok != tc.ok {
			t.Errorf("ParseAdvert(%q) ok = %v, want %v", tc.line, ok, tc.ok)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseAdvert(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

func TestIsGARP(t *testing.T) {
	for _, tc := range []struct {
		line, mac string
		want      bool
	}{
		{lineGARP, "9e:2b:b4:3e:0d:84", true},
		{lineGARP, "02:1a:00:02:00:00", false}, // another sender
		{lineRepl, "02:1a:00:02:00:00", true},
		{lineARP, "82:9d:53:e5:29:92", false}, // an ordinary request
		{lineV2, "9e:2b:b4:3e:0d:84", false},
	} {
		if got := IsGARP(lab.Frame{Text: tc.line}, tc.mac); got != tc.want {
			t.Errorf("IsGARP(%q, %s) = %v, want %v", tc.line, tc.mac, got, tc.want)
		}
	}
}

func TestResultMeasureAndCheck(t *testing.T) {
	p := &Pair{
		Master: &Node{Addr: AddrA},
		Backup: &Node{Addr: AddrB},
	}
	base := time.Unix(1795255843, 0)
	frame := func(ms float64, text string) lab.Frame {
		return lab.Frame{Time: base.Add(time.Duration(ms * float64(time.Millisecond))), Text: text}
	}
	mac := "02:1a:00:02:00:00"
	advert := func(src string, prio int) string {
		return "0 02:1a:00:01:00:00 > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 46: " + src +
			" > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio " + strconv.Itoa(prio) + ", intvl 10cs, length 12"
	}
	garp := "0 " + mac + " > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Request who-has 192.0.2.100 (ff:ff:ff:ff:ff:ff) tell 192.0.2.100, length 46"
	c := Case{Master: LVSD, Backup: LVSD, Version: 3, Interval: 100 * time.Millisecond}
	frames := []lab.Frame{
		frame(0, advert(AddrA, 150)),
		frame(100, advert(AddrA, 150)),
		frame(461.5, advert(AddrB, 100)),
		frame(462, garp),
		frame(470, advert(AddrA, 150)), // after the takeover: not the reference
	}
	r := Result{Case: c, Signal: syscall.SIGKILL, Expected: c.MasterDownInterval(), Frames: frames}
	if err := r.measure(p, mac); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Gap, 361500*time.Microsecond; got != want {
		t.Errorf("gap %v, want %v", got, want)
	}
	if got, want := r.GARPGap, 362*time.Millisecond; got != want {
		t.Errorf("GARP gap %v, want %v", got, want)
	}
	if err := r.Check(Tolerance(r.Expected), time.Millisecond); err != nil {
		t.Errorf("Check: %v", err)
	}
	late := r
	late.Gap += 20 * time.Millisecond
	late.GARPGap += 20 * time.Millisecond
	if err := late.Check(Tolerance(r.Expected), time.Millisecond); err == nil || !strings.Contains(err.Error(), "advert gap") {
		t.Errorf("Check of a gap 20 ms late: %v, want an advert gap error", err)
	}
	if err := r.Check(Tolerance(r.Expected), 100*time.Microsecond); err == nil || !strings.Contains(err.Error(), "GARP") {
		t.Errorf("Check of a GARP 0.5 ms late with 0.1 ms allowed: %v, want a GARP error", err)
	}
	lagging := r
	lagging.GARPGap = r.Gap + 2*Tolerance(r.Expected)
	if err := lagging.Check(Tolerance(r.Expected), 50*time.Millisecond); err != nil {
		t.Errorf("Check of a GARP %v after the advert with 50 ms allowed: %v", lagging.GARPGap-r.Gap, err)
	}
	early := r
	early.GARPGap = r.Expected - 2*Tolerance(r.Expected)
	if err := early.Check(Tolerance(r.Expected), 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "GARP gap") {
		t.Errorf("Check of a GARP %v before Master_Down_Interval: %v, want a GARP gap error", r.Expected-early.GARPGap, err)
	}
}

func TestCaseTimes(t *testing.T) {
	for _, tc := range []struct {
		c         Case
		mdi, skew time.Duration
		name      string
	}{
		{Case{Master: LVSD, Backup: Keepalived, Version: 3, Interval: 100 * time.Millisecond}, 360937 * time.Microsecond, 60937 * time.Microsecond, "lvsd→keepalived v3 100ms"},
		{Case{Master: LVSD, Backup: LVSD, Version: 2, Interval: time.Second, AuthPass: "x"}, 3609375 * time.Microsecond, 609375 * time.Microsecond, "lvsd→lvsd v2 1s auth"},
		{Case{Master: Keepalived, Backup: LVSD, Interval: 10 * time.Millisecond, Unicast: true}, 36093 * time.Microsecond, 6093 * time.Microsecond, "keepalived→lvsd v3 10ms unicast"},
	} {
		if got := tc.c.MasterDownInterval(); got != tc.mdi {
			t.Errorf("%s: Master_Down_Interval %v, want %v", tc.name, got, tc.mdi)
		}
		if got := tc.c.SkewTime(); got != tc.skew {
			t.Errorf("%s: Skew_Time %v, want %v", tc.name, got, tc.skew)
		}
		if got := tc.c.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
	}
}

// The generated lvsd configuration is one the daemon accepts, for each
// node, with the case's settings.
func TestLVSDConfigLoads(t *testing.T) {
	c := Case{Master: LVSD, Backup: LVSD, Version: 2, Interval: time.Second, AuthPass: "secret1", Unicast: true}
	path := filepath.Join(t.TempDir(), "lvsd.hcl")
	if err := os.WriteFile(path, []byte(LVSDConfig(c)), 0o644); err != nil {
		t.Fatal(err)
	}
	for node, prio := range map[string]uint8{"a": 150, "b": 100} {
		cfg, diags := loadConfig(path, node)
		if diags.HasErrors() {
			t.Fatalf("node %s: %v\n%s", node, diags, LVSDConfig(c))
		}
		in := cfg.VRRPInstances[0]
		if in.Priority != prio || in.Version != 2 || in.AdvertInterval != time.Second || in.AuthPass != "secret1" || len(in.UnicastPeers) != 2 || in.VRID != VRID {
			t.Errorf("node %s: instance %+v", node, in)
		}
	}
}

func TestKeepalivedConfig(t *testing.T) {
	c := Case{Version: 3, Interval: 100 * time.Millisecond, Unicast: true}
	got := KeepalivedConfig(c, 100, AddrB, AddrA)
	want := `global_defs {
  vrrp_version 3
}

vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 0.1
  unicast_src_ip 192.0.2.12
  unicast_peer {
    192.0.2.11
  }
  virtual_ipaddress {
    192.0.2.100/32
  }
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeepalivedConfig (-want +got):\n%s", diff)
	}
	v2 := KeepalivedConfig(Case{Version: 2, Interval: time.Second, AuthPass: "secret1"}, 150, AddrA, AddrB)
	for _, line := range []string{"vrrp_version 2", "advert_int 1\n", "auth_type PASS", "auth_pass secret1"} {
		if !strings.Contains(v2, line) {
			t.Errorf("version 2 configuration lacks %q:\n%s", line, v2)
		}
	}
	if strings.Contains(v2, "unicast") {
		t.Errorf("multicast configuration names unicast peers:\n%s", v2)
	}
}

// loadConfig reads a cluster file and resolves it for node.
func loadConfig(path, node string) (*config.Config, config.Diagnostics) {
	f, _, diags := config.NewLoader().Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return f.Resolve(node)
}
