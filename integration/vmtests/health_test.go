//go:build vm

package vmtests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/ipvs"
)

// The check parameters of every virtual server of hcConfig. The guest is
// emulated without KVM and shares two host cores: a busybox httpd that
// forks per connection under the client's load can take a couple of
// hundred milliseconds to answer there, so the timeout leaves room for
// that and no live server flaps.
const (
	hcInterval = 500 * time.Millisecond
	hcTimeout  = 400 * time.Millisecond
	hcRise     = 2
	hcFall     = 2
)

// Deadlines on what the checks drive, from the moment a server changes.
//
// Down: the first check after the change is due within one interval, the
// fall-th failing one (fall-1) intervals later, and a silent server's
// check ends only at its timeout: fall × interval + timeout. One more
// interval is the slack for the emulated guest, where the check, the
// reconciler's netlink request and this test's polling of the kernel all
// wait for one of two virtual CPUs.
//
// Up, from the moment httpd listens again: the first passing check is due
// within one interval, the rise-th (rise-1) intervals later, and it ends
// within its timeout: rise × interval + timeout, with the same slack.
const (
	hcDownWithin = hcFall*hcInterval + hcTimeout + hcInterval
	hcUpWithin   = hcRise*hcInterval + hcTimeout + hcInterval
)

// Lab addresses: the client and the VIPs on the front LAN, the real
// servers and the sorry server on the back LAN behind the NAT director.
const (
	hcClientAddr   = "192.0.2.10"
	hcVIPRemove    = "192.0.2.100:80"
	hcVIPQuiescent = "192.0.2.101:80"
	hcVIPQuorum    = "192.0.2.102:80"
	hcRS1          = "198.51.100.11:80"
	hcRS2          = "198.51.100.12:80"
	hcRS3          = "198.51.100.13:80"
	hcSorry        = "198.51.100.50:80"
)

// hcConfig is the director's cluster file: three NAT services over
// the same three real servers, one per failure policy, all checked over
// HTTP. The checks of a real server are the same in the three services,
// so one check job drives the three. ipvs is the body of the ipvs {}
// block.
func hcConfig(ipvsBody string) string {
	check := fmt.Sprintf(`  health_check "http" {
    interval = %q
    timeout  = %q
    rise     = %d
    fall     = %d
  }
  real_server %q {}
  real_server %q {}
  real_server %q {}
`, hcInterval, hcTimeout, hcRise, hcFall, hcRS1, hcRS2, hcRS3)
	return fmt.Sprintf(`cluster = "health"

node "director" {}

virtual_server "remove" {
  address    = %q
  scheduler  = "rr"
  method     = "nat"
  on_failure = "remove"
%s}

virtual_server "quiescent" {
  address    = %q
  scheduler  = "rr"
  method     = "nat"
  on_failure = "quiescent"
%s}

virtual_server "quorum" {
  address      = %q
  scheduler    = "rr"
  method       = "nat"
  quorum       = 2
  sorry_server = %q
%s}

ipvs {
%s}

status {
  metrics_listen = ""
}
`, hcVIPRemove, check, hcVIPQuiescent, check, hcVIPQuorum, hcSorry, check, ipvsBody)
}

// hcTable is a kernel table as VIP:PORT -> real server -> weight.
type hcTable map[string]map[string]int

// hcAllUp is the table with every real server healthy.
func hcAllUp() hcTable {
	all := func() map[string]int { return map[string]int{hcRS1: 1, hcRS2: 1, hcRS3: 1} }
	return hcTable{hcVIPRemove: all(), hcVIPQuiescent: all(), hcVIPQuorum: all()}
}

// hcLab is the lab of the health tests: a client, a NAT director running
// `lvsd run`, three real servers and a sorry server.
type hcLab struct {
	lvsd     string
	front    *lab.LAN
	back     *lab.LAN
	client   *lab.Host
	director *lab.Host
	servers  map[string]*hcServer // by address
	kernel   *ipvs.Client
	cfg      string
	socket   string
}

// hcServer is a busybox httpd answering its name.
type hcServer struct {
	name string
	host *lab.Host
	www  string
	proc *lab.Proc
}

func (s *hcServer) start() {
	s.proc = s.host.Start("busybox", "httpd", "-f", "-p", "80", "-h", s.www)
}

// stop kills httpd and every child serving a connection: the server's
// kernel closes their sockets, so checks are refused.
func (s *hcServer) stop() { s.proc.Kill() }

func newHCLab(t *testing.T) *hcLab {
	t.Helper()
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	run(t, "modprobe", "ip_vs")

	l := &hcLab{lvsd: bin, servers: map[string]*hcServer{}}
	l.front = lab.NewLAN(t, "client", "director")
	l.back = l.front.NewLAN("director", "rs1", "rs2", "rs3", "sorry")
	l.client, l.director = l.front.Host("client"), l.front.Host("director")
	l.front.AddAddr("client", hcClientAddr+"/24")
	l.front.AddAddr("director", "192.0.2.1/24")
	for _, vip := range []string{hcVIPRemove, hcVIPQuiescent, hcVIPQuorum} {
		l.front.AddAddr("director", hcHost(vip)+"/32")
	}
	l.back.AddAddr("director", "198.51.100.1/24")
	// NAT: the real servers' answers are forwarded back by the director.
	l.director.MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.ip_forward=1")

	for name, addr := range map[string]string{"rs1": hcRS1, "rs2": hcRS2, "rs3": hcRS3, "sorry": hcSorry} {
		h := l.back.Host(name)
		l.back.AddAddr(name, hcHost(addr)+"/24")
		h.MustExec(t, "ip", "route", "add", "default", "via", "198.51.100.1")
		s := &hcServer{name: name, host: h, www: t.TempDir()}
		if err := os.WriteFile(filepath.Join(s.www, "index.html"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.start()
		l.servers[addr] = s
	}
	l.kernel = dialIPVS(t, l.director)

	dir := t.TempDir()
	l.cfg, l.socket = filepath.Join(dir, "lvsd.hcl"), filepath.Join(dir, "lvsd.sock")
	l.writeConfig(t, "")
	proc := l.director.Start(bin, "run", "-c", l.cfg, "--node", "director", "--socket", l.socket)
	t.Cleanup(func() {
		if err := proc.Stop(3 * time.Second); err != nil {
			t.Errorf("lvsd did not stop cleanly: %v", err)
		}
	})
	return l
}

// hcHost is the address part of ADDR:PORT.
func hcHost(addrPort string) string {
	h, _, err := net.SplitHostPort(addrPort)
	if err != nil {
		panic(err)
	}
	return h
}

func (l *hcLab) writeConfig(t *testing.T, ipvsBody string) {
	t.Helper()
	if err := os.WriteFile(l.cfg, []byte(hcConfig(ipvsBody)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitListening waits until the real server at addr accepts connections
// from the director and returns when it first did: the moment its checks
// can start to pass.
func (l *hcLab) waitListening(t *testing.T, addr string) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := l.director.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
		now := time.Now()
		if err == nil {
			return now
		}
		if now.After(deadline) {
			t.Fatalf("%s does not listen within 10s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *hcLab) table(t *testing.T) hcTable {
	t.Helper()
	svcs, err := l.kernel.Services()
	if err != nil {
		t.Fatalf("reading the kernel's table: %v", err)
	}
	tab := hcTable{}
	for _, s := range svcs {
		dests := map[string]int{}
		for _, d := range s.Destinations {
			dests[d.Addr.String()] = d.Weight
		}
		tab[s.Addr.String()] = dests
	}
	return tab
}

// waitServer polls the kernel until real server rs of vip has weight
// (-1: is absent) and returns when it first saw it. Only that server
// counts, so the timing of its change is not held up by another's.
func (l *hcLab) waitServer(t *testing.T, what string, within time.Duration, vip, rs string, weight int) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := l.table(t)
		now := time.Now()
		w, in := got[vip][rs]
		if (weight < 0 && !in) || (in && w == weight) {
			return now
		}
		if now.After(deadline) {
			t.Fatalf("%s: %s of %s not at weight %d within %v: %v", what, rs, vip, weight, within, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTable polls the kernel until its table is want and returns when it
// first saw it.
func (l *hcLab) waitTable(t *testing.T, what string, within time.Duration, want hcTable) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := l.table(t)
		now := time.Now()
		if cmp.Equal(want, got) {
			return now
		}
		if now.After(deadline) {
			t.Fatalf("%s: kernel table not as wanted within %v (-want +got):\n%s", what, within, cmp.Diff(want, got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkIPVSAdm compares what ipvsadm -Ln prints with want.
func (l *hcLab) checkIPVSAdm(t *testing.T, want hcTable) {
	t.Helper()
	out := l.director.MustExec(t, "ipvsadm", "-Ln")
	if diff := cmp.Diff(want, hcParseList(t, out)); diff != "" {
		t.Errorf("ipvsadm -Ln (-want +got):\n%s\n%s", diff, out)
	}
}

// hcParseList reads ipvsadm -Ln: a service line "TCP  VIP:PORT rr",
// then one "  -> RIP:PORT  Masq  WEIGHT  ACTIVE  INACTIVE" per real server.
func hcParseList(t *testing.T, out string) hcTable {
	t.Helper()
	tab := hcTable{}
	var cur map[string]int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && (f[0] == "TCP" || f[0] == "UDP" || f[0] == "SCTP"):
			cur = map[string]int{}
			tab[f[1]] = cur
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" && cur != nil:
			w, err := strconv.Atoi(f[3])
			if err != nil {
				t.Fatalf("ipvsadm -Ln line %q: weight: %v", sc.Text(), err)
			}
			cur[f[1]] = w
		}
	}
	return tab
}

// status is `lvsd status --json`, through the command users run.
func (l *hcLab) status(t *testing.T) status.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, l.lvsd, "status", "--json", "--socket", l.socket).Output()
	if err != nil {
		t.Fatalf("lvsd status --json: %v", err)
	}
	var doc status.Document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("lvsd status --json: %v\n%s", err, out)
	}
	return doc
}

// hcServerView is what the status document says of one real server.
type hcServerView struct {
	Healthy          bool
	InIPVS           bool
	Weight           int
	ConfiguredWeight int
}

// hcServiceView is what the status document says of one virtual server.
type hcServiceView struct {
	QuorumMet   bool
	SorryActive bool
	Servers     map[string]hcServerView
}

func hcViewOf(doc status.Document) map[string]hcServiceView {
	out := map[string]hcServiceView{}
	for _, vs := range doc.VirtualServers {
		v := hcServiceView{QuorumMet: vs.QuorumMet, SorryActive: vs.SorryServerActive, Servers: map[string]hcServerView{}}
		for _, rs := range vs.RealServers {
			v.Servers[rs.Address] = hcServerView{Healthy: rs.Healthy, InIPVS: rs.InIPVS, Weight: rs.Weight, ConfiguredWeight: rs.ConfiguredWeight}
		}
		out[vs.Name] = v
	}
	return out
}

// waitStatus polls lvsd status until it says want; the document reads the
// kernel when asked, but its health may trail the table by a moment.
func (l *hcLab) waitStatus(t *testing.T, what string, want map[string]hcServiceView) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := hcViewOf(l.status(t))
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: lvsd status --json (-want +got):\n%s", what, cmp.Diff(want, got))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hcStatusWant builds the expected status of the three services from the
// healthy real servers and what the kernel is expected to hold.
func hcStatusWant(healthy map[string]bool, tab hcTable) map[string]hcServiceView {
	out := map[string]hcServiceView{}
	for name, vip := range map[string]string{"remove": hcVIPRemove, "quiescent": hcVIPQuiescent, "quorum": hcVIPQuorum} {
		v := hcServiceView{Servers: map[string]hcServerView{}}
		n := 0
		for _, rs := range []string{hcRS1, hcRS2, hcRS3} {
			w, in := tab[vip][rs]
			v.Servers[rs] = hcServerView{Healthy: healthy[rs], InIPVS: in, Weight: w, ConfiguredWeight: 1}
			if healthy[rs] {
				n++
			}
		}
		if name == "quorum" {
			v.QuorumMet = n >= 2
			_, v.SorryActive = tab[vip][hcSorry]
		} else {
			v.QuorumMet = n >= 1
		}
		out[name] = v
	}
	return out
}

// hcRequest is one request of the client loop.
type hcRequest struct {
	Start, End time.Time
	Answer     string
	Err        error
}

// hcTraffic is a client that sends requests through VIPs one after the
// other, one connection each, and records every outcome.
type hcTraffic struct {
	mu     sync.Mutex
	reqs   map[string][]hcRequest
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func hcStartTraffic(t *testing.T, h *lab.Host, vips ...string) *hcTraffic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &hcTraffic{reqs: map[string][]hcRequest{}, cancel: cancel}
	client := hcHTTPClient(h)
	for _, vip := range vips {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				answer, err := hcGet(ctx, client, vip)
				if ctx.Err() != nil {
					return
				}
				tr.mu.Lock()
				tr.reqs[vip] = append(tr.reqs[vip], hcRequest{Start: start, End: time.Now(), Answer: answer, Err: err})
				tr.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(tr.stop)
	return tr
}

func (tr *hcTraffic) stop() {
	tr.cancel()
	tr.wg.Wait()
}

// since returns the requests to vip started at or after from.
func (tr *hcTraffic) since(vip string, from time.Time) []hcRequest {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []hcRequest
	for _, r := range tr.reqs[vip] {
		if !r.Start.Before(from) {
			out = append(out, r)
		}
	}
	return out
}

// waitAnswer waits until a request to vip started at or after from has
// been answered by answer.
func (tr *hcTraffic) waitAnswer(t *testing.T, vip, answer string, from time.Time, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, r := range tr.since(vip, from) {
			if r.Err == nil && r.Answer == answer {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer %q through %s within %v: %s", answer, vip, within, hcSummary(tr.since(vip, from)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hcWindow is how many requests after a change checkAll looks at: with
// rr over two or three servers, every server of the pool is asked
// several times.
const hcWindow = 12

// checkAll waits until n requests to vip started at or after from have
// ended, then checks that every one succeeded with an answer ok accepts.
func (tr *hcTraffic) checkAll(t *testing.T, vip string, from time.Time, n int, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	reqs := tr.since(vip, from)
	for len(reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d requests through %s ended within 15s, want %d", what, len(reqs), vip, n)
		}
		time.Sleep(20 * time.Millisecond)
		reqs = tr.since(vip, from)
	}
	for _, r := range reqs {
		if r.Err != nil || !ok(r.Answer) {
			t.Errorf("%s: request through %s at +%v: answer %q, error %v", what, vip, r.Start.Sub(from).Round(time.Millisecond), r.Answer, r.Err)
		}
	}
	t.Logf("%s: %s", what, hcSummary(reqs))
}

// hcSummary counts the requests by answer, failures as "error".
func hcSummary(reqs []hcRequest) string {
	counts := map[string]int{}
	for _, r := range reqs {
		if r.Err != nil {
			counts["error"]++
		} else {
			counts[r.Answer]++
		}
	}
	return fmt.Sprintf("%d requests %v", len(reqs), counts)
}

// hcHTTPClient makes each request on a new connection from h's namespace,
// with short timeouts, so that a request sent to a dead server shows as an
// error rather than holding the loop.
func hcHTTPClient(h *lab.Host) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := h.Do(func() error {
			var err error
			conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{
		Timeout:   1500 * time.Millisecond,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

func hcGet(ctx context.Context, c *http.Client, vip string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+vip+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// sysctl reads a net.ipv4.vs sysctl in the director's namespace.
func (l *hcLab) sysctl(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(l.director.MustExec(t, "cat", "/proc/sys/net/ipv4/vs/"+name))
}

// hcWithout deletes servers from tab's vip and returns tab.
func hcWithout(tab hcTable, vip string, servers ...string) hcTable {
	for _, s := range servers {
		delete(tab[vip], s)
	}
	return tab
}

// TestHealthChecksDriveIPVS runs `lvsd run` on a NAT director in front of
// three busybox httpd real servers and drives them down and up while a
// client sends requests through the VIPs one after another (on_failure,
// quorum, sorry_server, ipvs {}). The
// kernel's table is the oracle: read through netlink to time the changes,
// and with ipvsadm -Ln.
func TestHealthChecksDriveIPVS(t *testing.T) {
	vm.RequireGuest(t)
	l := newHCLab(t)
	start := time.Now()
	l.waitTable(t, "every real server passes rise checks", 15*time.Second, hcAllUp())
	t.Logf("lvsd programmed every real server %v after the lab was up", time.Since(start).Round(time.Millisecond))
	l.checkIPVSAdm(t, hcAllUp())
	allHealthy := map[string]bool{hcRS1: true, hcRS2: true, hcRS3: true}
	l.waitStatus(t, "all healthy", hcStatusWant(allHealthy, hcAllUp()))

	t.Run("a failed server leaves, quiescent or removed, and returns", func(t *testing.T) {
		tr := hcStartTraffic(t, l.client, hcVIPRemove, hcVIPQuiescent)
		for _, vip := range []string{hcVIPRemove, hcVIPQuiescent} {
			tr.waitAnswer(t, vip, "rs1", time.Now(), 5*time.Second)
		}

		killed := time.Now()
		l.servers[hcRS1].stop()
		removed := l.waitServer(t, "rs1 killed", 10*time.Second, hcVIPRemove, hcRS1, -1)
		quiesced := l.waitServer(t, "rs1 killed", 10*time.Second, hcVIPQuiescent, hcRS1, 0)
		for _, c := range []struct {
			what string
			at   time.Time
		}{{"removed", removed}, {"set to weight 0", quiesced}} {
			took := c.at.Sub(killed)
			t.Logf("rs1 %s %v after its httpd was killed (bound %v)", c.what, took.Round(time.Millisecond), hcDownWithin)
			if took > hcDownWithin {
				t.Errorf("rs1 %s %v after it died, want at most fall × interval + timeout + interval = %v", c.what, took, hcDownWithin)
			}
		}
		down := hcAllUp()
		delete(down[hcVIPRemove], hcRS1)
		down[hcVIPQuiescent][hcRS1] = 0
		delete(down[hcVIPQuorum], hcRS1) // quorum 2 still met by rs2 and rs3
		l.waitTable(t, "rs1 killed", 10*time.Second, down)
		l.checkIPVSAdm(t, down)
		l.waitStatus(t, "rs1 killed", hcStatusWant(map[string]bool{hcRS2: true, hcRS3: true}, down))

		notRS1 := func(a string) bool { return a == "rs2" || a == "rs3" }
		tr.checkAll(t, hcVIPRemove, removed, hcWindow, "remove, rs1 dead", notRS1)
		tr.checkAll(t, hcVIPQuiescent, quiesced, hcWindow, "quiescent, rs1 dead", notRS1)
		if errs := hcErrors(tr.since(hcVIPRemove, killed)); errs > 0 {
			t.Logf("%d requests failed between the kill and the removal, as expected", errs)
		}

		l.servers[hcRS1].start()
		listening := l.waitListening(t, hcRS1)
		readded := l.waitServer(t, "rs1 restarted", 10*time.Second, hcVIPRemove, hcRS1, 1)
		restored := l.waitServer(t, "rs1 restarted", 10*time.Second, hcVIPQuiescent, hcRS1, 1)
		back := restored
		if readded.After(back) {
			back = readded
		}
		took := back.Sub(listening)
		t.Logf("rs1 back %v after its httpd listened again (bound %v)", took.Round(time.Millisecond), hcUpWithin)
		if took > hcUpWithin {
			t.Errorf("rs1 came back %v after its httpd listened again, want at most rise × interval + timeout + interval = %v", took, hcUpWithin)
		}
		l.waitTable(t, "rs1 restarted", 10*time.Second, hcAllUp())
		l.checkIPVSAdm(t, hcAllUp())
		for _, vip := range []string{hcVIPRemove, hcVIPQuiescent} {
			tr.waitAnswer(t, vip, "rs1", back, 5*time.Second)
		}
		anyRS := func(a string) bool { return a == "rs1" || a == "rs2" || a == "rs3" }
		tr.checkAll(t, hcVIPRemove, back, hcWindow, "remove, rs1 back", anyRS)
		tr.checkAll(t, hcVIPQuiescent, back, hcWindow, "quiescent, rs1 back", anyRS)
		tr.stop()
		l.waitStatus(t, "rs1 back", hcStatusWant(allHealthy, hcAllUp()))
	})

	t.Run("the sorry server stands in below quorum", func(t *testing.T) {
		tr := hcStartTraffic(t, l.client, hcVIPQuorum)
		l.servers[hcRS1].stop()
		one := hcAllUp()
		delete(one[hcVIPRemove], hcRS1)
		one[hcVIPQuiescent][hcRS1] = 0
		delete(one[hcVIPQuorum], hcRS1)
		l.waitTable(t, "rs1 killed", 10*time.Second, one)
		l.waitStatus(t, "two of three healthy, quorum 2 met", hcStatusWant(map[string]bool{hcRS2: true, hcRS3: true}, one))

		l.servers[hcRS2].stop()
		two := hcAllUp()
		delete(two[hcVIPRemove], hcRS1)
		delete(two[hcVIPRemove], hcRS2)
		two[hcVIPQuiescent][hcRS1], two[hcVIPQuiescent][hcRS2] = 0, 0
		// Below quorum the sorry server replaces the pool: rs3 alone is
		// not served either.
		two[hcVIPQuorum] = map[string]int{hcSorry: 1}
		sorry := l.waitTable(t, "rs2 killed too", 10*time.Second, two)
		l.checkIPVSAdm(t, two)
		l.waitStatus(t, "one healthy, below quorum", hcStatusWant(map[string]bool{hcRS3: true}, two))
		tr.checkAll(t, hcVIPQuorum, sorry, hcWindow, "below quorum", func(a string) bool { return a == "sorry" })

		l.servers[hcRS2].start()
		regained := one
		regainedAt := l.waitTable(t, "rs2 restarted", 10*time.Second, regained)
		l.checkIPVSAdm(t, regained)
		l.waitStatus(t, "quorum regained", hcStatusWant(map[string]bool{hcRS2: true, hcRS3: true}, regained))
		tr.checkAll(t, hcVIPQuorum, regainedAt, hcWindow, "quorum regained", func(a string) bool { return a == "rs2" || a == "rs3" })
		tr.stop()

		l.servers[hcRS1].start()
		l.waitTable(t, "rs1 restarted", 10*time.Second, hcAllUp())
	})

	t.Run("expire_nodest_conn", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			ipvsBody string
			sysctl   string
			reset    bool
		}{
			{name: "default with remove", sysctl: "1", reset: true},
			// Set by a reload: the sysctl must follow the new file as
			// it would a restart.
			{name: "off", ipvsBody: "  expire_nodest_conn = false\n", sysctl: "0", reset: false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.ipvsBody != "" {
					l.writeConfig(t, tc.ipvsBody)
					if out, err := exec.Command(l.lvsd, "reload", "--socket", l.socket).CombinedOutput(); err != nil {
						t.Fatalf("lvsd reload: %v: %s", err, out)
					}
				}
				hcWaitFor(t, 5*time.Second, "net.ipv4.vs.expire_nodest_conn = "+tc.sysctl, func() bool {
					return l.sysctl(t, "expire_nodest_conn") == tc.sysctl
				})
				l.waitTable(t, "every server up", 10*time.Second, hcAllUp())
				l.checkSilentServer(t, tc.reset)
			})
		}
	})
}

// hcErrors counts the failed requests.
func hcErrors(reqs []hcRequest) int {
	n := 0
	for _, r := range reqs {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// hcWaitFor polls cond until it holds, failing the test after within.
func hcWaitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSilentServer opens a connection through the remove VIP that lands
// on rs3, then pulls rs3's cable: the server vanishes without a FIN or a
// RST, as a crashed machine does. Once lvsd has removed it, the client
// sends a request on the old connection.
//
// With expire_nodest_conn = 1 the director's IPVS drops its entry for the
// connection at that packet; only a SYN is scheduled anew, so the packet
// goes up the director's own stack, which holds the VIP but no such
// connection and answers with a RST: the client learns at once. With 0, IPVS drops every packet of the
// connection, and the client retransmits into nothing until its timeout.
func (l *hcLab) checkSilentServer(t *testing.T, wantReset bool) {
	t.Helper()
	conn := l.connTo(t, hcVIPRemove, hcRS3)
	defer func() {
		_ = conn.SetLinger(0) // a RST, not a FIN left to retransmit
		_ = conn.Close()
	}()
	port := conn.LocalAddr().(*net.TCPAddr).Port

	if err := l.back.Unplug("rs3"); err != nil {
		t.Fatal(err)
	}
	pulled := time.Now()
	defer func() {
		if err := l.back.Plug("rs3"); err != nil {
			t.Error(err)
		}
		l.waitTable(t, "rs3 plugged in again", 10*time.Second, hcAllUp())
	}()
	silent := hcWithout(hcAllUp(), hcVIPRemove, hcRS3)
	silent[hcVIPQuiescent][hcRS3] = 0
	delete(silent[hcVIPQuorum], hcRS3)
	gone := l.waitServer(t, "rs3 silent", 10*time.Second, hcVIPRemove, hcRS3, -1)
	l.waitTable(t, "rs3 silent", 10*time.Second, silent)
	t.Logf("silent rs3 removed %v after its cable was pulled (bound %v)", gone.Sub(pulled).Round(time.Millisecond), hcDownWithin)
	if took := gone.Sub(pulled); took > hcDownWithin {
		t.Errorf("silent rs3 left the table %v after its cable was pulled, want at most %v", took, hcDownWithin)
	}

	// On the client's own interface: the LAN's bridge learns addresses, so
	// its observer sees no unicast between client and director.
	capture := l.client.Capture(t, "eth0", fmt.Sprintf("tcp port %d", port))
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatalf("writing on the connection to the dead server: %v", err)
	}
	const wait = 3 * time.Second
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	_, err := conn.Read(make([]byte, 512))

	client := regexp.QuoteMeta(fmt.Sprintf("%s.%d", hcClientAddr, port))
	vip := regexp.QuoteMeta(strings.Replace(hcVIPRemove, ":", ".", 1))
	request := client + " > " + vip + `: Flags \[P\.\]`
	reset := vip + " > " + client + `: Flags \[R`
	// tcpdump hands frames over in blocks, up to its buffer timeout (a
	// second) after they crossed the wire: wait for them rather than stop
	// it at once. Their timestamps are the kernel's either way.
	want := 1
	if !wantReset {
		want = 2 // the request and at least one retransmission
	}
	var sent, resets []lab.Frame
	var dump string
	deadline := time.Now().Add(3 * time.Second)
	for {
		sent, resets, dump = hcFrames(capture.Lines(), request, reset)
		if (len(sent) >= want && (len(resets) > 0 || !wantReset)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(sent) == 0 {
		t.Fatalf("the capture has no request from the client:\n%s", dump)
	}

	if wantReset {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read on the connection to the removed server: %v, want a reset (connection reset by peer)\n%s", err, dump)
		}
		if len(resets) == 0 {
			t.Fatalf("no RST from %s on the wire:\n%s", hcVIPRemove, dump)
		}
		// Kernel time on the wire: the request went out, the RST came back.
		took := resets[0].Time.Sub(sent[0].Time)
		t.Logf("RST %v after the request on the connection to the removed server", took)
		if took > time.Second {
			t.Errorf("RST %v after the request, want well under a second:\n%s", took, dump)
		}
		return
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on the connection to the removed server: %v, want no answer within %v\n%s", err, wait, dump)
	}
	if len(resets) != 0 {
		t.Errorf("a RST came back with expire_nodest_conn = 0:\n%s", dump)
	}
	// The request went unanswered and was sent again: the client hangs on
	// the TCP retransmission timer.
	if len(sent) < 2 {
		t.Errorf("the request was sent %d times, want retransmissions:\n%s", len(sent), dump)
	}
	t.Logf("no answer within %v; the request went out %d times", wait, len(sent))
}

// hcFrames sorts captured frames into requests and resets by the regular
// expressions, and returns them with the whole capture as text.
func hcFrames(frames []lab.Frame, request, reset string) (sent, resets []lab.Frame, dump string) {
	req, rst := regexp.MustCompile(request), regexp.MustCompile(reset)
	var lines []string
	for _, f := range frames {
		lines = append(lines, f.Text)
		switch {
		case req.MatchString(f.Text):
			sent = append(sent, f)
		case rst.MatchString(f.Text):
			resets = append(resets, f)
		}
	}
	return sent, resets, strings.Join(lines, "\n")
}

// connTo opens connections through vip from the client until one lands
// on real server rs, as the director's connection table says, and returns
// it with the others closed.
func (l *hcLab) connTo(t *testing.T, vip, rs string) *net.TCPConn {
	t.Helper()
	for range 10 {
		var conn net.Conn
		err := l.client.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp", vip, 2*time.Second)
			return err
		})
		if err != nil {
			t.Fatalf("connecting to %s: %v", vip, err)
		}
		local := conn.LocalAddr().String()
		var dest string
		for _, line := range strings.Split(l.director.MustExec(t, "ipvsadm", "-Lnc"), "\n") {
			// pro expire state source virtual destination
			if f := strings.Fields(line); len(f) == 6 && f[3] == local && f[4] == vip {
				dest = f[5]
			}
		}
		if dest == rs {
			return conn.(*net.TCPConn)
		}
		if dest == "" {
			t.Fatalf("the director has no connection entry for %s:\n%s", local, l.director.MustExec(t, "ipvsadm", "-Lnc"))
		}
		conn.Close()
	}
	t.Fatalf("no connection through %s landed on %s in 10 tries", vip, rs)
	return nil
}
