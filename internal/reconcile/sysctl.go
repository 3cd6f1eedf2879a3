package reconcile

import (
	"fmt"
	"strconv"

	"github.com/lvsd/lvsd/internal/sysctl"
)

// Sysctls are the net.ipv4.vs sysctls lvsd sets, resolved from ipvs {}.
type Sysctls struct {
	ExpireNodestConn        bool
	ExpireQuiescentTemplate bool
	ConnReuseMode           int
	// SloppyTCP and SloppySCTP are set to 1 when true and left alone
	// otherwise: only directors announced by BGP need them.
	SloppyTCP, SloppySCTP bool
}

// ApplySysctls sets the IPVS sysctls of ipvs {} in the network namespace
// the calling process sees under root (sysctl.Root; tests pass a
// temporary directory with the same layout). The kernel's meaning
// (Documentation/networking/ipvs-sysctl.rst):
//
//   - expire_nodest_conn = 1: a connection whose real server was removed
//     is dropped at its next packet, so the client retries at once and is
//     scheduled to a live server, instead of black-holing until the entry
//     times out (on_failure = "remove");
//   - expire_quiescent_template = 1: a persistence template pointing at a
//     server of weight 0 is expired, so a persistent client moves off a
//     quiescent server (on_failure = "quiescent");
//   - conn_reuse_mode = 3: a SYN that reuses the client port of a
//     connection entry the director last saw in FIN_WAIT is scheduled
//     anew. A DR or TUN director sees only the client's half, so FIN_WAIT
//     is the last state its entries reach, and for their two minutes a
//     client that reuses the port (busy clients and NAT gateways do) is
//     otherwise sent to the old real server, even one removed since:
//     expire_nodest_conn does not cover entries that a backup learned
//     from the sync daemon before that real server was in its table.
//
// The files exist only while ip_vs is loaded; when they are missing the
// error says so.
func ApplySysctls(root string, cfg Sysctls) error {
	type setting struct {
		name  string
		value string
	}
	settings := []setting{
		{"expire_nodest_conn", boolSysctl(cfg.ExpireNodestConn)},
		{"expire_quiescent_template", boolSysctl(cfg.ExpireQuiescentTemplate)},
		{"conn_reuse_mode", strconv.Itoa(cfg.ConnReuseMode)},
	}
	// sloppy_tcp = 1: a mid-connection packet without a connection entry
	// (a flow that ECMP moved here from a lost director) creates one, so
	// the flow goes on to the real server Maglev picks, the same as the
	// lost director's.
	if cfg.SloppyTCP {
		settings = append(settings, setting{"sloppy_tcp", "1"})
	}
	if cfg.SloppySCTP {
		settings = append(settings, setting{"sloppy_sctp", "1"})
	}
	for _, s := range settings {
		key := "net.ipv4.vs." + s.name
		err := sysctl.Write(root, key, s.value)
		if sysctl.IsNotExist(err) {
			return fmt.Errorf("setting %s: %s does not exist (is the ip_vs module loaded? run `modprobe ip_vs`)", key, sysctl.Path(root, key))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func boolSysctl(on bool) string {
	if on {
		return "1"
	}
	return "0"
}
