// Package announce tells the segment that the virtual addresses moved to
// this router: gratuitous ARP for IPv4 (an ARP request and an ARP reply with
// sender and target protocol address both the virtual address, RFC 5227
// §2.3 and §3, RFC 5944 §4.6) and unsolicited neighbour advertisements with
// the Override flag for IPv6 (RFC 4861 §7.2.6), as a VRRP master must when it
// takes over (RFC 5798 §6.4.1, §6.4.2).
//
// When to send is the pure [Schedule], which the VRRP driver follows; what
// to send is built by pure frame functions; [LinkSender] sends one round
// on an interface.
package announce

import (
	"iter"
	"time"
)

// Schedule is the garp block of a VRRP instance: when a new master
// announces its addresses.
//
// The first burst goes out at once. A second, identical burst follows Delay
// later (keepalived's garp_master_delay, 5 s by default) because the first
// is often lost on the devices that matter: a switch whose port was still
// coming out of STP blocking or busy relearning after the failover, a
// router that had refreshed its ARP cache from the old master's stale
// answer a moment before, or a neighbour that ignored the first packets
// while its entry was locked (Linux's locktime). Seconds, not milliseconds,
// are what those conditions last, so the second burst repeats after
// seconds. Refresh bursts keep caches right on segments where the old
// master may come back and answer in our place.
type Schedule struct {
	// Repeat is the number of announcements per burst; less than one
	// counts as one, since a new master must announce at least once.
	Repeat int
	// Interval is the gap between the announcements of a burst.
	Interval time.Duration
	// Delay is when the second burst starts, after the first; zero (or
	// negative) means no second burst.
	Delay time.Duration
	// Refresh is the period of the bursts sent for as long as the
	// instance is master, counted from the first; zero means none.
	Refresh time.Duration
}

// burstStarts yields when each burst is due, from the moment the instance
// became master: 0, Delay, and every multiple of Refresh, in increasing
// order and each time once. It never ends when Refresh is positive.
func (s Schedule) burstStarts() iter.Seq[time.Duration] {
	return func(yield func(time.Duration) bool) {
		if !yield(0) {
			return
		}
		delayDue := s.Delay > 0
		if s.Refresh <= 0 {
			if delayDue {
				yield(s.Delay)
			}
			return
		}
		for next := s.Refresh; ; next += s.Refresh {
			if delayDue && s.Delay <= next {
				delayDue = false
				if s.Delay < next && !yield(s.Delay) {
					return
				}
			}
			if !yield(next) {
				return
			}
		}
	}
}

// Sends yields the moment of every announcement, as an offset from the
// moment the instance became master, in order, with the number of the burst
// it belongs to (from 0). A burst that falls due while the previous one is
// still being sent starts one Interval after that burst's last
// announcement, so announcements never bunch up or go back in time. The
// sequence is endless when Refresh is positive.
func (s Schedule) Sends() iter.Seq2[int, time.Duration] {
	repeat := max(s.Repeat, 1)
	interval := max(s.Interval, 0)
	return func(yield func(int, time.Duration) bool) {
		burst, last := 0, time.Duration(-1)
		for due := range s.burstStarts() {
			start := due
			if last >= 0 && start < last+interval {
				start = last + interval
			}
			for i := range repeat {
				last = start + time.Duration(i)*interval
				if !yield(burst, last) {
					return
				}
			}
			burst++
		}
	}
}

// Plan returns the offsets of the announcements due before until, for
// tables and for explaining a configuration.
func (s Schedule) Plan(until time.Duration) []time.Duration {
	var out []time.Duration
	for _, t := range s.Sends() {
		if t >= until {
			break
		}
		out = append(out, t)
	}
	return out
}
