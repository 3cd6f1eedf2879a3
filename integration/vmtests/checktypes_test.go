//go:build vm

package vmtests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
)

// Lab addresses of the dns and udp check test: two real servers behind a
// NAT director, each serving DNS on port 53 and a UDP echo on port 7.
const (
	ctVIPDNS  = "192.0.2.53:53"
	ctVIPEcho = "192.0.2.54:7"
	ctRS1     = "198.51.100.21"
	ctRS2     = "198.51.100.22"
)

// ctConfig checks the DNS service with a dns check that wants an answer
// and the echo service with a udp check that wants its payload back.
func ctConfig() string {
	timing := fmt.Sprintf(`    interval = %q
    timeout  = %q
    rise     = %d
    fall     = %d`, hcInterval, hcTimeout, hcRise, hcFall)
	return fmt.Sprintf(`cluster = "checktypes"

node "director" {}

virtual_server "dns" {
  address  = %q
  protocol = "udp"
  method   = "nat"
  health_check "dns" {
    type          = "A"
    name          = "www.example.test"
    expect_answer = ["192.0.2.80"]
%s
  }
  real_server "%s:53" {}
  real_server "%s:53" {}
}

virtual_server "echo" {
  address  = %q
  protocol = "udp"
  method   = "nat"
  health_check "udp" {
    payload      = "6c 76 73 64"
    expect_reply = "6c 76 73 64"
%s
  }
  real_server "%s:7" {}
  real_server "%s:7" {}
}

status {
  metrics_listen = ""
}
`, ctVIPDNS, timing, ctRS1, ctRS2, ctVIPEcho, timing, ctRS1, ctRS2)
}

// ctServer is one real server's two UDP services, run by this test
// binary on sockets of the server's namespace.
type ctServer struct {
	host *lab.Host
	addr string
	// answer is how the DNS service answers: "ok", "servfail", or
	// "wrong" (another address than the check expects).
	answer atomic.Value
	// echoGarbage makes the echo service answer garbage.
	echoGarbage atomic.Bool

	mu   sync.Mutex
	dns  *dns.Server
	echo net.PacketConn
	wg   sync.WaitGroup
}

// listen opens a UDP socket in the server's namespace.
func (s *ctServer) listen(t *testing.T, port int) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	err := s.host.Do(func() error {
		var err error
		pc, err = net.ListenPacket("udp", net.JoinHostPort(s.addr, fmt.Sprint(port)))
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", s.host.Name, err)
	}
	return pc
}

// startDNS serves www.example.test A 192.0.2.80 (or what answer says).
func (s *ctServer) startDNS(t *testing.T) {
	t.Helper()
	pc := s.listen(t, 53)
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		switch s.answer.Load() {
		case "servfail":
			r.Rcode = dns.RcodeServerFailure
		case "wrong":
			rr, _ := dns.NewRR("www.example.test. 60 IN A 192.0.2.81")
			r.Answer = append(r.Answer, rr)
		default:
			rr, _ := dns.NewRR("www.example.test. 60 IN A 192.0.2.80")
			r.Answer = append(r.Answer, rr)
		}
		_ = w.WriteMsg(r)
	})}
	s.wg.Go(func() { _ = srv.ActivateAndServe() })
	<-started
	s.mu.Lock()
	s.dns = srv
	s.mu.Unlock()
}

// stopDNS closes the DNS socket: the server's kernel then answers queries
// with port unreachable.
func (s *ctServer) stopDNS() {
	s.mu.Lock()
	srv := s.dns
	s.dns = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Shutdown()
	}
}

// startEcho serves the echo until the test ends.
func (s *ctServer) startEcho(t *testing.T) {
	t.Helper()
	pc := s.listen(t, 7)
	s.echo = pc
	s.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reply := buf[:n]
			if s.echoGarbage.Load() {
				reply = []byte("\x00garbage")
			}
			_, _ = pc.WriteTo(reply, from)
		}
	})
}

// TestCheckTypesDriveIPVS runs `lvsd run` on a NAT director whose real
// servers are checked by a dns check and a udp check: a DNS server that
// answers SERVFAIL, answers the wrong address or stops, and an echo
// server that answers garbage, each take their server out of IPVS and
// bring it back when they heal, with the kernel's table and ipvsadm as
// oracles.
func TestCheckTypesDriveIPVS(t *testing.T) {
	vm.RequireGuest(t)
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	run(t, "modprobe", "ip_vs")

	lan := lab.NewLAN(t, "director", "rs1", "rs2")
	lan.AddAddr("director", "198.51.100.1/24")
	servers := map[string]*ctServer{}
	for name, addr := range map[string]string{"rs1": ctRS1, "rs2": ctRS2} {
		lan.AddAddr(name, addr+"/24")
		// Every check of a stopped server gets its port unreachable,
		// not one a second.
		lan.Host(name).MustExec(t, "busybox", "sysctl", "-w", "net.ipv4.icmp_ratelimit=0")
		s := &ctServer{host: lan.Host(name), addr: addr}
		s.answer.Store("ok")
		s.startDNS(t)
		s.startEcho(t)
		t.Cleanup(func() {
			s.stopDNS()
			s.echo.Close()
			s.wg.Wait()
		})
		servers[addr] = s
	}

	dir := t.TempDir()
	cfg, socket := filepath.Join(dir, "lvsd.hcl"), filepath.Join(dir, "lvsd.sock")
	if err := os.WriteFile(cfg, []byte(ctConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	director := lan.Host("director")
	l := &hcLab{lvsd: bin, director: director, kernel: dialIPVS(t, director), cfg: cfg, socket: socket}
	proc := director.Start(bin, "run", "-c", cfg, "--node", "director", "--socket", socket)
	t.Cleanup(func() {
		if err := proc.Stop(3 * time.Second); err != nil {
			t.Errorf("lvsd did not stop cleanly: %v", err)
		}
	})

	dnsRS1, dnsRS2 := ctRS1+":53", ctRS2+":53"
	echoRS1 := ctRS1 + ":7"
	allUp := func() hcTable {
		return hcTable{
			ctVIPDNS:  {dnsRS1: 1, dnsRS2: 1},
			ctVIPEcho: {echoRS1: 1, ctRS2 + ":7": 1},
		}
	}
	l.waitTable(t, "every real server passes rise checks", 15*time.Second, allUp())
	l.checkIPVSAdm(t, allUp())

	// Each fault takes one server out within the bound of the HTTP
	// health test, and its repair brings it back within that bound.
	faults := []struct {
		name    string
		vip, rs string
		fail    func()
		heal    func()
		message string // the check's message while the fault lasts
	}{
		{
			name: "dns: SERVFAIL", vip: ctVIPDNS, rs: dnsRS1,
			fail:    func() { servers[ctRS1].answer.Store("servfail") },
			heal:    func() { servers[ctRS1].answer.Store("ok") },
			message: "rcode SERVFAIL",
		},
		{
			name: "dns: the wrong address", vip: ctVIPDNS, rs: dnsRS2,
			fail:    func() { servers[ctRS2].answer.Store("wrong") },
			heal:    func() { servers[ctRS2].answer.Store("ok") },
			message: `NOERROR, 1 answer, none is "192.0.2.80"`,
		},
		{
			name: "dns: the server stops", vip: ctVIPDNS, rs: dnsRS1,
			fail:    servers[ctRS1].stopDNS,
			heal:    func() { servers[ctRS1].startDNS(t) },
			message: "port unreachable",
		},
		{
			name: "udp: a garbage reply", vip: ctVIPEcho, rs: echoRS1,
			fail:    func() { servers[ctRS1].echoGarbage.Store(true) },
			heal:    func() { servers[ctRS1].echoGarbage.Store(false) },
			message: "unexpected reply: byte 0 is 0x00, want 0x6c",
		},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			failed := time.Now()
			f.fail()
			removed := l.waitServer(t, f.name, 10*time.Second, f.vip, f.rs, -1)
			took := removed.Sub(failed)
			t.Logf("%s removed %v after the fault (bound %v)", f.rs, took.Round(time.Millisecond), hcDownWithin)
			if took > hcDownWithin {
				t.Errorf("%s removed %v after the fault, want at most fall × interval + timeout + interval = %v", f.rs, took, hcDownWithin)
			}
			down := allUp()
			delete(down[f.vip], f.rs)
			l.waitTable(t, f.name, 5*time.Second, down)
			l.checkIPVSAdm(t, down)
			if got := ctLastMessage(l, t, f.rs); !strings.Contains(got, f.message) {
				t.Errorf("status of %s: last check %q, want it to say %q", f.rs, got, f.message)
			}

			healed := time.Now()
			f.heal()
			back := l.waitServer(t, f.name+", healed", 10*time.Second, f.vip, f.rs, 1)
			took = back.Sub(healed)
			t.Logf("%s back %v after the repair (bound %v)", f.rs, took.Round(time.Millisecond), hcUpWithin)
			if took > hcUpWithin {
				t.Errorf("%s back %v after the repair, want at most rise × interval + timeout + interval = %v", f.rs, took, hcUpWithin)
			}
			l.waitTable(t, f.name+", healed", 5*time.Second, allUp())
			l.checkIPVSAdm(t, allUp())
		})
	}
}

// ctLastMessage is the message of the last check of the real server rs
// in `lvsd status --json`.
func ctLastMessage(l *hcLab, t *testing.T, rs string) string {
	t.Helper()
	for _, vs := range l.status(t).VirtualServers {
		for _, r := range vs.RealServers {
			if r.Address == rs && r.LastCheck != nil {
				return r.LastCheck.Message
			}
		}
	}
	return ""
}
