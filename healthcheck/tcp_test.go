package healthcheck

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fullBacklog returns the address of a listener that never accepts and whose
// queue is full, so the kernel drops further SYNs and a connect hangs until
// its timeout: the loopback stand-in for a silent host.
func fullBacklog(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 4}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 4}), uint16(sa.(*unix.SockaddrInet4).Port))
	// A backlog of 0 still queues one connection; fill it, with a margin.
	for range 3 {
		d := net.Dialer{Timeout: 100 * time.Millisecond}
		if c, err := d.Dial("tcp", ap.String()); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return ap
}

func TestTCPCheck(t *testing.T) {
	tests := []struct {
		name    string
		target  func(t *testing.T) netip.AddrPort
		timeout time.Duration // 0: longTimeout
		wantOK  bool
		wantMsg string // regular expression
	}{
		{
			name: "healthy",
			target: func(t *testing.T) netip.AddrPort {
				return rawServer(t, "127.0.0.1:0", func(net.Conn, <-chan struct{}) {})
			},
			wantOK: true, wantMsg: "^connected$",
		},
		{
			// Documented behaviour: the handshake is the whole TCP check.
			name: "accepts and never answers passes",
			target: func(t *testing.T) netip.AddrPort {
				return rawServer(t, "127.0.0.2:0", hang)
			},
			wantOK: true, wantMsg: "^connected$",
		},
		{
			name: "refused",
			target: func(t *testing.T) netip.AddrPort {
				return closedPort(t, "127.0.0.1")
			},
			wantMsg: "^connection refused$",
		},
		{
			name:    "SYN dropped",
			target:  fullBacklog,
			timeout: shortTimeout,
			wantMsg: "^timed out after 500ms$",
		},
	}
	for _, tc := range tests {
		for _, d := range drivers {
			t.Run(tc.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				timeout := cmp.Or(tc.timeout, longTimeout)
				c := NewTCP(tc.target(t), netip.Addr{}, timeout)
				results, got := d.drive(t, c, startHealth(tc.wantOK), rise, fall, max(rise, fall), timeout)
				want := wantObservations(tc.wantOK, rise, fall)
				if diff := gocmp.Diff(want, got[:len(want)]); diff != "" {
					t.Errorf("health after each check (-want +got):\n%s", diff)
				}
				for i, r := range results {
					if r.OK != tc.wantOK || !regexp.MustCompile(tc.wantMsg).MatchString(r.Message) {
						t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tc.wantOK, tc.wantMsg)
					}
					if r.Duration > timeout+slack {
						t.Errorf("check %d took %v, want at most %v", i+1, r.Duration, timeout+slack)
					}
				}
			})
		}
	}
}

func TestTCPString(t *testing.T) {
	c := NewTCP(netip.MustParseAddrPort("[2001:db8::1]:443"), netip.Addr{}, 2*time.Second)
	if got, want := fmt.Sprint(c), "tcp [2001:db8::1]:443 timeout=2s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestChecksCloseWithReset checks that TCP and HTTP checks end their
// connection with RST, not FIN: the server, still reading after its part is
// done, must see "connection reset" rather than end of file.
func TestChecksCloseWithReset(t *testing.T) {
	tests := []struct {
		name    string
		respond bool // answer one HTTP request before reading on
		checker func(target netip.AddrPort) Checker
	}{
		{
			name: "tcp",
			checker: func(target netip.AddrPort) Checker {
				return NewTCP(target, netip.Addr{}, longTimeout)
			},
		},
		{
			name:    "http",
			respond: true,
			checker: func(target netip.AddrPort) Checker {
				return NewHTTP(HTTPParams{Target: target, Timeout: longTimeout})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readErr := make(chan error, 1)
			target := rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if tt.respond {
					readRequestHead(c)
					// The server keeps its end open, so only the
					// checker's close can end the connection.
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						readErr <- fmt.Errorf("writing the response: %w", err)
						return
					}
				}
				_, err := c.Read(make([]byte, 1))
				readErr <- err
			})
			if r := tt.checker(target).Check(t.Context()); !r.OK {
				t.Fatalf("check failed: %s", r.Message)
			}
			select {
			case err := <-readErr:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("server's read after the check: %v, want %v", err, syscall.ECONNRESET)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the server never saw the check's connection end")
			}
		})
	}
}
