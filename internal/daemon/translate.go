package daemon

import (
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/reconcile"
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
		s.Sync = &reconcile.SyncSettings{Interface: sd.Interface, SyncID: sd.SyncID}
	}
	return s
}

// sysctlsOf is the net.ipv4.vs part of ipvs {}.
func sysctlsOf(c config.IPVS) reconcile.Sysctls {
	return reconcile.Sysctls{
		ExpireNodestConn:        c.ExpireNodestConn,
		ExpireQuiescentTemplate: c.ExpireQuiescentTemplate,
		ConnReuseMode:           c.ConnReuseMode,
	}
}
