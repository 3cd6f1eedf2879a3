package healthcheck

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestUDPCheck(t *testing.T) {
	echo := func(req []byte) ([]byte, time.Duration) { return req, 0 }
	silent := func([]byte) ([]byte, time.Duration) { return nil, 0 }
	udp := func(target func(t *testing.T) netip.AddrPort, p UDPParams) func(*testing.T, time.Duration) Checker {
		return func(t *testing.T, timeout time.Duration) Checker {
			q := p
			q.Target, q.Timeout = target(t), timeout
			return NewUDP(q)
		}
	}
	server := func(addr string, answer func([]byte) ([]byte, time.Duration)) func(t *testing.T) netip.AddrPort {
		return func(t *testing.T) netip.AddrPort { return udpServer(t, addr, answer) }
	}
	// counter answers "OK" and a byte that changes with every reply, as a
	// server with a sequence number does.
	var n atomic.Uint32
	counter := func([]byte) ([]byte, time.Duration) { return []byte{'O', 'K', byte(n.Add(1))}, 0 }
	runCheckCases(t, []checkCase{
		{
			name:    "echo, reply required and matching",
			checker: udp(server("127.0.0.1:0", echo), UDPParams{Payload: []byte("ping"), Reply: []byte("ping")}),
			wantOK:  true, wantMsg: "^reply of 4 bytes$",
		},
		{
			name:    "echo over IPv6",
			checker: udp(server("[::1]:0", echo), UDPParams{Payload: []byte("ping"), RequireReply: true}),
			wantOK:  true, wantMsg: "^reply of 4 bytes$",
		},
		{
			name:    "an empty payload is sent as an empty datagram",
			checker: udp(server("127.0.0.1:0", func(req []byte) ([]byte, time.Duration) { return fmt.Appendf(nil, "%d", len(req)), 0 }), UDPParams{Reply: []byte("0")}),
			wantOK:  true, wantMsg: "^reply of 1 bytes$",
		},
		{
			name:    "a wildcard digit ignores a counter",
			checker: udp(server("127.0.0.1:0", counter), UDPParams{Reply: []byte{'O', 'K', 0}, ReplyMask: []byte{0, 0, 0xff}, MinReply: 3}),
			wantOK:  true, wantMsg: "^reply of 3 bytes$",
		},
		{
			name:    "garbage reply",
			checker: udp(server("127.0.0.1:0", func([]byte) ([]byte, time.Duration) { return []byte("\x00\xffjunk"), 0 }), UDPParams{Reply: []byte("ping")}),
			wantMsg: `^unexpected reply: byte 0 is 0x00, want 0x70$`,
		},
		{
			name:    "reply shorter than min_reply_length",
			checker: udp(server("127.0.0.1:0", echo), UDPParams{Payload: []byte("pi"), Reply: []byte("ping"), MinReply: 4}),
			wantMsg: `^reply of 2 bytes, shorter than 4$`,
		},
		{
			name:    "reply longer than max_reply_length",
			checker: udp(server("127.0.0.1:0", echo), UDPParams{Payload: bytes.Repeat([]byte("x"), 300), RequireReply: true, MaxReply: 255}),
			wantMsg: `^reply of 300 bytes, longer than 255$`,
		},
		{
			name:    "nothing listening: port unreachable",
			checker: udp(func(t *testing.T) netip.AddrPort { return closedUDPPort(t, "127.0.0.1") }, UDPParams{}),
			wantMsg: "^port unreachable$",
		},
		{
			name:    "nothing listening on IPv6: port unreachable",
			checker: udp(func(t *testing.T) netip.AddrPort { return closedUDPPort(t, "[::1]") }, UDPParams{RequireReply: true}),
			wantMsg: "^port unreachable$",
		},
		{
			name:    "silent server, reply required",
			checker: udp(server("127.0.0.1:0", silent), UDPParams{RequireReply: true}),
			timeout: shortTimeout,
			wantMsg: "^no reply in 500ms$",
		},
		{
			// keepalived's rule: without require_reply, only an ICMP
			// error fails a UDP check.
			name:    "silent server, no reply required",
			checker: udp(server("127.0.0.1:0", silent), UDPParams{}),
			timeout: shortTimeout,
			wantOK:  true, wantMsg: "^no reply and no ICMP error in 500ms$",
		},
		{
			name:    "reply after the timeout",
			checker: udp(server("127.0.0.1:0", func(req []byte) ([]byte, time.Duration) { return req, 2 * shortTimeout }), UDPParams{Payload: []byte("x"), RequireReply: true}),
			timeout: shortTimeout,
			wantMsg: "^no reply in 500ms$",
		},
	})
}

func TestUDPString(t *testing.T) {
	c := NewUDP(UDPParams{Target: netip.MustParseAddrPort("192.0.2.1:53"), Payload: []byte{1, 2}, Reply: []byte{3}, Timeout: time.Second})
	want := "udp 192.0.2.1:53 payload=0102 require_reply=true reply=03 mask= len=0..0 timeout=1s"
	if got := fmt.Sprint(c); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
