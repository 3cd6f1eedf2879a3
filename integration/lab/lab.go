// Package lab builds throw-away Ethernet segments out of Linux network
// namespaces for lvsd's integration tests.
//
// A LAN is a bridge inside a private "switch" namespace; every host is a
// namespace of its own whose ethN is one end of a veth pair, the other end
// being a port of the bridge. Every LAN also has an observer host with no
// addresses and IPv6 disabled, so it never transmits and can capture what
// crosses the segment (VRRP adverts, gratuitous ARP, unsolicited neighbour
// advertisements) exactly as a third machine on the wire would.
//
// Names carry a per-run prefix ("lv" + creator pid + "." + counter), so two
// runs never collide and a run killed before its cleanup can be recognised
// and swept by the next one. Everything a LAN creates is removed in
// t.Cleanup, even when the test fails: processes are killed, then the
// namespaces deleted (which destroys their links).
//
// Lab addresses must come from documentation ranges (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ObserverName is the host name reserved for the observer of every LAN.
const ObserverName = "obs"

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

var (
	labCounter atomic.Uint32
	// staleName matches namespaces made by this package: lv<pid>.<n>-<host>.
	staleName = regexp.MustCompile(`^lv([0-9a-z]+)\.[0-9a-z]+-`)
)

// lab is the state shared by the LANs of one test: the prefix, the switch
// namespace, the hosts and the processes to kill at the end.
type lab struct {
	t      testing.TB
	prefix string
	sw     *Host // the switch: holds the bridges and their ports

	mu         sync.Mutex
	hosts      map[string]*Host
	order      []*Host // creation order, for deterministic MACs
	namespaces []*Host // every namespace made, the switch included
	procs      []*Proc
	nlans      int
	nports     int
	cleaned    bool
}

// LAN is one Ethernet segment: a bridge with one port per attached interface.
type LAN struct {
	lab *lab
	// Index numbers the LANs of a lab from 0; it is also the bridge's number.
	Index int
	// Bridge is the bridge's name inside the switch namespace.
	Bridge string
	// Observer is the silent host attached to this LAN for captures.
	Observer *Host

	mu     sync.Mutex
	ifaces map[string]string // host name -> interface name on this LAN
	ports  map[string]string // host name -> bridge port in the switch namespace
}

// Host is a network namespace standing for one machine.
type Host struct {
	// Name is the name the test gave the host ("r1", "client").
	Name string
	// NS is the iproute2 name of its network namespace (for "ip netns exec").
	NS string

	lab   *lab
	index int
	nif   int // next ethN
	ns    netns.NsHandle
	nl    *netlink.Handle // rtnetlink bound to the namespace
}

// NewLAN creates a LAN with an observer and one host per name, each with an
// eth0 on the LAN, up, with loopback up and IPv6 duplicate address detection
// disabled (so addresses are usable at once). Everything is removed when the
// test ends.
func NewLAN(t testing.TB, hosts ...string) *LAN {
	t.Helper()
	RequireRoot(t, "ip")
	sweepStale(t)
	l := &lab{
		t:      t,
		prefix: fmt.Sprintf("lv%s.%s", strconv.FormatInt(int64(os.Getpid()), 36), strconv.FormatUint(uint64(labCounter.Add(1)), 36)),
		hosts:  map[string]*Host{},
	}
	t.Cleanup(l.cleanup)
	sw, err := openHost(l, "", l.prefix+"-sw")
	if err != nil {
		t.Fatal(err)
	}
	l.sw = sw
	// The switch's ports and bridges must not speak on the wire.
	l.mustSysctl(sw, "net/ipv6/conf/default/disable_ipv6", "1")
	l.mustSysctl(sw, "net/ipv6/conf/all/disable_ipv6", "1")
	return l.newLAN(hosts)
}

// NewLAN creates another LAN in the same lab, for hosts with interfaces on
// two networks (a NAT director, a tracked interface). Hosts named here that
// already exist get their next ethN on the new LAN; new names become new
// hosts. The new LAN has its own observer interface (on the same observer
// host as the first LAN).
func (n *LAN) NewLAN(hosts ...string) *LAN {
	n.lab.t.Helper()
	return n.lab.newLAN(hosts)
}

func (l *lab) newLAN(hosts []string) *LAN {
	l.t.Helper()
	l.mu.Lock()
	idx := l.nlans
	l.nlans++
	l.mu.Unlock()
	n := &LAN{
		lab:    l,
		Index:  idx,
		Bridge: fmt.Sprintf("br%d", idx),
		ifaces: map[string]string{},
		ports:  map[string]string{},
	}
	// A new bridge has STP off, so its ports forward at once. No
	// multicast snooping: without a querier it could keep VRRP or NDP
	// multicast from some ports.
	snooping := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}, MulticastSnooping: &snooping}
	if err := l.sw.nl.LinkAdd(br); err != nil {
		l.t.Fatalf("lab: adding bridge %s: %v", n.Bridge, err)
	}
	if err := l.sw.nl.LinkSetUp(br); err != nil {
		l.t.Fatalf("lab: setting bridge %s up: %v", n.Bridge, err)
	}
	n.attach(ObserverName, true)
	for _, h := range hosts {
		if h == ObserverName {
			l.t.Fatalf("lab: host name %q is reserved for the observer", ObserverName)
		}
		n.attach(h, false)
	}
	return n
}

// Attach gives the named host (created if new) its next ethN, plugged into
// this LAN, and returns the interface name. A host attached twice to one
// LAN has two interfaces on it; Iface, AddAddr and Unplug then act on the
// newer one.
func (n *LAN) Attach(host string) string {
	n.lab.t.Helper()
	if host == ObserverName {
		n.lab.t.Fatalf("lab: host name %q is reserved for the observer", ObserverName)
	}
	return n.attach(host, false)
}

func (n *LAN) attach(name string, observer bool) string {
	l := n.lab
	l.t.Helper()
	h := l.host(name, observer)

	l.mu.Lock()
	ifname := fmt.Sprintf("eth%d", h.nif)
	h.nif++
	port := fmt.Sprintf("p%d", l.nports)
	l.nports++
	l.mu.Unlock()

	// Locally administered, unique within the lab and stable between runs,
	// so captures are easy to read: 02:1a:<lan>:<host>:<iface>:00.
	mac := net.HardwareAddr{0x02, 0x1a, byte(n.Index), byte(h.index), byte(h.nif - 1), 0}
	br, err := l.sw.nl.LinkByName(n.Bridge)
	if err != nil {
		l.t.Fatalf("lab: %s: %v", n.Bridge, err)
	}
	// The peer is made directly in the host's namespace, so it takes that
	// namespace's defaults (no DAD, or no IPv6 for the observer).
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index},
		PeerName:         ifname,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(h.ns),
	}
	if err := l.sw.nl.LinkAdd(veth); err != nil {
		l.t.Fatalf("lab: adding veth %s/%s for %s: %v", port, ifname, name, err)
	}
	if err := l.sw.nl.LinkSetUp(veth); err != nil {
		l.t.Fatalf("lab: setting %s up: %v", port, err)
	}
	if err := h.setLink(ifname, true); err != nil {
		l.t.Fatal(err)
	}

	n.mu.Lock()
	n.ifaces[name] = ifname
	n.ports[name] = port
	if observer {
		n.Observer = h
	}
	n.mu.Unlock()
	return ifname
}

// host returns the named host, creating its namespace on first use.
func (l *lab) host(name string, observer bool) *Host {
	l.t.Helper()
	l.mu.Lock()
	if h, ok := l.hosts[name]; ok {
		l.mu.Unlock()
		return h
	}
	index := len(l.order)
	l.mu.Unlock()

	h, err := openHost(l, name, l.prefix+"-"+name)
	if err != nil {
		l.t.Fatal(err)
	}
	h.index = index
	l.mu.Lock()
	l.hosts[name] = h
	l.order = append(l.order, h)
	l.mu.Unlock()

	if err := h.setLink("lo", true); err != nil {
		l.t.Fatal(err)
	}
	if observer {
		l.mustSysctl(h, "net/ipv6/conf/default/disable_ipv6", "1")
		l.mustSysctl(h, "net/ipv6/conf/all/disable_ipv6", "1")
	} else {
		l.mustSysctl(h, "net/ipv6/conf/default/accept_dad", "0")
		l.mustSysctl(h, "net/ipv6/conf/all/accept_dad", "0")
	}
	return h
}

// openHost creates a named namespace and opens a handle and an rtnetlink
// socket in it. The namespace is made by iproute2, which also sets up the
// mount propagation that "ip netns exec" relies on.
func openHost(l *lab, name, ns string) (*Host, error) {
	out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	h := &Host{Name: name, NS: ns, lab: l, ns: -1}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, h)
	l.mu.Unlock()
	if h.ns, err = netns.GetFromName(ns); err != nil {
		return nil, fmt.Errorf("opening namespace %s: %w", ns, err)
	}
	if h.nl, err = netlink.NewHandleAt(h.ns, unix.NETLINK_ROUTE); err != nil {
		return nil, fmt.Errorf("opening rtnetlink in %s: %w", ns, err)
	}
	return h, nil
}

// setLink sets one of the host's links up or down.
func (h *Host) setLink(ifname string, up bool) error {
	link, err := h.nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", ifname, h.NS, err)
	}
	if up {
		err = h.nl.LinkSetUp(link)
	} else {
		err = h.nl.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("setting %s in %s up=%v: %w", ifname, h.NS, up, err)
	}
	return nil
}

// Host returns the host of that name attached to this LAN.
func (n *LAN) Host(name string) *Host {
	n.lab.t.Helper()
	n.mu.Lock()
	_, ok := n.ifaces[name]
	n.mu.Unlock()
	if !ok {
		n.lab.t.Fatalf("lab: no host %q on LAN %d", name, n.Index)
	}
	n.lab.mu.Lock()
	defer n.lab.mu.Unlock()
	return n.lab.hosts[name]
}

// Iface returns the interface name the host has on this LAN ("eth0").
func (n *LAN) Iface(host string) string {
	n.lab.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	ifname, ok := n.ifaces[host]
	if !ok {
		n.lab.t.Fatalf("lab: no host %q on LAN %d", host, n.Index)
	}
	return ifname
}

// Prefix returns the per-run prefix of every namespace of the lab.
func (n *LAN) Prefix() string { return n.lab.prefix }

// AddAddr adds an address in CIDR form ("192.0.2.10/24", "2001:db8::10/64")
// to the host's interface on this LAN. IPv6 addresses skip duplicate
// address detection.
func (n *LAN) AddAddr(host, cidr string) {
	n.lab.t.Helper()
	h := n.Host(host)
	ifname := n.Iface(host)
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		n.lab.t.Fatalf("lab: address %q: %v", cidr, err)
	}
	if addr.IP.To4() == nil {
		addr.Flags |= unix.IFA_F_NODAD
	}
	link, err := h.nl.LinkByName(ifname)
	if err == nil {
		err = h.nl.AddrAdd(link, addr)
	}
	if err != nil {
		n.lab.t.Fatalf("lab: adding %s to %s/%s: %v", cidr, host, ifname, err)
	}
}

// Unplug takes the switch side of the host's cable down: the host's
// interface stays administratively up but loses carrier, as when a cable is
// pulled.
func (n *LAN) Unplug(host string) error {
	return n.setPort(host, "down")
}

// Plug undoes Unplug.
func (n *LAN) Plug(host string) error {
	return n.setPort(host, "up")
}

func (n *LAN) setPort(host, state string) error {
	n.mu.Lock()
	port, ok := n.ports[host]
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("no host %q on LAN %d", host, n.Index)
	}
	return n.lab.sw.setLink(port, state == "up")
}

// Isolate sets the host's bridge port isolated (on) or not: isolated
// ports exchange nothing with each other but still reach every other
// port, so isolating two hosts partitions them from each other only.
func (n *LAN) Isolate(host string, on bool) error {
	n.mu.Lock()
	port, ok := n.ports[host]
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("no host %q on LAN %d", host, n.Index)
	}
	link, err := n.lab.sw.nl.LinkByName(port)
	if err == nil {
		err = n.lab.sw.nl.LinkSetIsolated(link, on)
	}
	if err != nil {
		return fmt.Errorf("setting port %s of %s isolated=%v: %w", port, host, on, err)
	}
	return nil
}

// Capture starts a capture on the observer's interface of this LAN.
func (n *LAN) Capture(t testing.TB, filter string) *Capture {
	t.Helper()
	return n.Observer.Capture(t, n.Iface(ObserverName), filter)
}

// Command returns a command that runs argv inside the host's namespace.
func (h *Host) Command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
}

// CommandContext is Command bound to a context.
func (h *Host) CommandContext(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
}

// Exec runs argv inside the host's namespace and returns its combined
// output; the error carries the output too.
func (h *Host) Exec(ctx context.Context, argv ...string) (string, error) {
	out, err := h.CommandContext(ctx, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("running %q in %s: %w: %s", strings.Join(argv, " "), h.Name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustExec runs argv inside the host's namespace with a 30 s limit and
// fails the test if it fails.
func (h *Host) MustExec(t testing.TB, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Exec(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// MAC returns the hardware address of the host's eth0.
func (h *Host) MAC() string { return h.IfaceMAC("eth0") }

// IfaceMAC returns the hardware address of one of the host's interfaces,
// read from the kernel; it fails the test if the interface does not exist.
func (h *Host) IfaceMAC(ifname string) string {
	h.lab.t.Helper()
	link, err := h.nl.LinkByName(ifname)
	if err != nil {
		h.lab.t.Fatalf("lab: MAC of %s on %s: %v", ifname, h.Name, err)
	}
	return link.Attrs().HardwareAddr.String()
}

// HasAddr reports whether one of the host's interfaces has the address
// ip (any prefix length), read from the kernel over netlink: cheap
// enough to poll.
func (h *Host) HasAddr(ifname string, ip net.IP) (bool, error) {
	link, err := h.nl.LinkByName(ifname)
	if err != nil {
		return false, fmt.Errorf("%s in %s: %w", ifname, h.NS, err)
	}
	addrs, err := h.nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return false, fmt.Errorf("addresses of %s in %s: %w", ifname, h.NS, err)
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true, nil
		}
	}
	return false, nil
}

// Netem makes one of the host's interfaces lossy and slow on the way out
// (a netem root qdisc; the sch_netem module must be loaded): loss in
// percent, delay for every packet.
func (h *Host) Netem(ifname string, loss float32, delay time.Duration) error {
	link, err := h.nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", ifname, h.NS, err)
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)},
		netlink.NetemQdiscAttrs{Loss: loss, Latency: uint32(delay.Microseconds())})
	if err := h.nl.QdiscAdd(q); err != nil {
		return fmt.Errorf("netem on %s in %s: %w", ifname, h.NS, err)
	}
	return nil
}

// ClearNetem removes what Netem added.
func (h *Host) ClearNetem(ifname string) error {
	link, err := h.nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", ifname, h.NS, err)
	}
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)}, QdiscType: "netem"}
	if err := h.nl.QdiscDel(q); err != nil {
		return fmt.Errorf("removing netem from %s in %s: %w", ifname, h.NS, err)
	}
	return nil
}

// LinkDown sets one of the host's interfaces administratively down.
func (h *Host) LinkDown(ifname string) error { return h.setLink(ifname, false) }

// LinkUp sets one of the host's interfaces administratively up.
func (h *Host) LinkUp(ifname string) error { return h.setLink(ifname, true) }

// AddLink runs "ip link add" inside the host with the given arguments
// ("dummy0", "type", "dummy") and sets the new link up.
func (h *Host) AddLink(name string, args ...string) error {
	if err := runIP(h.NS, append([]string{"link", "add", name}, args...)...); err != nil {
		return err
	}
	return h.setLink(name, true)
}

func (l *lab) mustSysctl(h *Host, key, value string) {
	l.t.Helper()
	// /proc/sys/net answers for the namespace of the thread that opens it.
	err := h.Do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
	if err != nil {
		l.t.Fatalf("lab: setting %s=%s in %s: %v", key, value, h.NS, err)
	}
}

func runIP(ns string, args ...string) error {
	_, err := runIPOut(ns, args...)
	return err
}

func runIPOut(ns string, args ...string) (string, error) {
	full := append([]string{"-n", ns}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(full, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// cleanup kills every process of the lab and deletes its namespaces. It
// carries on past errors so one failure does not leave the rest behind.
func (l *lab) cleanup() {
	l.mu.Lock()
	if l.cleaned {
		l.mu.Unlock()
		return
	}
	l.cleaned = true
	procs := l.procs
	hosts := append([]*Host(nil), l.namespaces...)
	l.mu.Unlock()

	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Kill()
	}
	for _, h := range hosts {
		if h.nl != nil {
			h.nl.Close()
		}
		if h.ns.IsOpen() {
			_ = h.ns.Close()
		}
		if err := deleteNamespace(h.NS); err != nil {
			l.t.Errorf("lab cleanup: %v", err)
		}
	}
}

// deleteNamespace kills whatever still runs in a named namespace (a
// process a test started with Command and never waited for) and deletes
// the name; the namespace and its links go with their last user.
func deleteNamespace(name string) error {
	p := filepath.Join(netnsDir, name)
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	killIn(st.Ino)
	if err := netns.DeleteNamed(name); err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	return nil
}

// killIn kills every process whose network namespace has that inode.
func killIn(ino uint64) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	want := fmt.Sprintf("net:[%d]", ino)
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && link == want {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// sweepStale deletes namespaces left by runs whose process is gone (a test
// binary killed before its cleanup ran).
func sweepStale(t testing.TB) {
	t.Helper()
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.ParseInt(m[1], 36, 64)
		if err != nil || int(pid) == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its run may still be going
		}
		if err := deleteNamespace(e.Name()); err != nil {
			t.Logf("lab: sweeping stale namespace: %v", err)
		} else {
			t.Logf("lab: swept stale namespace %s", e.Name())
		}
	}
}
