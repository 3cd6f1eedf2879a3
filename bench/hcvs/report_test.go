package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sample is a boot as the guest reports it: 300 servers at 1 s, one
// window of 30 s each.
func sample() result {
	return result{
		Servers: 300, IntervalMS: 1000, TimeoutMS: 1000, WindowS: 30, WarmupS: 5,
		Kernel: "6.1.0-56-cloud-amd64", CPUs: 2, Keepalived: "Keepalived v2.2.7 (01/16,2022)", Clocksource: "tsc",
		Runs: []window{
			{Checker: keepalived, WallS: 30, UserMS: 900, SysMS: 8100, Checks: 9000, Covered: 300, Healthy: 300, Failed: 0, GuestBusy: 0.4, ListenerMS: 900},
			{Checker: lvsd, WallS: 30, UserMS: 3000, SysMS: 9000, Checks: 6000, Covered: 300, Healthy: 300, Failed: 2, GuestBusy: 0.5, ListenerMS: 900},
		},
	}
}

func TestFigures(t *testing.T) {
	r := sample()
	// A second keepalived window counts with the first.
	r.Runs = append(r.Runs, window{Checker: keepalived, WallS: 30, UserMS: 1100, SysMS: 7900, Checks: 9000, Covered: 300, Healthy: 300, GuestBusy: 0.2})
	tests := []struct {
		checker string
		want    figures
	}{
		{keepalived, figures{Windows: 2, ChecksPerSec: 300, Expected: 1, CPUPerCheckUS: 1000, UserPerCheck: 2000.0 / 18, SysPerCheck: 16000.0 / 18, CoreShare: 0.3, GuestBusy: 0.3}},
		{lvsd, figures{Windows: 1, ChecksPerSec: 200, Expected: 2.0 / 3, CPUPerCheckUS: 2000, UserPerCheck: 500, SysPerCheck: 1500, CoreShare: 0.4, GuestBusy: 0.5}},
		{"other", figures{}},
	}
	for _, tt := range tests {
		t.Run(tt.checker, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, figuresOf(r, tt.checker), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("figures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*result)
		want   string // "" for no error, else a part of it
	}{
		{"sound", func(*result) {}, ""},
		{"a checker missing", func(r *result) { r.Runs = r.Runs[:1] }, "no window of lvsd"},
		{"no checks", func(r *result) { r.Runs[0].Checks = 0 }, "window 1 (keepalived): 0 checks"},
		{"a server not checked", func(r *result) { r.Runs[1].Covered = 299 }, "299 servers checked and 300 healthy of 300"},
		{"a server unhealthy", func(r *result) { r.Runs[0].Healthy = 12 }, "300 servers checked and 12 healthy"},
		{"too many failures", func(r *result) { r.Runs[1].Failed = 301 }, "301 failed checks of 6000"},
		{"failures within one in twenty", func(r *result) { r.Runs[1].Failed = 300 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sample()
			tt.change(&r)
			err := validate(r)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestResultDecodes reads a guest line of the vmtests.HCBenchResult
// layout: a renamed field would otherwise turn into a silent zero.
func TestResultDecodes(t *testing.T) {
	line := `{"servers":20,"interval_ms":1000,"timeout_ms":1000,"window_s":5,"warmup_s":2,"kernel":"6.1.0-56-cloud-amd64","cpus":2,"keepalived":"Keepalived v2.2.7 (01/16,2022)","runs":[{"checker":"keepalived","wall_s":5.00285895,"user_ms":40,"sys_ms":560,"other_ms":0,"checks":100,"covered":20,"healthy":20,"failed":-1,"listener_ms":569.035,"guest_busy":0.11397849462365592}]}`
	var got result
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	want := result{
		Servers: 20, IntervalMS: 1000, TimeoutMS: 1000, WindowS: 5, WarmupS: 2, Kernel: "6.1.0-56-cloud-amd64", CPUs: 2,
		Keepalived: "Keepalived v2.2.7 (01/16,2022)",
		Runs: []window{{Checker: keepalived, WallS: 5.00285895, UserMS: 40, SysMS: 560, Checks: 100, Covered: 20, Healthy: 20, Failed: -1,
			ListenerMS: 569.035, GuestBusy: 0.11397849462365592}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func TestSection(t *testing.T) {
	boots := []boot{{Result: sample(), LoadBefore: "1.10, 1.20, 1.30", Rev: "a42bf27"}}
	got := section(boots, machine{CPUs: 2, Date: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		options{Servers: 300, Interval: time.Second, Timeout: time.Second, Duration: 30 * time.Second, Warmup: 5 * time.Second, Reps: 1, Runs: 1}.command())
	for _, want := range []string{
		"## Health checks: lvsd and keepalived\n",
		"    go run ./bench/hcvs -servers 300 -interval 1s\n",
		"Method. Both checkers run at the same time, each on its own set of 300\nreal servers",
		"every 1 s with a 1 s timeout",
		"(v2.2.7 (01/16,2022), Debian's package)",
		"connect_timeout 1 retry 0 }` for each server, `delay_loop 1`",
		"`lvsd run` on the cluster file that `lvsd convert` makes",
		"and 5 s more of warm-up; each lasts 30 s.",
		"at most 5 % of its\nchecks",
		"The guest is\n6.1.0-56-cloud-amd64 with 2 virtual CPUs under qemu TCG (no KVM), reading its\nclock from the CPU's time-stamp counter (`clocksource=tsc`)",
		"Results (2026-11-21, 2-core host):",
		"| 1 | keepalived | 300 | 100.0 % | 1000 µs | 100 + 900 µs | 30.0 % |\n",
		"| 1 | lvsd | 200 | 66.7 % | 2000 µs | 500 + 1500 µs | 40.0 % |\n",
		"| 1 | a42bf27 | 1.10, 1.20, 1.30 | 0.50 | 5.00 |\n",
		"User time alone, the checkers' own code: lvsd spent 5.00× keepalived's per check.",
		"lvsd spent 2.00× the CPU time per check that keepalived spent\n(keepalived / lvsd = 0.50).",
		"System time was 90 % of keepalived's\nCPU time and 75 % of lvsd's",
		"| 1 | 1 | 1000 µs | 2000 µs | 0.50 | 0 / 2 | 40.0 % |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
}

func TestObservationsDirection(t *testing.T) {
	tests := []struct {
		name   string
		ratios []float64
		want   string
	}{
		{"keepalived dearer", []float64{2.5, 3}, "keepalived spent 2.50 to 3.00× the CPU time per check that lvsd spent."},
		{"lvsd dearer", []float64{0.5}, "lvsd spent 2.00× the CPU time per check"},
		{"mixed", []float64{0.9, 1.1}, "was 0.90 to 1.10: neither\nchecker was consistently cheaper."},
		{"equal when rounded", []float64{0.566, 0.574}, "(keepalived / lvsd = 0.57)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boots := make([]boot, len(tt.ratios))
			for i := range boots {
				boots[i] = boot{Result: sample()}
			}
			if got := observations(boots, tt.ratios); !strings.Contains(got, tt.want) {
				t.Errorf("observations lacks %q:\n%s", tt.want, got)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	o := options{Servers: 500, Interval: 3 * time.Second, Timeout: time.Second, Duration: time.Minute, Warmup: 5 * time.Second, Reps: 2, Runs: 3}
	if diff := cmp.Diff("go run ./bench/hcvs -servers 500 -interval 3s -duration 1m0s -reps 2 -runs 3", o.command()); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	o = options{Servers: 100, Interval: 2 * time.Second, Timeout: time.Second, Duration: 30 * time.Second, Warmup: 5 * time.Second, Reps: 1, Runs: 1}
	if diff := cmp.Diff("go run ./bench/hcvs", o.command()); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
}

func TestPairs(t *testing.T) {
	k := window{Checker: keepalived, Checks: 1}
	l := window{Checker: lvsd, Checks: 2}
	got := pairs([]window{k, l, l, k, k, l, k})
	want := [][2]window{{k, l}, {k, l}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
}

func TestPctRange(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want string
	}{
		{[]float64{0.911, 0.914}, "91 %"},
		{[]float64{0.83, 0.851}, "83 to 85 %"},
	} {
		if got := pctRange(tt.in); got != tt.want {
			t.Errorf("pctRange(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(3, 0); got != 0 {
		t.Errorf("ratio(3, 0) = %v, want 0", got)
	}
	if got := ratio(3, 2); math.Abs(got-1.5) > 1e-12 {
		t.Errorf("ratio(3, 2) = %v, want 1.5", got)
	}
}
