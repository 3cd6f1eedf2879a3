//go:build vm

package vmtests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
// new master knows nothing of the connection and it breaks.

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
	natEcho    = 7000
)

const (
	natAdvert = 100 * time.Millisecond
	natPrioA  = 150
	natPrioB  = 100
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
// IPVS connection-sync daemon.
func natConfig(withSync bool) string {
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
  virtual_ips      = ["%s/32"]
  track_interfaces = ["eth1"]
}

vrrp_instance "VI_INT" {
  interface        = "eth1"
  vrid             = 62
  advert_interval  = %q
  virtual_ips      = ["%s/32"]
  track_interfaces = ["eth0"]
}

vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
}

virtual_server "web" {
  address   = "%s:80"
  scheduler = "rr"
  method    = "nat"
  health_check "tcp" {
    interval = "500ms"
    timeout  = "400ms"
    rise     = 1
    fall     = 2
  }
  real_server "%s:80" {}
  real_server "%s:8080" {}
}

virtual_server "echo" {
  address   = "%s:%d"
  scheduler = "rr"
  method    = "nat"
  health_check "tcp" {
    interval = "500ms"
    timeout  = "400ms"
    rise     = 1
    fall     = 2
  }
  real_server "%s:%d" {}
}
%s
status {
  metrics_listen = ""
}
`, natPrioA, natPrioB, natAdvert, e2eVIP, natAdvert, natGateway,
		e2eVIP, natRS1, natRS2, e2eVIP, natEcho, natRS1, natEcho, syncd)
}

// natLab is the NAT cluster.
type natLab struct {
	t                *testing.T
	lvsd, cfg        string
	outside, inside  *lab.LAN
	client, rs1, rs2 *lab.Host
	dirs             map[string]*e2eDirector
}

func newNATLab(t *testing.T, withSync bool) *natLab {
	t.Helper()
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	run(t, "modprobe", "ip_vs")
	l := &natLab{t: t, lvsd: bin, dirs: map[string]*e2eDirector{}}
	l.outside = lab.NewLAN(t, "client", "a", "b")
	l.inside = l.outside.NewLAN("a", "b", "rs1", "rs2")
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
	}{{l.rs1, "rs1", natRS1, "80"}, {l.rs2, "rs2", natRS2, "8080"}} {
		l.inside.AddAddr(s.name, s.addr+"/24")
		s.h.MustExec(t, "ip", "route", "add", "default", "via", natGateway)
		www := t.TempDir()
		if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(s.name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := s.h.Start("busybox", "httpd", "-f", "-p", s.port, "-h", www)
		t.Cleanup(func() { _ = p.Stop(time.Second) })
	}
	natEchoServer(t, l.rs1, fmt.Sprintf("%s:%d", natRS1, natEcho))
	l.cfg = filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(l.cfg, []byte(natConfig(withSync)), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
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

// natCheckNoFlap fails the test if the backup was ever master before the
// crash: its gratuitous ARP would have pointed the client or the real
// servers at it, and the failover measured next would not start from a
// clean master/backup pair. On a starved guest a backup can miss the
// master's 100 ms adverts for Master_Down_Interval; that is a real fault
// of the cluster, not of the test.
func (l *natLab) natCheckNoFlap(b *e2eDirector) {
	l.t.Helper()
	doc := l.natWaitState(b, status.StateBackup, 5*time.Second)
	for _, in := range doc.VRRPInstances {
		if in.Transitions != 1 {
			l.t.Errorf("b: %s had %d transitions before the crash, want 1 (INIT to BACKUP): it took over for a moment while a was master", in.Name, in.Transitions)
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
// connection failed; it returns the lines sent after from.
func (c *natEchoClient) natWaitEchoes(from time.Time, n int, within time.Duration) []natEchoLine {
	deadline := time.Now().Add(within)
	for {
		var after []natEchoLine
		ok := 0
		for _, l := range c.record() {
			if l.sent.After(from) {
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
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, client) && strings.Contains(line, fmt.Sprintf("%s:%d", e2eVIP, natEcho)) {
				return line, true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return out, false
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
	if out := b.host.MustExec(t, "ipvsadm", "-Lnc"); strings.Contains(out, echo.local) {
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
