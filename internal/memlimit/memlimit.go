// Package memlimit sizes the Go runtime's soft memory limit from the
// config files lvsd reads and the IPVS table they make, unless GOMEMLIMIT
// says otherwise.
//
// Parsing a cluster file allocates many times what its result keeps, and
// under the runtime's default pacing (GOGC=100) the heap grows to twice
// what is live before a collection: a large load peaked at three times
// the heap it left. A soft limit a little above what the files will need
// makes the collector work harder only near it, which costs some CPU time
// on large loads and nothing on small ones. It is soft: a file denser
// than expected makes the collector busier (the runtime caps that at half
// the CPU), never fails a load.
//
// The IPVS table is the other part of the heap that grows with the
// configuration: the desired and the known table, and on a first start
// the operations and netlink messages of the whole table. A limit from
// the file's bytes alone sat below that (a file of unchecked real servers
// is few bytes per rule) and kept the collector running through the
// whole first round (BENCHMARKS.md, Cold start), so the table's rules
// count too.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

const (
	// base is room for the daemon itself: its goroutines, buffers and
	// checks, with no config to speak of.
	base = 32 << 20
	// perByte is the heap allowed per byte of config files: a file of
	// services of four checked real servers keeps about 16 bytes of heap
	// per byte of text (the decoded pieces a reload reuses and the
	// Config: 137 MB for a file of 8.5 MB), and the rest leaves the
	// collector room. A limit at what the load keeps had the collector
	// run without pause through the end of it: 25 % more CPU time.
	perByte = 20
	// perRule is the heap allowed per IPVS rule (a service or a real
	// server) of the desired table: a first start of 100,000 rules
	// peaked at about 1.7 KiB per rule above the file's share.
	perRule = 2 << 10
)

var (
	mu           sync.Mutex
	bytes, rules int
	// starting counts the start-ups under way (Startup); paced is the
	// GOGC they found.
	starting int
	paced    int
)

// ForConfig sets the soft memory limit for config files of total bytes
// (and the table last given to ForTable), unless GOMEMLIMIT is set. It
// suits config.Loader's BeforeParse.
func ForConfig(total int) {
	mu.Lock()
	defer mu.Unlock()
	bytes = total
	apply()
}

// ForTable sets the soft memory limit for an IPVS table of n rules
// (services and real servers), and the files last given to ForConfig,
// unless GOMEMLIMIT is set.
func ForTable(n int) {
	mu.Lock()
	defer mu.Unlock()
	rules = n
	apply()
}

func apply() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(Limit(bytes, rules))
}

// Startup leaves garbage collection to the soft memory limit alone until
// the returned function is called, which puts the runtime's pacing
// back. A start-up parses its files and builds and sends its whole table
// in one go, with little of what it allocates surviving; the usual
// pacing (GOGC=100) collects every time the heap doubles on the way, for
// nothing that the limit needs, on the path to the programmed table.
// The limit still bounds the heap: the collector runs when it nears it.
// Startup does nothing when GOGC or GOMEMLIMIT is set in the
// environment: the operator's pacing stands.
func Startup() (done func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if starting == 0 {
		apply() // a limit before the first file is read
		paced = debug.SetGCPercent(-1)
	}
	starting++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			// Several start-ups in one process (tests) overlap: the last
			// to end puts the pacing back.
			if starting--; starting == 0 {
				debug.SetGCPercent(paced)
			}
		})
	}
}

// Limit is the soft memory limit for config files of total bytes and an
// IPVS table of n rules.
func Limit(total, n int) int64 {
	if total > (math.MaxInt64-base)/perByte/2 || n > (math.MaxInt64-base)/perRule/2 {
		return math.MaxInt64
	}
	return base + perByte*int64(total) + perRule*int64(n)
}
