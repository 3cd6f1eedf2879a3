package healthcheck

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lvsd/lvsd/config"
)

// dnsServer runs a DNS server on addr (UDP) answering from zone, a zone
// file's records; a name it does not hold gets NXDOMAIN. Cleanup shuts it
// down.
func dnsServer(t *testing.T, addr, zone string) netip.AddrPort {
	t.Helper()
	var records []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(zone), "example.test.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		records = append(records, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone: %v", err)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		known := false
		for _, rr := range records {
			if strings.EqualFold(rr.Header().Name, q.Question[0].Name) {
				known = true
				if rr.Header().Rrtype == q.Question[0].Qtype {
					r.Answer = append(r.Answer, rr)
				}
			}
		}
		if !known {
			r.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(r)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-served
	})
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

const testZone = `
example.test.      3600 IN SOA ns1.example.test. admin.example.test. 1 3600 600 86400 60
example.test.      3600 IN NS  ns1.example.test.
example.test.      3600 IN MX  10 Mail.Example.Test.
www.example.test.  60   IN A   192.0.2.10
www.example.test.  60   IN A   192.0.2.11
www.example.test.  60   IN AAAA 2001:db8::10
txt.example.test.  60   IN TXT "v=spf1 -all"
`

func TestDNSCheck(t *testing.T) {
	dnsCheck := func(target func(t *testing.T) netip.AddrPort, qtype string, name string, expect ...string) func(*testing.T, time.Duration) Checker {
		return func(t *testing.T, timeout time.Duration) Checker {
			return NewDNS(DNSParams{Target: target(t), Type: qtype, Name: name, Expect: expect, Timeout: timeout})
		}
	}
	zone := func(addr string) func(t *testing.T) netip.AddrPort {
		return func(t *testing.T) netip.AddrPort { return dnsServer(t, addr, testZone) }
	}
	udp := func(answer func([]byte) ([]byte, time.Duration)) func(t *testing.T) netip.AddrPort {
		return func(t *testing.T) netip.AddrPort { return udpServer(t, "127.0.0.1:0", answer) }
	}
	runCheckCases(t, []checkCase{
		{
			name:    "SOA of the zone",
			checker: dnsCheck(zone("127.0.0.1:0"), "SOA", "example.test"),
			wantOK:  true, wantMsg: "^NOERROR, 1 answer$",
		},
		{
			name:    "A with both expected addresses",
			checker: dnsCheck(zone("127.0.0.1:0"), "A", "www.example.test.", "192.0.2.11", "192.0.2.10"),
			wantOK:  true, wantMsg: "^NOERROR, 2 answers$",
		},
		{
			name:    "AAAA over IPv6",
			checker: dnsCheck(zone("[::1]:0"), "AAAA", "www.example.test", "2001:db8::10"),
			wantOK:  true, wantMsg: "^NOERROR, 1 answer$",
		},
		{
			name:    "MX: case and the final dot do not matter",
			checker: dnsCheck(zone("127.0.0.1:0"), "MX", "example.test", "10 mail.example.test"),
			wantOK:  true, wantMsg: "^NOERROR, 1 answer$",
		},
		{
			name:    "TXT",
			checker: dnsCheck(zone("127.0.0.1:0"), "TXT", "txt.example.test", `"v=spf1 -all"`),
			wantOK:  true, wantMsg: "^NOERROR, 1 answer$",
		},
		{
			// keepalived's rule: NOERROR passes, records or not.
			name:    "no record of the type",
			checker: dnsCheck(zone("127.0.0.1:0"), "CNAME", "www.example.test"),
			wantOK:  true, wantMsg: "^NOERROR, 0 answers$",
		},
		{
			name:    "expected address missing",
			checker: dnsCheck(zone("127.0.0.1:0"), "A", "www.example.test", "192.0.2.99"),
			wantMsg: `^NOERROR, 2 answers, none is "192.0.2.99"$`,
		},
		{
			name:    "NXDOMAIN",
			checker: dnsCheck(zone("127.0.0.1:0"), "A", "nope.example.test"),
			wantMsg: "^rcode NXDOMAIN$",
		},
		{
			name:    "unknown query type",
			checker: dnsCheck(zone("127.0.0.1:0"), "AXFR2", "."),
			wantMsg: `^unknown query type "AXFR2"$`,
		},
		{
			name:    "nothing listening",
			checker: dnsCheck(func(t *testing.T) netip.AddrPort { return closedUDPPort(t, "127.0.0.1") }, "SOA", "."),
			wantMsg: "^port unreachable$",
		},
		{
			name:    "silent server",
			checker: dnsCheck(udp(func([]byte) ([]byte, time.Duration) { return nil, 0 }), "SOA", "."),
			timeout: shortTimeout,
			wantMsg: "^no answer in 500ms$",
		},
		{
			name:    "slow server",
			checker: dnsCheck(udp(func(q []byte) ([]byte, time.Duration) { return answerOf(q), 2 * shortTimeout }), "SOA", "."),
			timeout: shortTimeout,
			wantMsg: "^no answer in 500ms$",
		},
		{
			name: "garbage with the query's ID",
			checker: dnsCheck(udp(func(q []byte) ([]byte, time.Duration) {
				return append(q[:2:2], "\x81\x80\x00\x05junk"...), 0
			}), "SOA", "."),
			wantMsg: "^malformed reply: ",
		},
		{
			// A UDP echo server is not a DNS server.
			name:    "the query echoed back",
			checker: dnsCheck(udp(func(q []byte) ([]byte, time.Duration) { return q, 0 }), "SOA", "."),
			wantMsg: "^reply is a query, not a response$",
		},
		{
			name: "a reply with another ID is ignored",
			checker: dnsCheck(udp(func(q []byte) ([]byte, time.Duration) {
				r := answerOf(q)
				r[0] ^= 0xff
				return r, 0
			}), "SOA", "."),
			timeout: shortTimeout,
			wantMsg: "^no answer in 500ms$",
		},
	})
}

// answerOf is an empty NOERROR response to the query q.
func answerOf(q []byte) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(q); err != nil {
		return nil
	}
	r := new(dns.Msg)
	r.SetReply(m)
	b, _ := r.Pack()
	return b
}

func TestDNSString(t *testing.T) {
	c := NewDNS(DNSParams{Target: netip.MustParseAddrPort("192.0.2.1:53"), Type: "A", Name: "www.example.com", Expect: []string{"192.0.2.2"}, Timeout: time.Second})
	want := `dns 192.0.2.1:53 A www.example.com. expect=["192.0.2.2"] timeout=1s`
	if got := fmt.Sprint(c); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestDNSQueryTypesKnown: every query type the config accepts is one the
// check can ask.
func TestDNSQueryTypesKnown(t *testing.T) {
	for _, qt := range config.QueryTypes {
		if c := NewDNS(DNSParams{Type: qt}).(*dnsChecker); c.qtype == 0 {
			t.Errorf("query type %s, accepted by the config, is unknown to the check", qt)
		}
	}
}
