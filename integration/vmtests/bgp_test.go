//go:build vm

package vmtests

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
)

// Active-active directors over BGP against a real router: BIRD 2 in its
// own namespace peers with `lvsd run` directors a and b, which hold the
// VIP on lo and announce it as a /32. BIRD's routing table (birdc) and
// the router namespace's kernel route (ECMP, merge paths) are the
// oracles; ipvsadm in the directors' namespaces checks what was
// programmed when the route appeared.

const (
	bgpVIP      = "203.0.113.10"
	bgpRouter   = "192.0.2.1"
	bgpDirA     = "192.0.2.2"
	bgpDirB     = "192.0.2.3"
	bgpDirC     = "192.0.2.4"
	bgpRS1      = "192.0.2.21"
	bgpClient   = "198.51.100.10"
	bgpRouter2  = "198.51.100.1"
	bgpHoldTime = 3 * time.Second

	// The dual-stack lab's IPv6 side (newBGPLab with v6).
	bgpVIP6     = "2001:db8:ff::10"
	bgpRouter6  = "2001:db8::1"
	bgpClient6  = "2001:db8:1::10"
	bgpRouter26 = "2001:db8:1::1"
)

// bgpDir6 are the directors' IPv6 addresses.
var bgpDir6 = map[string]string{"a": "2001:db8::2", "b": "2001:db8::3", "c": "2001:db8::4"}

// bgpWebService is test 1's service: busybox httpd on rs1.
var bgpWebService = fmt.Sprintf(`virtual_server "web" {
  address     = "%s:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  health_check "tcp" {
    interval = "200ms"
    timeout  = "100ms"
    rise     = 1
    fall     = 1
  }
  real_server %q {}
}
`, bgpVIP, bgpRS1)

func bgpLVSDConfig(service string, v6 bool) string {
	neighbor6 := ""
	if v6 {
		neighbor6 = fmt.Sprintf(`
  neighbor "router6" {
    address = %q
    asn     = 65000
  }`, bgpRouter6)
	}
	return fmt.Sprintf(`cluster = "edge"
node "a" {
  router_id = %[2]q
}
node "b" {
  router_id = %[3]q
}
node "c" {
  router_id = %[5]q
}
bgp {
  asn        = 65010
  hold_time  = "%[6]s"
  drain_wait = "3s"
  linger     = "2s"
  neighbor "router" {
    address = %[1]q
    asn     = 65000
  }%[7]s
}
%[4]s
ipvs {
  reconcile_interval = "1s"
}
status {
  metrics_listen = ""
}
`, bgpRouter, bgpDirA, bgpDirB, service, bgpDirC, bgpHoldTime, neighbor6)
}

// bgpBIRDConfig peers with the directors, accepts their routes and puts
// them, merged into one ECMP route, in the router's kernel table; with
// v6 the same again over IPv6.
func bgpBIRDConfig(v6 bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\nprotocol device {}\n", bgpRouter)
	bgpBIRDFamily(&b, "ipv4", "", bgpRouter, map[string]string{"a": bgpDirA, "b": bgpDirB, "c": bgpDirC})
	if v6 {
		bgpBIRDFamily(&b, "ipv6", "6", bgpRouter6, bgpDir6)
	}
	return b.String()
}

// bgpBIRDFamily writes one address family's kernel protocol and its
// sessions with the directors (protocols dir_NAME plus suffix).
func bgpBIRDFamily(b *strings.Builder, channel, suffix, local string, dirs map[string]string) {
	fmt.Fprintf(b, "protocol kernel {\n  merge paths on;\n  %s { export all; import none; };\n}\n", channel)
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		fmt.Fprintf(b, `protocol bgp dir_%s%s {
  local %s as 65000;
  neighbor %s as 65010;
  hold time %d;
  connect retry time 1;
  %s { import all; export none; };
}
`, name, suffix, local, dirs[name], int(bgpHoldTime/time.Second), channel)
	}
}

type bgpLab struct {
	t    *testing.T
	lvsd string
	cfg  string
	// cfgs are directors' own files, where they differ from cfg.
	cfgs   map[string]string
	dir    string
	lan    *lab.LAN
	router *lab.Host
	birdc  string // BIRD's control socket
	dirs   map[string]*e2eDirector
	rs     *lab.Host
	// servers are the real servers, rs1 first; client sits behind the
	// router on a LAN of its own.
	servers []*lab.Host
	clients *lab.LAN
	client  *lab.Host
	httpd   *lab.Proc
	www     string
}

func newBGPLab(t *testing.T, service string, v6 bool, servers ...string) *bgpLab {
	t.Helper()
	vm.RequireGuest(t)
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	for _, p := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(p); err != nil {
			lab.Missing(t, "%s is not installed in the guest (apt-get install bird2 on the host)", p)
		}
	}
	run(t, "modprobe", "ip_vs")
	run(t, "modprobe", "ip_vs_mh")
	dir := t.TempDir()
	l := &bgpLab{t: t, lvsd: bin, dir: dir, cfg: filepath.Join(dir, "lvsd.hcl"), dirs: map[string]*e2eDirector{}}
	l.lan = lab.NewLAN(t, append([]string{"router", "a", "b", "c"}, servers...)...)
	l.router = l.lan.Host("router")
	l.lan.AddAddr("router", bgpRouter+"/24")
	// The clients' side of the router, and routes back to it.
	l.clients = l.lan.NewLAN("router", "client")
	l.clients.AddAddr("router", bgpRouter2+"/24")
	l.clients.AddAddr("client", bgpClient+"/24")
	l.client = l.clients.Host("client")
	l.client.MustExec(t, "ip", "route", "add", "default", "via", bgpRouter2)
	l.router.MustExec(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv4/fib_multipath_hash_policy")
	for name, addr := range map[string]string{"a": bgpDirA, "b": bgpDirB, "c": bgpDirC} {
		l.lan.AddAddr(name, addr+"/24")
		h := l.lan.Host(name)
		// IPVS refuses destinations in a namespace whose lo is down.
		h.MustExec(t, "ip", "link", "set", "lo", "up")
		h.MustExec(t, "ip", "route", "add", "198.51.100.0/24", "via", bgpRouter)
		l.dirs[name] = &e2eDirector{name: name, host: h, socket: filepath.Join(dir, name+".sock")}
	}
	vips := bgpVIP
	if v6 {
		vips += "," + bgpVIP6
		// The same again in IPv6: the router forwards and hashes on
		// ports, everyone else routes the clients' prefix through it.
		l.lan.AddAddr("router", bgpRouter6+"/64")
		l.clients.AddAddr("router", bgpRouter26+"/64")
		l.clients.AddAddr("client", bgpClient6+"/64")
		l.client.MustExec(t, "ip", "-6", "route", "add", "default", "via", bgpRouter26)
		l.router.MustExec(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding && echo 1 > /proc/sys/net/ipv6/fib_multipath_hash_policy")
		for name, addr := range bgpDir6 {
			l.lan.AddAddr(name, addr+"/64")
			l.lan.Host(name).MustExec(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "via", bgpRouter6)
		}
	}
	for i, name := range servers {
		l.lan.AddAddr(name, fmt.Sprintf("192.0.2.%d/24", 21+i))
		h := l.lan.Host(name)
		h.MustExec(t, "ip", "route", "add", "198.51.100.0/24", "via", bgpRouter)
		if v6 {
			l.lan.AddAddr(name, fmt.Sprintf("2001:db8::%d/64", 21+i))
			h.MustExec(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "via", bgpRouter6)
		}
		h.MustExec(t, bin, "realserver", "up", "--vip", vips, "--method", "dr", "--state", filepath.Join(dir, name+".json"))
		l.servers = append(l.servers, h)
	}
	l.rs = l.servers[0]
	l.www = t.TempDir()
	if err := os.WriteFile(filepath.Join(l.www, "index.html"), []byte("rs1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.cfg, []byte(bgpLVSDConfig(service, v6)), 0o644); err != nil {
		t.Fatal(err)
	}
	birdConf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(birdConf, []byte(bgpBIRDConfig(v6)), 0o644); err != nil {
		t.Fatal(err)
	}
	l.birdc = filepath.Join(dir, "bird.ctl")
	bird := l.router.Start("bird", "-f", "-c", birdConf, "-s", l.birdc, "-P", filepath.Join(dir, "bird.pid"))
	t.Cleanup(func() { _ = bird.Stop(3 * time.Second) })
	l.waitBIRD(10*time.Second, "BIRD answers", func(string) bool { return true }, "show", "status")
	return l
}

func (l *bgpLab) start(name string) *e2eDirector {
	l.t.Helper()
	d := l.dirs[name]
	cfg := l.cfg
	if c, ok := l.cfgs[name]; ok {
		cfg = c
	}
	d.proc = d.host.Start(l.lvsd, "run", "-c", cfg, "--node", name, "--socket", d.socket)
	p := d.proc
	l.t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	return d
}

func (l *bgpLab) startHTTPD() {
	l.httpd = l.rs.Start("busybox", "httpd", "-f", "-p", "80", "-h", l.www)
}

// birdOut runs birdc against the lab's BIRD.
func (l *bgpLab) birdOut(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := l.router.Exec(ctx, append([]string{"birdc", "-s", l.birdc}, args...)...)
	if err != nil && strings.Contains(out, "Network not found") {
		// birdc's exit status 1 for a route it does not have.
		return out, nil
	}
	return out, err
}

// waitBIRD polls a birdc command until cond holds on its output; it
// returns the output that satisfied it.
func (l *bgpLab) waitBIRD(within time.Duration, what string, cond func(string) bool, args ...string) string {
	l.t.Helper()
	deadline := time.Now().Add(within)
	var out string
	var err error
	for {
		out, err = l.birdOut(args...)
		if err == nil && cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not within %v; last birdc %s: %v\n%s", what, within, strings.Join(args, " "), err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var viaRE = regexp.MustCompile(`via (\d+\.\d+\.\d+\.\d+)`)

// nextHops are the next hops BIRD has for the VIP's host route, sorted.
func nextHops(out string) []string {
	var hops []string
	for _, m := range viaRE.FindAllStringSubmatch(out, -1) {
		hops = append(hops, m[1])
	}
	slices.Sort(hops)
	return slices.Compact(hops)
}

func (l *bgpLab) routeIs(hops ...string) func(string) bool {
	return func(out string) bool { return slices.Equal(nextHops(out), hops) }
}

func (l *bgpLab) showRoute() []string {
	return []string{"show", "route", "for", bgpVIP + "/32", "all"}
}

// established waits for BIRD's session with a director.
func (l *bgpLab) established(name string, within time.Duration) {
	l.t.Helper()
	l.waitBIRD(within, "session with "+name+" established", func(out string) bool {
		return strings.Contains(out, "Established")
	}, "show", "protocols", "dir_"+name)
}

// ipvsWeights lists a director's destinations of the VIP as ADDR:PORT wW.
func (l *bgpLab) ipvsWeights(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := l.dirs[name].host.Exec(ctx, "ipvsadm", "-S", "-n")
	if err != nil {
		l.t.Fatalf("ipvsadm -S -n in %s: %v: %s", name, err, out)
	}
	return out
}

func (l *bgpLab) status(name string) status.Document {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	doc, err := status.Get(ctx, l.dirs[name].socket)
	if err != nil {
		l.t.Fatalf("status of %s: %v", name, err)
	}
	return doc
}

// TestBGPDirectorsWithBIRD: sessions come up; the VIP's route appears in
// BIRD only once the table is programmed and the real server healthy,
// with one next hop per director (ECMP in the router's kernel); it is
// withdrawn when no real server is healthy; a stopping director sends
// GRACEFUL_SHUTDOWN before it withdraws; a frozen director's route goes
// when the hold timer expires, a killed one's at once.
func TestBGPDirectorsWithBIRD(t *testing.T) {
	l := newBGPLab(t, bgpWebService, false, "rs1")
	a := l.start("a")
	l.established("a", 20*time.Second)

	// No healthy real server yet: the session is up, nothing announced,
	// and the table is programmed with the server at weight 0.
	bgpEventually(t, 5*time.Second, "a's decision", func() bool {
		doc := l.status("a")
		return doc.BGP != nil && len(doc.BGP.Routes) == 1 && doc.BGP.Routes[0].Reason != ""
	})
	if hops := nextHops(l.mustBIRD(l.showRoute()...)); len(hops) != 0 {
		t.Fatalf("route in BIRD before any real server is healthy: %v", hops)
	}
	if doc := l.status("a"); !doc.BGP.Sessions[0].Up {
		t.Errorf("a's status shows the session down: %+v", doc.BGP.Sessions)
	}

	// The real server comes up: the route appears, and by then IPVS
	// forwards to it with its weight.
	l.startHTTPD()
	l.waitBIRD(10*time.Second, "route via a", l.routeIs(bgpDirA), l.showRoute()...)
	if out := l.ipvsWeights("a"); !strings.Contains(out, "-a -t "+bgpVIP+":80 -r "+bgpRS1+":80 -g -w 1") ||
		!strings.Contains(out, "-A -t "+bgpVIP+":80 -s mh -b mh-fallback,mh-port") {
		t.Errorf("a's IPVS table when its route appeared:\n%s", out)
	}
	if out, err := a.host.Exec(context.Background(), "ip", "-o", "addr", "show", "dev", "lo"); err != nil || !strings.Contains(out, bgpVIP+"/32") {
		t.Errorf("VIP not on a's lo: %v %s", err, out)
	}
	if out, err := a.host.Exec(context.Background(), "cat", "/proc/sys/net/ipv4/vs/sloppy_tcp"); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("sloppy_tcp on a = %q (%v), want 1", out, err)
	}

	// A second director: two next hops, merged into one ECMP route.
	b := l.start("b")
	l.waitBIRD(20*time.Second, "route via a and b", l.routeIs(bgpDirA, bgpDirB), l.showRoute()...)
	bgpEventually(t, 5*time.Second, "ECMP route in the router's kernel", func() bool {
		out, err := l.router.Exec(context.Background(), "ip", "route", "show", bgpVIP)
		return err == nil && strings.Contains(out, "nexthop via "+bgpDirA) && strings.Contains(out, "nexthop via "+bgpDirB)
	})

	// No healthy real server: both withdraw; the server stays at weight 0.
	l.httpd.Kill()
	l.waitBIRD(10*time.Second, "route withdrawn", l.routeIs(), l.showRoute()...)
	if out := l.ipvsWeights("a"); !strings.Contains(out, "-r "+bgpRS1+":80 -g -w 0") {
		t.Errorf("a's IPVS table with the real server down (want it kept at weight 0):\n%s", out)
	}
	l.startHTTPD()
	l.waitBIRD(10*time.Second, "route back via a and b", l.routeIs(bgpDirA, bgpDirB), l.showRoute()...)

	// A clean stop of b: GRACEFUL_SHUTDOWN (65535,0) on b's route for
	// drain_wait, then the withdrawal, then b exits 0.
	stopAt := time.Now()
	if err := b.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out := l.waitBIRD(3*time.Second, "b's route with GRACEFUL_SHUTDOWN", func(out string) bool {
		return strings.Contains(out, "(65535,0)")
	}, l.showRoute()...)
	t.Logf("b draining:\n%s", out)
	l.waitBIRD(10*time.Second, "b's route withdrawn", l.routeIs(bgpDirA), l.showRoute()...)
	if gone := time.Since(stopAt); gone < 2*time.Second {
		t.Errorf("b's route went %v after SIGTERM, before drain_wait (3s)", gone)
	}
	select {
	case <-b.proc.Done():
		if err := b.proc.Err(); err != nil {
			t.Errorf("b after SIGTERM: %v\n%s", err, b.proc.Output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("b did not exit after SIGTERM")
	}

	// b again, then a frozen: no FIN, no keepalive; BIRD drops a's route
	// when the hold timer expires, and only then.
	b = l.start("b")
	l.waitBIRD(20*time.Second, "route via a and b again", l.routeIs(bgpDirA, bgpDirB), l.showRoute()...)
	frozen := time.Now()
	if err := a.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	l.waitBIRD(bgpHoldTime+5*time.Second, "a's route gone on hold-timer expiry", l.routeIs(bgpDirB), l.showRoute()...)
	took := time.Since(frozen)
	t.Logf("a's route removed %v after a froze (hold time %v)", took.Round(10*time.Millisecond), bgpHoldTime)
	// The hold timer, not a closed session, took it: BIRD says so, and
	// the last keepalive before the freeze was sent about hold/3 before it
	// (later if a's timer ran late), so the expiry came well after.
	if out := l.mustBIRD("show", "protocols", "all", "dir_a"); !strings.Contains(out, "Hold timer expired") {
		t.Errorf("BIRD's dir_a after a froze, want its last error \"Hold timer expired\":\n%s", out)
	}
	if took < bgpHoldTime/3 {
		t.Errorf("a's route went %v after the freeze, before the hold time (%v) could expire", took, bgpHoldTime)
	}
	_ = a.proc.Signal(syscall.SIGCONT)
	a.proc.Kill()

	// b killed: its TCP session closes with the process; the route goes
	// at once, long before the hold time.
	killed := time.Now()
	b.proc.Kill()
	l.waitBIRD(bgpHoldTime, "b's route gone after SIGKILL", l.routeIs(), l.showRoute()...)
	t.Logf("b's route removed %v after SIGKILL", time.Since(killed).Round(10*time.Millisecond))
}

func (l *bgpLab) mustBIRD(args ...string) string {
	l.t.Helper()
	out, err := l.birdOut(args...)
	if err != nil {
		l.t.Fatalf("birdc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// bgpEventually polls cond every 100ms until it holds or within passes.
func bgpEventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
