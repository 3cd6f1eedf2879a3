// Package daemon is `lvsd run`: it wires the parts of lvsd into one
// director and runs them until it is told to stop.
//
// Start-up follows this order: the configuration is read and
// checked (an invalid file is a *ConfigError, printed FILE:LINE:COL); when
// the configuration has virtual servers the IPVS sysctls are set and the
// reconciler programs the table, every checked real server unhealthy until
// it has passed its check `rise` times (a VRRP-only configuration never
// touches IPVS and runs on a kernel without it); then the health checks,
// the VRRP instances (RFC 5798 version 3, RFC 3768 version 2), the control
// socket and the metrics listener start. systemd hears READY=1 once the first
// reconcile is done, STATUS= lines when states change, and WATCHDOG=1 pings
// when WatchdogSec is set.
//
// Every health change recomputes the desired table (plan.Services) and hands
// it to the reconciler, which turns it into the fewest netlink requests.
//
// Reload parses the file again and, when it is valid, applies only the
// difference (planReload): an unchanged VRRP instance keeps running
// untouched, a priority-only change is UpdatePriority, any other change
// restarts that instance; health jobs whose check is unchanged keep their
// state. An invalid file changes nothing and is reported.
//
// Stop is make-before-break: instances in MASTER send priority 0 and keep
// their addresses until the new master has been heard and had time to
// announce itself (at most a second), then the IPVS sync daemon stops and, with cleanup_on_exit, lvsd's services are
// removed; Run returns within two seconds.
package daemon
