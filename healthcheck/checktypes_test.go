package healthcheck

import (
	"cmp"
	"net"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// checkCase is one target of a check type's table test.
type checkCase struct {
	name    string
	checker func(t *testing.T, timeout time.Duration) Checker
	timeout time.Duration // 0: longTimeout
	wantOK  bool
	wantMsg string // regular expression
}

// runCheckCases runs each case through both drivers, as the TCP and HTTP
// tests do: the health must change on exactly the rise-th or fall-th
// check, every result must carry the wanted verdict and message, and no
// check may outlast its timeout.
func runCheckCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		for _, d := range drivers {
			t.Run(tc.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				timeout := cmp.Or(tc.timeout, longTimeout)
				c := tc.checker(t, timeout)
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

// udpServer answers the datagrams sent to addr with what answer returns
// for each, after its delay; nil sends nothing. Cleanup closes the socket
// and waits for the server.
func udpServer(t *testing.T, addr string, answer func(req []byte) (reply []byte, delay time.Duration)) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reply, delay := answer(append([]byte(nil), buf[:n]...))
			if reply == nil {
				continue
			}
			wg.Go(func() {
				select {
				case <-time.After(delay):
					_, _ = pc.WriteTo(reply, from)
				case <-done:
				}
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		pc.Close()
		wg.Wait()
	})
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// closedUDPPort returns an address on which nothing listens for UDP.
func closedUDPPort(t *testing.T, ip string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return ap
}
