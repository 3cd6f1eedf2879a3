package healthcheck

// Health is the hysteresis state of one checked target: a single lost packet
// must not pull a server out of service, and a single lucky answer must not
// put a broken one back.
//
// The zero value is a target that has not yet proved itself: unhealthy, with
// no history. It becomes healthy after `rise` passes in a row and
// unhealthy after `fall` failures in a row.
type Health struct {
	Healthy bool
	// Passes and Failures count the current run of consecutive results; one
	// of them is always zero.
	Passes, Failures int
	// Weighted and Weight are those of the last passing result: the weight
	// a healthy target asks for, if any (see Result.Weighted).
	Weighted bool
	Weight   int
}

// observe folds r into h as Observe does, keeps the weight of a passing
// result, and reports whether the target's verdict changed: Healthy, or
// the weight it asks for while healthy.
func (h Health) observe(r Result, rise, fall int) (Health, bool) {
	was := h
	h, changed := h.Observe(r.OK, rise, fall)
	if r.OK {
		h.Weighted, h.Weight = r.Weighted, r.Weight
	}
	if h.Healthy && (h.Weighted != was.Weighted || h.Weighted && h.Weight != was.Weight) {
		changed = true
	}
	return h, changed
}

// Observe folds one check result into h and reports whether Healthy changed.
// rise and fall below 1 are taken as 1.
func (h Health) Observe(ok bool, rise, fall int) (Health, bool) {
	rise, fall = max(rise, 1), max(fall, 1)
	was := h.Healthy
	if ok {
		h.Failures = 0
		h.Passes++
		if h.Passes >= rise {
			h.Healthy = true
		}
	} else {
		h.Passes = 0
		h.Failures++
		if h.Failures >= fall {
			h.Healthy = false
		}
	}
	return h, h.Healthy != was
}
