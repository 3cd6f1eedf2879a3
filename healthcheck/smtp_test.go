package healthcheck

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// smtpServer is an SMTP server that greets with greeting, answers HELO
// with helo (after checking the name given, when wantName is set) and QUIT
// with 221; an empty reply is never sent.
func smtpServer(greeting, helo, wantName string) func(c net.Conn, done <-chan struct{}) {
	return func(c net.Conn, done <-chan struct{}) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if greeting == "" {
			hang(c, done)
			return
		}
		if _, err := io.WriteString(c, greeting); err != nil {
			return
		}
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(cmd, "HELO "):
				if helo == "" {
					hang(c, done)
					return
				}
				if wantName != "" && cmd != "HELO "+wantName {
					_, _ = io.WriteString(c, "501 wrong name "+cmd+"\r\n")
					continue
				}
				_, _ = io.WriteString(c, helo)
			case cmd == "QUIT":
				_, _ = io.WriteString(c, "221 2.0.0 Bye\r\n")
				return
			default:
				_, _ = io.WriteString(c, "500 unknown\r\n")
			}
		}
	}
}

func TestSMTPCheck(t *testing.T) {
	smtp := func(addr string, handle func(net.Conn, <-chan struct{}), name string) func(*testing.T, time.Duration) Checker {
		return func(t *testing.T, timeout time.Duration) Checker {
			return NewSMTP(SMTPParams{Target: rawServer(t, addr, handle), HELOName: name, Timeout: timeout})
		}
	}
	runCheckCases(t, []checkCase{
		{
			name:    "healthy, keepalived's HELO name",
			checker: smtp("127.0.0.1:0", smtpServer("220 mx.example.test ESMTP ready\r\n", "250 mx.example.test\r\n", DefaultHELOName), ""),
			wantOK:  true, wantMsg: "^220 mx.example.test ESMTP ready$",
		},
		{
			name:    "multi-line greeting and HELO reply, own name, IPv6",
			checker: smtp("[::1]:0", smtpServer("220-mx.example.test\r\n220-no UCE\r\n220 ready\r\n", "250-mx.example.test\r\n250 hello\r\n", "lb1.example.test"), "lb1.example.test"),
			wantOK:  true, wantMsg: "^220 mx.example.test$",
		},
		{
			name:    "refusing greeting",
			checker: smtp("127.0.0.1:0", smtpServer("554 5.3.2 no service\r\n", "250 ok\r\n", ""), ""),
			wantMsg: "^greeting: 554 5.3.2 no service$",
		},
		{
			name:    "HELO refused",
			checker: smtp("127.0.0.1:0", smtpServer("220 ready\r\n", "421 4.3.2 shutting down\r\n", ""), ""),
			wantMsg: "^HELO: 421 4.3.2 shutting down$",
		},
		{
			name:    "garbage greeting",
			checker: smtp("127.0.0.1:0", smtpServer("SSH-2.0-OpenSSH_9.6\r\n", "250 ok\r\n", ""), ""),
			wantMsg: "^greeting: malformed reply$",
		},
		{
			name: "endless greeting",
			checker: smtp("127.0.0.1:0", func(c net.Conn, done <-chan struct{}) {
				line := []byte(strings.Repeat("x", 4096))
				for {
					select {
					case <-done:
						return
					default:
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}, ""),
			wantMsg: "^greeting: reply too long$",
		},
		{
			name:    "accepts and never greets",
			checker: smtp("127.0.0.1:0", smtpServer("", "", ""), ""),
			timeout: shortTimeout,
			wantMsg: "^greeting: timed out after 500ms$",
		},
		{
			name:    "greets and never answers HELO",
			checker: smtp("127.0.0.1:0", smtpServer("220 ready\r\n", "", ""), ""),
			timeout: shortTimeout,
			wantMsg: "^HELO: timed out after 500ms$",
		},
		{
			name: "resets after the greeting",
			checker: smtp("127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "220 ready\r\n")
				readRequestHeadLine(c)
				resetClose(c)
			}, ""),
			wantMsg: "^HELO: connection reset$",
		},
		{
			name: "closes after the greeting",
			checker: smtp("127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "220 ready\r\n")
				// A FIN, and the HELO read rather than answered with a
				// reset, which would race the FIN to the checker.
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			}, ""),
			wantMsg: "^HELO: connection closed before a complete response$",
		},
		{
			name: "refused",
			checker: func(t *testing.T, timeout time.Duration) Checker {
				return NewSMTP(SMTPParams{Target: closedPort(t, "127.0.0.1"), Timeout: timeout})
			},
			wantMsg: "^connection refused$",
		},
	})
}

// readRequestHeadLine reads one line.
func readRequestHeadLine(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = bufio.NewReader(c).ReadString('\n')
}

func TestSMTPString(t *testing.T) {
	c := NewSMTP(SMTPParams{Target: netip.MustParseAddrPort("192.0.2.1:25"), Timeout: time.Second})
	want := fmt.Sprintf("smtp 192.0.2.1:25 helo=%q timeout=1s", DefaultHELOName)
	if got := fmt.Sprint(c); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
