package vrrpd

import (
	"context"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
)

// startAnnouncing runs the announcement schedule of the garp block
// (announce.Schedule: a burst at once, a second after Delay, one every
// Refresh while master) in its own goroutine, so that a slow burst never
// holds up an advert. It replaces a schedule still running; everything
// stops when the instance leaves MASTER or starts stopping.
func (in *Instance) startAnnouncing() {
	in.runSchedule(time.Now(), false)
}

// runSchedule runs the schedule of in.garp counted from start, leaving out
// the sends before now when resume is set: a garp block changed by a
// reload takes effect for the rest of the master's schedule, with no send
// out of it.
func (in *Instance) runSchedule(start time.Time, resume bool) {
	in.stopAnnouncing()
	if in.deps.Announcer == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.annCancel = cancel
	in.annStart = start
	sched := in.garp
	var from time.Duration
	if resume {
		from = time.Since(start)
	}
	in.annWG.Go(func() { in.announce(ctx, sched, start, from) })
}

// setGARP takes a new garp block; a running schedule goes on under it.
// Run's goroutine calls it.
func (in *Instance) setGARP(g announce.Schedule) {
	if g == in.garp {
		return
	}
	in.garp = g
	if in.annCancel != nil {
		in.runSchedule(in.annStart, true)
	}
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

// announce sends the rounds of sched counted from start, those at from or
// later.
func (in *Instance) announce(ctx context.Context, sched announce.Schedule, start time.Time, from time.Duration) {
	burst, failed := 0, 0
	var firstErr error
	report := func() {
		if firstErr != nil {
			// One line per burst, not per frame.
			in.log.Warn("announcing virtual addresses", "interface", in.cfg.Interface, "failed_rounds", failed, "err", firstErr)
		}
		failed, firstErr = 0, nil
	}
	defer report()
	for b, at := range sched.Sends() {
		if at < from {
			continue
		}
		if b != burst {
			report()
			burst = b
		}
		if !sleepUntil(ctx, start.Add(at)) {
			return
		}
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
