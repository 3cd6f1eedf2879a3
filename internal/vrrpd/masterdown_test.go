package vrrpd

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// An advert that arrives in the Master_Down_Timer's last stretch, while Run
// sleeps it out precisely (masterDownEarly), still holds the backup back,
// and the new Master_Down_Interval counts from when the advert was
// received, not from when Run got to it.
func TestMasterDownLastStretchAdvertCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mdi := vrrp.MasterDownInterval(100, time.Second)
		b := newRouter(t, newFakeNet(&journal{}), "b", addrB, instanceConfig("VI_1", 51, 100))
		good := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
		t0 := time.Now()
		b.start()
		time.Sleep(mdi - masterDownEarly/2)
		p, err := packetFrom(t, good, netip.MustParseAddr(addrA), vrrp.MulticastGroup(false), 255, nil)
		b.conn.deliver(p, err)
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
