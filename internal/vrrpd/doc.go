// Package vrrpd runs one VRRP virtual router (RFC 5798 version 3, RFC 3768
// version 2) against real time, sockets and netlink.
//
// The protocol decisions live in the pure state machine of package vrrp
// ([vrrp.Machine]); this package is the thin driver around it. An [Instance]
// feeds the machine its events (startup, received advertisements that passed
// the receive checks of RFC 5798 §7.1, timer expiries, link changes, a new
// priority, sync group orders, shutdown) and carries out the actions it
// returns: it sends advertisements, arms one time.Timer per machine timer,
// adds and removes the virtual addresses, runs the gratuitous ARP / unsolicited
// NA schedule of the garp block, logs state changes and runs the notify hook.
//
// Kernel effects sit behind the small interfaces of deps.go, defined here
// where they are used, so that tests drive two or three instances through an
// in-memory network under testing/synctest without root.
//
// A [Group] ties the instances of one vrrp_sync_group together with the rule
// of [vrrp.SyncGroup].
//
// Wiring: *vrrp.Conn is a [Transport] as it is (one per instance; Run closes
// it). The daemon reports link changes with [Instance.SetLink], passes a
// reload that only changes the priority with [Instance.UpdatePriority] (any
// other change needs a new Instance), may call [Instance.CheckVIPs] on a
// netlink address-deleted event, and reads [Instance.Status] for the status
// document and the metrics.
package vrrpd
