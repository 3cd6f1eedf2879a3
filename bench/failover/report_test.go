package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/bench/benchresult"
)

func TestSummarize(t *testing.T) {
	v3 := benchresult.FailoverSample{Version: 3, Interval: 100 * time.Millisecond}
	kk, ll := v3, v3
	kk.Master, kk.Backup = keepalived, keepalived
	ll.Master, ll.Backup = lvsd, lvsd
	at := func(s benchresult.FailoverSample, gap, lag, exp time.Duration) benchresult.FailoverSample {
		s.Gap, s.GARPLag, s.Expected = gap, lag, exp
		return s
	}
	ms := time.Millisecond
	exp := 360937 * time.Microsecond
	samples := []benchresult.FailoverSample{
		at(kk, 361*ms, 3*ms, exp),
		at(ll, 363*ms, 1*ms, exp),
		at(kk, 362*ms, 1*ms, exp),
		at(ll, 361*ms, 2*ms, exp),
		at(kk, 400*ms, 2*ms, exp),
	}
	got := summarize(samples)
	want := []row{
		{Protocol: "v3 100ms", Master: keepalived, Backup: keepalived, N: 3, Expected: exp,
			Median: 362 * ms, Min: 361 * ms, Max: 400 * ms, GARPLag: 2 * ms, GARPMax: 3 * ms, Ratio: 1},
		{Protocol: "v3 100ms", Master: lvsd, Backup: lvsd, N: 2, Expected: exp,
			Median: 362 * ms, Min: 361 * ms, Max: 363 * ms, GARPLag: 1500 * time.Microsecond, GARPMax: 2 * ms, Ratio: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
	sec := section(got, machine{CPUs: 2}, 3)
	for _, line := range []string{
		"| v3 100ms | keepalived → keepalived | 360.937 ms | 362.000 ms | 361.000 ms | 400.000 ms | +1.063 ms | 2.000 ms (3.000 ms) | 1.0000 |",
		"Largest deviation from Master_Down_Interval with keepalived taking over: +39.063 ms (v3 100ms, keepalived → keepalived).",
	} {
		if !strings.Contains(sec, line) {
			t.Errorf("section lacks %q:\n%s", line, sec)
		}
	}
	if !strings.HasPrefix(sec, heading+"\n") {
		t.Errorf("section does not start with %q", heading)
	}
}
