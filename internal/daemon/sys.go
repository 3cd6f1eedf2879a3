package daemon

import (
	"context"
	"net/netip"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/vrrp"
)

type vrrpOption = vrrp.Option

// system is every kernel effect the daemon itself needs, beyond what the
// parts it wires already hide behind their own interfaces. The Linux
// implementation is linuxSystem; tests pass fakes that record.
type system interface {
	// DialIPVS opens the kernel's IPVS; the closer releases it.
	DialIPVS() (reconcile.Kernel, func(), error)
	// ApplySysctls sets the ipvs {} sysctls of this namespace.
	ApplySysctls(cfg config.IPVS) error
	// Listen opens a VRRP socket (see listenFunc).
	Listen(ifname string, ipv6 bool, opts ...vrrpOption) (vrrpd.Transport, error)
	// VIPs returns the virtual address manager; the closer releases it.
	VIPs() (vrrpd.VIPs, func(), error)
	// Announcer sends gratuitous ARP and unsolicited NA.
	Announcer() vrrpd.Announcer
	// Link reports whether the interface exists and is operationally up.
	Link(ifname string) (exists, up bool, err error)
	// Addrs lists the interface's addresses of one family: the router's own
	// addresses, to recognise its adverts and pick its unicast source.
	Addrs(ifname string, ipv6 bool) ([]netip.Addr, error)
	// WatchLinks calls f for every link state change (and once for every
	// existing link) until ctx ends.
	WatchLinks(ctx context.Context, f func(ifname string, up bool))
	// WatchAddrs calls f whenever an address is deleted from ifname, until
	// ctx ends.
	WatchAddrs(ctx context.Context, ifname string, f func())
	// HoldVIPs makes vips exactly the VIPs held on lo, hidden from ARP as
	// a DR real server holds them (handover = "relay"), and records in
	// the file state what it changed, so that a later call (after a crash
	// too) undoes exactly that. An empty vips undoes everything; without
	// a state file that does nothing.
	HoldVIPs(state string, vips []netip.Addr) error
	// RouteIface names the interface the kernel routes addr through.
	RouteIface(addr netip.Addr) (string, error)
	// RedirectReplies routes what arrives from each real server From on
	// interface Iface to the director Via instead (policy routing), with
	// ICMP redirects off on those interfaces, for a NAT relay: the
	// stopping master's IPVS translates back the answers of its own
	// connections and sends them on (net.ipv4.vs.snat_reroute), the
	// others reach the peer that scheduled them. An empty list removes
	// every such route and puts the redirect settings back.
	RedirectReplies(routes []replyRoute) error
}

// replyRoute sends a real server's traffic to the peer director during a
// NAT relay (see RedirectReplies).
type replyRoute struct {
	From  netip.Addr
	Iface string
	Via   netip.Addr
}
