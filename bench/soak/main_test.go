package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
)

func TestSection(t *testing.T) {
	r := benchresult.Soak{Seed: 7, Planned: 30 * time.Minute, Wall: 31 * time.Minute, Faults: 2,
		Rows:       []benchresult.SoakRow{{Kind: "kill -9, restart after 1 s", Count: 2, MaxRecovery: 4200 * time.Millisecond}},
		Violations: []string{"+1s exactly one MASTER (during or after #1 kill -9, restart after 1 s on a): first seen\nsecond line"}}
	sec := section(r, "0.50, 0.40, 0.30")
	for _, want := range []string{
		"## Soak\n",
		"`go run ./bench/soak -duration 30m0s -seed 7`",
		"| kill -9, restart after 1 s | 2 | 4.2s | 0 |",
		"Verdict: FAIL, 1 violations:",
		"- +1s exactly one MASTER (during or after #1 kill -9, restart after 1 s on a): first seen second line",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
}
