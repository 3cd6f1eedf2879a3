package vrrpd

import "github.com/lvsd/lvsd/vrrp"

// Tracking follows keepalived (vrrp_track.c): an instance follows
// interfaces, scripts and files, each with a weight. Weight 0 makes a
// failure put the instance in FAULT; otherwise an interface or a script adds
// a negative weight while it fails and a positive one while it succeeds,
// and a file adds its number times the weight. The sum moves the effective
// priority, which the adverts carry, within 1..254; the address owner
// (priority 255) keeps 255 whatever the weights say.

// Track is one interface, script or file an instance follows, with its
// weight for this instance.
type Track struct {
	Name   string
	Weight int
}

// effect is what one tracked object does to its instance now.
type effect struct {
	delta int
	fault bool
}

// upEffect is the effect of an interface (up) or a script (succeeding).
func upEffect(weight int, up bool) effect {
	switch {
	case weight == 0:
		return effect{fault: !up}
	case up && weight > 0, !up && weight < 0:
		return effect{delta: weight}
	}
	return effect{}
}

// File products are kept within -254..253; -254 means FAULT (keepalived's
// process_update_vrrp_track_file_status).
const (
	fileFault = -254
	fileMax   = 253
)

// fileEffect is the effect of a file holding value.
func fileEffect(weight int, value int64) effect {
	if weight == 0 {
		return effect{fault: value != 0}
	}
	p := value * int64(weight)
	switch {
	case p <= fileFault:
		return effect{fault: true}
	case p > fileMax:
		p = fileMax
	}
	return effect{delta: int(p)}
}

// EffectivePriority is base moved by delta, kept within 1..254; the owner's
// 255 is never moved.
func EffectivePriority(base uint8, delta int) uint8 {
	if base == vrrp.OwnerPriority {
		return base
	}
	return uint8(min(max(int(base)+delta, 1), vrrp.OwnerPriority-1))
}

// ScriptState follows the results of one track_script as keepalived does:
// the first result counts at once; after that Rise successes in a row make
// a failing script succeed and Fall failures in a row make a succeeding
// one fail.
type ScriptState struct {
	Rise, Fall int

	known bool
	ok    bool
	run   int // successes in a row while failing, failures while succeeding
}

// Observe takes one result and returns the script's state after it and
// whether that changed (the first result always does).
func (s *ScriptState) Observe(pass bool) (ok, changed bool) {
	if !s.known || pass == s.ok {
		changed = !s.known
		s.known, s.ok, s.run = true, pass, 0
		return s.ok, changed
	}
	s.run++
	need := s.Rise
	if s.ok {
		need = s.Fall
	}
	if s.run < need {
		return s.ok, false
	}
	s.ok, s.run = pass, 0
	return s.ok, true
}

// Known reports whether the script has a result yet, and OK what it is.
func (s *ScriptState) Known() bool { return s.known }

// OK reports whether the script succeeds.
func (s *ScriptState) OK() bool { return s.ok }
