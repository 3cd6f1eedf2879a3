package daemon

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/vip"
)

// runStatePath is a file of the daemon's run-time state, next to the
// control socket so that two daemons on one host keep apart: for
// /run/lvsd/lvsd.sock and ".vips.json", /run/lvsd/lvsd.vips.json.
func runStatePath(socket, suffix string) string {
	return filepath.Join(filepath.Dir(socket), strings.TrimSuffix(filepath.Base(socket), ".sock")+suffix)
}

// openVIPs opens the virtual address manager for the first instances
// (list) and makes the start-up guarantee of the README ("After a
// crash"): the addresses a previous run added and left behind are removed
// before any instance runs, and the VIPs already on their interface are
// recorded as the host's, never to be removed. The caller holds reloadMu,
// or is the start-up.
func (d *Daemon) openVIPs(list []config.VRRPInstance) error {
	k, closeVIPs, err := d.sys.VIPs()
	if err != nil {
		return fmt.Errorf("opening rtnetlink for the virtual addresses: %w", explainPermission(err))
	}
	ledger, err := vip.OpenLedger(k, runStatePath(d.socket, ".vips.json"), d.log)
	if err != nil {
		closeVIPs()
		return err
	}
	removed, host, err := ledger.Reclaim(vipsByInterface(list))
	for _, a := range removed {
		d.log.Warn("removed a virtual address left by a previous run", "vip", a.Prefix.String(), "interface", a.Interface)
	}
	if err != nil {
		closeVIPs()
		return explainPermission(err)
	}
	d.logHostVIPs(host)
	d.vips, d.closeVIPs = ledger, closeVIPs
	d.ann = d.sys.Announcer()
	return nil
}

// adoptVIPs records which VIPs of instances a reload is about to start are
// the host's own addresses.
func (d *Daemon) adoptVIPs(list []config.VRRPInstance) error {
	host, err := d.vips.Adopt(vipsByInterface(list))
	if err != nil {
		return explainPermission(err)
	}
	d.logHostVIPs(host)
	return nil
}

func (d *Daemon) logHostVIPs(host []vip.Address) {
	for _, a := range host {
		d.log.Warn("a virtual address is already an address of this host: lvsd will neither add nor remove it, so this director answers for it whatever its VRRP state",
			"vip", a.Prefix.String(), "interface", a.Interface)
	}
}

// vipsByInterface maps each interface to the VIPs of the instances on it.
func vipsByInterface(list []config.VRRPInstance) map[string][]netip.Prefix {
	out := make(map[string][]netip.Prefix)
	for _, vi := range list {
		out[vi.Interface] = append(out[vi.Interface], vi.VirtualIPs...)
	}
	return out
}
