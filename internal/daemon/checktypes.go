package daemon

import (
	"net/netip"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
)

// newTypeChecker is newChecker for the udp, dns, ping and smtp types.
func newTypeChecker(c *config.HealthCheck, target netip.AddrPort) healthcheck.Checker {
	switch c.Type {
	case config.CheckUDP:
		return healthcheck.NewUDP(healthcheck.UDPParams{
			Target:       target,
			Payload:      c.Payload,
			RequireReply: c.RequireReply,
			Reply:        c.ExpectReply,
			ReplyMask:    c.ExpectReplyMask,
			MinReply:     c.MinReplyLength,
			MaxReply:     c.MaxReplyLength,
			Timeout:      c.Timeout,
			Source:       c.BindTo,
		})
	case config.CheckDNS:
		return healthcheck.NewDNS(healthcheck.DNSParams{
			Target:  target,
			Type:    c.QueryType,
			Name:    c.QueryName,
			Expect:  c.ExpectAnswer,
			Timeout: c.Timeout,
			Source:  c.BindTo,
		})
	case config.CheckPing:
		return healthcheck.NewPing(target.Addr(), c.BindTo, c.Timeout)
	case config.CheckSMTP:
		return healthcheck.NewSMTP(healthcheck.SMTPParams{Target: target, HELOName: c.HELOName, Timeout: c.Timeout, Source: c.BindTo})
	}
	return nil
}
