package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func TestSection(t *testing.T) {
	r := benchresult.ColdStart{Kernel: "6.1.0-56-cloud-amd64", Reps: 2, Sizes: []benchresult.ColdStartSize{{
		Services: 2000, Rules: 10000,
		LVSDms: []float64{3000, 5000}, IPVSAdmms: []float64{8000, 10000},
		LVSDUserms: []float64{1000, 1000}, LVSDSysms: []float64{500, 700},
		IPVSAdmUserms: []float64{2000, 2000}, IPVSAdmSysms: []float64{3000, 3000},
		LoadMS: []float64{1200, 1400}, IPVSSetupMS: []float64{10, 20}, FirstRoundMS: []float64{2000, 2200},
		PeakRSSKiB:   []int64{40 * 1024, 60 * 1024},
		ReloadNoopMS: []float64{10, 30}, ReloadWeightMS: []float64{300, 500}, ReloadWeightKernelMS: []float64{400, 600},
		ReloadShareMS: []float64{700, 900}, ReloadShareKernelMS: []float64{800, 1000},
		SettledRSSKiB: []int64{30 * 1024, 34 * 1024},
	}}}
	sec := section(r, benchrun.Machine{LoadBefore: "0.10, 0.20, 0.30", LoadAfter: "1.00, 0.50, 0.40", Wall: 90 * time.Second, CPUs: 2, Date: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	for _, want := range []string{
		"## Cold start\n",
		"| 2000 | 10000 | 4.00 s | 9.00 s | 0.44 | 1.00 s + 0.60 s | 2.00 s + 3.00 s | 1.30 s / 0.01 s / 2.10 s | 50 MiB |",
		"| 2000 | 3.00 s, 5.00 s | 8.00 s, 10.00 s |",
		"| 2000 | 20 ms | 0.5 % | 400 ms | 500 ms | 12.5 % | 800 ms | 900 ms | 22.5 % | 32 MiB |",
		"load average 0.10, 0.20, 0.30 before",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
}
