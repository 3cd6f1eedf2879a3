package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/lvsd/lvsd/integration/lab"
)

// TestPingJudge holds the matching of ICMP messages to a request: only the
// echo reply with the request's identifier, sequence and data passes, and
// only a destination unreachable quoting the request fails.
func TestPingJudge(t *testing.T) {
	req := echoRequest{id: 0x1234, seq: 7, data: []byte("0123456789abcdef")}
	echo := func(v6 bool, typ icmp.Type, id, seq int, data string) []byte {
		b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte(data)}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// unreach is a destination unreachable quoting an echo request sent
	// with id and seq.
	unreach := func(v6 bool, id, seq uint16) []byte {
		quoted := echoRequest{id: id, seq: seq, data: req.data}.marshal(v6)
		var hdr []byte
		typ := icmp.Type(ipv4.ICMPTypeDestinationUnreachable)
		if v6 {
			typ = ipv6.ICMPTypeDestinationUnreachable
			hdr = make([]byte, ipv6.HeaderLen)
			hdr[0], hdr[6] = 0x60, protoICMPv6
		} else {
			hdr = make([]byte, ipv4.HeaderLen)
			hdr[0], hdr[9] = 0x45, protoICMP
		}
		b, err := (&icmp.Message{Type: typ, Code: 1, Body: &icmp.DstUnreach{Data: append(hdr, quoted...)}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := string(req.data)
	for _, v6 := range []bool{false, true} {
		reply, request := icmp.Type(ipv4.ICMPTypeEchoReply), icmp.Type(ipv4.ICMPTypeEcho)
		if v6 {
			reply, request = ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeEchoRequest
		}
		tests := []struct {
			name string
			msg  []byte
			want echoVerdict
		}{
			{"the reply", echo(v6, reply, 0x1234, 7, data), echoReply},
			{"another identifier", echo(v6, reply, 0x1235, 7, data), echoIgnored},
			{"an earlier sequence number", echo(v6, reply, 0x1234, 6, data), echoIgnored},
			{"other data", echo(v6, reply, 0x1234, 7, "0123456789abcdeX"), echoIgnored},
			{"the request itself (a raw socket sees it on loopback)", echo(v6, request, 0x1234, 7, data), echoIgnored},
			{"unreachable quoting the request", unreach(v6, 0x1234, 7), echoUnreachable},
			{"unreachable quoting another request", unreach(v6, 0x1234, 8), echoIgnored},
			{"truncated", echo(v6, reply, 0x1234, 7, data)[:3], echoIgnored},
			{"garbage", []byte("\x00\x00\x00\x00garbage"), echoIgnored},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("v6=%t/%s", v6, tt.name), func(t *testing.T) {
				if got := req.judge(v6, tt.msg); got != tt.want {
					t.Errorf("judge = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

// TestPingCheck pings hosts of a lab LAN from d1, with both kinds of
// socket: r1 answers, r2 ignores echo requests (a hung host), and r1 as a
// router answers for 198.51.100.0/24 with host unreachable. While d1
// checks r2, other checks of r1 run, whose replies the check of r2 sees
// on a raw socket and must ignore.
func TestPingCheck(t *testing.T) {
	lan := lab.NewLAN(t, "d1", "r1", "r2")
	for host, suffix := range map[string]string{"d1": "1", "r1": "2", "r2": "3"} {
		lan.AddAddr(host, "192.0.2."+suffix+"/24")
		lan.AddAddr(host, "2001:db8::"+suffix+"/64")
	}
	d1, r1, r2 := lan.Host("d1"), lan.Host("r1"), lan.Host("r2")
	r2.MustExec(t, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1")
	// No rate limit on r1's errors, so that each check gets its own.
	r1.MustExec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	r1.MustExec(t, "ip", "route", "add", "unreachable", "198.51.100.0/24")
	r1.MustExec(t, "ip", "-6", "route", "add", "unreachable", "2001:db8:1::/64")
	d1.MustExec(t, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2")
	d1.MustExec(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::2")
	// Datagram sockets for every group, which the default forbids.
	d1.MustExec(t, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")

	tests := []struct {
		target  string
		wantOK  bool
		wantMsg string
	}{
		{"192.0.2.2", true, "^echo reply$"},
		{"2001:db8::2", true, "^echo reply$"},
		{"192.0.2.3", false, "^no echo reply in 500ms$"},
		{"2001:db8::3", false, "^no echo reply in 500ms$"},
		// A raw socket reads the error itself, a datagram socket gets
		// its errno.
		{"198.51.100.1", false, `^destination unreachable \(ICMP from 192\.0\.2\.2\)$|^host unreachable$`},
		{"2001:db8:1::1", false, `^destination unreachable \(ICMP from 2001:db8::2\)$|^network unreachable$`},
	}
	for _, socket := range []pingSocket{pingRaw, pingDatagram} {
		for _, tt := range tests {
			name := map[pingSocket]string{pingRaw: "raw", pingDatagram: "datagram"}[socket] + "/" + tt.target
			t.Run(name, func(t *testing.T) {
				c := &pingChecker{target: netip.MustParseAddr(tt.target), timeout: shortTimeout, socket: socket}
				// Checks of r1 meanwhile, for replies that are not this
				// check's.
				ctx, stop := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				if !tt.wantOK {
					wg.Go(func() {
						other := &pingChecker{target: netip.MustParseAddr("192.0.2.2"), timeout: shortTimeout, socket: socket}
						_ = d1.Do(func() error {
							for ctx.Err() == nil {
								other.Check(ctx)
							}
							return nil
						})
					})
				}
				var results []Result
				err := d1.Do(func() error {
					for range 3 {
						results = append(results, c.Check(t.Context()))
					}
					return nil
				})
				stop()
				wg.Wait()
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range results {
					msg := regexp.MustCompile(tt.wantMsg).FindString(r.Message)
					if raw := strings.HasPrefix(msg, "destination"); r.OK != tt.wantOK || msg == "" || strings.Contains(tt.wantMsg, "|") && raw != (socket == pingRaw) {
						t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tt.wantOK, tt.wantMsg)
					}
					if r.Duration > shortTimeout+slack {
						t.Errorf("check %d took %v, want at most %v", i+1, r.Duration, shortTimeout+slack)
					}
				}
			})
		}
	}
}

// TestPingFallsBackToRaw: where net.ipv4.ping_group_range allows no
// group (a new namespace's default), NewPing's check opens a raw socket.
func TestPingFallsBackToRaw(t *testing.T) {
	lan := lab.NewLAN(t, "d1", "r1")
	lan.AddAddr("d1", "192.0.2.1/24")
	lan.AddAddr("r1", "192.0.2.2/24")
	d1 := lan.Host("d1")
	if got := strings.Fields(d1.MustExec(t, "sysctl", "-n", "net.ipv4.ping_group_range")); len(got) != 2 || got[0] != "1" || got[1] != "0" {
		t.Fatalf("ping_group_range in a new namespace = %q, want 1 0", got)
	}
	var r Result
	if err := d1.Do(func() error {
		r = NewPing(netip.MustParseAddr("192.0.2.2"), longTimeout).Check(t.Context())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Message != "echo reply" {
		t.Errorf("check = {OK: %t, Message: %q}, want {OK: true, Message: \"echo reply\"}", r.OK, r.Message)
	}
}

func TestPingString(t *testing.T) {
	c := NewPing(netip.MustParseAddr("2001:db8::1"), time.Second)
	if got, want := fmt.Sprint(c), "ping 2001:db8::1 timeout=1s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestPingFrom: a check with a source address sends its echo requests
// from it. r1 cannot answer d1's first address, only the second, so the
// check passes from the second only, and fails from the first, on
// either kind of socket.
func TestPingFrom(t *testing.T) {
	lan := lab.NewLAN(t, "d1", "r1")
	lan.AddAddr("d1", "192.0.2.1/24")
	lan.AddAddr("d1", "192.0.2.11/24")
	lan.AddAddr("d1", "2001:db8::1/64")
	lan.AddAddr("d1", "2001:db8::11/64")
	lan.AddAddr("r1", "192.0.2.2/24")
	lan.AddAddr("r1", "2001:db8::2/64")
	d1, r1 := lan.Host("d1"), lan.Host("r1")
	r1.MustExec(t, "ip", "route", "add", "unreachable", "192.0.2.1/32")
	r1.MustExec(t, "ip", "-6", "route", "add", "unreachable", "2001:db8::1/128")
	d1.MustExec(t, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")

	tests := []struct {
		target, source string
		wantOK         bool
	}{
		{"192.0.2.2", "192.0.2.1", false},
		{"192.0.2.2", "192.0.2.11", true},
		{"2001:db8::2", "2001:db8::1", false},
		{"2001:db8::2", "2001:db8::11", true},
	}
	for _, socket := range []pingSocket{pingRaw, pingDatagram} {
		for _, tt := range tests {
			name := map[pingSocket]string{pingRaw: "raw", pingDatagram: "datagram"}[socket] + "/" + tt.target + "/from=" + tt.source
			t.Run(name, func(t *testing.T) {
				c := &pingChecker{target: netip.MustParseAddr(tt.target), source: netip.MustParseAddr(tt.source), timeout: shortTimeout, socket: socket}
				var r Result
				if err := d1.Do(func() error {
					r = c.Check(t.Context())
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if r.OK != tt.wantOK {
					t.Errorf("check = {OK: %t, Message: %q}, want OK %t", r.OK, r.Message, tt.wantOK)
				}
			})
		}
	}
	if got, want := fmt.Sprint(NewPingFrom(netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.11"), time.Second)), "ping 192.0.2.2 timeout=1s from=192.0.2.11"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
