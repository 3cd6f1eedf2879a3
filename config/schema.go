package config

import "strconv"

// The schema below is the one description of the config language: the
// decoder accepts exactly these blocks and attributes, with these types and
// ranges, and WriteReference documents them from the same table, so the
// reference cannot drift from what lvsd accepts.

// kind is the type of an attribute's value.
type kind int

const (
	kString kind = iota
	kInt
	kBool
	kDuration
	kStringList
	kIntList
	kPriorityMap // { "node" = 1..255 }
)

func (k kind) String() string {
	switch k {
	case kString:
		return "string"
	case kInt:
		return "number"
	case kBool:
		return "bool"
	case kDuration:
		return "duration"
	case kStringList:
		return "list(string)"
	case kIntList:
		return "list(number)"
	case kPriorityMap:
		return "map(number)"
	}
	return "?"
}

// attrSpec describes one attribute.
type attrSpec struct {
	Name     string
	Kind     kind
	Required bool
	// Min and Max bound a number (or each number of a list) when Max > Min.
	Min, Max int64
	Default  string // as documented; the builder applies it
	Doc      string
	// Checks limits a health_check attribute to these check types; empty
	// means every type.
	Checks []string
}

func (a *attrSpec) bounded() bool { return a.Max > a.Min }

// blockSpec describes one block type.
type blockSpec struct {
	Name string
	// Label names the block's one label in the docs ("NAME"); "" means
	// the block takes no label.
	Label string
	// LabelValues, when set, are the only labels allowed.
	LabelValues []string
	// Multi allows the block more than once in its parent.
	Multi  bool
	Doc    string
	Attrs  []*attrSpec
	Blocks []*blockSpec
}

func (b *blockSpec) attr(name string) *attrSpec {
	for _, a := range b.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func (b *blockSpec) block(name string) *blockSpec {
	for _, c := range b.Blocks {
		if c.Name == name {
			return c
		}
	}
	return nil
}

const (
	maxUint16 = 1<<16 - 1
	maxUint32 = 1<<32 - 1
	// The largest UDP payload of an IPv4 datagram.
	maxSyncMaxLen = maxUint16 - 20 - 8
)

var healthCheckSpec = &blockSpec{
	Name:        "health_check",
	Label:       "TYPE",
	LabelValues: []string{"tcp", "http", "https", "exec", "udp", "dns", "ping", "smtp"},
	Doc: "A health check; the label is its type: `tcp` (connect), `http`, `https`, `exec` (a command, exit 0 = healthy), " +
		"`udp` (a datagram), `dns` (a query), `ping` (ICMP echo) or `smtp` (greeting and HELO). " +
		"In a `virtual_server` it is the default of every real server; in a `real_server` it replaces that default.",
	Attrs: append([]*attrSpec{
		{Name: "interval", Kind: kDuration, Default: "5s", Doc: "time between two checks"},
		{Name: "timeout", Kind: kDuration, Default: "2s", Doc: "a check not done by then has failed; must be less than `interval`"},
		{Name: "rise", Kind: kInt, Min: 1, Max: 1000, Default: "2", Doc: "passes in a row to become healthy"},
		{Name: "fall", Kind: kInt, Min: 1, Max: 1000, Default: "3", Doc: "failures in a row to become unhealthy"},
		{Name: "port", Kind: kInt, Min: 0, Max: maxUint16, Default: "0", Doc: "port to check; 0 = the real server's port", Checks: []string{"tcp", "http", "https", "udp", "dns", "smtp"}},
		{Name: "path", Kind: kString, Default: `"/"`, Doc: "request path", Checks: []string{"http", "https"}},
		{Name: "host", Kind: kString, Default: "the server's address", Doc: "Host header and TLS server name", Checks: []string{"http", "https"}},
		{Name: "expect_status", Kind: kIntList, Min: 100, Max: 599, Default: "any 2xx", Doc: "status codes that pass", Checks: []string{"http", "https"}},
		{Name: "body_contains", Kind: kString, Default: `""`, Doc: "text the response body must contain; \"\" = no body check", Checks: []string{"http", "https"}},
		{Name: "tls_skip_verify", Kind: kBool, Default: "false", Doc: "accept any server certificate", Checks: []string{"https"}},
		{Name: "command", Kind: kStringList, Default: "required", Doc: "argv run without a shell; `{{ip}}` and `{{port}}` are replaced by the real server's", Checks: []string{"exec"}},
		{Name: "dynamic_weight", Kind: kBool, Default: "false", Doc: "keepalived's `misc_dynamic`: exit status 2..255 is healthy too, and sets the real server's weight to the status minus 2 (0..253); exit 0 restores the configured weight", Checks: []string{"exec"}},
		{Name: "connect_ip", Kind: kString, Default: "the real server's address", Doc: "address to check instead of the real server's (with `port`, or the real server's port)", Checks: []string{"tcp", "http", "https", "udp", "dns", "smtp", "ping"}},
		{Name: "bind_to", Kind: kString, Default: "chosen by the kernel", Doc: "source address of the check's connection, datagrams or echo requests; of the family of the address checked", Checks: []string{"tcp", "http", "https", "udp", "dns", "smtp", "ping"}},
		{Name: "retry", Kind: kInt, Min: 0, Max: 100, Default: "0", Doc: "a failed check is tried again this many times, `delay_before_retry` apart, before it counts as one failure towards `fall`; a pass on any try is one pass"},
		{Name: "delay_before_retry", Kind: kDuration, Default: "1s", Doc: "wait between a failed try and the next one; needs `retry`"},
	}, checkTypeAttrs...),
	Blocks: []*blockSpec{checkURLSpec},
}

// checkURLSpec is one request of an http or https check.
var checkURLSpec = &blockSpec{
	Name:  "url",
	Multi: true,
	Doc: "One request of an `http` or `https` check, as keepalived's `url`; every url must pass for the check to pass, and they are fetched one after another " +
		"within the check's `timeout`. Without url blocks the check's own `path`, `expect_status` and `body_contains` make its one request; with them, those three are not set.",
	Attrs: []*attrSpec{
		{Name: "path", Kind: kString, Required: true, Doc: "request path, with an optional query"},
		{Name: "expect_status", Kind: kIntList, Min: 100, Max: 599, Default: "any 2xx", Doc: "status codes that pass"},
		{Name: "digest", Kind: kString, Default: `""`, Doc: "hex MD5 of the whole body (what `lvsd digest URL` or keepalived's genhash prints); the body must be under 64 KiB; \"\" = no digest check"},
		{Name: "body_contains", Kind: kString, Default: `""`, Doc: "text the first 64 KiB of the body must contain; \"\" = no body check"},
	},
}

// The tunnel attributes of a virtual_server (every real server's default)
// and of a real_server.
var (
	tunnelTypeSpec     = &attrSpec{Name: "tunnel_type", Kind: kString, Default: `"ipip"`, Doc: "encapsulation with method = \"tun\": `ipip`, `gue` (UDP, to `tunnel_port`) or `gre`; a real server's setting overrides the virtual server's"}
	tunnelPortSpec     = &attrSpec{Name: "tunnel_port", Kind: kInt, Min: 1, Max: maxUint16, Default: "none", Doc: "UDP destination port of `gue` encapsulation (required with gue, only with gue)"}
	tunnelChecksumSpec = &attrSpec{Name: "tunnel_checksum", Kind: kString, Default: `"none"`, Doc: "checksums of the encapsulation: `none`, `csum` (gue, gre) or `remcsum` (gue: remote checksum offload)"}
)

// notifySpec is the notify block of an instance or a sync group.
func notifySpec(of, typ string) *blockSpec {
	return &blockSpec{
		Name: "notify",
		Doc: "Commands (argv lists, run without a shell, with a timeout, never delaying VRRP) run after a state change of the " + of + "; an empty list runs nothing. " +
			"`command` is keepalived's `notify`: it runs on every change as `ARGV... " + typ + " NAME STATE PRIORITY`, " +
			"STATE one of MASTER, BACKUP, FAULT, STOP, PRIORITY the effective priority (0 for a group).",
		Attrs: []*attrSpec{
			{Name: "master", Kind: kStringList, Default: "[]", Doc: "run on becoming MASTER"},
			{Name: "backup", Kind: kStringList, Default: "[]", Doc: "run on becoming BACKUP"},
			{Name: "fault", Kind: kStringList, Default: "[]", Doc: "run on entering FAULT"},
			{Name: "stop", Kind: kStringList, Default: "[]", Doc: "run when the " + of + " stops"},
			{Name: "command", Kind: kStringList, Default: "[]", Doc: "run on every change, with TYPE NAME STATE PRIORITY appended"},
		},
	}
}

// schema is the whole file.
var schema = &blockSpec{
	Name: "",
	Doc:  "The top level of a cluster file.",
	Attrs: []*attrSpec{
		{Name: "cluster", Kind: kString, Required: true, Doc: "name of the cluster, shown in status, logs and metrics"},
		{Name: "include", Kind: kStringList, Default: "[]", Doc: "more files of `virtual_server`, `virtual_server_group`, `vrrp_instance`, `vrrp_sync_group`, `track_script` and `track_file` blocks: paths or globs, relative to this file; a glob may match nothing, a path must exist. Only the main file may include."},
	},
	Blocks: []*blockSpec{
		{
			Name: "node", Label: "NAME", Multi: true,
			Doc: "One director; `lvsd --node NAME` picks which one this host is. Names are unique.",
			Attrs: []*attrSpec{
				{Name: "priority", Kind: kInt, Min: 1, Max: 255, Default: "100", Doc: "VRRP priority of this node in every instance without a `priorities` entry for it"},
				{Name: "router_id", Kind: kString, Default: "`bgp.router_id`", Doc: "this director's BGP router ID (an IPv4 address), over the `bgp` block's"},
			},
		},
		{
			Name: "vrrp_instance", Label: "NAME", Multi: true,
			Doc: "One VRRP virtual router (RFC 5798 v3 or RFC 3768 v2). Names are unique; a VRID is unique per interface and address family.",
			Attrs: []*attrSpec{
				{Name: "interface", Kind: kString, Required: true, Doc: "interface the adverts are sent on and the virtual IPs are added to"},
				{Name: "vrid", Kind: kInt, Required: true, Min: 1, Max: 255, Doc: "virtual router ID"},
				{Name: "version", Kind: kInt, Min: 2, Max: 3, Default: "3", Doc: "VRRP version: 2 (RFC 3768, IPv4 only) or 3 (RFC 5798)"},
				{Name: "advert_interval", Kind: kDuration, Default: "1s", Doc: "advertisement interval; v2: whole seconds 1s..255s, v3: 10ms..40.95s in 10ms steps"},
				{Name: "preempt", Kind: kBool, Default: "true", Doc: "a higher-priority backup takes over from a lower-priority master"},
				{Name: "preempt_delay", Kind: kDuration, Default: "0s", Doc: "wait this long (0s..1000s) after start-up before preempting"},
				{Name: "priorities", Kind: kPriorityMap, Min: 1, Max: 255, Default: "{}", Doc: "per-node priority (1..255), over the node's `priority`; keys are declared node names"},
				{Name: "unicast_peers", Kind: kStringList, Default: "[]", Doc: "every director's address for unicast adverts (own address ignored); empty = multicast 224.0.0.18 / ff02::12"},
				{Name: "virtual_ips", Kind: kStringList, Required: true, Doc: "addresses in CIDR form (a bare address is a host prefix), all of one family, not in any other instance"},
				{Name: "track_interfaces", Kind: kStringList, Default: "[]", Doc: "if any of these interfaces is down the instance goes to FAULT; `track_interface` blocks track one with a weight"},
				{Name: "accept", Kind: kBool, Default: "true", Doc: "RFC 5798 Accept_Mode: the master accepts packets for the virtual IPs"},
				{Name: "handover", Kind: kString, Default: `"release"`, Doc: "what a stopping master does first: `release` sends priority 0 at once; `relay` first sends the new connections of the virtual servers on its VIPs on to the peer director and hands over once its own have ended (at most 500ms), so a planned stop resets no connection; needs `unicast_peers` naming the two directors (see README, Operations → Stop)"},
				{Name: "auth_pass", Kind: kString, Default: `""`, Doc: "VRRPv2 simple password (at most 8 bytes), for peers that require it; version 2 only"},
			},
			Blocks: []*blockSpec{
				{
					Name: "garp",
					Doc:  "Gratuitous ARP / unsolicited neighbour advertisements sent on becoming master.",
					Attrs: []*attrSpec{
						{Name: "repeat", Kind: kInt, Min: 1, Max: 100, Default: "5", Doc: "packets per burst"},
						{Name: "interval", Kind: kDuration, Default: "0s", Doc: "gap between the packets of a burst"},
						{Name: "delay", Kind: kDuration, Default: "5s", Doc: "a second burst follows this long after the first; 0s = none"},
						{Name: "refresh", Kind: kDuration, Default: "0s", Doc: "repeat a burst this often while master; 0s = off"},
					},
				},
				notifySpec("instance", "INSTANCE"),
				{
					Name: "track_interface", Label: "IFNAME", Multi: true,
					Doc: "An interface tracked with a weight (keepalived `track_interface { IFNAME weight W }`). " +
						"Weight 0: the interface down puts the instance in FAULT, as `track_interfaces` does. " +
						"A negative weight is added to the priority while the interface is down, a positive one while it is up.",
					Attrs: []*attrSpec{
						{Name: "weight", Kind: kInt, Min: -254, Max: 254, Default: "0", Doc: "-254..254"},
					},
				},
				{
					Name: "track_script", Label: "NAME", Multi: true,
					Doc: "Follow the top-level `track_script` NAME. Its weight 0: failing puts the instance in FAULT (until its first result the instance waits in INIT); " +
						"a negative weight is added to the priority while the script fails, a positive one while it succeeds. " +
						"The effective priority stays within 1..254; an instance at priority 255 (the address owner) keeps 255.",
					Attrs: []*attrSpec{
						{Name: "weight", Kind: kInt, Min: -253, Max: 253, Default: "the script's `weight`", Doc: "-253..253, over the script's own"},
					},
				},
				{
					Name: "track_file", Label: "NAME", Multi: true,
					Doc: "Follow the top-level `track_file` NAME: the number in the file times the weight is added to the priority; " +
						"a product of -254 or less puts the instance in FAULT. With weight 0, any number but 0 puts it in FAULT.",
					Attrs: []*attrSpec{
						{Name: "weight", Kind: kInt, Min: -254, Max: 254, Default: "the file's `weight`", Doc: "-254..254, over the file's own"},
					},
				},
			},
		},
		{
			Name: "vrrp_sync_group", Label: "NAME", Multi: true,
			Doc: "Instances that change state together. Names are unique; an instance is in at most one group.",
			Attrs: []*attrSpec{
				{Name: "instances", Kind: kStringList, Required: true, Doc: "names of the `vrrp_instance`s in the group"},
			},
			Blocks: []*blockSpec{notifySpec("group", "GROUP")},
		},
		{
			Name: "track_script", Label: "NAME", Multi: true,
			Doc: "A command run periodically whose exit status tracks something the director needs (keepalived `vrrp_script`); " +
				"instances follow it with a `track_script` block of their own. It runs once however many instances follow it, " +
				"whatever their state. Its first result counts at once; after that `rise` passes in a row make it succeed and `fall` failures in a row make it fail.",
			Attrs: []*attrSpec{
				{Name: "command", Kind: kStringList, Required: true, Doc: "argv run without a shell; exit 0 = success. A command still running at `timeout` is killed with every process it started, and has failed"},
				{Name: "interval", Kind: kDuration, Default: "1s", Doc: "time between two runs"},
				{Name: "timeout", Kind: kDuration, Default: "`interval`", Doc: "a run not done by then has failed (a run never overlaps the next: a late one delays it)"},
				{Name: "rise", Kind: kInt, Min: 1, Max: 1000, Default: "1", Doc: "successes in a row to succeed again"},
				{Name: "fall", Kind: kInt, Min: 1, Max: 1000, Default: "1", Doc: "failures in a row to fail"},
				{Name: "weight", Kind: kInt, Min: -253, Max: 253, Default: "0", Doc: "what the script adds to an instance's priority (see `vrrp_instance` → `track_script`); an instance may override it"},
			},
		},
		{
			Name: "track_file", Label: "NAME", Multi: true,
			Doc: "A file holding a number (keepalived `track_file`), read when it changes and every second: instances that follow it add the number times the weight to their priority. " +
				"A missing, empty or unreadable file, or one whose text does not start with a number, counts as 0; a number beyond 32 bits is ignored (the last value is kept).",
			Attrs: []*attrSpec{
				{Name: "path", Kind: kString, Required: true, Doc: "absolute path of the file"},
				{Name: "weight", Kind: kInt, Min: -254, Max: 254, Default: "1", Doc: "multiplies the number; an instance may override it"},
			},
		},
		{
			Name: "virtual_server", Label: "NAME", Multi: true,
			Doc: "One IPVS service and its real servers. Names are unique; exactly one of `address` and `fwmark` is set.",
			Attrs: []*attrSpec{
				{Name: "address", Kind: kString, Default: "none", Doc: "VIP:PORT or [VIP6]:PORT; port 0 (all ports) needs `persistence`"},
				{Name: "fwmark", Kind: kInt, Min: 1, Max: maxUint32, Default: "none", Doc: "firewall mark selecting the packets, instead of `address`; the family is that of the real servers"},
				{Name: "protocol", Kind: kString, Default: `"tcp"`, Doc: "`tcp`, `udp` or `sctp`"},
				{Name: "scheduler", Kind: kString, Default: `"wlc"`, Doc: "IPVS scheduler: rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos"},
				{Name: "method", Kind: kString, Default: `"dr"`, Doc: "forwarding method: `nat`, `dr` or `tun`; dr and tun cannot map ports"},
				{Name: "persistence", Kind: kDuration, Default: "0s", Doc: "whole seconds; > 0 sends a client to the same real server for this long (ipvsadm -p)"},
				{Name: "persistence_netmask", Kind: kString, Default: "one client address", Doc: "groups clients for persistence: a contiguous dotted mask for IPv4, a prefix length (\"64\" or \"/64\") for IPv6; needs `persistence`"},
				{Name: "on_failure", Kind: kString, Default: `"remove"`, Doc: "what happens to a failed real server: `remove` or `quiescent` (weight 0)"},
				{Name: "quorum", Kind: kInt, Min: 0, Max: maxUint16, Default: "1", Doc: "with fewer healthy real servers than this, `sorry_server` is added"},
				{Name: "sorry_server", Kind: kString, Default: "none", Doc: "ADDR[:PORT] of the same family as the service; a port left out is the service's"},
				{Name: "group", Kind: kString, Default: "none", Doc: "a `virtual_server_group` instead of `address` or `fwmark`: one IPVS service per member, all with these settings, real servers and checks (see `virtual_server_group`)"},
				{Name: "sched_flags", Kind: kStringList, Default: "[]", Doc: "scheduler flags (ipvsadm -b): `mh-fallback` and `mh-port` with scheduler `mh`, `sh-fallback` and `sh-port` with `sh`, `flag-1`, `flag-2` and `flag-3` with any (flag-1 is the fallback bit, flag-2 the port bit)"},
				{Name: "one_packet", Kind: kBool, Default: "false", Doc: "schedule every UDP datagram on its own, keeping no connection (ipvsadm -o); needs protocol = \"udp\""},
				tunnelTypeSpec, tunnelPortSpec, tunnelChecksumSpec,
				{Name: "quorum_up", Kind: kStringList, Default: "[]", Doc: "argv run (without a shell, with a timeout) when the healthy real servers reach `quorum` again"},
				{Name: "quorum_down", Kind: kStringList, Default: "[]", Doc: "argv run when fewer than `quorum` real servers are healthy"},
				{Name: "announce", Kind: kString, Default: `""`, Doc: "`bgp`: every director holds the VIP and announces it to its BGP neighbours (active-active, see `bgp`); needs `scheduler = \"mh\"` with `sched_flags` `mh-port` and `mh-fallback`; \"\" = the VIP is a VRRP instance's"},
			},
			Blocks: []*blockSpec{
				healthCheckSpec,
				{
					Name: "real_server", Label: "ADDR[:PORT]", Multi: true,
					Doc: "One destination; listed once per service, of the service's family. A port left out is the service's port " +
						"(0 for fwmark services, which keep the client's port).",
					Attrs: []*attrSpec{
						{Name: "weight", Kind: kInt, Min: 0, Max: maxUint16, Default: "1", Doc: "scheduling weight; 0 takes no new connections"},
						{Name: "upper_threshold", Kind: kInt, Min: 0, Max: maxUint32, Default: "0", Doc: "no new connections above this many; 0 = no limit (ipvsadm -x)"},
						{Name: "lower_threshold", Kind: kInt, Min: 0, Max: maxUint32, Default: "0", Doc: "take connections again below this many; 0 = none (ipvsadm -y); at most `upper_threshold`"},
						tunnelTypeSpec, tunnelPortSpec, tunnelChecksumSpec,
						{Name: "notify_up", Kind: kStringList, Default: "[]", Doc: "argv run (without a shell, with a timeout) when the server becomes healthy"},
						{Name: "notify_down", Kind: kStringList, Default: "[]", Doc: "argv run when the server becomes unhealthy"},
					},
					Blocks: []*blockSpec{healthCheckSpec},
				},
			},
		},
		{
			Name: "virtual_server_group", Label: "NAME", Multi: true,
			Doc: "IPVS services that share one set of real servers and health checks (keepalived's virtual_server_group): a `virtual_server` with `group = \"NAME\"` programs one IPVS service per member, and a real server's check runs once for all of them. " +
				"Members are all of one family (fwmark members take it from the others, or from the real servers). " +
				"In status, metrics and logs each member is the virtual server `VS/MEMBER`: `web/192.0.2.10:80`, `web/[2001:db8::10]:80`, `web/fwmark:5`. " +
				"With method dr or tun a member's destinations take the member's port (0, the client's, for fwmark members), as IPVS cannot map ports; the real server's own port is what its checks use. " +
				"At most " + strconv.Itoa(maxGroupMembers) + " members per group. Names are unique.",
			Attrs: []*attrSpec{
				{Name: "addresses", Kind: kStringList, Default: "[]", Doc: "VIP:PORT members, or ranges as keepalived writes them: `192.0.2.1-10:80` (the last byte of the address runs to 10), `[2001:db8::1-1f]:80` (the last 16 bits, in hex), `192.0.2.1-192.0.2.20:80` (a whole range)"},
				{Name: "fwmarks", Kind: kIntList, Min: 1, Max: maxUint32, Default: "[]", Doc: "firewall-mark members"},
			},
		},
		{
			Name: "ipvs",
			Doc:  "Kernel-wide IPVS settings.",
			Attrs: []*attrSpec{
				{Name: "expire_nodest_conn", Kind: kBool, Default: "true if any service has on_failure = \"remove\"", Doc: "drop connections to a removed real server at once"},
				{Name: "expire_quiescent_template", Kind: kBool, Default: "true if any service has on_failure = \"quiescent\"", Doc: "expire persistence templates of a weight-0 real server"},
				{Name: "conn_reuse_mode", Kind: kInt, Min: 0, Max: 3, Default: "3 if any service has method = \"dr\" or \"tun\", else 1", Doc: "net.ipv4.vs.conn_reuse_mode: with 3, a SYN that reuses the client port of a connection the director last saw in FIN_WAIT (all it sees of a DR or TUN connection) is scheduled afresh, not sent to that connection's real server"},
				{Name: "reconcile_interval", Kind: kDuration, Default: "10s", Doc: "re-read the kernel table this often and repair any drift"},
				{Name: "cleanup_on_exit", Kind: kBool, Default: "true", Doc: "remove lvsd's services when it stops"},
			},
			Blocks: []*blockSpec{
				{
					Name: "timeouts",
					Doc:  "IPVS connection timeouts (ipvsadm --set), whole seconds; unset or 0s leaves the kernel's value.",
					Attrs: []*attrSpec{
						{Name: "tcp", Kind: kDuration, Default: "kernel's", Doc: "established TCP connections"},
						{Name: "tcp_fin", Kind: kDuration, Default: "kernel's", Doc: "TCP connections after a FIN"},
						{Name: "udp", Kind: kDuration, Default: "kernel's", Doc: "UDP"},
					},
				},
				{
					Name: "sync_daemon",
					Doc:  "IPVS connection synchronisation; the daemon is master or backup as the named instance is.",
					Attrs: []*attrSpec{
						{Name: "interface", Kind: kString, Required: true, Doc: "interface the sync messages use"},
						{Name: "vrrp_instance", Kind: kString, Required: true, Doc: "the `vrrp_instance` whose state the daemon follows"},
						{Name: "sync_id", Kind: kInt, Min: 0, Max: 255, Default: "0", Doc: "sync ID, the same on every director"},
						{Name: "maxlen", Kind: kInt, Min: 1, Max: maxSyncMaxLen, Default: "kernel's (from the interface's MTU)", Doc: "largest sync message payload in bytes (ipvsadm --syncmaxlen)"},
						{Name: "port", Kind: kInt, Min: 1, Max: maxUint16, Default: "8848", Doc: "UDP port of the sync messages (ipvsadm --mcast-port)"},
						{Name: "ttl", Kind: kInt, Min: 1, Max: 255, Default: "1", Doc: "multicast TTL or hop limit of the sync messages (ipvsadm --mcast-ttl)"},
						{Name: "mcast_group", Kind: kString, Default: `"224.0.0.81"`, Doc: "multicast group of the sync messages, IPv4 or IPv6 (ipvsadm --mcast-group)"},
					},
				},
			},
		},
		bgpSpec,
		{
			Name: "status",
			Doc:  "Control socket and metrics.",
			Attrs: []*attrSpec{
				{Name: "socket", Kind: kString, Default: `"/run/lvsd/lvsd.sock"`, Doc: "absolute path of the control socket (mode 0600)"},
				{Name: "metrics_listen", Kind: kString, Default: `"127.0.0.1:9469"`, Doc: "HOST:PORT of the Prometheus /metrics listener; \"\" = off"},
			},
		},
	},
}
