// Package reconcile keeps the kernel's IPVS table equal to what the
// configuration and the health checks ask for.
//
// The decision is ipvs.Diff, a pure function of the desired table, the
// kernel's table and the set of services lvsd owns; this package is the
// thin driver around it. A Reconciler holds the desired table (SetDesired),
// and its Run loop makes the kernel follow:
//
//   - at once when Run starts, then every reconcile interval, it reads the
//     whole table (the services, then each one's destinations), diffs and
//     applies only the differences, so a table flushed by hand (ipvsadm -C)
//     or edited by hand (ipvsadm -e) comes back within one interval. A
//     change that arrives during the read goes through between two
//     services rather than after the read, which on a table of thousands
//     of services takes seconds;
//   - on every SetDesired (a health change or a reload) it diffs against
//     the table it last read, advanced by the operations the kernel has
//     acknowledged since, and applies the differences without dumping
//     again. A change of one real server's health therefore costs exactly
//     one netlink request. When the kernel refuses an operation of such a
//     round, the remembered table is wrong (someone changed the kernel
//     behind lvsd's back), so the round is repeated at once from a fresh
//     dump; an operation that fails on a fresh dump too is logged and
//     retried on the next round.
//
// The CPU cost of a SetDesired round follows what changed, not the size
// of the table, since a director with thousands of services sees health
// changes far more often than reloads. SetDesired compares each service
// by value with the one it replaces (plan.Services rebuilds them all on
// every change) and copies only those that differ; the round diffs only
// those services against the remembered table, and updates the remembered
// services the kernel changed in place. Only the first round and those of
// the interval read and diff the whole table, which is what repairs
// drift; so does a round whose remembered table is not trusted (after a
// failure).
//
// Bursts of SetDesired calls are coalesced: each one only wakes the loop,
// and the loop runs one round at a time with the newest table.
//
// lvsd owns the services of every desired table it was given during this
// process's life, and nothing else: a service added with ipvsadm -A is
// never touched, and a service a reload removed is deleted because it was
// lvsd's. An owned service that is neither desired nor in the kernel any
// more stops being owned, so the same address added later by hand is left
// alone. Services left over by an earlier lvsd process that are not in the
// configuration are not owned either; they are left alone too.
//
// The package also sets the IPVS sysctls of the director's namespace
// (ApplySysctls, after Documentation/networking/ipvs-sysctl.rst of the
// kernel), the connection timeouts (ipvsadm --set), and runs the
// connection-synchronisation daemon in the role VRRP gives the director
// (SetSyncRole), as keepalived's lvs_sync_daemon does.
package reconcile
