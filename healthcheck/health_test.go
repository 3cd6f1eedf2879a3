package healthcheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHealthObserve(t *testing.T) {
	type step struct {
		Health  Health
		Changed bool
	}
	tests := []struct {
		name       string
		start      Health
		rise, fall int
		results    []bool
		want       []step
	}{
		{
			name: "starts unhealthy, healthy after rise passes",
			rise: 2, fall: 3,
			results: []bool{true, true, true},
			want: []step{
				{Health{Passes: 1}, false},
				{Health{Healthy: true, Passes: 2}, true},
				{Health{Healthy: true, Passes: 3}, false},
			},
		},
		{
			name: "a failure restarts the rise count",
			rise: 2, fall: 3,
			results: []bool{true, false, true, true},
			want: []step{
				{Health{Passes: 1}, false},
				{Health{Failures: 1}, false},
				{Health{Passes: 1}, false},
				{Health{Healthy: true, Passes: 2}, true},
			},
		},
		{
			name:  "unhealthy after fall failures in a row",
			start: Health{Healthy: true, Passes: 7},
			rise:  2, fall: 3,
			results: []bool{false, false, false, false},
			want: []step{
				{Health{Healthy: true, Failures: 1}, false},
				{Health{Healthy: true, Failures: 2}, false},
				{Health{Failures: 3}, true},
				{Health{Failures: 4}, false},
			},
		},
		{
			name:  "a pass restarts the fall count",
			start: Health{Healthy: true},
			rise:  2, fall: 2,
			results: []bool{false, true, false, false},
			want: []step{
				{Health{Healthy: true, Failures: 1}, false},
				{Health{Healthy: true, Passes: 1}, false},
				{Health{Healthy: true, Failures: 1}, false},
				{Health{Failures: 2}, true},
			},
		},
		{
			name: "rise and fall of 1 follow every result",
			rise: 1, fall: 1,
			results: []bool{true, false, true},
			want: []step{
				{Health{Healthy: true, Passes: 1}, true},
				{Health{Failures: 1}, true},
				{Health{Healthy: true, Passes: 1}, true},
			},
		},
		{
			name: "rise and fall below 1 count as 1",
			rise: 0, fall: -4,
			results: []bool{true, false},
			want: []step{
				{Health{Healthy: true, Passes: 1}, true},
				{Health{Failures: 1}, true},
			},
		},
		{
			name: "failures of a new target change nothing",
			rise: 2, fall: 3,
			results: []bool{false, false, false, false},
			want: []step{
				{Health{Failures: 1}, false},
				{Health{Failures: 2}, false},
				{Health{Failures: 3}, false},
				{Health{Failures: 4}, false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.start
			var got []step
			for _, ok := range tc.results {
				var changed bool
				h, changed = h.Observe(ok, tc.rise, tc.fall)
				got = append(got, step{h, changed})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("health after each result (-want +got):\n%s", diff)
			}
		})
	}
}
