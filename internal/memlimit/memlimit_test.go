package memlimit

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLimit(t *testing.T) {
	tests := []struct {
		total, rules int
		want         int64
	}{
		{0, 0, 32 << 20},
		{8_500_000, 0, 32<<20 + 170_000_000},
		{1_000_000, 100_000, 32<<20 + 20_000_000 + 100_000<<11},
		{math.MaxInt, 0, math.MaxInt64},
		{0, math.MaxInt, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := Limit(tt.total, tt.rules); got != tt.want {
			t.Errorf("Limit(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}

func TestForConfigLeavesGOMEMLIMIT(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	ForConfig(1 << 20)
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", got)
	}

	t.Setenv("GOMEMLIMIT", "")
	ForConfig(1 << 20)
	if got, want := debug.SetMemoryLimit(-1), Limit(1<<20, 0); got != want {
		t.Errorf("limit = %d, want %d", got, want)
	}
	ForTable(1000)
	if got, want := debug.SetMemoryLimit(-1), Limit(1<<20, 1000); got != want {
		t.Errorf("limit with a table of 1000 rules = %d, want %d", got, want)
	}
}

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

func TestStartup(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	first, second := Startup(), Startup()
	if p := gcPercent(); p != -1 {
		t.Fatalf("GOGC during start-ups = %d, want off (-1)", p)
	}
	first()
	first() // once only
	if p := gcPercent(); p != -1 {
		t.Errorf("GOGC with a start-up still under way = %d, want off (-1)", p)
	}
	second()
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC after the start-ups = %d, want 100 back", p)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	done := Startup()
	if p := gcPercent(); p != 50 {
		t.Errorf("GOGC=50 in the environment: GOGC during a start-up = %d, want it left at 50", p)
	}
	done()
}
