package plan

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

// Announcement is the decision for one VIP announced by BGP.
type Announcement struct {
	VIP      netip.Addr
	Services []string // the announced services on the VIP, in file order
	Announce bool
	// Reason says why the route is withdrawn; "" when announced.
	Reason string
}

// Announcements decides, for every VIP announced by BGP in file order,
// whether this director announces it. A service is up when the kernel has
// it with a destination that takes connections (programmed) and at least
// one real server is healthy with the quorum met. The VIP is announced
// while every one of its services is up (withdraw_when =
// "any_service_down") or while one is (withdraw_when = "all_services_down").
func Announcements(cfg *config.Config, health Health, programmed func(ipvs.ServiceKey) bool) []Announcement {
	if cfg.BGP == nil {
		return nil
	}
	var out []Announcement
	at := map[netip.Addr]int{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		if vs.Announce != config.AnnounceBGP || !vs.Address.IsValid() {
			continue
		}
		vip := vs.Address.Addr()
		j, ok := at[vip]
		if !ok {
			j = len(out)
			at[vip] = j
			out = append(out, Announcement{VIP: vip, Announce: cfg.BGP.WithdrawWhen == config.AnyServiceDown})
		}
		a := &out[j]
		a.Services = append(a.Services, vs.Name)
		reason := serviceDown(vs, health, programmed)
		switch {
		case cfg.BGP.WithdrawWhen == config.AllServicesDown && reason == "":
			a.Announce, a.Reason = true, ""
		case cfg.BGP.WithdrawWhen == config.AllServicesDown && !a.Announce:
			a.Reason = joinReason(a.Reason, reason)
		case reason != "" && cfg.BGP.WithdrawWhen == config.AnyServiceDown:
			a.Announce = false
			a.Reason = joinReason(a.Reason, reason)
		}
	}
	return out
}

// serviceDown says why a service cannot carry its VIP's traffic, or "".
func serviceDown(vs *config.VirtualServer, health Health, programmed func(ipvs.ServiceKey) bool) string {
	_, st := Service(vs, health)
	switch {
	case st.Healthy == 0:
		return "no healthy real server in " + vs.Name
	case !st.QuorumMet:
		return fmt.Sprintf("%s has %d healthy real servers, fewer than its quorum %d", vs.Name, st.Healthy, vs.Quorum)
	case !programmed(Key(vs)):
		return vs.Name + " is not programmed in IPVS yet"
	}
	return ""
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// WriteBGP prints the routes this node would announce with every real
// server healthy, one line per VIP, then one line per neighbour.
func WriteBGP(w io.Writer, cfg *config.Config) error {
	if cfg.BGP == nil {
		return nil
	}
	programmed := func(ipvs.ServiceKey) bool { return true }
	for _, a := range Announcements(cfg, AllHealthy, programmed) {
		if _, err := fmt.Fprintf(w, "bgp announce %s next-hop self services %s\n", netip.PrefixFrom(a.VIP, a.VIP.BitLen()), strings.Join(a.Services, ",")); err != nil {
			return err
		}
	}
	rid := "auto"
	if cfg.BGP.RouterID.IsValid() {
		rid = cfg.BGP.RouterID.String()
	}
	for _, n := range cfg.BGP.Neighbors {
		if _, err := fmt.Fprintf(w, "bgp neighbor %s address %s asn %d local-asn %d router-id %s\n", n.Name, n.Address, n.ASN, cfg.BGP.ASN, rid); err != nil {
			return err
		}
	}
	return nil
}
