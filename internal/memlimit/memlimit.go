// Package memlimit sizes the Go runtime's soft memory limit from the
// config files lvsd reads, unless GOMEMLIMIT says otherwise.
//
// Parsing a cluster file allocates many times what its result keeps, and
// under the runtime's default pacing (GOGC=100) the heap grows to twice
// what is live before a collection: a large load peaked at three times
// the heap it left. A soft limit a little above what the files will need
// makes the collector work harder only near it, which costs some CPU time
// on large loads and nothing on small ones. It is soft: a file denser
// than expected makes the collector busier (the runtime caps that at half
// the CPU), never fails a load.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
)

const (
	// base is room for the daemon itself: its goroutines, buffers and
	// checks, with no config to speak of.
	base = 32 << 20
	// perByte is the heap allowed per byte of config files: a file of
	// services of four checked real servers keeps about 11 bytes of heap
	// per byte of text (BENCHMARKS.md, Config load), and the rest leaves
	// the collector room.
	perByte = 16
)

// ForConfig sets the soft memory limit for config files of total bytes,
// unless GOMEMLIMIT is set. It suits config.Loader's BeforeParse.
func ForConfig(total int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(Limit(total))
}

// Limit is the soft memory limit for config files of total bytes.
func Limit(total int) int64 {
	if total > (math.MaxInt64-base)/perByte {
		return math.MaxInt64
	}
	return base + perByte*int64(total)
}
