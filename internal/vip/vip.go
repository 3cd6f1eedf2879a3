//go:build linux

// Package vip adds and removes the virtual IP addresses of a VRRP instance on
// its interface over rtnetlink, and notices when someone else deletes them.
//
// Only the master of a virtual router answers for its addresses and accepts
// packets sent to them (RFC 5798 §6.4.3), so the addresses sit on the
// interface only while the instance is MASTER.
//
// Addresses are added as configured (IPv4 VIPs are normally /32), scope
// global and without a label, so the kernel labels them with the interface
// name as keepalived does by default. IPv6 addresses get IFA_F_NODAD: the
// address moves between routers on purpose, duplicate address detection
// would only delay it by a second and, while the old master still answers,
// could even mark it "dadfailed" and make it unusable (RFC 4862 §5.4).
package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/lvsd/lvsd/internal/nldump"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager adds, removes and checks virtual addresses in one network
// namespace.
type Manager struct {
	h  *netlink.Handle
	ns netns.NsHandle // netns.None() for the caller's namespace
}

// New returns a Manager for the network namespace of the calling thread.
func New() (*Manager, error) {
	return NewAt(netns.None())
}

// NewAt returns a Manager for the network namespace ns; netns.None() means
// the calling thread's. The caller keeps ownership of ns and must keep it
// open while the Manager is in use.
func NewAt(ns netns.NsHandle) (*Manager, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink: %w", err)
	}
	return &Manager{h: h, ns: ns}, nil
}

// Close releases the Manager's netlink socket.
func (m *Manager) Close() { m.h.Close() }

// Add puts the virtual addresses on the interface. Adding an address that is
// already there is not an error: the kernel replaces it in place, which also
// fixes its flags (a VIP re-added by hand without nodad gets it back).
func (m *Manager) Add(ifname string, vips []netip.Prefix) error {
	link, err := m.h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("adding virtual addresses to %s: %w", ifname, err)
	}
	for _, p := range vips {
		a, err := toAddr(p)
		if err != nil {
			return err
		}
		if err := m.h.AddrReplace(link, a); err != nil {
			return fmt.Errorf("adding virtual address %s to %s: %w", p, ifname, err)
		}
	}
	return nil
}

// Remove takes the virtual addresses off the interface. An address that is
// not there, or an interface that no longer exists, is not an error: either
// way the address is gone, which is what the caller wants.
func (m *Manager) Remove(ifname string, vips []netip.Prefix) error {
	link, err := m.h.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("removing virtual addresses from %s: %w", ifname, err)
	}
	for _, p := range vips {
		a, err := toAddr(p)
		if err != nil {
			return err
		}
		if err := m.h.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("removing virtual address %s from %s: %w", p, ifname, err)
		}
	}
	return nil
}

// Missing returns the virtual addresses that are not on the interface, in
// the order given; nil when all are there. A master calls it when Watch
// signals, and periodically, to put back what someone deleted. An address counts only with the
// same prefix length, and an IPv6 address whose duplicate address detection
// failed counts as missing, since the kernel will not use it.
func (m *Manager) Missing(ifname string, vips []netip.Prefix) (missing []netip.Prefix, err error) {
	link, err := m.h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", ifname, err)
	}
	addrs, err := nldump.Do(func() ([]netlink.Addr, error) { return m.h.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", ifname, err)
	}
	have := make(map[netip.Prefix]bool, len(addrs))
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_DADFAILED != 0 {
			continue
		}
		if p, ok := fromIPNet(a.IPNet); ok {
			have[p] = true
		}
	}
	for _, p := range vips {
		if !have[normalize(p)] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// Watch reports address deletions on the interface with index ifindex: the
// channel receives a value after one or more addresses were deleted (a
// burst of deletions may be one value), so a master can check Missing at
// once instead of at its next periodic check.
//
// The channel is closed when ctx ends or when the subscription fails (for
// instance after the kernel dropped notifications because the socket
// buffer overflowed). A closed channel before ctx ends means: check Missing,
// then call Watch again. Watch's goroutine ends before the channel closes.
func (m *Manager) Watch(ctx context.Context, ifindex int) (<-chan struct{}, error) {
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	opts := netlink.AddrSubscribeOptions{}
	if m.ns.IsOpen() {
		ns := m.ns
		opts.Namespace = &ns
	}
	if err := netlink.AddrSubscribeWithOptions(updates, done, opts); err != nil {
		close(done)
		return nil, fmt.Errorf("subscribing to address changes: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer func() {
			// Stop the subscription and wait until its goroutine has
			// closed updates, so nothing outlives Watch's context.
			close(done)
			for range updates {
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.NewAddr || u.LinkIndex != ifindex {
					continue
				}
				select {
				case out <- struct{}{}:
				default: // a signal is already pending
				}
			}
		}
	}()
	return out, nil
}

// toAddr turns a virtual address into the netlink form Add and Remove use.
func toAddr(p netip.Prefix) (*netlink.Addr, error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("invalid virtual address %s", p)
	}
	p = normalize(p)
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Scope: unix.RT_SCOPE_UNIVERSE,
	}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a, nil
}

func fromIPNet(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 128 && ip.Is4() {
		ones -= 96
	}
	return netip.PrefixFrom(ip, ones), true
}
