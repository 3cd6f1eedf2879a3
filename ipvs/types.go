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

// TunnelType is how a Tunnel destination encapsulates packets
// (IP_VS_CONN_F_TUNNEL_TYPE_*).
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0 // IP in IP, the kernel's default
	TunnelGUE  TunnelType = 1 // Generic UDP Encapsulation, to TunnelPort
	TunnelGRE  TunnelType = 2
)

// String returns ipvsadm's name of the type (--tun-type).
func (t TunnelType) String() string {
	switch t {
	case TunnelIPIP:
		return "ipip"
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "tun-type-" + strconv.Itoa(int(t))
}

// Tunnel checksum flags (IP_VS_TUNNEL_ENCAP_FLAG_*); none set is
// --tun-nocsum. GUE takes either, GRE only TunnelChecksum, IPIP neither.
const (
	TunnelChecksum       uint16 = 0x0001 // --tun-csum
	TunnelRemoteChecksum uint16 = 0x0002 // --tun-remcsum
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
	// Tunnel encapsulation of a Tunnel destination (Linux 5.2+, GRE 5.3+);
	// the zero values are IPIP without checksums, what older kernels do.
	TunnelType  TunnelType
	TunnelPort  uint16 // GUE's UDP destination port
	TunnelFlags uint16 // TunnelChecksum or TunnelRemoteChecksum
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
