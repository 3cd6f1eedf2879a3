package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
)

// Helpers of the VRRP behaviour tests (vrrp_test.go): directors on a lab
// LAN, status snapshots, captured adverts and hand-made VRRP packets.

// vrrpLab is one lab LAN with lvsd directors on it, all reading one config
// file the test can rewrite between runs.
type vrrpLab struct {
	t   *testing.T
	bin string
	dir string
	lan *lab.LAN
}

func newVRRPLab(t *testing.T, hosts ...string) *vrrpLab {
	t.Helper()
	lab.RequireRoot(t, "ip", "tcpdump", "go")
	return &vrrpLab{t: t, bin: buildLVSD(t), dir: t.TempDir(), lan: lab.NewLAN(t, hosts...)}
}

// config writes text as the config file called name and returns its path.
func (l *vrrpLab) config(name, text string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// director returns a director for the lab host of that name, which is
// also its node name in the config.
func (l *vrrpLab) director(name string) *director {
	return &director{name: name, host: l.lan.Host(name), socket: filepath.Join(l.dir, name+".sock")}
}

// start runs `lvsd run` for d with the config at cfg. The process is
// killed when t ends, if the test has not stopped it, so a failed subtest
// leaves the lab clean for the next one.
func (l *vrrpLab) start(t *testing.T, d *director, cfg string) {
	t.Helper()
	startDirector(t, l.bin, cfg, d)
	p := d.proc
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			p.Kill()
		}
	})
}

// stop ends d with SIGTERM, failing the test if it does not exit cleanly.
func stopDirector(t *testing.T, d *director) {
	t.Helper()
	if err := d.proc.Stop(3 * time.Second); err != nil {
		t.Errorf("stopping %s: %v", d.name, err)
	}
}

// statusJSON reads the status document through the command line client,
// `lvsd status --json`, the interface an operator uses.
func statusJSON(t *testing.T, bin string, d *director) status.Document {
	t.Helper()
	out, code := lvsdCmd(t, bin, "status", "--json", "--socket", d.socket)
	if code != 0 {
		t.Fatalf("%s: lvsd status --json exit %d: %s", d.name, code, out)
	}
	var doc status.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%s: lvsd status --json: %v\n%s", d.name, err, out)
	}
	return doc
}

// instance returns one instance of the director's current status.
func instance(t *testing.T, d *director, name string) status.Instance {
	t.Helper()
	doc, err := statusOf(t, d)
	if err != nil {
		t.Fatalf("%s: status: %v", d.name, err)
	}
	in, ok := findInstance(doc, name)
	if !ok {
		t.Fatalf("%s: no instance %s in the status", d.name, name)
	}
	return in
}

// holdsAddr reports whether the host has the address (CIDR form) on
// ifname, as `ip -br addr` lists it.
func holdsAddr(t *testing.T, h *lab.Host, ifname, cidr string) bool {
	t.Helper()
	out := h.MustExec(t, "ip", "-br", "addr", "show", "dev", ifname)
	for _, f := range strings.Fields(out) {
		if f == cidr {
			return true
		}
	}
	return false
}

// waitAddr polls until the host has (want) or lacks (!want) the address:
// the VIP follows the state change, it is not part of it.
func waitAddr(t *testing.T, h *lab.Host, ifname, cidr string, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for holdsAddr(t, h, ifname, cidr) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s on %s is %v, want %v after %v: %s", h.Name, cidr, ifname, !want, want, within,
				h.MustExec(t, "ip", "-br", "addr", "show", "dev", ifname))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// advert is one VRRP advertisement as the observer's tcpdump printed it.
type advert struct {
	time time.Time
	src  string
	vrid int
	prio int
}

var advertLine = regexp.MustCompile(`(\S+) > (224\.0\.0\.18|ff02::12): VRRPv(\d), Advertisement, vrid (\d+), prio (\d+),`)

// adverts returns the advertisements of vrid among frames, in order.
func adverts(frames []lab.Frame, vrid int) []advert {
	var out []advert
	for _, f := range frames {
		m := advertLine.FindStringSubmatch(f.Text)
		if m == nil {
			continue
		}
		var a advert
		a.time, a.src = f.Time, m[1]
		fmt.Sscan(m[4], &a.vrid)
		fmt.Sscan(m[5], &a.prio)
		if a.vrid == vrid {
			out = append(out, a)
		}
	}
	return out
}

// firstAdvert returns the first advert of src, or fails the test.
func firstAdvert(t *testing.T, as []advert, src string) advert {
	t.Helper()
	for _, a := range as {
		if a.src == src {
			return a
		}
	}
	t.Fatalf("no advert from %s among %d adverts", src, len(as))
	return advert{}
}

// sendVRRPv4 sends payload as an IPv4 packet of protocol 112 from src to
// dst with the given TTL, out of the host's ifname. It writes the IP header
// itself (IPPROTO_RAW implies IP_HDRINCL) so the TTL, and anything else,
// can be wrong on purpose; the kernel fills in the header checksum.
func sendVRRPv4(h *lab.Host, ifname string, src, dst netip.Addr, ttl uint8, payload []byte) error {
	pkt := make([]byte, 20+len(payload))
	pkt[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	pkt[8] = ttl
	pkt[9] = 112
	s4, d4 := src.As4(), dst.As4()
	copy(pkt[12:16], s4[:])
	copy(pkt[16:20], d4[:])
	copy(pkt[20:], payload)
	return h.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		// Bound to the interface, a multicast destination needs no route.
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
			return fmt.Errorf("binding to %s: %w", ifname, err)
		}
		if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d4}); err != nil {
			return fmt.Errorf("sending to %s: %w", dst, err)
		}
		return nil
	})
}

// vrrpChecksum sets the checksum of a version 3 IPv4 VRRP message after the
// test has changed other fields: the Internet checksum over the IPv4
// pseudo-header and the message (RFC 5798 §5.2.8).
func vrrpChecksum(b []byte, src, dst netip.Addr) {
	b[6], b[7] = 0, 0
	s4, d4 := src.As4(), dst.As4()
	pseudo := make([]byte, 0, 12+len(b))
	pseudo = append(pseudo, s4[:]...)
	pseudo = append(pseudo, d4[:]...)
	pseudo = append(pseudo, 0, 112, byte(len(b)>>8), byte(len(b)))
	pseudo = append(pseudo, b...)
	var sum uint32
	for i := 0; i+1 < len(pseudo); i += 2 {
		sum += uint32(pseudo[i])<<8 | uint32(pseudo[i+1])
	}
	if len(pseudo)%2 == 1 {
		sum += uint32(pseudo[len(pseudo)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[6:8], ^uint16(sum))
}

// sumDropped adds up every drop counter of an instance.
func sumDropped(in status.Instance) uint64 {
	var n uint64
	for _, c := range in.Dropped {
		n += c
	}
	return n
}

// capturedUntil waits until the capture holds a frame sent at or after at,
// and returns the frames so far. tcpdump hands frames over in blocks, up to
// a second late, but in order: once a frame of time at is in, every earlier
// frame is too, so "nothing else was sent before at" can be checked. The
// capture's filter must let through regular traffic (adverts) to serve as
// the clock.
func capturedUntil(t *testing.T, c *lab.Capture, at time.Time) []lab.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second+time.Until(at))
	defer cancel()
	if _, err := c.Wait(ctx, func(f lab.Frame) bool { return !f.Time.Before(at) }); err != nil {
		t.Fatalf("no frame captured at or after %v: %v", at.Format(time.StampMicro), err)
	}
	return c.Lines()
}

// settledInstance waits until the instance is in state and its status has
// settled: lvsd publishes a new state before it has carried out the
// change (VIPs, announcements) and only then counts the transition and
// sets "since", so a snapshot taken in between shows the new state with
// the old transition count. Two equal snapshots 50 ms apart are past that.
func settledInstance(t *testing.T, d *director, name, state string, within time.Duration) status.Instance {
	t.Helper()
	deadline := time.Now().Add(within)
	waitInstance(t, d, name, state, within)
	prev := instance(t, d, name)
	for {
		time.Sleep(50 * time.Millisecond)
		cur := instance(t, d, name)
		if prev.State == state && cur.State == state && cur.Transitions == prev.Transitions && cur.Since.Equal(prev.Since) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not settle in %s within %v (last: %s after %d transitions)", d.name, name, state, within, cur.State, cur.Transitions)
		}
		prev = cur
	}
}
