//go:build linux

package realserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/lvsd/lvsd/internal/nldump"
	"github.com/lvsd/lvsd/internal/sysctl"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is the System of the calling thread's network namespace: devices
// and addresses over rtnetlink, sysctls as files under a root directory.
type Kernel struct {
	h    *netlink.Handle
	root string
}

// NewKernel opens rtnetlink in the calling thread's network namespace;
// sysctlRoot is normally sysctl.Root.
func NewKernel(sysctlRoot string) (*Kernel, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink: %w", err)
	}
	return &Kernel{h: h, root: sysctlRoot}, nil
}

// Close releases the netlink socket.
func (k *Kernel) Close() { k.h.Close() }

// Snapshot implements System.
func (k *Kernel) Snapshot() (Snapshot, error) {
	s := Snapshot{Links: map[string]Link{}}
	for _, name := range []string{Loopback, TunnelV4, TunnelV6} {
		l, ok, err := k.link(name)
		if err != nil {
			return Snapshot{}, err
		}
		if ok {
			s.Links[name] = l
		}
	}
	var err error
	if s.Sysctls, err = readSysctls(k.root, SysctlKeys()); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

func (k *Kernel) link(name string) (Link, bool, error) {
	nl, err := k.h.LinkByName(name)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return Link{}, false, nil
		}
		return Link{}, false, fmt.Errorf("reading device %s: %w", name, err)
	}
	addrs, err := nldump.Do(func() ([]netlink.Addr, error) { return k.h.AddrList(nl, netlink.FAMILY_ALL) })
	if err != nil {
		return Link{}, false, fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	l := Link{Up: nl.Attrs().Flags&net.FlagUp != 0}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		l.Addrs = append(l.Addrs, netip.PrefixFrom(ip.Unmap(), bits))
	}
	slices.SortFunc(l.Addrs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return l, true, nil
}

// Apply implements System.
func (k *Kernel) Apply(c Change) error {
	switch c.Kind {
	case SysctlSet:
		return sysctl.Write(k.root, c.Key, c.To)
	case LinkCreate:
		return k.create(c.Link)
	}
	nl, err := k.h.LinkByName(c.Link)
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	switch c.Kind {
	case LinkUp:
		err = k.h.LinkSetUp(nl)
	case LinkDown:
		err = k.h.LinkSetDown(nl)
	case LinkDelete:
		err = k.h.LinkDel(nl)
	case AddrAdd:
		err = k.h.AddrAdd(nl, toAddr(c.Addr))
		if errors.Is(err, unix.EEXIST) {
			err = nil // there already, which is what was asked
		}
		if errors.Is(err, unix.EACCES) && c.Addr.Addr().Is6() {
			err = fmt.Errorf("%w (is IPv6 disabled? see net.ipv6.conf.%s.disable_ipv6)", err, c.Link)
		}
	case AddrDel:
		err = k.h.AddrDel(nl, toAddr(c.Addr))
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			err = nil // gone already
		}
	default:
		err = errors.New("unknown kind of change")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	return nil
}

// create makes a tunnel's fallback device. Asking rtnetlink for a link of
// the tunnel's type loads the module if needed, and the module creates
// its fallback device in every namespace as it loads; the request then
// fails with EEXIST, and the device is there, as wanted.
func (k *Kernel) create(name string) error {
	var l netlink.Link
	switch name {
	case TunnelV4:
		// Path MTU discovery on, as "ip tunnel add" does by default.
		l = &netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: name}, PMtuDisc: 1}
	case TunnelV6:
		l = &netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: name}}
	default:
		return fmt.Errorf("create %s: not a tunnel device lvsd knows", name)
	}
	err := k.h.LinkAdd(l)
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case errors.Is(err, unix.EOPNOTSUPP):
		mod := map[string]string{TunnelV4: "ipip", TunnelV6: "ip6_tunnel"}[name]
		return fmt.Errorf("create %s: the kernel has no %s tunnels (%w): load the module (modprobe %s), or use --method dr",
			name, l.Type(), err, mod)
	}
	return fmt.Errorf("create %s (%s): %w", name, l.Type(), err)
}

// toAddr is the netlink form of a VIP: scope global, and for IPv6 without
// duplicate address detection, since the VIP is shared on purpose.
func toAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Scope: unix.RT_SCOPE_UNIVERSE,
	}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// readSysctls reads the keys that exist; a key without a file (a device
// that does not exist) is left out.
func readSysctls(root string, keys []string) (map[string]string, error) {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := sysctl.Read(root, k)
		if sysctl.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}
