package announce

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// recordingSender records every announcement with the (fake) time it was
// asked for, and fails the ones listed in failAt.
type recordingSender struct {
	start  time.Time
	failAt map[int]error

	mu    sync.Mutex
	sends []sent
}

type sent struct {
	At     time.Duration
	Ifname string
	VIPs   []netip.Prefix
}

func (r *recordingSender) Announce(_ context.Context, ifname string, vips []netip.Prefix) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sends = append(r.sends, sent{time.Since(r.start), ifname, append([]netip.Prefix(nil), vips...)})
	return r.failAt[len(r.sends)-1]
}

func (r *recordingSender) times() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, s := range r.sends {
		out = append(out, s.At)
	}
	return out
}

var vipsTest = []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("2001:db8::100/128")}

func TestBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingSender{start: time.Now()}
		a := &Announcer{
			Schedule: Schedule{Repeat: 3, Interval: 100 * time.Millisecond, Delay: 5 * time.Second, Refresh: time.Minute},
			Sender:   rec,
		}
		if err := a.Burst(context.Background(), "eth0", vipsTest); err != nil {
			t.Fatal(err)
		}
		// One burst only: Delay and Refresh belong to Run.
		want := []sent{
			{0, "eth0", vipsTest},
			{100 * time.Millisecond, "eth0", vipsTest},
			{200 * time.Millisecond, "eth0", vipsTest},
		}
		if diff := cmp.Diff(want, rec.sends, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
			t.Errorf("sends (-want +got):\n%s", diff)
		}
		if got := time.Since(rec.start); got != 200*time.Millisecond {
			t.Errorf("Burst returned after %v, want 200ms", got)
		}
	})
}

func TestBurstKeepsGoingAfterAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("network is down")
		rec := &recordingSender{start: time.Now(), failAt: map[int]error{1: boom}}
		a := &Announcer{Schedule: Schedule{Repeat: 3}, Sender: rec}
		if err := a.Burst(context.Background(), "eth0", vipsTest); !errors.Is(err, boom) {
			t.Errorf("Burst() = %v, want %v", err, boom)
		}
		if n := len(rec.times()); n != 3 {
			t.Errorf("%d sends, want 3", n)
		}
	})
}

func TestRunFollowsTheSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Schedule{Repeat: 2, Interval: 50 * time.Millisecond, Delay: 5 * time.Second, Refresh: 30 * time.Second}
		rec := &recordingSender{start: time.Now()}
		a := &Announcer{Schedule: s, Sender: rec}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			a.Run(ctx, "eth0", vipsTest)
			close(done)
		}()
		time.Sleep(70 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(s.Plan(70*time.Second), rec.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
		// Leaving MASTER cancels the context: Run returns at once and
		// sends nothing more.
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return after cancel")
		}
		n := len(rec.times())
		time.Sleep(time.Minute)
		if got := len(rec.times()); got != n {
			t.Errorf("%d sends after cancel", got-n)
		}
	})
}

func TestRunEndsWithAFiniteSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingSender{start: time.Now()}
		a := &Announcer{Schedule: Schedule{Repeat: 5, Delay: 5 * time.Second}, Sender: rec}
		a.Run(context.Background(), "eth0", vipsTest)
		if got := time.Since(rec.start); got != 5*time.Second {
			t.Errorf("Run returned after %v, want 5s", got)
		}
		if n := len(rec.times()); n != 10 {
			t.Errorf("%d sends, want 10", n)
		}
	})
}

func TestRunLogsOneLinePerFailedBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("no such device")
		rec := &recordingSender{start: time.Now(), failAt: map[int]error{0: boom, 1: boom, 2: boom}}
		var buf bytes.Buffer
		a := &Announcer{
			Schedule: Schedule{Repeat: 3, Delay: time.Second},
			Sender:   rec,
			Log:      slog.New(slog.NewTextHandler(&buf, nil)),
		}
		a.Run(context.Background(), "eth0", vipsTest)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "failed_rounds=3") || !strings.Contains(lines[0], "interface=eth0") {
			t.Errorf("log:\n%s\nwant one line for the first burst with failed_rounds=3", buf.String())
		}
	})
}
