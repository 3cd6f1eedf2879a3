package ipvs

import (
	"net/netip"
	"strconv"
	"time"
)

// Protocol numbers as the kernel stores them in a service (IPPROTO_*).
type Protocol uint16

const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns the protocol's ipvsadm name.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// Forward is a destination's forwarding method (IP_VS_CONN_F_FWD_MASK values).
type Forward uint32

const (
	Masquerade Forward = 0 // NAT, ipvsadm -m
	Local      Forward = 1
	Tunnel     Forward = 2 // ipvsadm -i
	Route      Forward = 3 // DR, ipvsadm -g
	Bypass     Forward = 4
)

// Service flags (IP_VS_SVC_F_*).
const (
	FlagPersistent uint32 = 0x0001
	FlagHashed     uint32 = 0x0002
	FlagOnePacket  uint32 = 0x0004
	FlagSchedFlag1 uint32 = 0x0008 // sh-fallback / mh-fallback
	FlagSchedFlag2 uint32 = 0x0010 // sh-port / mh-port
	FlagSchedFlag3 uint32 = 0x0020
)

// ServiceKey identifies a virtual service in the kernel: either an
// address, protocol and port, or a firewall mark (with its family).
type ServiceKey struct {
	FWMark   uint32
	IPv6     bool // family of an fwmark service
	Protocol Protocol
	Addr     netip.AddrPort
}

// Family returns AF_INET or AF_INET6.
func (k ServiceKey) Family() uint16 {
	if k.FWMark != 0 {
		if k.IPv6 {
			return 10
		}
		return 2
	}
	if k.Addr.Addr().Is6() {
		return 10
	}
	return 2
}

// Service is an IPVS virtual service as lvsd programs it or the kernel reports it.
type Service struct {
	ServiceKey
	Scheduler string
	Flags     uint32
	// Timeout is the persistence timeout (meaningful with FlagPersistent).
	Timeout time.Duration
	// Netmask is the persistence granularity as a prefix length (32/128 = per client).
	Netmask      int
	Destinations []Destination
	Stats        Stats // read from the kernel; ignored when programming
}

// Persistent reports whether the service has persistence.
func (s *Service) Persistent() bool { return s.Flags&FlagPersistent != 0 }

// Destination is a real server of a service.
type Destination struct {
	Addr           netip.AddrPort
	Forward        Forward
	Weight         int
	UpperThreshold uint32
	LowerThreshold uint32
	// Read from the kernel; ignored when programming.
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         Stats
}

// Stats are a service's or destination's 64-bit counters.
type Stats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
	CPS, InPPS, OutPPS, InBPS, OutBPS         uint64
}
