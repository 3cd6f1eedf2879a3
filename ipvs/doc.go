// Package ipvs programs the Linux Virtual Server table of the kernel.
//
// The kernel's interface is generic netlink, family "IPVS" version 1, with
// the commands and attributes of include/uapi/linux/ip_vs.h and the
// semantics of net/netfilter/ipvs/ip_vs_ctl.c; ipvsadm and its libipvs
// speak the same protocol, so ipvsadm -Ln is an independent view of what
// this package programs.
//
// The package has two halves. Diff is pure: it compares the desired table
// with the kernel's and returns the fewest operations (Op) that make them
// equal, touching only services lvsd owns. Client executes: it reads the
// table (Services), sends many operations per sendmsg, with an answer
// only for those that fail and one read closing each batch (Apply), and
// handles timeouts and the connection
// synchronisation daemon. A Client is bound to one network namespace
// (the namespace of the thread that dials) and looks the family up when it is dialled, since the
// family's number changes when the ip_vs module is reloaded.
package ipvs
