package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/failover"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
)

// Failover timing of an lvsd pair, measured on the wire: a backup
// replaces a master killed with SIGKILL Master_Down_Interval after the
// master's last advert (RFC 5798 §6.1, RFC 3768 §6.1), and a master stopped
// with SIGTERM Skew_Time after its priority-0 advert; its gratuitous ARPs
// follow its first advert at once. keepalived sits on these values to the
// millisecond, and so must lvsd.

// garpLag is how long after the new master's first advert its first
// gratuitous ARP may come. Only the adding of the VIP (a netlink request)
// and the opening of the announcement socket lie in between, about 0.5 ms
// of system calls, and on an idle machine both leave in the same
// millisecond (BENCHMARKS.md has the typical lag). lvsd sends the
// announcements from a goroutine of their own, which on a 2-core machine
// kept busy by other processes may wait for a CPU: 16 ms were seen, and
// 4 ms for keepalived. The bound still fails a GARP held back by a delay
// or until the next advert at 100 ms or 1 s intervals.
const garpLag = 50 * time.Millisecond

// skewTolerance is how far a takeover after a priority-0 advert may be off
// Skew_Time.
const skewTolerance = 10 * time.Millisecond

// electTimeout bounds the first election: a version 2 pair at 1 s waits a
// whole Master_Down_Interval (3.4 s) before it has a master.
const electTimeout = 10 * time.Second

// maxAttempts is how many pairs a timing is measured on before a late
// takeover fails the test. Other processes on a busy machine can only delay
// a takeover, never hasten it, and they do so now and then, not every time:
// a takeover early, or late on every attempt, is lvsd's own. A burst of
// load can last a second or more, so each new attempt waits longer before
// it starts (retryPause, then twice that, …).
const maxAttempts = 4

const retryPause = time.Second

// startPair starts a pair and waits for its election.
func startPair(t *testing.T, bin string, c failover.Case) *failover.Pair {
	t.Helper()
	p := failover.Start(t, bin, c)
	if err := p.WaitElected(electTimeout); err != nil {
		t.Fatal(err)
	}
	return p
}

// failoverWithin starts a pair, runs before on it (nil: nothing), stops the
// master with sig and checks the takeover's timing against tol and
// garpLag; a late one is measured again on a new pair, up to maxAttempts
// pairs. It returns the pair and result of the last attempt.
func failoverWithin(t *testing.T, bin string, c failover.Case, sig syscall.Signal, tol time.Duration, before func(*failover.Pair)) (*failover.Pair, failover.Result) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := startPair(t, bin, c)
		if before != nil {
			before(p)
		}
		r := p.Failover(t, sig)
		err := r.Check(tol, garpLag)
		if err == nil {
			return p, r
		}
		early := r.Gap < r.Expected-tol || r.GARPGap < r.Expected-tol || r.GARPGap < r.Gap
		if early || attempt == maxAttempts {
			t.Errorf("attempt %d of %d: %v; load average %s", attempt, maxAttempts, err, benchresult.LoadAverage())
			return p, r
		}
		pause := retryPause << (attempt - 1)
		t.Logf("attempt %d of %d: %v; load average %s; measuring again on a new pair in %v", attempt, maxAttempts, err, benchresult.LoadAverage(), pause)
		p.Backup.Proc.Kill()
		time.Sleep(pause)
	}
}

// checkTookOver checks that the backup says it is master after a failover
// and holds the VIP.
func checkTookOver(t *testing.T, p *failover.Pair) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := p.Backup.State()
		has, err2 := p.Backup.HasVIP()
		if err == nil && err2 == nil && st == status.StateMaster && has {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: the new master %s is %s (%v), VIP held: %v (%v)", p.Case, p.Backup.Impl, st, err, has, err2)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFailoverLVSDPairKill(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go")
	bin := buildLVSD(t)
	for _, c := range []failover.Case{
		{Version: 2, Interval: time.Second},
		{Version: 3, Interval: 100 * time.Millisecond},
		{Version: 3, Interval: 10 * time.Millisecond},
	} {
		c.Master, c.Backup = failover.LVSD, failover.LVSD
		t.Run(c.String(), func(t *testing.T) {
			p, r := failoverWithin(t, bin, c, syscall.SIGKILL, failover.Tolerance(c.MasterDownInterval()), nil)
			t.Logf("gap %v, first GARP %v, Master_Down_Interval %v", r.Gap, r.GARPGap, r.Expected)
			checkTookOver(t, p)
		})
	}
}

func TestFailoverLVSDPairStop(t *testing.T) {
	lab.RequireRoot(t, "ip", "tcpdump", "go")
	bin := buildLVSD(t)
	c := failover.Case{Master: failover.LVSD, Backup: failover.LVSD, Version: 3, Interval: 100 * time.Millisecond}
	p, r := failoverWithin(t, bin, c, syscall.SIGTERM, skewTolerance, nil)
	t.Logf("gap after the priority-0 advert %v, first GARP %v, Skew_Time %v", r.Gap, r.GARPGap, r.Expected)
	if err := p.Master.Proc.Err(); err != nil {
		t.Errorf("lvsd exit after SIGTERM: %v, want status 0", err)
	}
	checkTookOver(t, p)
}
