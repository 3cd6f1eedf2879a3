package announce

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestSchedulePlan(t *testing.T) {
	tests := []struct {
		name  string
		s     Schedule
		until time.Duration
		want  []time.Duration
	}{
		{"config defaults: 5 now, 5 after 5s",
			Schedule{Repeat: 5, Delay: 5 * time.Second}, time.Hour,
			ms(0, 0, 0, 0, 0, 5000, 5000, 5000, 5000, 5000)},
		{"no second burst",
			Schedule{Repeat: 3}, time.Hour,
			ms(0, 0, 0)},
		{"spaced burst",
			Schedule{Repeat: 3, Interval: 100 * time.Millisecond}, time.Hour,
			ms(0, 100, 200)},
		{"spaced bursts with delay",
			Schedule{Repeat: 2, Interval: 200 * time.Millisecond, Delay: 2 * time.Second}, time.Hour,
			ms(0, 200, 2000, 2200)},
		{"repeat zero still announces once",
			Schedule{Repeat: 0, Delay: time.Second}, time.Hour,
			ms(0, 1000)},
		{"negative values are off",
			Schedule{Repeat: 1, Interval: -time.Second, Delay: -time.Second, Refresh: -time.Second}, time.Hour,
			ms(0)},
		{"refresh only",
			Schedule{Repeat: 1, Refresh: 10 * time.Second}, 35 * time.Second,
			ms(0, 10000, 20000, 30000)},
		{"delay before the first refresh",
			Schedule{Repeat: 2, Delay: 5 * time.Second, Refresh: 60 * time.Second}, 125 * time.Second,
			ms(0, 0, 5000, 5000, 60000, 60000, 120000, 120000)},
		{"delay after some refreshes",
			Schedule{Repeat: 1, Delay: 25 * time.Second, Refresh: 10 * time.Second}, 45 * time.Second,
			ms(0, 10000, 20000, 25000, 30000, 40000)},
		{"delay on a refresh is one burst",
			Schedule{Repeat: 1, Delay: 20 * time.Second, Refresh: 10 * time.Second}, 45 * time.Second,
			ms(0, 10000, 20000, 30000, 40000)},
		{"overlapping bursts queue behind each other",
			Schedule{Repeat: 3, Interval: 400 * time.Millisecond, Delay: 500 * time.Millisecond}, time.Hour,
			ms(0, 400, 800, 1200, 1600, 2000)},
		{"until cuts an endless schedule",
			Schedule{Repeat: 2, Interval: time.Second, Refresh: 3 * time.Second}, 7 * time.Second,
			ms(0, 1000, 3000, 4000, 6000)},
		{"nothing before zero", Schedule{Repeat: 5}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.s.Plan(tt.until)); diff != "" {
				t.Errorf("Plan(%v) (-want +got):\n%s", tt.until, diff)
			}
		})
	}
}

func TestScheduleBursts(t *testing.T) {
	s := Schedule{Repeat: 2, Delay: 5 * time.Second, Refresh: 60 * time.Second}
	type send struct {
		Burst int
		At    time.Duration
	}
	var got []send
	for b, at := range s.Sends() {
		if at > 2*time.Minute {
			break
		}
		got = append(got, send{b, at})
	}
	want := []send{
		{0, 0}, {0, 0},
		{1, 5 * time.Second}, {1, 5 * time.Second},
		{2, time.Minute}, {2, time.Minute},
		{3, 2 * time.Minute}, {3, 2 * time.Minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sends() (-want +got):\n%s", diff)
	}
}
