package ipvs

import (
	"cmp"
	"fmt"
	"strconv"
)

// OpKind is what an Op asks of the kernel.
type OpKind uint8

const (
	AddService    OpKind = iota + 1 // ipvsadm -A
	UpdateService                   // ipvsadm -E
	DelService                      // ipvsadm -D
	AddDest                         // ipvsadm -a
	UpdateDest                      // ipvsadm -e
	DelDest                         // ipvsadm -d
)

// String returns a stable name for metrics labels ("add_service").
func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add_service"
	case UpdateService:
		return "update_service"
	case DelService:
		return "delete_service"
	case AddDest:
		return "add_destination"
	case UpdateDest:
		return "update_destination"
	case DelDest:
		return "delete_destination"
	}
	return "op-" + strconv.Itoa(int(k))
}

// Op is one change to the kernel's IPVS table. Service carries the key and,
// for AddService and UpdateService, the settings; its Destinations are
// ignored. Dest is used by the destination kinds only.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Destination
}

// String describes the operation in ipvsadm's terms, for error messages
// and logs: "adding destination 10.0.0.2:80 to tcp 10.0.0.1:80".
func (o Op) String() string {
	svc := o.Service.ServiceKey.String()
	switch o.Kind {
	case AddService:
		return "adding service " + svc
	case UpdateService:
		return "updating service " + svc
	case DelService:
		return "deleting service " + svc
	case AddDest:
		return fmt.Sprintf("adding destination %s to %s", o.Dest.Addr, svc)
	case UpdateDest:
		return fmt.Sprintf("updating destination %s of %s", o.Dest.Addr, svc)
	case DelDest:
		return fmt.Sprintf("deleting destination %s from %s", o.Dest.Addr, svc)
	}
	return fmt.Sprintf("%s on %s", o.Kind, svc)
}

// OpResult is the kernel's answer to one Op of Client.Apply.
type OpResult struct {
	Op  Op
	Err error // nil when the kernel acknowledged the op
}

// String renders a key the way ipvsadm -Ln names a service: "tcp
// 10.0.0.1:80", "udp [2001:db8::1]:53", "fwmark 7" or "fwmark 7 (IPv6)".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.IPv6 {
			return fmt.Sprintf("fwmark %d (IPv6)", k.FWMark)
		}
		return fmt.Sprintf("fwmark %d", k.FWMark)
	}
	return k.Protocol.String() + " " + k.Addr.String()
}

// Normalize returns the key as the kernel reports it: an fwmark service is
// identified by its mark and family only, an address service by protocol,
// address and port only.
func (k ServiceKey) Normalize() ServiceKey {
	if k.FWMark != 0 {
		return ServiceKey{FWMark: k.FWMark, IPv6: k.IPv6}
	}
	return ServiceKey{Protocol: k.Protocol, Addr: k.Addr}
}

// Compare orders keys: address services before fwmark services, then by
// address, port and protocol, or by mark and family. It is the order of
// Client.Services and of Diff's operations.
func (k ServiceKey) Compare(o ServiceKey) int {
	if (k.FWMark != 0) != (o.FWMark != 0) {
		if k.FWMark == 0 {
			return -1
		}
		return 1
	}
	if k.FWMark != 0 {
		if c := cmp.Compare(k.FWMark, o.FWMark); c != 0 {
			return c
		}
		return boolCompare(k.IPv6, o.IPv6)
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	return cmp.Compare(k.Protocol, o.Protocol)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
