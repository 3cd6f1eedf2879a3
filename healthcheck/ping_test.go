package healthcheck

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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

func TestPingString(t *testing.T) {
	c := NewPing(netip.MustParseAddr("2001:db8::1"), netip.Addr{}, time.Second)
	if got, want := fmt.Sprint(c), "ping 2001:db8::1 timeout=1s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
