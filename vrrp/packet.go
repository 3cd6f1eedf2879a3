// Wire format of the VRRP advertisement: version 3 (RFC 5798 §5) over IPv4
// and IPv6, and version 2 (RFC 3768 §5) over IPv4, including the simple text
// password of RFC 2338 §5.3.6 that keepalived still sends for auth_pass.
//
// The codec only knows the packet. Checks that need configuration (VRID,
// authentication, TTL, our own source address) belong to the receive path,
// which reports them with the sentinel errors and DropReason values below so
// that every dropped packet is counted under one name.

package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

const (
	// IPProtocol is the IP protocol number of VRRP (RFC 5798 §5.1.1.4).
	IPProtocol = 112
	// AdvertTTL is the IPv4 TTL and IPv6 hop limit every advertisement is
	// sent with and must arrive with; anything lower crossed a router
	// (RFC 5798 §5.1.1.3, §7.1).
	AdvertTTL = 255

	// TypeAdvertisement is the only VRRP packet type (RFC 5798 §5.2.2).
	TypeAdvertisement uint8 = 1

	// AuthNone is VRRPv2 Auth Type 0 (RFC 3768 §5.3.6).
	AuthNone uint8 = 0
	// AuthSimple is the simple text password of RFC 2338 §5.3.6 (Auth
	// Type 1). RFC 3768 reserved the value, but keepalived still sends it
	// when auth_pass is configured, so version 2 peers need it.
	AuthSimple uint8 = 1
	// AuthAH is RFC 2338's IP Authentication Header (Auth Type 2). It is
	// carried at the IP layer; the codec only reports the type.
	AuthAH uint8 = 2
)

const (
	advertHeaderLen = 8 // version/type, VRID, priority, count, interval, checksum
	advertAuthLen   = 8 // VRRPv2 Authentication Data

	// The version 3 Max Advertise Interval is a 12-bit count of
	// centiseconds (RFC 5798 §5.2.7); version 2 has an 8-bit count of
	// seconds (RFC 3768 §5.3.7).
	advertV3MaxCentis = 0x0fff
	advertCentisecond = 10 * time.Millisecond
	advertV2MaxSecs   = 0xff

	// Count IPvX Addr is one octet and at least 1 (RFC 5798 §5.2.5).
	advertMaxAddrs = 0xff
)

// Errors returned by ParseAdvert, Advert.Unmarshal and Advert.Marshal. They
// are wrapped with details; test them with errors.Is, or turn them into a
// DropReason with ReasonOf.
var (
	// ErrTooShort: the message is shorter than its fixed part (8 bytes, and
	// 8 more of Authentication Data in version 2).
	ErrTooShort = errors.New("vrrp advert too short")
	// ErrLength: the bytes after the fixed part are not a whole number of
	// addresses of the transport's family.
	ErrLength = errors.New("vrrp advert length is not a whole number of addresses")
	// ErrAddrCount: Count IPvX Addr disagrees with the addresses present,
	// or the advert has no address (when marshalling: none, or more than
	// 255).
	ErrAddrCount = errors.New("vrrp advert address count mismatch")
	// ErrVersion: a version other than 2 or 3, or version 2 over IPv6,
	// which RFC 3768 does not define.
	ErrVersion = errors.New("unsupported vrrp version")
	// ErrType: a packet type other than advertisement.
	ErrType = errors.New("unknown vrrp packet type")
	// ErrChecksum: the checksum does not verify.
	ErrChecksum = errors.New("bad vrrp checksum")
	// ErrInterval: an advertisement interval of zero, or when marshalling
	// one the version cannot carry exactly (version 2: 1..255 whole
	// seconds; version 3: 1..4095 whole centiseconds).
	ErrInterval = errors.New("invalid vrrp advertisement interval")
	// ErrAddrFamily: source, destination or a virtual address is not of
	// the family the advert travels over.
	ErrAddrFamily = errors.New("vrrp address family mismatch")

	// The codec never returns the errors below; the receive path does,
	// for checks that need the router's configuration.

	// ErrTTL: the TTL or hop limit was not 255 (RFC 5798 §7.1).
	ErrTTL = errors.New("vrrp advert ttl is not 255")
	// ErrVRID: no virtual router with this VRID on the interface.
	ErrVRID = errors.New("vrrp advert for unknown vrid")
	// ErrAuth: version 2 authentication type or data does not match.
	ErrAuth = errors.New("vrrp authentication mismatch")
	// ErrOwnAdvert: the advert came back from one of our own addresses
	// (multicast loopback, or a duplicate address on the link).
	ErrOwnAdvert = errors.New("vrrp advert sent by this router")
)

// DropReason names why a received packet was dropped. The values are the
// label of the dropped-packet counters and the keys of the status
// document's "dropped" map.
type DropReason string

// Reasons a received VRRP packet is dropped.
const (
	DropTTL       DropReason = "ttl"
	DropVersion   DropReason = "version"
	DropVRID      DropReason = "vrid"
	DropChecksum  DropReason = "checksum"
	DropLength    DropReason = "length"
	DropAddrCount DropReason = "addr_count"
	DropAuth      DropReason = "auth"
	DropType      DropReason = "type"
	DropInterval  DropReason = "interval"
	DropOwn       DropReason = "own"
	// DropOther counts errors that are not about the packet's content,
	// such as a receive path handing over addresses of the wrong family.
	DropOther DropReason = "other"
)

// DropReasons returns every DropReason, in a fresh slice, so counters can be
// created at zero before the first drop.
func DropReasons() []DropReason {
	return []DropReason{
		DropTTL, DropVersion, DropVRID, DropChecksum, DropLength,
		DropAddrCount, DropAuth, DropType, DropInterval, DropOwn, DropOther,
	}
}

// ReasonOf maps an error from the codec or the receive path to the reason it
// is counted under. It returns "" for nil and DropOther for errors it does
// not know.
func ReasonOf(err error) DropReason {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooShort), errors.Is(err, ErrLength):
		return DropLength
	case errors.Is(err, ErrAddrCount):
		return DropAddrCount
	case errors.Is(err, ErrVersion):
		return DropVersion
	case errors.Is(err, ErrType):
		return DropType
	case errors.Is(err, ErrChecksum):
		return DropChecksum
	case errors.Is(err, ErrInterval):
		return DropInterval
	case errors.Is(err, ErrTTL):
		return DropTTL
	case errors.Is(err, ErrVRID):
		return DropVRID
	case errors.Is(err, ErrAuth):
		return DropAuth
	case errors.Is(err, ErrOwnAdvert):
		return DropOwn
	default:
		return DropOther
	}
}

// MulticastGroup returns the VRRP multicast destination: 224.0.0.18 for IPv4
// (RFC 5798 §5.1.1.2) or ff02::12 for IPv6 (§5.1.2.2).
func MulticastGroup(ipv6 bool) netip.Addr {
	if ipv6 {
		return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
	}
	return netip.AddrFrom4([4]byte{224, 0, 0, 18})
}

// PasswordAuthData returns the Authentication Data for a simple text password
// (RFC 2338 §5.3.6): its first eight bytes, padded with zeros. keepalived
// truncates a longer auth_pass the same way, so the two interoperate.
func PasswordAuthData(password string) [8]byte {
	var d [8]byte
	copy(d[:], password)
	return d
}

// Advert is a VRRP advertisement, version 2 or 3.
type Advert struct {
	// Version is 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
	Version int
	// Type is TypeAdvertisement. Marshal writes TypeAdvertisement when it
	// is zero.
	Type     uint8
	VRID     uint8
	Priority uint8
	// MaxAdvertInterval is the advertisement interval: whole seconds in
	// version 2, whole centiseconds in version 3.
	MaxAdvertInterval time.Duration
	// AuthType and AuthData exist in version 2 only; version 3 parses them
	// as zero and Marshal ignores them.
	AuthType uint8
	AuthData [8]byte
	// Addresses are the virtual addresses, all of the family the advert
	// travels over.
	Addresses []netip.Addr
	// Checksum is the checksum as received. Marshal ignores it and
	// computes the right one.
	Checksum uint16
}

// String formats the advert for logs and test transcripts.
func (a *Advert) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "v%d vrid %d prio %d intvl %s", a.Version, a.VRID, a.Priority, a.MaxAdvertInterval)
	if a.Version == 2 && a.AuthType != AuthNone {
		fmt.Fprintf(&sb, " auth %d", a.AuthType)
	}
	sb.WriteString(" addrs [")
	for i, ip := range a.Addresses {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(ip.String())
	}
	sb.WriteByte(']')
	return sb.String()
}

// CheckAuth checks a version 2 advert against the local authentication
// setting and returns an error wrapping ErrAuth on mismatch: the Auth Type
// must be equal and, for AuthSimple, the Authentication Data too
// (RFC 2338 §7.1). Version 3 has no authentication and always passes.
func (a *Advert) CheckAuth(authType uint8, authData [8]byte) error {
	if a.Version != 2 {
		return nil
	}
	if a.AuthType != authType {
		return fmt.Errorf("auth type %d, want %d: %w", a.AuthType, authType, ErrAuth)
	}
	if authType == AuthSimple && a.AuthData != authData {
		return fmt.Errorf("simple password differs: %w", ErrAuth)
	}
	return nil
}

// PeekVRID returns the Virtual Rtr ID of the message b without checking
// anything else, so that a receive path shared by several virtual routers
// can hand a packet that does not decode (a bad checksum, a wrong count) to
// the one it names, which counts it once. ok is false when the message is
// too short to hold the VRID, or of a version other than 2 or 3, whose
// second octet need not be a VRID.
func PeekVRID(b []byte) (vrid uint8, ok bool) {
	if len(b) < 2 {
		return 0, false
	}
	if v := b[0] >> 4; v != 2 && v != 3 {
		return 0, false
	}
	return b[1], true
}

// ParseAdvert parses and validates the VRRP message b, the payload of an IP
// packet from src to dst. ipv6 tells which IP version carried it: it fixes
// the size of the addresses and the pseudo-header of the version 3 checksum.
// An IPv4 src or dst may be given in IPv4-mapped IPv6 form. Version 2 has no
// pseudo-header, so its src and dst are not looked at.
//
// ParseAdvert checks the length, version, address count, checksum, type and
// interval; the errors wrap the package's sentinel errors.
func ParseAdvert(b []byte, src, dst netip.Addr, ipv6 bool) (*Advert, error) {
	a := new(Advert)
	if err := a.Unmarshal(b, src, dst, ipv6); err != nil {
		return nil, err
	}
	return a, nil
}

// Unmarshal is ParseAdvert into an existing Advert, reusing the capacity of
// a.Addresses so a receive loop does not allocate per packet. On error a is
// left unchanged.
func (a *Advert) Unmarshal(b []byte, src, dst netip.Addr, ipv6 bool) error {
	// The version decides the layout, so it comes first (RFC 5798 §7.1
	// also checks it before the checksum).
	if len(b) < 1 {
		return fmt.Errorf("empty message: %w", ErrTooShort)
	}
	version := int(b[0] >> 4)
	switch version {
	case 2:
		if ipv6 {
			return fmt.Errorf("version 2 over IPv6: %w", ErrVersion)
		}
	case 3:
	default:
		return fmt.Errorf("version %d: %w", version, ErrVersion)
	}

	fixed := advertHeaderLen
	if version == 2 {
		fixed += advertAuthLen
	}
	if len(b) < fixed {
		return fmt.Errorf("version %d message of %d bytes, fixed part is %d: %w", version, len(b), fixed, ErrTooShort)
	}
	addrLen := 4
	if ipv6 {
		addrLen = 16
	}
	body := len(b) - fixed
	if body%addrLen != 0 {
		return fmt.Errorf("%d bytes of addresses, not a multiple of %d: %w", body, addrLen, ErrLength)
	}
	if count := int(b[3]); count != body/addrLen {
		return fmt.Errorf("count %d, message holds %d addresses: %w", count, body/addrLen, ErrAddrCount)
	}
	if body == 0 {
		// The minimum Count IPvX Addr is 1 (RFC 5798 §5.2.5), and a
		// version 2 advert carries "one or more" addresses too
		// (RFC 3768 §5.3.9). An advert without one names no virtual
		// router anybody could configure, and a master must not yield
		// to it. keepalived sends one only from an instance without
		// virtual_ipaddress, which lvsd's virtual_ips never are.
		return fmt.Errorf("count 0: %w", ErrAddrCount)
	}

	var sum uint32
	if version == 3 {
		// Only version 3 covers the IP pseudo-header (RFC 5798 §5.2.8);
		// version 2 sums the VRRP message alone (RFC 3768 §5.3.8).
		var err error
		if src, dst, err = advertFamily(src, dst, ipv6); err != nil {
			return err
		}
		sum = advertPseudoSum(src, dst, len(b), ipv6)
	}
	if s := checksumFold(checksumAdd(sum, b)); s != 0xffff {
		return fmt.Errorf("checksum %#04x does not verify (sum %#04x): %w", binary.BigEndian.Uint16(b[6:8]), s, ErrChecksum)
	}

	if typ := b[0] & 0x0f; typ != TypeAdvertisement {
		return fmt.Errorf("type %d: %w", typ, ErrType)
	}
	var interval time.Duration
	if version == 2 {
		interval = time.Duration(b[5]) * time.Second
	} else {
		// The top four bits are Rsvd: sent as zero, ignored on receipt
		// (RFC 5798 §5.2.6).
		interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&advertV3MaxCentis) * advertCentisecond
	}
	if interval == 0 {
		// A zero interval would make Master_Down_Interval almost nothing
		// and let one packet take the router over at once.
		return fmt.Errorf("interval 0: %w", ErrInterval)
	}

	// Everything is valid: fill a.
	addrs := a.Addresses[:0]
	for off := advertHeaderLen; off < advertHeaderLen+body; off += addrLen {
		if ipv6 {
			addrs = append(addrs, netip.AddrFrom16([16]byte(b[off:off+16])))
		} else {
			addrs = append(addrs, netip.AddrFrom4([4]byte(b[off:off+4])))
		}
	}
	*a = Advert{
		Version:           version,
		Type:              TypeAdvertisement,
		VRID:              b[1],
		Priority:          b[2],
		MaxAdvertInterval: interval,
		Addresses:         addrs,
		Checksum:          binary.BigEndian.Uint16(b[6:8]),
	}
	if version == 2 {
		a.AuthType = b[4]
		a.AuthData = [8]byte(b[len(b)-advertAuthLen:])
	}
	return nil
}

// Marshal encodes the advert sent from src to dst, with its checksum. For
// version 3, src and dst choose the IP version (an IPv4-mapped address counts
// as IPv4) and feed the pseudo-header, so a unicast advert must be marshalled
// for each peer; version 2 ignores them.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	b, err := a.AppendMarshal(make([]byte, 0, advertHeaderLen+advertAuthLen+16*len(a.Addresses)), src, dst)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendMarshal is Marshal appending to b, so a sender can reuse one buffer.
// On error it returns b unchanged.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr) ([]byte, error) {
	typ := a.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	if typ != TypeAdvertisement {
		return b, fmt.Errorf("type %d: %w", typ, ErrType)
	}
	if len(a.Addresses) == 0 || len(a.Addresses) > advertMaxAddrs {
		return b, fmt.Errorf("%d addresses, want 1..%d: %w", len(a.Addresses), advertMaxAddrs, ErrAddrCount)
	}

	var ipv6 bool
	var intervalField [2]byte
	switch a.Version {
	case 2:
		secs := a.MaxAdvertInterval / time.Second
		if a.MaxAdvertInterval%time.Second != 0 || secs < 1 || secs > advertV2MaxSecs {
			return b, fmt.Errorf("version 2 interval %s, want 1s..255s in whole seconds: %w", a.MaxAdvertInterval, ErrInterval)
		}
		intervalField = [2]byte{a.AuthType, byte(secs)}
	case 3:
		ipv6 = src.Is6() && !src.Is4In6()
		var err error
		if src, dst, err = advertFamily(src, dst, ipv6); err != nil {
			return b, err
		}
		cs := a.MaxAdvertInterval / advertCentisecond
		if a.MaxAdvertInterval%advertCentisecond != 0 || cs < 1 || cs > advertV3MaxCentis {
			return b, fmt.Errorf("version 3 interval %s, want 10ms..40.95s in whole centiseconds: %w", a.MaxAdvertInterval, ErrInterval)
		}
		binary.BigEndian.PutUint16(intervalField[:], uint16(cs))
	default:
		return b, fmt.Errorf("version %d: %w", a.Version, ErrVersion)
	}
	for _, ip := range a.Addresses {
		// An IPv4-mapped address is IPv4 in an IPv4 advert and stays
		// sixteen bytes in an IPv6 one, as ParseAdvert returns it.
		if ipv6 && !ip.Is6() || !ipv6 && !ip.Unmap().Is4() {
			return b, fmt.Errorf("virtual address %s in an IPv%d advert: %w", ip, advertIPVersion(ipv6), ErrAddrFamily)
		}
	}

	start := len(b)
	b = append(b,
		byte(a.Version<<4)|typ, a.VRID, a.Priority, byte(len(a.Addresses)),
		intervalField[0], intervalField[1], 0, 0, // checksum filled in below
	)
	for _, ip := range a.Addresses {
		if ipv6 {
			x := ip.As16()
			b = append(b, x[:]...)
		} else {
			x := ip.Unmap().As4()
			b = append(b, x[:]...)
		}
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}

	msg := b[start:]
	var sum uint32
	if a.Version == 3 {
		sum = advertPseudoSum(src, dst, len(msg), ipv6)
	}
	binary.BigEndian.PutUint16(msg[6:8], ^checksumFold(checksumAdd(sum, msg)))
	return b, nil
}

// advertFamily checks that src and dst are valid addresses of the family the
// advert travels over and returns them with IPv4 unmapped.
func advertFamily(src, dst netip.Addr, ipv6 bool) (netip.Addr, netip.Addr, error) {
	if !ipv6 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	for _, ip := range [2]netip.Addr{src, dst} {
		// IPv4-mapped addresses never appear in an IPv6 header
		// (RFC 4291 §2.5.5.2); refusing them keeps the family of a
		// parsed advert the family Marshal picks from src.
		if ipv6 && (!ip.Is6() || ip.Is4In6()) || !ipv6 && !ip.Is4() {
			return src, dst, fmt.Errorf("address %s over IPv%d: %w", ip, advertIPVersion(ipv6), ErrAddrFamily)
		}
	}
	return src, dst, nil
}

func advertIPVersion(ipv6 bool) int {
	if ipv6 {
		return 6
	}
	return 4
}

// advertPseudoSum is the one's complement sum of the pseudo-header the
// version 3 checksum covers (RFC 5798 §5.2.8): for IPv4 source, destination,
// zero, protocol and VRRP length; for IPv6 the upper-layer pseudo-header of
// RFC 8200 §8.1. The field order does not matter to a one's complement sum,
// so both are a sum of the same parts.
func advertPseudoSum(src, dst netip.Addr, length int, ipv6 bool) uint32 {
	var sum uint32
	if ipv6 {
		s, d := src.As16(), dst.As16()
		sum = checksumAdd(checksumAdd(0, s[:]), d[:])
		sum += uint32(length>>16) + uint32(length&0xffff)
	} else {
		s, d := src.As4(), dst.As4()
		sum = checksumAdd(checksumAdd(0, s[:]), d[:])
		sum += uint32(length & 0xffff)
	}
	return sum + IPProtocol
}

// checksumAdd adds b as big-endian 16-bit words to the running sum, padding
// an odd last byte with zero (RFC 1071). A VRRP message is at most 4 KiB, so
// the 32-bit sum cannot overflow before checksumFold.
func checksumAdd(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// checksumFold folds the carries of a running sum back into 16 bits.
func checksumFold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
