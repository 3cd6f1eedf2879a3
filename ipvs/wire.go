package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"time"

	"github.com/mdlayher/netlink"
)

// The IPVS generic netlink family, its commands and attributes, as the
// kernel's include/uapi/linux/ip_vs.h numbers them. The numbers are ABI: they
// never change, new ones are only appended.
const (
	genlName    = "IPVS" // IPVS_GENL_NAME
	genlVersion = 1      // IPVS_GENL_VERSION
)

// IPVS_CMD_*.
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11
	cmdSetConfig  = 12
	cmdGetConfig  = 13
	cmdSetInfo    = 14 // only the command of GET_INFO's reply
	cmdGetInfo    = 15
	cmdZero       = 16
	cmdFlush      = 17
)

// IPVS_CMD_ATTR_*: the first level of every request.
const (
	attrService       = 1 // nested IPVS_SVC_ATTR_*
	attrDest          = 2 // nested IPVS_DEST_ATTR_*
	attrDaemon        = 3 // nested IPVS_DAEMON_ATTR_*
	attrTimeoutTCP    = 4 // u32 seconds
	attrTimeoutTCPFin = 5 // u32 seconds
	attrTimeoutUDP    = 6 // u32 seconds
)

// IPVS_SVC_ATTR_*.
const (
	svcAF        = 1  // u16
	svcProtocol  = 2  // u16
	svcAddr      = 3  // 4 or 16 bytes; the kernel always answers 16
	svcPort      = 4  // be16
	svcFWMark    = 5  // u32
	svcSchedName = 6  // NUL-terminated, at most 16 bytes with the NUL
	svcFlags     = 7  // struct ip_vs_flags {u32 flags; u32 mask}
	svcTimeout   = 8  // u32 seconds
	svcNetmask   = 9  // be32 mask for IPv4, u32 prefix length for IPv6
	svcStats     = 10 // nested IPVS_STATS_ATTR_*, 32-bit counters
	svcPEName    = 11 // persistence engine, NUL-terminated
	svcStats64   = 12 // nested IPVS_STATS_ATTR_*, 64-bit counters (Linux 4.1+)
)

// IPVS_DEST_ATTR_*.
const (
	destAddr         = 1  // 4 or 16 bytes
	destPort         = 2  // be16
	destFwdMethod    = 3  // u32, IP_VS_CONN_F_* & IP_VS_CONN_F_FWD_MASK
	destWeight       = 4  // u32
	destUThresh      = 5  // u32
	destLThresh      = 6  // u32
	destActiveConns  = 7  // u32
	destInactConns   = 8  // u32
	destPersistConns = 9  // u32
	destStats        = 10 // nested, 32-bit counters
	destAddrFamily   = 11 // u16 (Linux 3.18+: a destination may differ from its service)
	destStats64      = 12 // nested, 64-bit counters
	destTunType      = 13 // u8
	destTunPort      = 14 // be16
	destTunFlags     = 15 // u16
)

// IPVS_DAEMON_ATTR_*.
const (
	daemonState       = 1 // u32, IP_VS_STATE_MASTER or IP_VS_STATE_BACKUP
	daemonMcastIfn    = 2 // NUL-terminated interface name
	daemonSyncID      = 3 // u32
	daemonSyncMaxLen  = 4 // u16
	daemonMcastGroup  = 5 // be32 IPv4 address
	daemonMcastGroup6 = 6 // 16 bytes
	daemonMcastPort   = 7 // u16
	daemonMcastTTL    = 8 // u8
)

// IPVS_STATS_ATTR_*.
const (
	statsConns    = 1
	statsInPkts   = 2
	statsOutPkts  = 3
	statsInBytes  = 4
	statsOutBytes = 5
	statsCPS      = 6
	statsInPPS    = 7
	statsOutPPS   = 8
	statsInBPS    = 9
	statsOutBPS   = 10
)

// IPVS_INFO_ATTR_*.
const (
	infoVersion     = 1
	infoConnTabSize = 2
)

const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6

	fwdMask = 0x0007 // IP_VS_CONN_F_FWD_MASK

	schedNameMax = 16 // IP_VS_SCHEDNAME_MAXLEN, with the NUL
	ifNameMax    = 16 // IP_VS_IFNAME_MAXLEN, with the NUL
)

// errMalformed is wrapped by every decoding error: the kernel sent
// something this package does not understand.
var errMalformed = errors.New("malformed IPVS netlink message")

// Info is what IPVS_CMD_GET_INFO reports.
type Info struct {
	// Version is IP_VS_VERSION_CODE: 0x010201 is 1.2.1.
	Version uint32
	// ConnTableSize is the size of the connection hash table
	// (the ip_vs conn_tab_bits module parameter as a count).
	ConnTableSize uint32
}

// VersionString renders Version as ipvsadm prints it ("1.2.1").
func (i Info) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", i.Version>>16&0xff, i.Version>>8&0xff, i.Version&0xff)
}

// Timeouts are the kernel's connection timeouts (ipvsadm --set tcp tcpfin
// udp). They have one-second granularity; a zero field means "leave the
// kernel's value" when setting.
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// SyncState is the role of a connection-synchronisation daemon
// (IP_VS_STATE_*).
type SyncState uint32

const (
	SyncMaster SyncState = 1
	SyncBackup SyncState = 2
)

// String returns the ipvsadm word for the state.
func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("sync-state-%d", uint32(s))
}

// SyncDaemon is one IPVS connection-synchronisation daemon
// (ipvsadm --start-daemon). Zero optional fields leave the kernel's default.
type SyncDaemon struct {
	State     SyncState
	Interface string // multicast interface, at most 15 bytes
	SyncID    uint32 // the kernel keeps the low 8 bits
	// Optional (Linux 4.3+).
	MaxLen uint16     // UDP payload size
	Group  netip.Addr // multicast group, default 224.0.0.81
	Port   uint16     // multicast port, default 8848
	TTL    uint8      // multicast TTL, default 1
}

// The operations of Apply are encoded by hand into one buffer per request:
// a table of thousands of destinations is reprogrammed after a flush, and
// netlink.AttributeEncoder costs a dozen allocations per request.

// appendAttr appends one attribute, padded to four bytes (NLA_ALIGN).
func appendAttr(b []byte, typ uint16, data ...byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendU16(b []byte, typ, v uint16) []byte {
	var d [2]byte
	binary.NativeEndian.PutUint16(d[:], v)
	return appendAttr(b, typ, d[:]...)
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	var d [4]byte
	binary.NativeEndian.PutUint32(d[:], v)
	return appendAttr(b, typ, d[:]...)
}

// appendAddr appends an address attribute of 4 or 16 bytes.
func appendAddr(b []byte, typ uint16, a netip.Addr) []byte {
	if a.Is4() {
		d := a.As4()
		return appendAttr(b, typ, d[:]...)
	}
	d := a.As16()
	return appendAttr(b, typ, d[:]...)
}

// beginNested starts a nested attribute; endNested fills in its length.
// The type carries NLA_F_NESTED, as libnl and the kernel's own dumps do.
func beginNested(b []byte, typ uint16) ([]byte, int) {
	return appendAttr(b, typ|netlink.Nested), len(b)
}

func endNested(b []byte, start int) []byte {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	return b
}

// appendServiceKey appends the attributes that identify a service.
func appendServiceKey(b []byte, k ServiceKey) []byte {
	b = appendU16(b, svcAF, k.Family())
	if k.FWMark != 0 {
		return appendU32(b, svcFWMark, k.FWMark)
	}
	b = appendU16(b, svcProtocol, uint16(k.Protocol))
	b = appendAddr(b, svcAddr, k.Addr.Addr())
	return appendAttr(b, svcPort, byte(k.Addr.Port()>>8), byte(k.Addr.Port()))
}

// appendService appends a full service: the kernel requires scheduler,
// flags, timeout and netmask on NEW_SERVICE and SET_SERVICE.
func appendService(b []byte, s *Service) []byte {
	b = appendServiceKey(b, s.ServiceKey)
	b = appendAttr(b, svcSchedName, append([]byte(s.Scheduler), 0)...)
	// The mask covers every bit so the kernel takes the flags as given
	// instead of merging them with the old ones; it sets "hashed" itself.
	var flags [8]byte
	binary.NativeEndian.PutUint32(flags[0:4], s.Flags&^FlagHashed)
	binary.NativeEndian.PutUint32(flags[4:8], ^uint32(0))
	b = appendAttr(b, svcFlags, flags[:]...)
	b = appendU32(b, svcTimeout, uint32(s.Timeout/time.Second))
	mask := encodeNetmask(s.Family(), s.Netmask)
	return appendAttr(b, svcNetmask, mask[:]...)
}

// encodeNetmask returns the NETMASK attribute's four bytes. IPv4 services
// store a network-order mask (255.255.255.0), IPv6 services a prefix length
// in host order, which the kernel requires to be 1..128 even without
// persistence. Zero means one client per template (32 or 128), as
// ipvsadm's default.
func encodeNetmask(family uint16, prefix int) [4]byte {
	var b [4]byte
	if family == afInet6 {
		if prefix <= 0 || prefix > 128 {
			prefix = 128
		}
		binary.NativeEndian.PutUint32(b[:], uint32(prefix))
		return b
	}
	if prefix <= 0 || prefix > 32 {
		prefix = 32
	}
	binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-prefix))
	return b
}

// decodeNetmask is the inverse of encodeNetmask.
func decodeNetmask(family uint16, b []byte) (int, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("netmask of %d bytes: %w", len(b), errMalformed)
	}
	if family == afInet6 {
		return int(binary.NativeEndian.Uint32(b)), nil
	}
	return bits.LeadingZeros32(^binary.BigEndian.Uint32(b)), nil
}

// fullNetmask returns the effective persistence prefix of a service: its
// Netmask, or the whole address when Netmask is zero.
func fullNetmask(s *Service) int {
	max := 32
	if s.Family() == afInet6 {
		max = 128
	}
	if s.Netmask <= 0 || s.Netmask > max {
		return max
	}
	return s.Netmask
}

// appendDest appends a destination; full adds the settings the kernel
// requires on NEW_DEST and SET_DEST.
func appendDest(b []byte, d *Destination, full bool) []byte {
	b = appendAddr(b, destAddr, d.Addr.Addr())
	b = appendAttr(b, destPort, byte(d.Addr.Port()>>8), byte(d.Addr.Port()))
	if full {
		b = appendU32(b, destFwdMethod, uint32(d.Forward)&fwdMask)
		b = appendU32(b, destWeight, uint32(d.Weight))
		b = appendU32(b, destUThresh, d.UpperThreshold)
		b = appendU32(b, destLThresh, d.LowerThreshold)
		// The kernel takes a missing attribute as zero (IPIP, no
		// checksum): only what differs is sent, so kernels before the
		// attributes (5.2) accept every IPIP destination.
		if d.Forward == Tunnel {
			if d.TunnelType != TunnelIPIP {
				b = appendAttr(b, destTunType, byte(d.TunnelType))
			}
			if d.TunnelPort != 0 {
				b = appendAttr(b, destTunPort, byte(d.TunnelPort>>8), byte(d.TunnelPort))
			}
			if d.TunnelFlags != 0 {
				b = appendU16(b, destTunFlags, d.TunnelFlags)
			}
		}
	}
	family := uint16(afInet)
	if d.Addr.Addr().Is6() {
		family = afInet6
	}
	return appendU16(b, destAddrFamily, family)
}

// validKey reports what is wrong with a service key, if anything.
func validKey(k ServiceKey) error {
	if k.FWMark != 0 {
		return nil
	}
	if !k.Addr.Addr().IsValid() {
		return errors.New("service has neither an address nor a firewall mark")
	}
	if k.Protocol == 0 {
		return errors.New("service has no protocol")
	}
	return nil
}

// opCommand checks an operation and returns its IPVS command.
func opCommand(op *Op) (uint8, error) {
	if err := validKey(op.Service.ServiceKey); err != nil {
		return 0, err
	}
	switch op.Kind {
	case AddService, UpdateService:
		if len(op.Service.Scheduler) >= schedNameMax || op.Service.Scheduler == "" {
			return 0, fmt.Errorf("invalid scheduler name %q", op.Service.Scheduler)
		}
		if op.Kind == UpdateService {
			return cmdSetService, nil
		}
		return cmdNewService, nil
	case DelService:
		return cmdDelService, nil
	case AddDest, UpdateDest, DelDest:
		if !op.Dest.Addr.Addr().IsValid() {
			return 0, errors.New("destination has no address")
		}
		if op.Dest.Weight < 0 || int64(op.Dest.Weight) > int64(^uint32(0)>>1) {
			return 0, fmt.Errorf("destination weight %d out of range", op.Dest.Weight)
		}
		switch op.Kind {
		case AddDest:
			return cmdNewDest, nil
		case UpdateDest:
			return cmdSetDest, nil
		}
		return cmdDelDest, nil
	}
	return 0, fmt.Errorf("unknown operation kind %d", op.Kind)
}

// appendOp appends the generic netlink header and attributes of an
// operation to b.
func appendOp(b []byte, op *Op) ([]byte, error) {
	cmd, err := opCommand(op)
	if err != nil {
		return b, err
	}
	b = append(b, cmd, genlVersion, 0, 0)
	b, svc := beginNested(b, attrService)
	switch op.Kind {
	case AddService, UpdateService:
		b = appendService(b, &op.Service)
	default:
		b = appendServiceKey(b, op.Service.ServiceKey)
	}
	b = endNested(b, svc)
	switch op.Kind {
	case AddDest, UpdateDest, DelDest:
		var dst int
		b, dst = beginNested(b, attrDest)
		b = appendDest(b, &op.Dest, op.Kind != DelDest)
		b = endNested(b, dst)
	}
	return b, nil
}

// decodeAddr turns an ADDR attribute into an address of the given family;
// the kernel sends the whole 16-byte union nf_inet_addr for IPv4 too.
func decodeAddr(family uint16, b []byte) (netip.Addr, error) {
	switch {
	case family == afInet && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case family == afInet6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address of %d bytes for family %d: %w", len(b), family, errMalformed)
}

// decodeStats reads a nested IPVS_STATS_ATTR_* block. The 32-bit block
// mixes u32 and u64 attributes, the 64-bit one is all u64 with padding, so
// the width is taken from each attribute's length.
func decodeStats(ad *netlink.AttributeDecoder) Stats {
	var s Stats
	ad.Nested(func(nad *netlink.AttributeDecoder) error {
		for nad.Next() {
			var v uint64
			known := true
			nad.Do(func(b []byte) error {
				switch len(b) {
				case 4:
					v = uint64(binary.NativeEndian.Uint32(b))
				case 8:
					v = binary.NativeEndian.Uint64(b)
				default:
					known = false // IPVS_STATS_ATTR_PAD and the unknown
				}
				return nil
			})
			if !known {
				continue
			}
			switch nad.Type() {
			case statsConns:
				s.Conns = v
			case statsInPkts:
				s.InPkts = v
			case statsOutPkts:
				s.OutPkts = v
			case statsInBytes:
				s.InBytes = v
			case statsOutBytes:
				s.OutBytes = v
			case statsCPS:
				s.CPS = v
			case statsInPPS:
				s.InPPS = v
			case statsOutPPS:
				s.OutPPS = v
			case statsInBPS:
				s.InBPS = v
			case statsOutBPS:
				s.OutBPS = v
			}
		}
		return nil
	})
	return s
}

// decodeService reads the attributes of an IPVS_CMD_NEW_SERVICE message
// (a service dump entry). The key is normalised like Diff's: an fwmark
// service has neither protocol nor address.
func decodeService(b []byte) (Service, error) {
	var (
		s                   Service
		found               bool
		family              uint16
		addrBytes, maskData []byte
		port                uint16
		stats, stats64      *Stats
	)
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return s, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for ad.Next() {
		if ad.Type() != attrService {
			continue
		}
		found = true
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case svcAF:
					family = nad.Uint16()
				case svcProtocol:
					s.Protocol = Protocol(nad.Uint16())
				case svcAddr:
					addrBytes = nad.Bytes()
				case svcPort:
					port = be16(nad)
				case svcFWMark:
					s.FWMark = nad.Uint32()
				case svcSchedName:
					s.Scheduler = nad.String()
				case svcFlags:
					if f := nad.Bytes(); len(f) >= 4 {
						s.Flags = binary.NativeEndian.Uint32(f[:4])
					}
				case svcTimeout:
					s.Timeout = time.Duration(nad.Uint32()) * time.Second
				case svcNetmask:
					maskData = nad.Bytes()
				case svcStats:
					st := decodeStats(nad)
					stats = &st
				case svcStats64:
					st := decodeStats(nad)
					stats64 = &st
				}
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return s, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if !found {
		return s, fmt.Errorf("service message without service attribute: %w", errMalformed)
	}
	if family != afInet && family != afInet6 {
		return s, fmt.Errorf("service of family %d: %w", family, errMalformed)
	}
	if s.FWMark != 0 {
		s.Protocol = 0
		s.IPv6 = family == afInet6
	} else {
		addr, err := decodeAddr(family, addrBytes)
		if err != nil {
			return s, err
		}
		s.Addr = netip.AddrPortFrom(addr, port)
	}
	if maskData != nil {
		if s.Netmask, err = decodeNetmask(family, maskData); err != nil {
			return s, err
		}
	}
	switch {
	case stats64 != nil:
		s.Stats = *stats64
	case stats != nil:
		s.Stats = *stats
	}
	return s, nil
}

// decodeDest reads the attributes of an IPVS_CMD_NEW_DEST message (a
// destination dump entry). Kernels before 3.18 send no address family: the
// service's family is used then.
func decodeDest(b []byte, svcFamily uint16) (Destination, error) {
	var (
		d              Destination
		found          bool
		family         = svcFamily
		addrBytes      []byte
		port           uint16
		stats, stats64 *Stats
	)
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return d, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for ad.Next() {
		if ad.Type() != attrDest {
			continue
		}
		found = true
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case destAddr:
					addrBytes = nad.Bytes()
				case destPort:
					port = be16(nad)
				case destFwdMethod:
					d.Forward = Forward(nad.Uint32() & fwdMask)
				case destWeight:
					d.Weight = int(int32(nad.Uint32()))
				case destUThresh:
					d.UpperThreshold = nad.Uint32()
				case destLThresh:
					d.LowerThreshold = nad.Uint32()
				case destActiveConns:
					d.ActiveConns = nad.Uint32()
				case destInactConns:
					d.InactiveConns = nad.Uint32()
				case destPersistConns:
					d.PersistConns = nad.Uint32()
				case destAddrFamily:
					family = nad.Uint16()
				case destTunType:
					d.TunnelType = TunnelType(nad.Uint8())
				case destTunPort:
					d.TunnelPort = be16(nad)
				case destTunFlags:
					d.TunnelFlags = nad.Uint16()
				case destStats:
					st := decodeStats(nad)
					stats = &st
				case destStats64:
					st := decodeStats(nad)
					stats64 = &st
				}
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return d, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if !found {
		return d, fmt.Errorf("destination message without destination attribute: %w", errMalformed)
	}
	addr, err := decodeAddr(family, addrBytes)
	if err != nil {
		return d, err
	}
	d.Addr = netip.AddrPortFrom(addr, port)
	switch {
	case stats64 != nil:
		d.Stats = *stats64
	case stats != nil:
		d.Stats = *stats
	}
	return d, nil
}

// encodeDaemon returns the attributes of NEW_DAEMON (full) or DEL_DAEMON.
func encodeDaemon(d SyncDaemon, full bool) ([]byte, error) {
	if d.State != SyncMaster && d.State != SyncBackup {
		return nil, fmt.Errorf("invalid sync daemon state %d", uint32(d.State))
	}
	if full && (d.Interface == "" || len(d.Interface) >= ifNameMax) {
		return nil, fmt.Errorf("invalid sync daemon interface %q", d.Interface)
	}
	if d.Group.IsValid() && !d.Group.IsMulticast() {
		return nil, fmt.Errorf("sync daemon group %s is not multicast", d.Group)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonState, uint32(d.State))
		if !full {
			return nil
		}
		nae.String(daemonMcastIfn, d.Interface)
		nae.Uint32(daemonSyncID, d.SyncID)
		if d.MaxLen != 0 {
			nae.Uint16(daemonSyncMaxLen, d.MaxLen)
		}
		switch {
		case d.Group.Is4():
			nae.Bytes(daemonMcastGroup, d.Group.AsSlice())
		case d.Group.Is6():
			nae.Bytes(daemonMcastGroup6, d.Group.AsSlice())
		}
		if d.Port != 0 {
			nae.Uint16(daemonMcastPort, d.Port)
		}
		if d.TTL != 0 {
			nae.Uint8(daemonMcastTTL, d.TTL)
		}
		return nil
	})
	return ae.Encode()
}

// decodeDaemon reads one IPVS_CMD_NEW_DAEMON dump entry.
func decodeDaemon(b []byte) (SyncDaemon, error) {
	var d SyncDaemon
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return d, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for ad.Next() {
		if ad.Type() != attrDaemon {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case daemonState:
					d.State = SyncState(nad.Uint32())
				case daemonMcastIfn:
					d.Interface = nad.String()
				case daemonSyncID:
					d.SyncID = nad.Uint32()
				case daemonSyncMaxLen:
					d.MaxLen = nad.Uint16()
				case daemonMcastGroup:
					if a, ok := netip.AddrFromSlice(nad.Bytes()); ok && a.Is4() {
						d.Group = a
					}
				case daemonMcastGroup6:
					if a, ok := netip.AddrFromSlice(nad.Bytes()); ok && a.Is6() && !a.IsUnspecified() {
						d.Group = a
					}
				case daemonMcastPort:
					d.Port = nad.Uint16()
				case daemonMcastTTL:
					d.TTL = nad.Uint8()
				}
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return d, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if d.State == 0 {
		return d, fmt.Errorf("sync daemon without state: %w", errMalformed)
	}
	return d, nil
}

// decodeTimeouts reads the reply of IPVS_CMD_GET_CONFIG.
func decodeTimeouts(b []byte) (Timeouts, error) {
	var t Timeouts
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return t, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case attrTimeoutTCP:
			t.TCP = time.Duration(ad.Uint32()) * time.Second
		case attrTimeoutTCPFin:
			t.TCPFin = time.Duration(ad.Uint32()) * time.Second
		case attrTimeoutUDP:
			t.UDP = time.Duration(ad.Uint32()) * time.Second
		}
	}
	if err := ad.Err(); err != nil {
		return t, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return t, nil
}

// encodeTimeouts returns SET_CONFIG's attributes; zero fields are left out
// so the kernel keeps its value.
func encodeTimeouts(t Timeouts) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	for _, f := range []struct {
		typ uint16
		d   time.Duration
	}{{attrTimeoutTCP, t.TCP}, {attrTimeoutTCPFin, t.TCPFin}, {attrTimeoutUDP, t.UDP}} {
		if f.d < 0 || f.d/time.Second > 1<<31/1000 {
			return nil, fmt.Errorf("timeout %v out of range", f.d)
		}
		if f.d > 0 && f.d < time.Second {
			return nil, fmt.Errorf("timeout %v is below the kernel's one-second granularity", f.d)
		}
		if f.d != 0 {
			ae.Uint32(f.typ, uint32(f.d/time.Second))
		}
	}
	return ae.Encode()
}

// decodeInfo reads the reply of IPVS_CMD_GET_INFO.
func decodeInfo(b []byte) (Info, error) {
	var i Info
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return i, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case infoVersion:
			i.Version = ad.Uint32()
		case infoConnTabSize:
			i.ConnTableSize = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return i, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return i, nil
}

// be16 reads a network-order 16-bit attribute (a port).
func be16(ad *netlink.AttributeDecoder) uint16 {
	var v uint16
	ad.Do(func(b []byte) error {
		if len(b) != 2 {
			return fmt.Errorf("port of %d bytes: %w", len(b), errMalformed)
		}
		v = binary.BigEndian.Uint16(b)
		return nil
	})
	return v
}
