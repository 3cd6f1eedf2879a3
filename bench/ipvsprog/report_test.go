package main

import (
	"strings"
	"testing"
	"time"
)

func TestSectionFigures(t *testing.T) {
	runs := []benchRun{{
		Result: result{
			Services: 5000, Destinations: 20000, Reps: 3, LVSDRequests: 25001, Kernel: "6.1.0-56-cloud-amd64",
			LVSDms: []float64{9000, 8000, 10000}, IPVSAdmms: []float64{24000, 25000, 23000},
			WeightLVSDms: []float64{100, 120, 110}, WeightAdmms: []float64{50, 60, 55},
			LVSDUserms: []float64{1000, 1000, 1000}, LVSDSysms: []float64{7000, 7000, 7000},
			IPVSAdmUserms: []float64{2000, 2000, 2000}, IPVSAdmSysms: []float64{20000, 20000, 20000},
			LVSDFlushedms: []float64{20000}, IPVSAdmFlushedms: []float64{30000},
		},
		LoadBefore: "3.10, 3.20, 3.30",
	}}
	got := section(runs, machine{CPUs: 2, Date: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)})
	for _, want := range []string{
		"## IPVS programming\n",
		"    go run ./bench/ipvsprog\n",
		"5000 TCP NAT services with 4 real servers each\n(25000 rules)",
		"| 1 | 3.10, 3.20, 3.30 | 9.00 s | 24.00 s | 2.7× | 110 ms | 55 ms |\n",
		"| 1 | 2 | 8.00 s | 1.00 s + 7.00 s | 25.00 s | 2.00 s + 20.00 s |\n",
		"25001 netlink requests",
		"| 1 | 20.00 s | 30.00 s | 1.5× |\n",
		"Cold, lvsd was 2.7× to 2.7× faster than ipvsadm -R",
		"One weight change took lvsd 110 ms to 110 ms, more than one\nipvsadm -e process",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
}
