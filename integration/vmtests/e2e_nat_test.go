//go:build vm

package vmtests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/vrrp"
)

// The LVS-NAT cluster end to end: a client on the outside LAN reaches the
// VIP of two directors running `lvsd run`; the real servers sit on the
// inside LAN behind them and route their replies through the inside
// gateway VIP. Both VIPs are in one sync group, so a failover moves the
// service and the return path together. The IPVS connection-sync daemon
// lets an established connection survive the failover; without it the
// new master knows nothing of the connection and it breaks. Besides the
// crash, the client's requests measure what the DR pair's do: a real
// server's death, a reload that adds one, and a clean stop, where NAT
// differs from DR (see natHandover).

// Lab addresses: outside 192.0.2.0/24, inside 198.51.100.0/24. The VIP is
// e2eVIP, which e2eStartClient's requests go to.
const (
	natClient  = "192.0.2.10"
	natExtA    = "192.0.2.2"
	natExtB    = "192.0.2.3"
	natIntA    = "198.51.100.2"
	natIntB    = "198.51.100.3"
	natGateway = "198.51.100.254"
	natRS1     = "198.51.100.21" // httpd on 80 and the echo server
	natRS2     = "198.51.100.22" // httpd on 8080: NAT maps the port
	natRS3     = "198.51.100.23" // httpd on 80, in the config only after a reload
	natEcho    = 7000
)

const (
	natAdvert = 100 * time.Millisecond
	natPrioA  = 150
	natPrioB  = 100
	// The checks of both virtual servers, as in the DR pair: a busybox
	// httpd on emulated CPUs under the client's load must not flap.
	natInterval = 500 * time.Millisecond
	natTimeout  = 400 * time.Millisecond
	natFall     = 2
	// natEchoEvery is the pace of the long-lived connection's lines.
	natEchoEvery = 100 * time.Millisecond
	// natEchoWait is how long one line may take to come back: across a
	// failover the client's TCP retransmits with a backed-off timer (200,
	// 400, 800 ms...), so the first echo after the takeover can come a
	// second or two after it.
	natEchoWait = 5 * time.Second
)

// natGapBound bounds the client's longest gap in HTTP service across a
// crash: the backup waits Master_Down_Interval at its own priority, then
// adds both VIPs and sends gratuitous ARP on both LANs, which moves the
// client's entry for the VIP and the real servers' entry for their
// gateway. 300 ms (150 more than the DR pair's bound) covers the two
// announcements, the client's next request and the emulated guest's
// scheduling: here a reply must also cross the director a second time.
var natGapBound = vrrp.MasterDownInterval(natPrioB, natAdvert) + 300*time.Millisecond

// natConfig is the cluster file of both directors, with or without the
// IPVS connection-sync daemon; rs3 is in it only once a test adds it by a
// reload.
func natConfig(withSync, withRS3 bool) string {
	rs3 := ""
	if withRS3 {
		rs3 = fmt.Sprintf("  real_server \"%s:80\" {}\n", natRS3)
	}
	syncd := ""
	if withSync {
		syncd = `
ipvs {
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_INT"
    sync_id       = 62
  }
}
`
	}
	return fmt.Sprintf(`cluster = "nat"

node "a" {
  priority = %d
}

node "b" {
  priority = %d
}

vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 61
  advert_interval  = %q
  unicast_peers    = ["%s", "%s"]
  virtual_ips      = ["%s/32"]
  track_interfaces = ["eth1"]
  handover         = "relay"
}

vrrp_instance "VI_INT" {
  interface        = "eth1"
  vrid             = 62
  advert_interval  = %q
  unicast_peers    = ["%s", "%s"]
  virtual_ips      = ["%s/32"]
  track_interfaces = ["eth0"]
  handover         = "relay"
}

vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
}

virtual_server "web" {
  address   = "%s:80"
  scheduler = "rr"
  method    = "nat"
  health_check "tcp" {
    interval = %q
    timeout  = %q
    rise     = 1
    fall     = %d
  }
  real_server "%s:80" {}
  real_server "%s:8080" {}
%s}

virtual_server "echo" {
  address   = "%s:%d"
  scheduler = "rr"
  method    = "nat"
  health_check "tcp" {
    interval = %q
    timeout  = %q
    rise     = 1
    fall     = %d
  }
  real_server "%s:%d" {}
}
%s
status {
  metrics_listen = ""
}
`, natPrioA, natPrioB, natAdvert, natExtA, natExtB, e2eVIP, natAdvert, natIntA, natIntB, natGateway,
		e2eVIP, natInterval, natTimeout, natFall, natRS1, natRS2, rs3,
		e2eVIP, natEcho, natInterval, natTimeout, natFall, natRS1, natEcho, syncd)
}

// natLab is the NAT cluster.
type natLab struct {
	t                *testing.T
	lvsd, cfg        string
	withSync         bool
	outside, inside  *lab.LAN
	client, rs1, rs2 *lab.Host
	dirs             map[string]*e2eDirector
	// httpd is each real server's web server, by host name (rs1, rs2,
	// rs3).
	httpd map[string]*lab.Proc
}

func newNATLab(t *testing.T, withSync bool) *natLab {
	t.Helper()
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	run(t, "modprobe", "ip_vs")
	l := &natLab{t: t, lvsd: bin, withSync: withSync, dirs: map[string]*e2eDirector{}, httpd: map[string]*lab.Proc{}}
	l.outside = lab.NewLAN(t, "client", "a", "b")
	l.inside = l.outside.NewLAN("a", "b", "rs1", "rs2", "rs3")
	l.client, l.rs1, l.rs2 = l.outside.Host("client"), l.inside.Host("rs1"), l.inside.Host("rs2")
	l.outside.AddAddr("client", natClient+"/24")
	dir := t.TempDir()
	for name, addrs := range map[string][2]string{"a": {natExtA, natIntA}, "b": {natExtB, natIntB}} {
		l.outside.AddAddr(name, addrs[0]+"/24")
		l.inside.AddAddr(name, addrs[1]+"/24")
		h := l.outside.Host(name)
		// The replies of the real servers are forwarded, not delivered.
		h.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.ip_forward=1")
		l.dirs[name] = &e2eDirector{name: name, host: h, socket: filepath.Join(dir, name+".sock")}
	}
	for _, s := range []struct {
		h    *lab.Host
		name string
		addr string
		port string
	}{{l.rs1, "rs1", natRS1, "80"}, {l.rs2, "rs2", natRS2, "8080"}, {l.inside.Host("rs3"), "rs3", natRS3, "80"}} {
		l.inside.AddAddr(s.name, s.addr+"/24")
		s.h.MustExec(t, "ip", "route", "add", "default", "via", natGateway)
		www := t.TempDir()
		if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(s.name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := s.h.Start("busybox", "httpd", "-f", "-p", s.port, "-h", www)
		l.httpd[s.name] = p
		t.Cleanup(func() { _ = p.Stop(time.Second) })
	}
	natEchoServer(t, l.rs1, fmt.Sprintf("%s:%d", natRS1, natEcho))
	l.cfg = filepath.Join(dir, "lvsd.hcl")
	l.writeConfig(false)
	return l
}

func (l *natLab) writeConfig(withRS3 bool) {
	l.t.Helper()
	if err := os.WriteFile(l.cfg, []byte(natConfig(l.withSync, withRS3)), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// natEchoServer echoes every connection to addr in h's namespace. A
// listening socket stays in the namespace it was made in.
func natEchoServer(t *testing.T, h *lab.Host, addr string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("echo server on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

func (l *natLab) start(d *e2eDirector) {
	l.t.Helper()
	d.proc = d.host.Start(l.lvsd, "run", "-c", l.cfg, "--node", d.name, "--socket", d.socket)
	p := d.proc
	l.t.Cleanup(func() { _ = p.Stop(3 * time.Second) })
}

// natWaitState polls d until both instances are in state.
func (l *natLab) natWaitState(d *e2eDirector, state string, within time.Duration) status.Document {
	l.t.Helper()
	deadline := time.Now().Add(within)
	last := "not running"
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		doc, err := status.Get(ctx, d.socket)
		cancel()
		if err != nil {
			last = err.Error()
		} else {
			var states []string
			all := len(doc.VRRPInstances) == 2
			for _, in := range doc.VRRPInstances {
				states = append(states, in.Name+" "+in.State)
				all = all && in.State == state
			}
			last = strings.Join(states, ", ")
			if all {
				return doc
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("director %s: instances not all %s within %v (last: %s)", d.name, state, within, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// natWaitServers polls d until every real server of both virtual servers
// is in its kernel table.
func (l *natLab) natWaitServers(d *e2eDirector, within time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		doc, err := status.Get(ctx, d.socket)
		cancel()
		n := 0
		if err == nil {
			for _, vs := range doc.VirtualServers {
				for _, rs := range vs.RealServers {
					if rs.InIPVS && rs.Weight > 0 {
						n++
					}
				}
			}
		}
		if n == 3 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("director %s: %d of 3 real servers in IPVS after %v (last error %v)", d.name, n, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPair starts a, waits for it to be master of both instances, then
// b (see TestE2EDirectorPair for why not together).
func (l *natLab) startPair() (a, b *e2eDirector) {
	a, b = l.dirs["a"], l.dirs["b"]
	l.start(a)
	l.natWaitState(a, status.StateMaster, 15*time.Second)
	l.start(b)
	l.natWaitState(b, status.StateBackup, 10*time.Second)
	l.natWaitServers(a, 15*time.Second)
	l.natWaitServers(b, 15*time.Second)
	return a, b
}

// natCheckNoFlap requires the backup to be BACKUP before the crash, and
// reports it if it was ever master meanwhile. On a starved guest a backup
// can miss the master's 100 ms adverts for Master_Down_Interval and take
// over for a moment; the master, hearing it, advertises and announces its
// addresses again, so the client and the real servers come back to it and
// the failover measured next starts from a clean pair all the same.
func (l *natLab) natCheckNoFlap(b *e2eDirector) {
	l.t.Helper()
	doc := l.natWaitState(b, status.StateBackup, 5*time.Second)
	for _, in := range doc.VRRPInstances {
		if in.Transitions != 1 {
			l.t.Logf("b: %s had %d transitions before the crash (1 without a flap): it took over for a moment while a was master, and a reclaimed its addresses", in.Name, in.Transitions)
		}
	}
}

// crash kills lvsd on d with -9 and pulls both its cables: a crashed
// director takes its kernel, which would go on forwarding, with it.
func (l *natLab) crash(d *e2eDirector) time.Time {
	l.t.Helper()
	at := time.Now()
	for _, lan := range []*lab.LAN{l.outside, l.inside} {
		if err := lan.Unplug(d.name); err != nil {
			l.t.Fatal(err)
		}
	}
	d.proc.Kill()
	return at
}

// natEchoLine is one line of the long-lived connection.
type natEchoLine struct {
	sent, back time.Time
	err        error
}

// natEchoClient is one TCP connection from the client through the VIP
// that sends a line every natEchoEvery and waits for its echo.
type natEchoClient struct {
	mu    sync.Mutex
	lines []natEchoLine
	conn  net.Conn
	done  chan struct{}
	local string
}

func natStartEcho(t *testing.T, h *lab.Host) *natEchoClient {
	t.Helper()
	var conn net.Conn
	if err := h.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", fmt.Sprintf("%s:%d", e2eVIP, natEcho), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connecting to the echo service: %v", err)
	}
	c := &natEchoClient{conn: conn, done: make(chan struct{}), local: conn.LocalAddr().String()}
	go func() {
		defer close(c.done)
		r := bufio.NewReader(conn)
		for i := 0; ; i++ {
			l := natEchoLine{sent: time.Now()}
			want := fmt.Sprintf("line %d", i)
			_ = conn.SetDeadline(l.sent.Add(natEchoWait))
			_, l.err = fmt.Fprintln(conn, want)
			if l.err == nil {
				var got string
				got, l.err = r.ReadString('\n')
				if l.err == nil && strings.TrimSpace(got) != want {
					l.err = fmt.Errorf("echo %q, want %q", strings.TrimSpace(got), want)
				}
			}
			l.back = time.Now()
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
			if l.err != nil {
				return
			}
			time.Sleep(time.Until(l.sent.Add(natEchoEvery)))
		}
	}()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *natEchoClient) record() []natEchoLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]natEchoLine(nil), c.lines...)
}

// natWaitEchoes waits until n lines sent after from came back, or the
// connection failed; it returns the lines sent after from and the one in
// flight at from, whose fate is the event's: a connection the new master
// does not know can break on that very line.
func (c *natEchoClient) natWaitEchoes(from time.Time, n int, within time.Duration) []natEchoLine {
	deadline := time.Now().Add(within)
	for {
		var after []natEchoLine
		ok := 0
		for _, l := range c.record() {
			if l.sent.After(from) || l.back.After(from) {
				after = append(after, l)
				if l.err == nil {
					ok++
				}
			}
		}
		if ok >= n || (len(after) > 0 && after[len(after)-1].err != nil) || time.Now().After(deadline) {
			return after
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// natWaitSynced waits until the backup's IPVS table holds the echo
// connection, as learned from the master's sync daemon, and returns the
// line ipvsadm shows.
func (l *natLab) natWaitSynced(backup *e2eDirector, client string, within time.Duration) (string, bool) {
	deadline := time.Now().Add(within)
	var out string
	for time.Now().Before(deadline) {
		out = backup.host.MustExec(l.t, "ipvsadm", "-Lnc")
		if line, ok := echoEntry(out, client); ok {
			return line, true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return out, false
}

// echoEntry returns the line of ipvsadm -Lnc's output for the
// connection from client (address:port) to the echo service on the VIP.
// Both ends must match exactly: the client's HTTP stream reuses source
// ports, and its entries for port 80 stay in the table for two minutes.
func echoEntry(lnc, client string) (string, bool) {
	echo := fmt.Sprintf("%s:%d", e2eVIP, natEcho)
	for _, line := range strings.Split(lnc, "\n") {
		// pro expire state source virtual destination
		if f := strings.Fields(line); len(f) == 6 && f[3] == client && f[4] == echo {
			return line, true
		}
	}
	return "", false
}

// hasEntry tells whether ipvsadm -Lnc's output holds the echo
// connection from client.
func hasEntry(lnc, client string) bool {
	_, ok := echoEntry(lnc, client)
	return ok
}

// TestE2ENATFailover is the NAT pair with connection sync (VRRP sync
// groups, the IPVS sync daemon): a client's stream of HTTP
// requests and a long-lived echo connection, both through the VIP, while
// the master crashes.
func TestE2ENATFailover(t *testing.T) {
	vm.RequireGuest(t)
	l := newNATLab(t, true)
	a, b := l.startPair()

	echo := natStartEcho(t, l.client)
	c := e2eStartClient(t, l.client)
	begin := time.Now()
	c.waitServed(t, "rs1", begin, 15*time.Second)
	c.waitServed(t, "rs2", begin, 15*time.Second)
	if got := echo.natWaitEchoes(begin, 3, 10*time.Second); len(got) < 3 || got[len(got)-1].err != nil {
		t.Fatalf("echo connection before the failover: %d lines, last %+v", len(got), got)
	}
	// The master's sync daemon sends when its buffer fills or every
	// couple of seconds: wait until b's kernel shows the connection.
	line, ok := l.natWaitSynced(b, echo.local, 15*time.Second)
	if !ok {
		t.Fatalf("b's IPVS never learned the echo connection from %s; ipvsadm -Lnc:\n%s", echo.local, line)
	}
	t.Logf("b's IPVS before the failover: %s", strings.Join(strings.Fields(line), " "))

	l.natCheckNoFlap(b)
	killed := l.crash(a)
	doc := l.natWaitState(b, status.StateMaster, 5*time.Second)
	for _, in := range doc.VRRPInstances {
		t.Logf("b: %s MASTER %v after the crash", in.Name, in.Since.Sub(killed).Round(time.Millisecond))
	}
	c.waitServed(t, "rs1", killed, 10*time.Second)
	c.waitServed(t, "rs2", killed, 10*time.Second)
	after := echo.natWaitEchoes(killed, 20, 15*time.Second)
	time.Sleep(e2eSettle)
	f := c.figures("kill -9 of the master", killed, time.Now())
	t.Logf("E2ENAT-FIGURE http requests=%d failed=%d late=%d gap_ms=%.1f gap_from_ms=%.0f bound_ms=%.0f failures=%s%s",
		f.Requests, f.Failed, f.Late, float64(f.Gap.Microseconds())/1000, float64(f.GapAt.Microseconds())/1000,
		float64(natGapBound.Microseconds())/1000, e2eErrorKinds(c.window(killed, time.Now())), e2eFirstErrors(c.window(killed, time.Now()), killed, 20))
	if f.Gap >= natGapBound {
		t.Errorf("the client went %v without an HTTP answer across the crash, want less than Master_Down_Interval + 300 ms = %v", f.Gap, natGapBound)
	}
	var slowest time.Duration
	for _, ln := range after {
		slowest = max(slowest, ln.back.Sub(ln.sent))
	}
	t.Logf("E2ENAT-FIGURE echo lines_after=%d slowest_echo_ms=%.0f", len(after), float64(slowest.Microseconds())/1000)
	if len(after) < 20 || after[len(after)-1].err != nil {
		var last error
		if len(after) > 0 {
			last = after[len(after)-1].err
		}
		t.Errorf("with the sync daemon the echo connection did not survive the failover: %d lines after it, last error %v", len(after), last)
	}
}

// TestE2ENATFailoverWithoutSync is the same crash without the sync
// daemon: the new master's IPVS has no entry for the established
// connection, so it breaks. This is what makes the test above mean
// something.
func TestE2ENATFailoverWithoutSync(t *testing.T) {
	vm.RequireGuest(t)
	l := newNATLab(t, false)
	a, b := l.startPair()
	echo := natStartEcho(t, l.client)
	begin := time.Now()
	if got := echo.natWaitEchoes(begin, 3, 10*time.Second); len(got) < 3 || got[len(got)-1].err != nil {
		t.Fatalf("echo connection before the failover: %d lines, last %+v", len(got), got)
	}
	// As long as the other test waits for the sync, so that the break
	// is not for want of time.
	time.Sleep(3 * time.Second)
	if out := b.host.MustExec(t, "ipvsadm", "-Lnc"); hasEntry(out, echo.local) {
		t.Errorf("b knows the echo connection without a sync daemon:\n%s", out)
	}
	l.natCheckNoFlap(b)
	killed := l.crash(a)
	l.natWaitState(b, status.StateMaster, 5*time.Second)
	after := echo.natWaitEchoes(killed, 30, 15*time.Second)
	if len(after) == 0 || after[len(after)-1].err == nil {
		t.Fatalf("without the sync daemon the echo connection survived the failover (%d lines after it): want it broken", len(after))
	}
	last := after[len(after)-1]
	t.Logf("E2ENAT-FIGURE nosync broke_after_ms=%.0f error=%q", float64(last.back.Sub(killed).Microseconds())/1000, last.err)
}

// natDetectBound is how soon after a real server's death the master must
// have removed it: fall checks, the last one ending at its timeout, and
// one interval more of slack for the emulated guest (as in the DR pair).
const natDetectBound = natFall*natInterval + natTimeout + natInterval

// natStopBound bounds the client's longest gap without an answer across a
// clean stop of the master, as in the DR pair: the backup takes over
// after Skew_Time only, and the stopping master keeps both VIPs, its
// IPVS table and its forwarding until it has seen the new master's
// advertisement (make-before-break). NAT adds the time between the new
// master's two announcements (see natHandover), measured on the wire
// and bounded by natSwitchSkewBound.
const natStopBound = 150 * time.Millisecond

// natSwitchSkewBound bounds the time between the new master's
// announcements of the two VIPs, as the client and a real server receive
// them. b's two instances take over together (one sync group), but each
// adds its VIP and sends its gratuitous ARP from its own goroutine, which
// a starved emulated guest runs tens of milliseconds apart (47 to 113 ms
// measured with two such guests on the machine's two cores). Under
// Master_Down_Interval minus Skew_Time (300 ms here) it is still the
// group's takeover: a member that lagged by that much would have taken
// over on its own timer.
var natSwitchSkewBound = vrrp.MasterDownInterval(natPrioB, natAdvert) - natSkewTime

// natSkewTime is b's Skew_Time (RFC 5798 §6.1: ((256 − priority) ×
// Master_Adver_Interval) / 256).
const natSkewTime = (256 - natPrioB) * natAdvert / 256

// natWaitWeb polls d until the real servers of "web" in its kernel table
// at a non-zero weight are exactly want (address:port), and returns when
// it first saw that.
func (l *natLab) natWaitWeb(d *e2eDirector, within time.Duration, want ...string) time.Time {
	l.t.Helper()
	return e2eWaitInIPVS(l.t, d, "web", within, want)
}

// natStatus is d's status document.
func (l *natLab) natStatus(d *e2eDirector) status.Document {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	doc, err := status.Get(ctx, d.socket)
	if err != nil {
		l.t.Fatalf("status of %s: %v", d.name, err)
	}
	return doc
}

// natTransitions is each instance's state and transition count on d, as
// its status document says.
func (l *natLab) natTransitions(d *e2eDirector) map[string]string {
	l.t.Helper()
	doc := l.natStatus(d)
	out := map[string]string{}
	for _, in := range doc.VRRPInstances {
		out[in.Name] = fmt.Sprintf("%s after %d transitions", in.State, in.Transitions)
	}
	return out
}

// natAdvertCounts describes what d's instances received and dropped, for
// a failure message about a takeover nobody asked for.
func (l *natLab) natAdvertCounts(d *e2eDirector) string {
	l.t.Helper()
	doc := l.natStatus(d)
	var parts []string
	for _, in := range doc.VRRPInstances {
		parts = append(parts, fmt.Sprintf("%s received %d adverts, dropped %v", in.Name, in.AdvertsReceived, in.Dropped))
	}
	return strings.Join(parts, "; ")
}

// natReleased finds in a stopping lvsd's log when each of its instances
// left MASTER (and so removed its VIPs), by instance name.
func natReleased(log string) map[string]time.Time {
	re := regexp.MustCompile(`time=(\S+) level=\w+ msg="vrrp state change" instance=(\S+) from=MASTER to=INIT`)
	out := map[string]time.Time{}
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			out[m[2]] = at
		}
	}
	return out
}

// natSince describes times relative to from, by name.
func natSince(at map[string]time.Time, from time.Time) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(at)) {
		parts = append(parts, fmt.Sprintf("%s +%v", name, at[name].Sub(from).Round(time.Millisecond)))
	}
	if len(parts) == 0 {
		return "(not in its log)"
	}
	return strings.Join(parts, ", ")
}

// natTransitionCounts is each instance's transition count on d.
func (l *natLab) natTransitionCounts(d *e2eDirector) map[string]uint64 {
	l.t.Helper()
	doc := l.natStatus(d)
	out := map[string]uint64{}
	for _, in := range doc.VRRPInstances {
		out[in.Name] = in.Transitions
	}
	return out
}

// natHandover sorts the failed requests around a clean stop. With
// handover = "relay" (the lab's) none is in flight at the switch; the
// rest of this comment is what a handover by release leaves. A NAT
// connection takes two paths through the directors: the client's packets
// follow the client's neighbour entry for the VIP (moved to the new master
// at client), the real server's replies follow its entry for the gateway
// VIP (moved at gateway). A connection that starts before the later of the
// two moves can have its two directions on different directors: the
// one that did not see the SYN has no IPVS entry for it, and a reply
// leaves it un-NATed (the client drops it: a retransmitted SYN, an answer
// that never comes) or a request meets its local stack (a reset). Unlike
// DR, where only the client's next packets meet the new master, the
// answer of a connection in flight goes through it too: make-before-break
// cannot save it, and a clean stop of a NAT director fails the one or two
// requests in flight at the switch (measured: answer timeouts). The sync
// daemon does not help: it tells the backup of a connection a few hundred
// milliseconds after it opened, not within the milliseconds of a short
// request (see e2eHandover). Those are crossed; a request started after
// both moves that fails is lost service.
func natHandover(reqs []e2eRequest, client, gateway time.Time) (crossed, lost []e2eRequest) {
	both := client
	if gateway.After(both) {
		both = gateway
	}
	for _, r := range reqs {
		switch {
		case r.Err == nil:
		case r.Start.Before(both):
			crossed = append(crossed, r)
		default:
			lost = append(lost, r)
		}
	}
	return crossed, lost
}

// natReload asks d's lvsd to reload with `lvsd reload`.
func (l *natLab) natReload(d *e2eDirector) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, l.lvsd, "reload", "--socket", d.socket).CombinedOutput(); err != nil {
		l.t.Fatalf("lvsd reload of %s: %v\n%s", d.name, err, out)
	}
}

// natAdvertGap is the longest interval between two VRRP adverts of one
// instance (by VRID) from src among frames, and when it began, from from.
func natAdvertGap(frames []lab.Frame, src string, from time.Time) (gap, at time.Duration) {
	vrid := regexp.MustCompile(`\bvrid (\d+)`)
	last := map[string]time.Time{}
	for _, fr := range frames {
		m := vrid.FindStringSubmatch(fr.Text)
		if m == nil || !strings.Contains(fr.Text, " "+src+" > ") {
			continue
		}
		if prev, ok := last[m[1]]; ok && fr.Time.Sub(prev) > gap {
			gap, at = fr.Time.Sub(prev), prev.Sub(from)
		}
		last[m[1]] = fr.Time
	}
	return gap, at
}

// TestE2ENATEvents is the NAT pair with connection sync under the
// client's stream of HTTP requests, through the events other than a
// crash: a real server dies, a reload adds a real server, and the master
// stops cleanly (SIGTERM) while a long-lived connection runs.
func TestE2ENATEvents(t *testing.T) {
	vm.RequireGuest(t)
	l := newNATLab(t, true)
	a, b := l.startPair()
	c := e2eStartClient(t, l.client)
	var table []e2eFigures
	record := func(step, bound string, from, to time.Time) e2eFigures {
		f := c.figures(step, from, to)
		f.Bound, f.Note = bound, e2eErrorKinds(c.window(from, to))
		table = append(table, f)
		t.Logf("E2ENAT-FIGURE step=%q requests=%d failed=%d late=%d gap_ms=%.1f gap_from_ms=%.0f client_stall_ms=%.0f bound=%q failures=%q total_p50=%v total_max=%v%s",
			f.Step, f.Requests, f.Failed, f.Late, e2eMSf(f.Gap), e2eMSf(f.GapAt), e2eMSf(f.Stall), f.Bound, f.Note,
			f.TotalP50.Round(100*time.Microsecond), f.TotalMax.Round(100*time.Microsecond), e2eFirstErrors(c.window(from, to), from, 5))
		return f
	}
	defer func() {
		var b strings.Builder
		fmt.Fprintf(&b, "%-32s %8s %6s %4s %8s  %-30s %s\n", "step", "requests", "failed", "late", "max gap", "asserted", "failures")
		for _, f := range table {
			fmt.Fprintf(&b, "%-32s %8d %6d %4d %8s  %-30s %s\n", f.Step, f.Requests, f.Failed, f.Late, e2eMS(f.Gap), f.Bound, f.Note)
		}
		t.Logf("summary, from the client's side:\n%s", strings.TrimRight(b.String(), "\n"))
	}()

	begin := time.Now()
	c.waitServed(t, "rs1", begin, 15*time.Second)
	c.waitServed(t, "rs2", begin, 15*time.Second)
	time.Sleep(e2eSettle)
	if f := record("steady traffic through a", "none lost", begin, time.Now()); f.Lost != 0 {
		t.Errorf("steady state: %d requests failed other than late, want none", f.Lost)
	}
	web := []string{natRS1 + ":80", natRS2 + ":8080"}

	t.Run("a real server dies", func(t *testing.T) {
		// rs2, the server behind the port mapping: its httpd stops, its
		// kernel refuses the connections.
		died := time.Now()
		l.httpd["rs2"].Kill()
		var gone time.Time
		for _, d := range []*e2eDirector{a, b} {
			at := l.natWaitWeb(d, 10*time.Second, natRS1+":80")
			t.Logf("director %s removed rs2 %v after its httpd died (bound %v)", d.name, at.Sub(died).Round(time.Millisecond), natDetectBound)
			if d == a {
				gone = at
			}
		}
		if took := gone.Sub(died); took > natDetectBound {
			t.Errorf("the master removed rs2 %v after it died, want at most fall × interval + timeout + interval = %v", took, natDetectBound)
		}
		time.Sleep(e2eSettle)
		record("rs2 dead, until removed", "recorded", died, gone)
		after := record("rs2 dead, after removal", "none lost", gone, time.Now())
		if after.Lost != 0 {
			t.Errorf("rs2 dead: %d requests failed other than late after the master removed it, want none", after.Lost)
		}
		for _, r := range c.window(gone, time.Now()) {
			if r.Err == nil && r.Server == "rs2" {
				t.Errorf("rs2 answered at +%v, after it died", r.Start.Sub(died).Round(time.Millisecond))
				break
			}
		}
		web = []string{natRS1 + ":80"}
	})

	t.Run("reload adds a real server", func(t *testing.T) {
		e2eRetry(t, func(attempt int) []string {
			// a's adverts on the outside LAN, as b receives them (they
			// are unicast), to tell a reload that held up the master's
			// adverts from a backup that missed them. Running before
			// the counters are read: tcpdump's start-up is not the
			// reload's.
			adverts := b.host.Capture(t, "eth0", "ip proto 112")
			if _, err := adverts.WaitMatch(5*time.Second, regexp.QuoteMeta(natExtA+" > "+natExtB)); err != nil {
				t.Fatalf("no advert of a on the outside LAN: %v", err)
			}
			before := map[string]map[string]string{"a": l.natTransitions(a), "b": l.natTransitions(b)}
			l.writeConfig(true)
			reloaded := time.Now()
			// Both ways an operator reloads: a signal to the master,
			// the command to the backup.
			if err := a.proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			l.natReload(b)
			want := append(slices.Clone(web), natRS3+":80")
			for _, d := range []*e2eDirector{a, b} {
				l.natWaitWeb(d, 10*time.Second, want...)
			}
			first := c.waitServed(t, "rs3", reloaded, 10*time.Second)
			t.Logf("rs3 answered %v after the reload", first.Sub(reloaded).Round(time.Millisecond))
			time.Sleep(e2eSettle)
			f := record(e2eAttemptStep("reload adding rs3", attempt), "none lost, no transition", reloaded, time.Now())
			t.Logf("after the reload: %s", e2eCounts(c.window(first, time.Now())))
			var failed []string
			if f.Lost != 0 {
				failed = append(failed, fmt.Sprintf("reload: %d requests failed other than late, want none", f.Lost))
			}
			gap, at := natAdvertGap(adverts.Stop(), natExtA, reloaded)
			t.Logf("E2ENAT-FIGURE reload a_longest_advert_interval_ms=%.1f at_ms=%.0f", e2eMSf(gap), e2eMSf(at))
			for _, d := range []*e2eDirector{a, b} {
				if diff := cmp.Diff(before[d.name], l.natTransitions(d)); diff != "" {
					failed = append(failed, fmt.Sprintf("director %s: VRRP instances changed across the reload, which must not touch them (a's longest interval between adverts on the outside LAN: %v at +%v; %s) (-before +after):\n%s",
						d.name, gap.Round(time.Millisecond), at.Round(time.Millisecond), l.natAdvertCounts(d), diff))
				}
			}
			return failed
		}, func() {
			// rs3 out again, by a reload of the file without it, until
			// neither table has it.
			l.writeConfig(false)
			for _, d := range []*e2eDirector{a, b} {
				l.natReload(d)
			}
			for _, d := range []*e2eDirector{a, b} {
				l.natWaitWeb(d, 10*time.Second, web...)
			}
			l.natWaitState(a, status.StateMaster, 5*time.Second)
			l.natWaitState(b, status.StateBackup, 5*time.Second)
			time.Sleep(e2eSettle)
		})
		web = append(slices.Clone(web), natRS3+":80")
	})

	t.Run("clean stop of the master", func(t *testing.T) {
		l.natCheckNoFlap(b)
		t.Logf("b before the stop: %s", l.natAdvertCounts(b))
		// The client's side of the handover: b's gratuitous ARP moves the
		// client's neighbour entry for the VIP, and a reset carries the
		// MAC of the director whose stack sent it. On the inside, rs1's
		// capture shows when its gateway moved. Started first, so that
		// tcpdump's start-up on the emulated CPUs is over by the stop.
		capture := l.client.Capture(t, "eth0", "arp or (dst host "+natClient+" and tcp[tcpflags] & tcp-rst != 0)")
		inside := l.rs1.Capture(t, "eth0", "arp")

		// A long-lived connection through a that b knows only from a's
		// sync daemon.
		held := natStartEcho(t, l.client)
		if got := held.natWaitEchoes(time.Time{}, 3, 10*time.Second); len(got) < 3 || got[len(got)-1].err != nil {
			t.Fatalf("echo connection before the stop: %d lines, last %+v", len(got), got)
		}
		e2eWaitSynced(t, b, held)

		// As in the DR pair: a request opened through a before the stop
		// and finished after b would have taken over without the relay.
		split := e2eStartSplit(t, l.client)
		bTrans := l.natTransitionCounts(b)
		stopped := time.Now()
		split.finish(stopped.Add(e2eSplitAfter))
		e2eStopClean(t, "a", a.proc)
		doc := l.natWaitState(b, status.StateMaster, 5*time.Second)
		<-split.done
		conns := b.host.MustExec(t, "ipvsadm", "-Lnc")
		var since []string
		for _, in := range doc.VRRPInstances {
			since = append(since, fmt.Sprintf("%s +%v", in.Name, in.Since.Sub(stopped).Round(time.Millisecond)))
		}
		arpFromB := func(mac, ip string) func(lab.Frame) bool {
			re := regexp.MustCompile(`(?i)^\S+ ` + regexp.QuoteMeta(mac) + ` > .*ARP.* ` + regexp.QuoteMeta(ip) + `\b`)
			return func(fr lab.Frame) bool { return fr.Time.After(stopped) && re.MatchString(fr.Text) }
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		garp, err := capture.Wait(ctx, arpFromB(b.host.MAC(), e2eVIP))
		cancel()
		if err != nil {
			t.Fatalf("the client saw no ARP from b for the VIP after the SIGTERM: %v", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		ggw, err := inside.Wait(ctx, arpFromB(b.host.IfaceMAC("eth1"), natGateway))
		cancel()
		if err != nil {
			t.Fatalf("rs1 saw no ARP from b for the gateway VIP after the SIGTERM: %v", err)
		}
		switched := garp.Time
		time.Sleep(e2eSettle)
		skew := switched.Sub(ggw.Time).Abs()
		released := natReleased(a.proc.Output())
		f := record("SIGTERM of the master", "gap < 150 ms + skew, none lost after", stopped, time.Now())
		if f.Gap >= natStopBound+skew {
			t.Errorf("clean stop: the client went %v without an answer (from +%v), want less than %v + the %v between b's two announcements; a let go of its VIPs at %s, b's announcements reached the client at +%v and rs1 at +%v",
				f.Gap, f.GapAt.Round(time.Millisecond), natStopBound, skew.Round(time.Millisecond), natSince(released, stopped),
				switched.Sub(stopped).Round(time.Millisecond), ggw.Time.Sub(stopped).Round(time.Millisecond))
		}
		reqs := c.window(stopped, time.Now())
		crossed, lost := natHandover(reqs, switched, ggw.Time)
		var resets []string
		for _, fr := range capture.Stop() {
			if !fr.Time.Before(stopped) && strings.Contains(fr.Text, "[R") {
				resets = append(resets, fmt.Sprintf("+%v %s", fr.Time.Sub(stopped).Round(time.Millisecond), fr.Text))
			}
		}
		t.Logf("E2ENAT-FIGURE clean_stop b_master=%q a_released=%q client_switched_ms=%.0f gateway_switched_ms=%.0f switch_skew_ms=%.1f crossed=%d lost=%d resets_on_the_wire=%d",
			strings.Join(since, ", "), natSince(released, stopped), e2eMSf(switched.Sub(stopped)), e2eMSf(ggw.Time.Sub(stopped)), e2eMSf(skew), len(crossed), len(lost), len(resets))
		if f.Lost != 0 {
			t.Logf("clean stop: failed requests (client switched at +%v, gateway at +%v):%s\nresets seen by the client:\n  %s",
				switched.Sub(stopped).Round(time.Millisecond), ggw.Time.Sub(stopped).Round(time.Millisecond),
				e2eDiagnose(reqs, stopped, conns), strings.Join(resets, "\n  "))
		}
		// handover = "relay": new connections went through b's IPVS,
		// their answers through a to b, until a's own had ended; none
		// can have its two directions on different directors.
		if len(crossed) > 0 {
			table[len(table)-1].Note = fmt.Sprintf("%d in flight at the switch (%s)", len(crossed), e2eErrorKinds(crossed))
			t.Errorf("clean stop: %d requests in flight at the switch failed, want none (the relay should have left none):%s",
				len(crossed), e2eDiagnose(crossed, stopped, conns))
		}
		out := a.proc.Output()
		for _, want := range []string{"NAT answers of the peer's connections routed to it", "relaying new connections to the peer", "handing over"} {
			if !strings.Contains(out, want) {
				t.Errorf("clean stop: a's log lacks %q:\n%s", want, out)
			}
		}
		if split.err != nil {
			t.Errorf("clean stop: the request opened through a before the stop and finished %v after it failed: %v", e2eSplitAfter, split.err)
		}
		t.Logf("E2ENAT-FIGURE relay split_request_end_ms=%.0f split_answer=%q", e2eMSf(split.end.Sub(stopped)), split.answer)
		// a's routes for b's answers are gone with it, and so is the
		// send_redirects setting it changed.
		if rules := a.host.MustExec(t, "ip", "rule", "show"); strings.Contains(rules, "lookup 19542") {
			t.Errorf("clean stop: a left its relay rules:\n%s", rules)
		}
		if routes := a.host.MustExec(t, "ip", "route", "show", "table", "19542"); strings.TrimSpace(routes) != "" {
			t.Errorf("clean stop: a left its relay routes:\n%s", routes)
		}
		if v := strings.TrimSpace(a.host.MustExec(t, "busybox", "sysctl", "-n", "net.ipv4.conf.eth1.send_redirects")); v != "1" {
			t.Errorf("clean stop: a left net.ipv4.conf.eth1.send_redirects at %s, want it back at 1", v)
		}
		if len(lost) != 0 {
			t.Errorf("clean stop: %d requests started after b announced both VIPs failed, want none:%s", len(lost), e2eDiagnose(lost, stopped, conns))
		}
		if skew >= natSwitchSkewBound {
			t.Errorf("clean stop: b's announcements of the VIP (client at +%v) and of the gateway (rs1 at +%v) were %v apart, want less than %v: every connection opened in between has its two directions on different directors",
				switched.Sub(stopped).Round(time.Millisecond), ggw.Time.Sub(stopped).Round(time.Millisecond), skew.Round(time.Millisecond), natSwitchSkewBound)
		}
		for name, n := range l.natTransitionCounts(b) {
			if n != bTrans[name]+1 {
				t.Errorf("b: %s made %d transitions across the stop, want 1 (BACKUP to MASTER): the takeover was not clean", name, n-bTrans[name])
			}
		}
		e := e2eEchoFigures(held.natWaitEchoes(stopped, e2eEchoAfter, 15*time.Second), stopped)
		t.Logf("E2ENAT-FIGURE sync step=%q synced_lines_after=%d synced_slowest_echo_ms=%.0f synced_error=%q",
			"SIGTERM of the master", e.lines, e2eMSf(e.slowest), e.errText())
		if e.err != nil || e.lines < e2eEchoAfter {
			t.Errorf("clean stop: the echo connection b learned from the sync daemon did not survive: %d lines echoed after the stop, want %d; last error %v",
				e.lines, e2eEchoAfter, e.err)
		}
	})
}

// TestE2ENATEchoEntry holds the matcher of the sync tests to both ends
// of the connection: a client port reused by the HTTP stream, or one
// that is a prefix of another, is not the echo connection.
func TestE2ENATEchoEntry(t *testing.T) {
	lnc := "IPVS connection entries\n" +
		"pro expire state       source             virtual            destination\n" +
		"TCP 01:58  FIN_WAIT    192.0.2.10:47314   192.0.2.100:80     192.0.2.22:80\n" +
		"TCP 14:58  ESTABLISHED 192.0.2.10:47306   192.0.2.100:7000   192.0.2.21:7000\n"
	for _, tc := range []struct {
		client string
		want   bool
	}{
		{"192.0.2.10:47306", true},
		{"192.0.2.10:47314", false}, // an HTTP request's entry, same port
		{"192.0.2.10:4730", false},  // a prefix of the echo's port
		{"192.0.2.10:7000", false},
	} {
		if got := hasEntry(lnc, tc.client); got != tc.want {
			t.Errorf("hasEntry(%s) = %v, want %v", tc.client, got, tc.want)
		}
	}
}
