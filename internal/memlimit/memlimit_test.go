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
		{8_500_000, 0, 32<<20 + 136_000_000},
		{1_000_000, 100_000, 32<<20 + 16_000_000 + 100_000<<11},
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
