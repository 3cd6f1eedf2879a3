package vrrpd

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// InstanceStatus is a snapshot of one instance: the vrrp_instances[] entry of
// the status document and the source of the lvsd_vrrp_* metrics.
type InstanceStatus struct {
	Name      string
	State     vrrp.State
	VRID      uint8
	Interface string
	Version   int
	// Priority is the configured priority (as last set by
	// UpdatePriority); EffectivePriority is the one advertised now: 0
	// while a stopping master waits to let go.
	Priority          uint8
	EffectivePriority uint8
	// MasterAddress is the primary address of the master: ours in MASTER,
	// the last advert's sender in BACKUP, invalid when none is known.
	MasterAddress netip.Addr
	VirtualIPs    []netip.Prefix
	// Since is when the instance entered State (when Run started, before
	// the first transition).
	Since time.Time
	// Transitions counts every state change; TransitionsTo splits them by
	// the state entered (lvsd_vrrp_transitions_total{to}).
	Transitions   uint64
	TransitionsTo map[vrrp.State]uint64
	// AdvertsSent counts advert packets the transport accepted (one per
	// unicast peer); SendErrors those it refused.
	AdvertsSent     uint64
	SendErrors      uint64
	AdvertsReceived uint64
	// Dropped counts received packets that failed decoding or the receive
	// checks, by reason; every reason is present, at zero until the first
	// drop.
	Dropped map[vrrp.DropReason]uint64
	// VIPsRestored counts virtual addresses put back after someone else
	// deleted them while this instance was MASTER.
	VIPsRestored uint64
	// AdvertsLate counts adverts this master sent more than an advert
	// interval after they were due; LastLateAdvert is the latest.
	AdvertsLate    uint64
	LastLateAdvert LateAdvert
}

// LateAdvert is one advert sent late: when, and by how much.
type LateAdvert struct {
	At   time.Time
	Late time.Duration
}

func (s InstanceStatus) clone() InstanceStatus {
	s.VirtualIPs = slices.Clone(s.VirtualIPs)
	s.TransitionsTo = maps.Clone(s.TransitionsTo)
	s.Dropped = maps.Clone(s.Dropped)
	return s
}

// statusJSON is the shape of the status document's vrrp_instances[].
type statusJSON struct {
	Name              string            `json:"name"`
	State             string            `json:"state"`
	VRID              uint8             `json:"vrid"`
	Interface         string            `json:"interface"`
	Version           int               `json:"version"`
	Priority          uint8             `json:"priority"`
	EffectivePriority uint8             `json:"effective_priority"`
	MasterAddress     *string           `json:"master_address"`
	VirtualIPs        []string          `json:"virtual_ips"`
	Since             *time.Time        `json:"since"`
	Transitions       uint64            `json:"transitions"`
	AdvertsSent       uint64            `json:"adverts_sent"`
	AdvertsReceived   uint64            `json:"adverts_received"`
	Dropped           map[string]uint64 `json:"dropped"`
}

// MarshalJSON writes the status document's form: state names as in logs,
// addresses as strings, null for an unknown master, since in RFC 3339.
func (s InstanceStatus) MarshalJSON() ([]byte, error) {
	j := statusJSON{
		Name:              s.Name,
		State:             s.State.String(),
		VRID:              s.VRID,
		Interface:         s.Interface,
		Version:           s.Version,
		Priority:          s.Priority,
		EffectivePriority: s.EffectivePriority,
		VirtualIPs:        make([]string, 0, len(s.VirtualIPs)),
		Transitions:       s.Transitions,
		AdvertsSent:       s.AdvertsSent,
		AdvertsReceived:   s.AdvertsReceived,
		Dropped:           make(map[string]uint64, len(s.Dropped)),
	}
	if s.MasterAddress.IsValid() {
		a := s.MasterAddress.String()
		j.MasterAddress = &a
	}
	for _, p := range s.VirtualIPs {
		j.VirtualIPs = append(j.VirtualIPs, p.String())
	}
	if !s.Since.IsZero() {
		t := s.Since.UTC()
		j.Since = &t
	}
	for r, n := range s.Dropped {
		j.Dropped[string(r)] = n
	}
	return json.Marshal(j)
}
