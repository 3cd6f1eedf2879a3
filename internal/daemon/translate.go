package daemon

import (
	"slices"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/internal/reconcile"
	"github.com/lvsd/lvsd/internal/vrrpd"
	"github.com/lvsd/lvsd/ipvs"
)

// The drivers take parameter types of their own; the daemon translates the
// cluster file into them, here, so no driver reads the file's types and a
// reload compares what each driver is given.

// reconcileSettings is the reconciler's part of ipvs {}.
func reconcileSettings(c config.IPVS) reconcile.Settings {
	s := reconcile.Settings{
		Interval: c.ReconcileInterval,
		Timeouts: ipvs.Timeouts{TCP: c.TimeoutTCP, TCPFin: c.TimeoutTCPFin, UDP: c.TimeoutUDP},
	}
	if sd := c.SyncDaemon; sd != nil {
		s.Sync = &reconcile.SyncSettings{
			Interface: sd.Interface, SyncID: sd.SyncID,
			MaxLen: sd.MaxLen, Group: sd.McastGroup, Port: sd.Port, TTL: sd.TTL,
		}
	}
	return s
}

// sysctlsOf is the net.ipv4.vs part of ipvs {}.
func sysctlsOf(c config.IPVS) reconcile.Sysctls {
	return reconcile.Sysctls{
		ExpireNodestConn:        c.ExpireNodestConn,
		ExpireQuiescentTemplate: c.ExpireQuiescentTemplate,
		ConnReuseMode:           c.ConnReuseMode,
		SloppyTCP:               c.SloppyTCP,
		SloppySCTP:              c.SloppySCTP,
	}
}

// vrrpdConfig is the virtual router of a vrrp_instance block, with this
// node's priority.
func vrrpdConfig(vi config.VRRPInstance) vrrpd.Config {
	return vrrpd.Config{
		Name:            vi.Name,
		Interface:       vi.Interface,
		VRID:            vi.VRID,
		Version:         vi.Version,
		AdvertInterval:  vi.AdvertInterval,
		Priority:        vi.Priority,
		Preempt:         vi.Preempt,
		PreemptDelay:    vi.PreemptDelay,
		Accept:          vi.Accept,
		UnicastPeers:    slices.Clone(vi.UnicastPeers),
		VirtualIPs:      slices.Clone(vi.VirtualIPs),
		TrackInterfaces: tracks(vi.TrackInterfaces),
		TrackScripts:    tracks(vi.TrackScripts),
		TrackFiles:      tracks(vi.TrackFiles),
		AuthPass:        vi.AuthPass,
		Announce:        announceSchedule(vi.GARP),
	}
}

// announceSchedule is the schedule of a garp block.
func announceSchedule(g config.GARP) announce.Schedule {
	return announce.Schedule{Repeat: g.Repeat, Interval: g.Interval, Delay: g.Delay, Refresh: g.Refresh}
}

// tracks is a list of tracked objects as the instance takes it.
func tracks(ts []config.Tracked) []vrrpd.Track {
	out := make([]vrrpd.Track, len(ts))
	for i, t := range ts {
		out[i] = vrrpd.Track{Name: t.Name, Weight: t.Weight}
	}
	return out
}

// usesInterface reports whether vi uses or tracks the interface.
func usesInterface(vi config.VRRPInstance, ifname string) bool {
	return vi.Interface == ifname || slices.ContainsFunc(vi.TrackInterfaces, func(t config.Tracked) bool { return t.Name == ifname })
}
