package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/internal/nldump"
	"github.com/lvsd/lvsd/internal/realserver"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/sysctl"
	"github.com/lvsd/lvsd/internal/vip"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/vrrp"
)

// linuxSystem is the system of the network namespace lvsd runs in.
type linuxSystem struct {
	log *slog.Logger
	vip *vip.Manager // set by VIPs, for WatchAddrs
	// redirects holds the send_redirects values RedirectReplies changed,
	// to put back.
	redirects *sysctl.Saved
}

// resubscribeDelay is the pause before a failed netlink subscription is
// renewed (the kernel drops a subscriber whose buffer overflowed).
const resubscribeDelay = time.Second

func (s *linuxSystem) DialIPVS() (reconcile.Kernel, func(), error) {
	c, err := ipvs.Dial()
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Close() }, nil
}

func (s *linuxSystem) ApplySysctls(cfg config.IPVS) error {
	return reconcile.ApplySysctls(sysctl.Root, sysctlsOf(cfg))
}

func (s *linuxSystem) Listen(ifname string, ipv6 bool, opts ...vrrp.Option) (vrrpd.Transport, error) {
	return listenVRRP(ifname, ipv6, opts...)
}

func (s *linuxSystem) VIPs() (vrrpd.VIPs, func(), error) {
	m, err := vip.New()
	if err != nil {
		return nil, nil, err
	}
	s.vip = m
	return m, m.Close, nil
}

func (s *linuxSystem) Announcer() vrrpd.Announcer { return announce.LinkSender{} }

func (s *linuxSystem) Link(ifname string) (exists, up bool, err error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return false, false, nil
		}
		return false, false, err
	}
	return true, linkUp(l), nil
}

// linkUp decides whether an interface can carry VRRP: administratively up
// and with carrier. Most drivers report it as operstate "up"; links without
// operstate support (loopback, some virtual links) say "unknown" and show
// carrier as IFF_LOWER_UP.
func linkUp(l netlink.Link) bool {
	a := l.Attrs()
	if a.Flags&net.FlagUp == 0 {
		return false
	}
	switch a.OperState {
	case netlink.OperUp:
		return true
	case netlink.OperUnknown:
		return a.RawFlags&unix.IFF_LOWER_UP != 0
	}
	return false
}

func (s *linuxSystem) Addrs(ifname string, ipv6 bool) ([]netip.Addr, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, err
	}
	family := netlink.FAMILY_V4
	if ipv6 {
		family = netlink.FAMILY_V6
	}
	as, err := nldump.Do(func() ([]netlink.Addr, error) { return netlink.AddrList(l, family) })
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

func (s *linuxSystem) WatchLinks(ctx context.Context, f func(string, bool)) {
	for ctx.Err() == nil {
		ch := make(chan netlink.LinkUpdate, 64)
		done := make(chan struct{})
		err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
			ListExisting: true,
			ErrorCallback: func(err error) {
				if ctx.Err() == nil {
					s.log.Warn("link state subscription", "err", err)
				}
			},
		})
		if err != nil {
			s.log.Error("subscribing to link state changes", "err", err)
		} else {
			s.consumeLinks(ctx, ch, f)
			close(done)
			// Let the subscription's goroutine see done and close ch.
			for range ch {
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(resubscribeDelay):
		}
	}
}

func (s *linuxSystem) consumeLinks(ctx context.Context, ch <-chan netlink.LinkUpdate, f func(string, bool)) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-ch:
			if !ok {
				return
			}
			name := u.Link.Attrs().Name
			if u.Header.Type == unix.RTM_DELLINK {
				f(name, false)
				continue
			}
			f(name, linkUp(u.Link))
		}
	}
}

func (s *linuxSystem) WatchAddrs(ctx context.Context, ifname string, f func()) {
	for ctx.Err() == nil {
		var ch <-chan struct{}
		l, err := netlink.LinkByName(ifname)
		if err == nil && s.vip != nil {
			ch, err = s.vip.Watch(ctx, l.Attrs().Index)
		}
		if err == nil && ch != nil {
			for range ch {
				f()
			}
			// Closed: either ctx ended or the subscription failed and
			// deletions may have been missed.
			f()
		}
		select {
		case <-ctx.Done():
		case <-time.After(resubscribeDelay):
		}
	}
}

func (s *linuxSystem) HoldVIPs(state string, vips []netip.Addr) error {
	rec, err := realserver.LoadRecord(state)
	if err != nil {
		return err
	}
	if rec == nil && len(vips) == 0 {
		return nil
	}
	var held []netip.Addr
	next := realserver.Record{}
	if rec != nil {
		next = *rec
		for _, a := range rec.Addrs {
			if a.Link == "lo" && !slices.Contains(vips, a.Prefix.Addr()) {
				held = append(held, a.Prefix.Addr())
			}
		}
	}
	k, err := realserver.NewKernel(sysctl.Root)
	if err != nil {
		return err
	}
	defer k.Close()
	// Up before Down: the sysctls stay set while any VIP needs them.
	var errs []error
	if len(vips) > 0 {
		_, next, err = realserver.Up(k, realserver.Request{Method: realserver.DR, VIPs: vips}, next)
		errs = append(errs, err)
	}
	if len(held) > 0 {
		_, _, next, err = realserver.Down(k, realserver.Request{Method: realserver.DR, VIPs: held}, &next)
		errs = append(errs, err)
	} else if len(vips) == 0 && !next.Empty() {
		// Sysctls recorded without a VIP (an earlier call failed half-way):
		// a Down of no VIP restores them.
		_, _, next, err = realserver.Down(k, realserver.Request{Method: realserver.DR}, &next)
		errs = append(errs, err)
	}
	if next.Empty() {
		errs = append(errs, realserver.RemoveRecord(state))
	} else {
		errs = append(errs, realserver.SaveRecord(state, next))
	}
	return errors.Join(errs...)
}

func (s *linuxSystem) RouteIface(addr netip.Addr) (string, error) {
	routes, err := netlink.RouteGet(addr.AsSlice())
	if err != nil {
		return "", err
	}
	if len(routes) == 0 || routes[0].LinkIndex == 0 {
		return "", fmt.Errorf("no route to %s", addr)
	}
	l, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", err
	}
	return l.Attrs().Name, nil
}

// Policy routing of a NAT relay: one table per peer from relayTable on,
// selected by rules at relayRulePref (after the local table's rule at 0,
// so addresses of the director itself are still delivered to it).
const (
	relayTable    = 0x4c56 // "LV"
	relayTables   = 16
	relayRulePref = 100
)

func (s *linuxSystem) RedirectReplies(routes []replyRoute) error {
	var errs []error
	// Whatever an earlier call (or a crashed run) installed goes first.
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing routing rules: %w", err)
	}
	for i := range rules {
		if r := &rules[i]; r.Table >= relayTable && r.Table < relayTable+relayTables {
			if err := netlink.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("removing a relay rule: %w", err))
			}
		}
	}
	// One dump of every table (RT_TABLE_UNSPEC), not one per table.
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing relay routes: %w", err))
	}
	for i := range rs {
		if t := rs[i].Table; t < relayTable || t >= relayTable+relayTables {
			continue
		}
		if err := netlink.RouteDel(&rs[i]); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing a relay route: %w", err))
		}
	}
	if len(routes) == 0 {
		if s.redirects != nil {
			if err := s.redirects.Restore(); err != nil {
				errs = append(errs, fmt.Errorf("restoring send_redirects: %w", err))
			}
		}
		return errors.Join(errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// The stopping master's own connections rely on IPVS routing their
	// translated answers afresh; without it they would follow the rule.
	if v, err := sysctl.Read(sysctl.Root, "net.ipv4.vs.snat_reroute"); err != nil || v != "1" {
		return fmt.Errorf("net.ipv4.vs.snat_reroute is not 1 (%q, %v): a NAT relay would misroute this director's own answers", v, err)
	}
	// A reply routed back out of the interface it came in on would make
	// the kernel tell the real server to use the peer as its gateway, for
	// this director's own connections too.
	ifaces := map[string]bool{"all": true}
	for _, r := range routes {
		ifaces[r.Iface] = true
	}
	if s.redirects == nil {
		s.redirects = sysctl.NewSaved(sysctl.Root)
	}
	for name := range ifaces {
		// A slash path: a device name may hold a dot (eth0.100).
		if err := s.redirects.Set("net/ipv4/conf/"+name+"/send_redirects", "0"); err != nil {
			return err
		}
	}
	tables := map[netip.Addr]int{}
	for _, r := range routes {
		t, ok := tables[r.Via]
		if !ok {
			if len(tables) == relayTables {
				return fmt.Errorf("a NAT relay to more than %d peers", relayTables)
			}
			t = relayTable + len(tables)
			tables[r.Via] = t
			l, err := netlink.LinkByName(r.Iface)
			if err != nil {
				return err
			}
			dst := &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}
			if r.Via.Is6() {
				dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
			}
			if err := netlink.RouteAdd(&netlink.Route{Table: t, Dst: dst, Gw: r.Via.AsSlice(), LinkIndex: l.Attrs().Index}); err != nil {
				return fmt.Errorf("adding the relay route via %s: %w", r.Via, err)
			}
		}
		rule := netlink.NewRule()
		rule.Src = &net.IPNet{IP: r.From.AsSlice(), Mask: net.CIDRMask(r.From.BitLen(), r.From.BitLen())}
		rule.IifName = r.Iface
		rule.Table = t
		rule.Priority = relayRulePref
		rule.Family = unix.AF_INET
		if r.From.Is6() {
			rule.Family = unix.AF_INET6
		}
		if err := netlink.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding the relay rule from %s: %w", r.From, err)
		}
	}
	return nil
}
