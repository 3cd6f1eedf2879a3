package integration

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/integration/lab"
)

// pingSockets are the two kinds of socket a ping check opens, chosen as
// the check chooses: an ICMP datagram socket where
// net.ipv4.ping_group_range lets every group have one, a raw socket
// where it lets none (a new namespace's default).
var pingSockets = []struct {
	name, groupRange string
}{
	{"raw", "1 0"},
	{"datagram", "0 2147483647"},
}

const (
	pingTimeout = 500 * time.Millisecond
	pingSlack   = time.Second
)

// pingIn runs a check in host's namespace.
func pingIn(t *testing.T, host *lab.Host, c healthcheck.Checker) healthcheck.Result {
	t.Helper()
	var r healthcheck.Result
	if err := host.Do(func() error {
		r = c.Check(t.Context())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPingCheck runs ping checks from d1 on either kind of socket: r1
// answers, r2 ignores echo requests, and r1 routes two prefixes to
// "unreachable", for which it sends the ICMP error the check must fail
// on at once. While a check of r2 or an unreachable address runs, other
// checks of r1 run, whose replies the check sees on a raw socket and must
// ignore.
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
	for _, socket := range pingSockets {
		d1.MustExec(t, "sysctl", "-qw", "net.ipv4.ping_group_range="+socket.groupRange)
		for _, tt := range tests {
			t.Run(socket.name+"/"+tt.target, func(t *testing.T) {
				c := healthcheck.NewPing(netip.MustParseAddr(tt.target), netip.Addr{}, pingTimeout)
				// Checks of r1 meanwhile, for replies that are not this
				// check's.
				ctx, stop := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				if !tt.wantOK {
					wg.Go(func() {
						other := healthcheck.NewPing(netip.MustParseAddr("192.0.2.2"), netip.Addr{}, pingTimeout)
						_ = d1.Do(func() error {
							for ctx.Err() == nil {
								other.Check(ctx)
							}
							return nil
						})
					})
				}
				var results []healthcheck.Result
				for range 3 {
					results = append(results, pingIn(t, d1, c))
				}
				stop()
				wg.Wait()
				for i, r := range results {
					msg := regexp.MustCompile(tt.wantMsg).FindString(r.Message)
					if raw := strings.HasPrefix(msg, "destination"); r.OK != tt.wantOK || msg == "" || strings.Contains(tt.wantMsg, "|") && raw != (socket.name == "raw") {
						t.Errorf("check %d = {OK: %t, Message: %q}, want {OK: %t, Message matching %q}", i+1, r.OK, r.Message, tt.wantOK, tt.wantMsg)
					}
					if r.Duration > pingTimeout+pingSlack {
						t.Errorf("check %d took %v, want at most %v", i+1, r.Duration, pingTimeout+pingSlack)
					}
				}
			})
		}
	}
}

// TestPingFrom: a check with a source address (bind_to) sends its echo
// requests from it. r1 cannot answer d1's first address, only the
// second, so the check passes from the second only, and fails from the
// first, on either kind of socket.
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

	tests := []struct {
		target, source string
		wantOK         bool
	}{
		{"192.0.2.2", "192.0.2.1", false},
		{"192.0.2.2", "192.0.2.11", true},
		{"2001:db8::2", "2001:db8::1", false},
		{"2001:db8::2", "2001:db8::11", true},
	}
	for _, socket := range pingSockets {
		d1.MustExec(t, "sysctl", "-qw", "net.ipv4.ping_group_range="+socket.groupRange)
		for _, tt := range tests {
			t.Run(socket.name+"/"+tt.target+"/from="+tt.source, func(t *testing.T) {
				c := healthcheck.NewPing(netip.MustParseAddr(tt.target), netip.MustParseAddr(tt.source), pingTimeout)
				if r := pingIn(t, d1, c); r.OK != tt.wantOK {
					t.Errorf("check = {OK: %t, Message: %q}, want OK %t", r.OK, r.Message, tt.wantOK)
				}
			})
		}
	}
	if got, want := fmt.Sprint(healthcheck.NewPing(netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.11"), time.Second)), "ping 192.0.2.2 timeout=1s from=192.0.2.11"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
