package vrrpd

import (
	"context"
	"time"

	"github.com/lvsd/lvsd/config"
)

// startAnnouncing runs the announcement schedule of the garp block in its own
// goroutine, so that a slow burst never holds up an advert. It replaces a
// schedule still running.
//
// The schedule, counted from the moment the instance became master:
//   - a burst at once: Repeat rounds (at least one), Interval apart. RFC 5798
//     §6.4.1 and §6.4.2 ask for one announcement per address; repeating it
//     covers a lost frame;
//   - a second burst after Delay: a switch port still coming out of
//     spanning-tree blocking, or busy relearning after the failover, misses
//     the first burst, and those conditions last seconds, not milliseconds
//     (keepalived's garp_master_delay defaults to 5 s for the same reason);
//   - a burst at every multiple of Refresh while master, for neighbours
//     whose caches outlive the last burst, or where the old master may come
//     back and answer in our place.
//
// A burst that falls due while the previous one is still being sent starts
// one Interval after that burst's last round, so rounds never bunch up; a
// second burst and a refresh due at the same moment are one burst.
// Everything stops when the instance leaves MASTER or starts stopping.
func (in *Instance) startAnnouncing() {
	in.stopAnnouncing()
	if in.deps.Announcer == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.annCancel = cancel
	start := time.Now()
	in.annWG.Go(func() { in.announce(ctx, start) })
}

// stopAnnouncing cancels the running schedule without waiting for it: Run
// waits for the goroutine before it returns. A round already in the
// announcer's hands may still finish.
func (in *Instance) stopAnnouncing() {
	if in.annCancel != nil {
		in.annCancel()
		in.annCancel = nil
	}
}

func (in *Instance) announce(ctx context.Context, start time.Time) {
	g := in.cfg.GARP
	repeat := max(g.Repeat, 1)
	interval := max(g.Interval, 0)
	last := time.Duration(-1) // offset of the last round sent
	for due, ok := time.Duration(0), true; ok; due, ok = nextBurst(g, due) {
		begin := due
		if last >= 0 && begin < last+interval {
			begin = last + interval
		}
		var firstErr error
		failed := 0
		for i := range repeat {
			at := begin + time.Duration(i)*interval
			if !sleepUntil(ctx, start.Add(at)) {
				return
			}
			last = at
			if err := in.deps.Announcer.Announce(ctx, in.cfg.Interface, in.vips); err != nil {
				if ctx.Err() != nil {
					return
				}
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		if firstErr != nil {
			// One line per burst, not per frame.
			in.log.Warn("announcing virtual addresses", "interface", in.cfg.Interface, "failed_rounds", failed, "err", firstErr)
		}
	}
}

// nextBurst returns when the burst after the one due at prev is due: the
// second burst at Delay or the next multiple of Refresh, whichever comes
// first; false when none is left.
func nextBurst(g config.GARP, prev time.Duration) (time.Duration, bool) {
	next, ok := time.Duration(0), false
	if g.Delay > prev {
		next, ok = g.Delay, true
	}
	if g.Refresh > 0 {
		r := (prev/g.Refresh + 1) * g.Refresh
		if !ok || r < next {
			next, ok = r, true
		}
	}
	return next, ok
}

// sleepUntil waits for t and reports false if ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return ctx.Err() == nil
	}
}
