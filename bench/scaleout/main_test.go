package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func TestSection(t *testing.T) {
	r := benchresult.ScaleOut{Directors: 3, Servers: 5, Flows: 300, Probe: 600, Every: 20 * time.Millisecond, Window: 3 * time.Second,
		NewConns: map[string]int{"a": 50, "b": 40, "c": 60}, Agree: 600,
		ServerDeath: benchresult.ScaleOutServerDeath{OnServer: 61, Broken: 61, Kept: 480, Others: 480, Agree: 600, Back: 600},
		Stop:        []benchresult.ScaleOutLoss{{How: "SIGTERM", Family: "IPv4", Sloppy: true, Carried: 100, Flows: 300, Survived: 300, RouteGone: 3010 * time.Millisecond}},
		Kills: []benchresult.ScaleOutLoss{
			{How: "SIGKILL", Family: "IPv4", Carried: 110, Flows: 300, Survived: 230, RouteGone: 40 * time.Millisecond, NewFailed: 3, LastFailure: 35 * time.Millisecond},
			{How: "SIGKILL", Family: "IPv4", Sloppy: true, Carried: 110, Flows: 300, Survived: 300, RouteGone: 45 * time.Millisecond},
		},
		Withdraw: 900 * time.Millisecond, Interval: 500 * time.Millisecond}
	sec := section(r, benchrun.Machine{CPUs: 2, LoadBefore: "0.10", LoadAfter: "1.20", Wall: 3 * time.Minute, Date: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	for _, want := range []string{
		"## Scale-out\n",
		"`go run ./bench/scaleout -flows 300 -probe 600`, 2026-12-06",
		"a 50 (33.3 %), b 40 (26.7 %), c 60 (40.0 %).",
		"in **600 of 600** cases",
		"61 long-lived flows broke, all 61 it carried;",
		"| stops (SIGTERM) | IPv4 | on | 100 | 300 of 300 (100.0 %) | 3010 ms | 0 | – |",
		"| is killed (SIGKILL) | IPv4 | off (baseline) | 110 | 230 of 300 (76.7 %) | 40 ms | 3 | 35 ms |",
		"| is killed (SIGKILL) | IPv4 | on | 110 | 300 of 300 (100.0 %) | 45 ms | 0 | – |",
		"gone from the router 900 ms later (check interval 500ms)",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
}
