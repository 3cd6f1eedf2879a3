// Receive checks: the part of RFC 5798 §7.1 (and RFC 3768 §7.1) that needs
// the instance's configuration. The codec has already checked length,
// version field, type, address count, checksum and interval.

package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
)

// Receive-path errors that the codec's sentinels do not cover. ReasonOf
// counts them as DropOther.
var (
	// ErrInterface: the packet arrived on another interface than the
	// instance's. A Conn bound to its interface never reports one; the
	// check guards a receive path shared between interfaces.
	ErrInterface = errors.New("vrrp advert received on another interface")
	// ErrNotPeer: a unicast instance received an advert from an address
	// that is not in its unicast_peers list.
	ErrNotPeer = errors.New("vrrp advert from an address that is not a unicast peer")
	// errNoAdvert: Accept was handed a packet that did not decode.
	errNoAdvert = errors.New("vrrp packet without a decoded advert")
)

// Filter is what a received packet must match to reach an instance.
type Filter struct {
	// IfIndex is the instance's interface; 0 skips the check.
	IfIndex int
	// VRID and Version are the instance's.
	VRID    uint8
	Version int
	// AuthType and AuthData are the version 2 authentication setting
	// (AuthNone, or AuthSimple with PasswordAuthData).
	AuthType uint8
	AuthData [8]byte
	// Own lists the router's own addresses on the interface; an advert
	// from one of them is our own, come back (a multicast loop, or a
	// unicast peer list that names ourselves).
	Own []netip.Addr
	// Peers is the unicast_peers list. When it is not empty the instance
	// runs in unicast mode and accepts adverts only from these addresses.
	Peers []netip.Addr
}

// Accept applies the instance's checks to a decoded packet and returns nil,
// or an error wrapping the reason to drop it: ErrInterface, ErrTTL
// (RFC 5798 §7.1: TTL or hop limit must be 255), ErrVersion (the instance
// runs the other version), ErrVRID, ErrOwnAdvert, ErrNotPeer, ErrAuth
// (version 2 only, RFC 2338 §7.1). The checks run in that order, so a packet
// failing several is counted once, under the first.
//
// Accept does not compare the advert's addresses with the instance's
// virtual IPs. RFC 5798 §7.1 makes that check optional and asks only for a
// log line when it fails (RFC 3768 drops the packet unless the sender is the
// address owner); keepalived logs and keeps the advert. Dropping it would
// make two routers that disagree on the VIP list both become master, which
// is worse than the misconfiguration itself, so lvsd accepts the advert and
// reports the difference through AddressesMatch.
func Accept(p Packet, want Filter) error {
	a := p.Advert
	if a == nil {
		return errNoAdvert
	}
	if want.IfIndex != 0 && p.IfIndex != want.IfIndex {
		return fmt.Errorf("interface index %d, want %d: %w", p.IfIndex, want.IfIndex, ErrInterface)
	}
	if p.TTL != AdvertTTL {
		return fmt.Errorf("ttl %d from %s: %w", p.TTL, p.Src, ErrTTL)
	}
	if a.Version != want.Version {
		return fmt.Errorf("version %d from %s, instance runs version %d: %w", a.Version, p.Src, want.Version, ErrVersion)
	}
	if a.VRID != want.VRID {
		return fmt.Errorf("vrid %d from %s, want %d: %w", a.VRID, p.Src, want.VRID, ErrVRID)
	}
	src := p.Src.Unmap().WithZone("")
	if containsAddr(want.Own, src) {
		return fmt.Errorf("source %s is ours: %w", src, ErrOwnAdvert)
	}
	if len(want.Peers) > 0 && !containsAddr(want.Peers, src) {
		return fmt.Errorf("source %s: %w", src, ErrNotPeer)
	}
	if err := a.CheckAuth(want.AuthType, want.AuthData); err != nil {
		return fmt.Errorf("from %s: %w", src, err)
	}
	return nil
}

// AddressesMatch reports whether the advert carries exactly the virtual
// addresses vips, in any order. A mismatch is a configuration difference
// between the routers worth a log line, not a reason to drop the advert
// (see Accept).
func AddressesMatch(a *Advert, vips []netip.Addr) bool {
	if len(a.Addresses) != len(vips) {
		return false
	}
	for _, ip := range a.Addresses {
		if !containsAddr(vips, ip) {
			return false
		}
	}
	for _, ip := range vips {
		if !containsAddr(a.Addresses, ip) {
			return false
		}
	}
	return true
}

// containsAddr compares without zone and with IPv4-mapped addresses
// unmapped, so the forms the kernel and the configuration use agree.
func containsAddr(list []netip.Addr, ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, x := range list {
		if x.Unmap().WithZone("") == ip {
			return true
		}
	}
	return false
}
