package vrrpd

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/vrrp"
)

// takeOver sends, from a router that is not running an Instance, one advert
// of higher priority, which makes a master step down (RFC 5798 §6.4.3).
func takeOver(t *testing.T, r *router) {
	t.Helper()
	a := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
	r.conn.deliver(packetFrom(t, a, netip.MustParseAddr(addrC), vrrp.MulticastGroup(false), 255, nil))
}

func ms(ds ...float64) []time.Duration {
	out := make([]time.Duration, 0, len(ds))
	for _, d := range ds {
		out = append(out, time.Duration(d*float64(time.Millisecond)))
	}
	return out
}

// The garp block: Repeat rounds Interval apart, a second burst after Delay,
// a burst every Refresh while MASTER, all of it cancelled on leaving MASTER.
func TestAnnouncementSchedule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		garp    announce.Schedule
		leaveAt time.Duration // after becoming master
		want    []time.Duration
	}{
		{
			name:    "defaults",
			garp:    announce.Schedule{Repeat: 5, Delay: 5 * time.Second},
			leaveAt: 60 * time.Second,
			want:    ms(0, 0, 0, 0, 0, 5000, 5000, 5000, 5000, 5000),
		},
		{
			name:    "spacing, delay and refresh",
			garp:    announce.Schedule{Repeat: 3, Interval: 100 * time.Millisecond, Delay: 2 * time.Second, Refresh: 10 * time.Second},
			leaveAt: 25050 * time.Millisecond,
			want:    ms(0, 100, 200, 2000, 2100, 2200, 10000, 10100, 10200, 20000, 20100, 20200),
		},
		{
			name:    "leaving master cuts a burst short",
			garp:    announce.Schedule{Repeat: 3, Interval: 100 * time.Millisecond, Delay: 2 * time.Second, Refresh: 10 * time.Second},
			leaveAt: 2150 * time.Millisecond,
			want:    ms(0, 100, 200, 2000, 2100),
		},
		{
			name:    "no second burst",
			garp:    announce.Schedule{Repeat: 2, Interval: time.Second},
			leaveAt: 60 * time.Second,
			want:    ms(0, 1000),
		},
		{
			name:    "refresh before the second burst",
			garp:    announce.Schedule{Repeat: 1, Delay: 5 * time.Second, Refresh: 3 * time.Second},
			leaveAt: 13500 * time.Millisecond,
			want:    ms(0, 3000, 5000, 6000, 9000, 12000),
		},
		{
			name:    "second burst and refresh together",
			garp:    announce.Schedule{Repeat: 1, Delay: 4 * time.Second, Refresh: 4 * time.Second},
			leaveAt: 9 * time.Second,
			want:    ms(0, 4000, 8000),
		},
		{
			name:    "a burst due during the previous one waits for it",
			garp:    announce.Schedule{Repeat: 3, Interval: time.Second, Delay: time.Second, Refresh: 4 * time.Second},
			leaveAt: 9500 * time.Millisecond,
			want:    ms(0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000),
		},
		{
			name:    "repeat 0 counts as one",
			garp:    announce.Schedule{Repeat: 0, Delay: time.Second},
			leaveAt: 10 * time.Second,
			want:    ms(0, 1000),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := instanceConfig("VI_1", 51, 200)
				cfg.Announce = tc.garp
				r := newRouter(t, newFakeNet(&journal{}), "b", addrB, cfg)
				r.start()
				time.Sleep(vrrp.MasterDownInterval(200, time.Second))
				synctest.Wait()
				if r.state() != vrrp.Master {
					t.Fatalf("state %v, want MASTER", r.state())
				}
				m0 := time.Now()
				time.Sleep(tc.leaveAt)
				takeOver(t, r)
				synctest.Wait()
				if r.state() != vrrp.Backup {
					t.Fatalf("state %v after a higher-priority advert, want BACKUP", r.state())
				}
				// Unheard again, the router is master once more after
				// Master_Down_Interval, and the schedule starts over.
				again := tc.leaveAt + vrrp.MasterDownInterval(200, time.Second)
				time.Sleep(60 * time.Second)
				synctest.Wait()

				var got []time.Duration
				var next time.Duration = -1
				for _, at := range r.ann.recorded() {
					if d := at.Sub(m0); d < again {
						got = append(got, d)
					} else if next < 0 {
						next = d
					}
				}
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("announcement rounds after becoming master (-want +got):\n%s", diff)
				}
				if next != again {
					t.Errorf("first round after becoming master again at +%v, want +%v", next, again)
				}
				r.stop(t)
			})
		})
	}
}

// blockingAnnouncer never finishes a round until told to stop.
type blockingAnnouncer struct{ calls chan struct{} }

func (b *blockingAnnouncer) Announce(ctx context.Context, _ string, _ []netip.Prefix) error {
	b.calls <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// A hung announcement never delays an advert, and leaving MASTER stops it.
func TestAnnouncementNeverBlocksAdverts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		r := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 255))
		ann := &blockingAnnouncer{calls: make(chan struct{}, 10)}
		r.inst.deps.Announcer = ann
		r.start()
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		sends := r.conn.sends()
		if len(sends) != 11 {
			t.Errorf("%d adverts in 10.5 s of a hung announcement, want 11", len(sends))
		}
		for i := 1; i < len(sends); i++ {
			if gap := sends[i].at.Sub(sends[i-1].at); gap != time.Second {
				t.Errorf("advert %d came %v after the previous one, want 1s", i, gap)
			}
		}
		if got := len(ann.calls); got != 1 {
			t.Errorf("%d rounds started, want 1 (the first is hung)", got)
		}
		// Stop returns although the round is still hung at that moment.
		if took := r.stop(t); took != time.Second {
			t.Errorf("Run returned after %v, want the release wait of 1s", took)
		}
	})
}

// A garp block changed while MASTER (a reload) sends nothing out of
// schedule: no transition, no burst at the change; the rest of the
// master's schedule follows the new block, counted from when it became
// master.
func TestUpdateGARPInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := instanceConfig("VI_1", 51, 200)
		cfg.Announce = announce.Schedule{Repeat: 1, Delay: 5 * time.Second}
		r := newRouter(t, newFakeNet(&journal{}), "b", addrB, cfg)
		r.start()
		time.Sleep(vrrp.MasterDownInterval(200, time.Second))
		synctest.Wait()
		if r.state() != vrrp.Master {
			t.Fatalf("state %v, want MASTER", r.state())
		}
		m0 := time.Now()
		before := r.inst.Status().Transitions

		time.Sleep(2 * time.Second)
		r.inst.UpdateGARP(announce.Schedule{Repeat: 2, Interval: 100 * time.Millisecond, Delay: 5 * time.Second, Refresh: 20 * time.Second})
		time.Sleep(30 * time.Second)
		synctest.Wait()

		var got []time.Duration
		for _, at := range r.ann.recorded() {
			got = append(got, at.Sub(m0))
		}
		if diff := cmp.Diff(ms(0, 5000, 5100, 20000, 20100), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("announcement rounds after becoming master (-want +got):\n%s", diff)
		}
		if after := r.inst.Status().Transitions; after != before {
			t.Errorf("transitions %d after the garp change, want %d", after, before)
		}
		r.stop(t)
	})
}
