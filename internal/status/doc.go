// Package status is lvsd's window for operators: the status document of
// the README's Status section, served as JSON over the daemon's unix control socket (GET
// /status, POST /reload) and read back by `lvsd status` and `lvsd reload`,
// and the Prometheus metrics of the README's Metrics section, served through the
// Prometheus client library.
//
// The daemon owns every number shown here; this package only describes,
// serves and renders a snapshot it is handed through Source.
package status

import (
	"strconv"
	"strings"
	"time"
)

// DefaultSocket is where the daemon listens and the CLI looks when neither
// the config (status.socket) nor --socket says otherwise.
const DefaultSocket = "/run/lvsd/lvsd.sock"

// VRRP state names of the document and their metric values
// (0 init, 1 backup, 2 master, 3 fault).
const (
	StateInit   = "INIT"
	StateBackup = "BACKUP"
	StateMaster = "MASTER"
	StateFault  = "FAULT"
)

// Document is the status of one running daemon. The JSON names
// are part of the product contract: scripts parse them.
type Document struct {
	Cluster        string          `json:"cluster"`
	Node           string          `json:"node"`
	Version        string          `json:"version"`
	Config         Config          `json:"config"`
	VRRPInstances  []Instance      `json:"vrrp_instances"`
	VirtualServers []VirtualServer `json:"virtual_servers"`
	// VRRPInterfaces counts what no instance could count: the packets
	// received on an interface that name a VRID none of its instances
	// runs, or none readable. A packet whose VRID runs there is counted
	// by that instance alone, so every packet is counted once.
	VRRPInterfaces []VRRPInterface `json:"vrrp_interfaces"`
	// BGP is set on directors with a bgp block (see bgp.go).
	BGP *BGP `json:"bgp,omitempty"`
}

// VRRPInterface is one interface with VRRP instances, or that had some.
type VRRPInterface struct {
	Interface string `json:"interface"`
	// Dropped counts the packets no instance was given, by reason (the
	// vrrp package's DropReason names, as in Instance.Dropped).
	Dropped map[string]uint64 `json:"dropped"`
}

// Config tells which file the daemon runs and whether the last reload failed.
type Config struct {
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
	// LastReloadError holds the diagnostics of the last rejected reload;
	// nil (JSON null) when the last reload, or the start, succeeded.
	LastReloadError *string `json:"last_reload_error"`
}

// Instance is one VRRP instance as this node sees it.
type Instance struct {
	Name              string    `json:"name"`
	State             string    `json:"state"` // StateInit, StateBackup, StateMaster or StateFault
	VRID              int       `json:"vrid"`
	Interface         string    `json:"interface"`
	Version           int       `json:"version"` // 2 or 3
	Priority          int       `json:"priority"`
	EffectivePriority int       `json:"effective_priority"`
	MasterAddress     string    `json:"master_address"` // "" while no master is known
	VirtualIPs        []string  `json:"virtual_ips"`
	Since             time.Time `json:"since"` // when State was entered
	Transitions       uint64    `json:"transitions"`
	AdvertsSent       uint64    `json:"adverts_sent"`
	AdvertsReceived   uint64    `json:"adverts_received"`
	// AdvertsLate counts adverts sent more than an advert interval after
	// they were due (the process was not run in time; at three intervals
	// the backups take over); LastLateAdvert is the latest, nil if none.
	AdvertsLate    uint64      `json:"adverts_late"`
	LastLateAdvert *LateAdvert `json:"last_late_advert"`
	// Dropped counts received packets thrown away, by reason ("ttl",
	// "checksum", ...: the vrrp package's DropReason names).
	Dropped map[string]uint64 `json:"dropped"`

	// TransitionsTo splits Transitions by the state entered; it feeds
	// lvsd_vrrp_transitions_total{to} and is not part of the document.
	TransitionsTo map[string]uint64 `json:"-"`
}

// LateAdvert is an advert sent late: when it left and how late.
type LateAdvert struct {
	At     time.Time `json:"at"`
	LateMS float64   `json:"late_ms"`
}

// VirtualServer is one IPVS service of the config with its real servers.
type VirtualServer struct {
	Name string `json:"name"`
	// Address is "VIP:PORT" ("[v6]:PORT"), or FwmarkAddress(mark) for a
	// service selected by firewall mark.
	Address string `json:"address"`
	// Group is the virtual_server_group of a member service (named
	// VS/MEMBER), left out otherwise.
	Group             string       `json:"group,omitempty"`
	Protocol          string       `json:"protocol"`  // tcp, udp, sctp
	Scheduler         string       `json:"scheduler"` // wlc, rr, ...
	Method            string       `json:"method"`    // dr, nat, tun
	QuorumMet         bool         `json:"quorum_met"`
	SorryServerActive bool         `json:"sorry_server_active"`
	RealServers       []RealServer `json:"real_servers"`
}

// RealServer is one real server: its health and what the kernel has.
type RealServer struct {
	Address          string `json:"address"`
	Healthy          bool   `json:"healthy"`
	ConfiguredWeight int    `json:"configured_weight"`
	Weight           int    `json:"weight"` // the kernel's weight now; 0 when not in IPVS
	// InIPVS is false for a server the kernel does not have (taken out by
	// on_failure = "remove"). Always present, so readers need not know
	// that an absent key means true.
	InIPVS        bool   `json:"in_ipvs"`
	LastCheck     *Check `json:"last_check"` // nil before the first check ends
	ActiveConns   uint64 `json:"active_conns"`
	InactiveConns uint64 `json:"inactive_conns"`

	// Traffic counters of the kernel's destination, for
	// lvsd_ipvs_bytes_total; not part of the document.
	BytesIn  uint64 `json:"-"`
	BytesOut uint64 `json:"-"`
}

// Check is the outcome of one health check.
type Check struct {
	OK         bool      `json:"ok"`
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	Message    string    `json:"message"` // "HTTP 200", "connection refused", ...
}

const fwmarkPrefix = "fwmark:"

// FwmarkAddress is the Address of a service selected by firewall mark:
// "fwmark:5".
func FwmarkAddress(mark uint32) string {
	return fwmarkPrefix + strconv.FormatUint(uint64(mark), 10)
}

// ParseFwmark returns the mark of an Address made by FwmarkAddress.
func ParseFwmark(address string) (uint32, bool) {
	s, ok := strings.CutPrefix(address, fwmarkPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// StateValue is the lvsd_vrrp_state value of a state name, -1 if unknown.
func StateValue(state string) float64 {
	switch state {
	case StateInit:
		return 0
	case StateBackup:
		return 1
	case StateMaster:
		return 2
	case StateFault:
		return 3
	}
	return -1
}

// wire returns a copy of d as it goes on the wire: every time in UTC, so
// it reads as RFC 3339 with a Z whatever zone the daemon's clock used, and
// empty lists and maps as [] and {} rather than null, so readers need no
// special case. It copies what it changes: the source may share slices
// and maps with the daemon's own state.
func (d Document) wire() Document {
	d.Config.LoadedAt = d.Config.LoadedAt.UTC()
	ins := make([]Instance, len(d.VRRPInstances))
	for i, in := range d.VRRPInstances {
		in.Since = in.Since.UTC()
		if in.VirtualIPs == nil {
			in.VirtualIPs = []string{}
		}
		if in.Dropped == nil {
			in.Dropped = map[string]uint64{}
		}
		ins[i] = in
	}
	d.VRRPInstances = ins
	ifs := make([]VRRPInterface, len(d.VRRPInterfaces))
	for i, f := range d.VRRPInterfaces {
		if f.Dropped == nil {
			f.Dropped = map[string]uint64{}
		}
		ifs[i] = f
	}
	d.VRRPInterfaces = ifs
	vss := make([]VirtualServer, len(d.VirtualServers))
	for i, vs := range d.VirtualServers {
		rss := make([]RealServer, len(vs.RealServers))
		for j, rs := range vs.RealServers {
			if rs.LastCheck != nil {
				c := *rs.LastCheck
				c.At = c.At.UTC()
				rs.LastCheck = &c
			}
			rss[j] = rs
		}
		vs.RealServers = rss
		vss[i] = vs
	}
	d.VirtualServers = vss
	return d
}
