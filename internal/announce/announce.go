package announce

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// Sender sends one round of announcements on the named interface: for each
// virtual address one gratuitous ARP request and reply, or one unsolicited
// neighbour advertisement. LinkSender is the real one; the prefix length of
// a VIP does not matter to an announcement.
type Sender interface {
	Announce(ctx context.Context, ifname string, vips []netip.Prefix) error
}

// Announcer follows a Schedule, sending rounds through a Sender.
type Announcer struct {
	Schedule Schedule
	Sender   Sender
	// Log receives one line per burst that had failures; nil discards
	// them.
	Log *slog.Logger
}

// Burst sends one burst at once: Schedule.Repeat rounds spaced
// Schedule.Interval. A failed round does not stop the burst, since the next
// may well pass; Burst returns the first error, or ctx's error when ctx ends
// first.
func (a *Announcer) Burst(ctx context.Context, ifname string, vips []netip.Prefix) error {
	burst := Schedule{Repeat: a.Schedule.Repeat, Interval: a.Schedule.Interval}
	return a.follow(ctx, burst, ifname, vips)
}

// Run sends the whole schedule: the first burst at once, the second after
// Schedule.Delay, then a burst every Schedule.Refresh. It returns when the
// schedule is done or when ctx ends; the caller cancels ctx when the
// instance leaves MASTER. Send errors are logged, one line per burst, and
// never stop the schedule: an announcer that gave up at the first failure
// (an interface flapping during the takeover) would leave the segment with
// stale caches.
func (a *Announcer) Run(ctx context.Context, ifname string, vips []netip.Prefix) {
	_ = a.follow(ctx, a.Schedule, ifname, vips)
}

// follow sends at s's times, measured from its start, and returns the first
// send error or ctx's error.
func (a *Announcer) follow(ctx context.Context, s Schedule, ifname string, vips []netip.Prefix) error {
	start := time.Now()
	var (
		firstErr  error
		burstErr  error
		failures  int
		prevBurst int
	)
	flush := func() {
		if failures > 0 && a.Log != nil {
			a.Log.Warn("announcing virtual addresses failed",
				"interface", ifname, "vips", vips, "failed_rounds", failures, "err", burstErr)
		}
		failures, burstErr = 0, nil
	}
	defer flush()

	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for burst, off := range s.Sends() {
		if burst != prevBurst {
			flush()
			prevBurst = burst
		}
		if wait := time.Until(start.Add(off)); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.Sender.Announce(ctx, ifname, vips); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if burstErr == nil {
				burstErr = err
			}
			if firstErr == nil {
				firstErr = err
			}
			failures++
		}
	}
	return firstErr
}
