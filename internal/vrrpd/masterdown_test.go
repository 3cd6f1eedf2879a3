package vrrpd

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// startBackup starts b, priority 100 with adverts every second, in a bubble
// of testing/synctest; it waits its Master_Down_Interval from t0 in BACKUP.
func startBackup(t *testing.T) (b *router, mdi time.Duration, t0 time.Time) {
	t.Helper()
	b = newRouter(t, newFakeNet(&journal{}), "b", addrB, instanceConfig("VI_1", 51, 100))
	t0 = time.Now()
	b.start()
	return b, vrrp.MasterDownInterval(100, time.Second), t0
}

// masterAdvert is an advert of a master of priority 254 for b's VRID.
func masterAdvert(t *testing.T) (vrrp.Packet, error) {
	good := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
	return packetFrom(t, good, netip.MustParseAddr(addrA), vrrp.MulticastGroup(false), 255, nil)
}

// An advert that arrives in the Master_Down_Timer's last stretch, while Run
// sleeps it out precisely (masterDownEarly), still holds the backup back,
// and the new Master_Down_Interval counts from when the advert was
// received, not from when Run got to it.
func TestMasterDownLastStretchAdvertCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mdi, t0 := startBackup(t)
		time.Sleep(mdi - masterDownEarly/2)
		b.conn.deliver(masterAdvert(t))
		sentAt := time.Now()
		time.Sleep(10 * time.Second)
		synctest.Wait()

		if got := b.inst.Status().AdvertsReceived; got != 1 {
			t.Fatalf("adverts received %d, want 1", got)
		}
		if got, want := b.firstSendAs(100), sentAt.Add(mdi); !got.Equal(want) {
			t.Errorf("became master at +%v, want +%v (the advert at +%v and Master_Down_Interval)", got.Sub(t0), want.Sub(t0), sentAt.Sub(t0))
		}
		if got := b.inst.Status().Transitions; got != 2 {
			t.Errorf("transitions %d, want 2 (to BACKUP, to MASTER)", got)
		}
		b.stop(t)
	})
}

// A master's advert that arrived before the Master_Down_Timer ran out but
// that the reader has not passed on (a busy machine ran the timer's
// goroutine first) holds the backup back: Run waits for it, up to
// queuedWait. Without the wait the backup would take over from a live
// master.
func TestMasterDownWaitsForQueuedAdvert(t *testing.T) {
	for _, tc := range []struct {
		name string
		// late is how long after the timer ran out the reader gets
		// the CPU.
		late    time.Duration
		holdsOn bool
	}{
		{name: "reader within queuedWait", late: queuedWait / 2, holdsOn: true},
		{name: "reader later than queuedWait", late: 3 * queuedWait, holdsOn: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, mdi, t0 := startBackup(t)
				time.Sleep(mdi - 100*time.Millisecond)
				release := make(chan struct{})
				b.conn.stallReader(release)
				b.conn.deliver(masterAdvert(t))
				time.Sleep(100*time.Millisecond + tc.late)
				close(release)
				readAt := time.Now()
				time.Sleep(10 * time.Second)
				synctest.Wait()

				got := b.firstSendAs(100)
				want := readAt.Add(mdi) // counted from when the reader read it
				if !tc.holdsOn {
					want = t0.Add(mdi + queuedWait)
				}
				if !got.Equal(want) {
					t.Errorf("became master at +%v, want +%v", got.Sub(t0), want.Sub(t0))
				}
				if got := b.inst.Status().AdvertsReceived; got != 1 {
					t.Errorf("adverts received %d, want 1", got)
				}
				// BACKUP, then MASTER once the master is silent. When the
				// reader came too late, MASTER came first, the advert of
				// the higher priority sent it back to BACKUP, and the
				// silence after it made it MASTER again.
				wantTransitions := uint64(2)
				if !tc.holdsOn {
					wantTransitions = 4
				}
				if got := b.inst.Status().Transitions; got != wantTransitions {
					t.Errorf("transitions %d, want %d", got, wantTransitions)
				}
				b.stop(t)
			})
		})
	}
}
