package config

import (
	"net/netip"
	"strconv"
	"time"
)

// Config is a validated cluster file resolved for one node. Nothing in it
// refers to HCL: the rest of lvsd sees only these types.
type Config struct {
	// File is the path the configuration was read from.
	File string
	// Cluster is the cluster's name (status, logs, metrics).
	Cluster string
	// Node is the node this configuration was resolved for.
	Node string
	// Nodes are the declared directors, in file order. It may be empty:
	// then every instance uses its priorities map or the default 100.
	Nodes []Node

	VRRPInstances  []VRRPInstance
	SyncGroups     []SyncGroup
	TrackScripts   []TrackScript
	TrackFiles     []TrackFile
	VirtualServers []VirtualServer
	IPVS           IPVS
	Status         Status
	// BGP is nil unless the file has a bgp block.
	BGP *BGP
}

// Node is one declared director.
type Node struct {
	Name     string
	Priority uint8 // default priority of every instance on this node
	// RouterID is the node's own BGP router ID; invalid = the bgp block's.
	RouterID netip.Addr
}

// VRRPInstance is one virtual router as this node runs it.
type VRRPInstance struct {
	Name      string
	Interface string
	VRID      uint8
	Version   int // 2 (RFC 3768) or 3 (RFC 5798)
	// AdvertInterval is whole seconds for v2 and a multiple of 10ms for v3.
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	// Priority is this node's priority: priorities[node], else
	// node.priority, else 100.
	Priority uint8
	// NodePriorities is the resolved priority of every declared node.
	NodePriorities map[string]uint8
	// UnicastPeers is empty for multicast. It lists every director's
	// address; the daemon ignores the ones that are its own.
	UnicastPeers []netip.Addr
	VirtualIPs   []netip.Prefix // all of one family
	// TrackInterfaces, TrackScripts and TrackFiles are what the instance
	// follows, each with its resolved weight (see Tracked).
	TrackInterfaces []Tracked
	TrackScripts    []Tracked
	TrackFiles      []Tracked
	Accept          bool
	// Handover is what a stopping master does before it lets go.
	Handover Handover
	// AuthPass is the VRRPv2 simple-text password (RFC 2338 auth type 1),
	// for peering with routers that require it; "" means no authentication.
	AuthPass string
	GARP     GARP
	Notify   Notify
}

// IPv6 reports whether the instance's virtual IPs (and so its adverts) are IPv6.
func (v *VRRPInstance) IPv6() bool {
	return len(v.VirtualIPs) > 0 && v.VirtualIPs[0].Addr().Is6()
}

// GARP says how the master announces its virtual IPs.
type GARP struct {
	Repeat   int           // packets per burst
	Interval time.Duration // gap between packets of a burst
	Delay    time.Duration // second burst after this long; 0 = none
	Refresh  time.Duration // periodic burst while master; 0 = off
}

// Notify holds the commands run on transitions; a nil or empty slice runs nothing.
type Notify struct {
	Master []string
	Backup []string
	Fault  []string
	Stop   []string
	// Command runs on every transition with TYPE NAME STATE PRIORITY
	// appended, as keepalived's notify.
	Command []string
}

// SyncGroup is a set of instances that change state together.
type SyncGroup struct {
	Name      string
	Instances []string
	Notify    Notify
}

// Tracked is one thing an instance follows, by name, with the weight it
// has for this instance. Weight 0: a failure puts the instance in FAULT.
// Otherwise, for an interface or a script, a negative weight is added to
// the priority while it fails and a positive one while it succeeds; for a
// file, the file's number times the weight is added.
type Tracked struct {
	Name   string
	Weight int
}

// TrackScript is a command run periodically (keepalived's vrrp_script).
type TrackScript struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	Weight   int
}

// TrackFile is a file holding a number (keepalived's track_file).
type TrackFile struct {
	Name   string
	Path   string
	Weight int
}

// Protocol is a virtual service's transport protocol.
type Protocol string

const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// Method is how IPVS forwards to a real server.
type Method string

const (
	NAT Method = "nat"
	DR  Method = "dr"
	TUN Method = "tun"
)

// Handover is how a master hands its instance over when lvsd stops.
type Handover string

const (
	// Release sends priority 0 at once (RFC 5798 §6.4.3).
	Release Handover = "release"
	// Relay first makes the peer director a real server of every virtual
	// server on the instance's VIPs (fwmark services aside; for NAT it also
	// routes the real servers' answers of the peer's connections to the
	// peer) and quiesces its own real servers, and sends priority 0 once the connections it scheduled
	// itself have ended (or a bound passed). Every director of the
	// instance holds its VIPs on lo meanwhile, hidden from ARP, so that
	// its IPVS can take the connections relayed to it.
	Relay Handover = "relay"
)

// OnFailure is what happens to a real server that fails its checks.
type OnFailure string

const (
	Remove    OnFailure = "remove"
	Quiescent OnFailure = "quiescent"
)

// Schedulers lists the IPVS schedulers lvsd accepts, as ipvsadm names them.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}

// VirtualServer is one IPVS service and its real servers.
type VirtualServer struct {
	Name string
	// Address is the VIP and port; it is invalid when FWMark is set.
	Address netip.AddrPort
	// FWMark selects packets by firewall mark instead of address; 0 = unused.
	FWMark uint32
	// IPv6 is the family of an fwmark service (from its real servers);
	// for an address service it equals Address.Addr().Is6().
	IPv6        bool
	Protocol    Protocol
	Scheduler   string
	Method      Method
	Persistence time.Duration // 0 = off
	// PersistenceNetmask groups clients for persistence: a prefix length
	// (32 or 128 = one client per address).
	PersistenceNetmask int
	OnFailure          OnFailure
	Quorum             int
	// SorryServer is added when fewer than Quorum real servers are
	// healthy; invalid when not configured.
	SorryServer netip.AddrPort
	// Announce is how the VIP reaches the routers: VRRP or BGP.
	Announce    Announce
	RealServers []RealServer
	// SchedFlags are the scheduler flags as ipvsadm names them
	// (mh-port, sh-fallback, flag-3, ...), each once.
	SchedFlags []string
	// OnePacket schedules each UDP datagram on its own (ipvsadm -o).
	OnePacket bool
	// Group is the virtual_server_group this service is a member of, ""
	// for none. A virtual_server block with a group becomes one
	// VirtualServer per member, named BLOCK/MEMBER (MemberName), sharing
	// the block's real servers and checks.
	Group string
	// QuorumUp and QuorumDown run when the healthy real servers reach
	// Quorum and when they fall below it.
	QuorumUp   []string
	QuorumDown []string
}

// MemberName is the name of a group member's service: the virtual
// server's name, a slash, and the member's address ("192.0.2.1:80",
// "[2001:db8::1]:80") or "fwmark:N".
func MemberName(vs string, addr netip.AddrPort, mark uint32) string {
	if mark != 0 {
		return vs + "/fwmark:" + strconv.FormatUint(uint64(mark), 10)
	}
	return vs + "/" + addr.String()
}

// Tunnel is the encapsulation of a real server forwarded by TUN.
type Tunnel struct {
	Type TunnelType
	Port uint16 // GUE only
	// Checksum is TunnelNoChecksum, TunnelChecksum (GUE, GRE) or
	// TunnelRemoteChecksum (GUE).
	Checksum TunnelChecksum
}

// TunnelType names an encapsulation.
type TunnelType string

const (
	TunnelIPIP TunnelType = "ipip"
	TunnelGUE  TunnelType = "gue"
	TunnelGRE  TunnelType = "gre"
)

// TunnelChecksum names a checksum mode of the encapsulation.
type TunnelChecksum string

const (
	TunnelNoChecksum     TunnelChecksum = "none"
	TunnelChecksumOn     TunnelChecksum = "csum"
	TunnelRemoteChecksum TunnelChecksum = "remcsum"
)

// RealServer is one destination of a virtual server.
type RealServer struct {
	// Address of the real server. A port left out in the file is the
	// virtual server's port (as ipvsadm does); it is 0 for an fwmark or
	// port-0 service, where the client's destination port is kept.
	Address        netip.AddrPort
	Weight         int // 0..65535
	UpperThreshold uint32
	LowerThreshold uint32
	// Check is the server's own check or the service default; nil when
	// the server is not checked (it is then always healthy).
	Check *HealthCheck
	// Tunnel is the encapsulation when the method is TUN: the server's
	// own settings over the virtual server's.
	Tunnel Tunnel
	// NotifyUp and NotifyDown run when the server becomes healthy and
	// unhealthy.
	NotifyUp   []string
	NotifyDown []string
}

// CheckType names a health-check kind.
type CheckType string

const (
	CheckTCP   CheckType = "tcp"
	CheckHTTP  CheckType = "http"
	CheckHTTPS CheckType = "https"
	CheckExec  CheckType = "exec"
)

// HealthCheck is one check with its defaults applied.
type HealthCheck struct {
	Type          CheckType
	Path          string // http/https, default "/"
	Host          string // Host header and SNI; "" = the server's address
	ExpectStatus  []int  // empty = any 2xx
	BodyContains  string
	TLSSkipVerify bool
	Port          uint16 // 0 = the real server's port
	Interval      time.Duration
	Timeout       time.Duration
	Rise          int
	Fall          int
	Command       []string // exec; {{ip}} and {{port}} are substituted
	// DynamicWeight (exec) makes exit status 2..255 healthy with weight
	// status-2, as keepalived's misc_dynamic.
	DynamicWeight bool
	// ConnectIP is the address checked instead of the real server's;
	// invalid when unset.
	ConnectIP netip.Addr
	// BindTo is the source address of the check; invalid when unset.
	BindTo netip.Addr
	// Retry is how many times a failed check is tried again,
	// RetryDelay apart, before it counts as one failure.
	Retry      int
	RetryDelay time.Duration
	// URLs are the requests of an http/https check, every one of which
	// must pass. The single-url form (Path, ExpectStatus, BodyContains)
	// is here as the one element.
	URLs        []CheckURL
	TypeOptions // udp, dns, smtp
}

// CheckURL is one request of an http or https check.
type CheckURL struct {
	Path         string
	ExpectStatus []int  // empty = any 2xx
	Digest       string // lower-case hex MD5 of the body; "" = none
	BodyContains string
}

// IPVS holds the kernel-wide settings.
type IPVS struct {
	// Timeouts of 0 leave the kernel's value.
	TimeoutTCP    time.Duration
	TimeoutTCPFin time.Duration
	TimeoutUDP    time.Duration
	// ExpireNodestConn and ExpireQuiescentTemplate are resolved: an unset
	// value defaults as the config reference says.
	ExpireNodestConn        bool
	ExpireQuiescentTemplate bool
	// ConnReuseMode is net.ipv4.vs.conn_reuse_mode, resolved: 3 when a
	// service forwards by DR or TUN, else the kernel's default 1.
	ConnReuseMode int
	// SloppyTCP and SloppySCTP are set when a service is announced by
	// BGP: a flow that ECMP moves to this director mid-connection is
	// taken up (net.ipv4.vs.sloppy_tcp, sloppy_sctp).
	SloppyTCP, SloppySCTP bool
	ReconcileInterval     time.Duration
	CleanupOnExit         bool
	SyncDaemon            *SyncDaemon // nil = none
}

// SyncDaemon configures IPVS connection synchronisation.
type SyncDaemon struct {
	Interface    string
	VRRPInstance string
	SyncID       uint8
	// Zero values leave the kernel's defaults.
	MaxLen     uint16     // largest message payload
	Port       uint16     // UDP port
	TTL        uint8      // multicast TTL / hop limit
	McastGroup netip.Addr // multicast group; invalid = 224.0.0.81
}

// Status configures the control socket and metrics listener.
type Status struct {
	Socket        string
	MetricsListen string // "" = off
}
