// Package vrrp implements the Virtual Router Redundancy Protocol: version 3
// for IPv4 and IPv6 as RFC 5798 defines it, and version 2 (IPv4 only) as
// RFC 3768 defines it.
//
// The package has two halves that share nothing but this package name.
//
// The wire half encodes and decodes advertisements and says, as a value, why
// a received packet was dropped.
//
// The protocol half is [Machine], the state machine of RFC 5798 §6.4
// (Initialize, Backup, Master) plus the Fault state that tracked interfaces
// need. It is modelled on the raft library of etcd: it never reads a clock,
// never touches a socket and starts no goroutine. The driver feeds it one
// [Event] at a time through [Machine.Step] and executes the [Action] values it
// returns, in order:
//
//   - timers are actions ([SetTimer], [StopTimer]) and their expiry is an event
//     ([TimerFired]); a SetTimer for a timer that is already running restarts it;
//   - an advertisement reaches the machine as [AdvertReceived] only after the
//     receive path has checked TTL, version, VRID, checksum and addresses, and
//     has dropped the router's own packets;
//   - becoming Master yields [SendAdvert], [AddVIPs], [Announce] and arming the
//     advertisement timer; leaving it yields [RemoveVIPs];
//   - every state change ends with a [Transition], issued after the effects of
//     the change, so the driver can log it and run notify commands.
//
// Skew_Time and Master_Down_Interval are the pure functions [SkewTime],
// [MasterDownInterval] (version 3) and [SkewTimeV2], [MasterDownIntervalV2]
// (version 2); their arithmetic follows the RFCs to the microsecond, the same
// rounding keepalived applies, so mixed pairs agree on who takes over when.
//
// Beyond the RFC the machine models three behaviours of a keepalived-style
// director:
//
//   - preempt_delay: a Backup router with preemption on treats a lower-priority
//     master as acceptable for PreemptDelay after it starts (or after it first
//     sees such a master) and only then lets its Master_Down_Timer run out;
//   - make-before-break stop: Shutdown in Master sends a priority-0
//     advertisement at once but keeps the virtual addresses until
//     min(Advertisement Interval, 100 ms) after the new master's
//     advertisement arrives ([LingerTimer]: the new master announces the
//     addresses only after that advertisement) or a bound of min(3 ×
//     Advertisement Interval, 1 s) passes ([ReleaseTimer]), whichever comes
//     first, so no client packet reaches a director that has already let go;
//   - Fault: any VRRP or tracked interface down removes the addresses and
//     parks the instance until the interfaces are up again.
//
// [SyncGroup] is the pure rule of a vrrp_sync_group: given the states of its
// members and a transition of one, it says which events to feed the others.
package vrrp
