//go:build failoverbench

package integration

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/failover"
	"github.com/lvsd/lvsd/integration/lab"
)

// go run ./bench/failover sets these.
var (
	failoverBenchOut    = flag.String("failover-bench.out", "", "run TestBenchFailover and write its JSON result to this file")
	failoverBenchRounds = flag.Int("failover-bench.rounds", 5, "failovers of each pairing at each interval")
)

// TestBenchFailover measures the failover of every pairing of lvsd and
// keepalived (master, then the backup that takes over) at each
// advertisement interval: a fresh pair per round, elected, the master's
// process group killed with SIGKILL, the gaps read from the observer's
// capture. The rounds of the pairings are interleaved, so that a change of
// the machine's load hits every pairing alike.
func TestBenchFailover(t *testing.T) {
	if *failoverBenchOut == "" {
		t.Fatal("no -failover-bench.out=FILE: run it with go run ./bench/failover")
	}
	lab.RequireRoot(t, "ip", "tcpdump", "keepalived", "go")
	bin := buildLVSD(t)
	protocols := []failover.Case{
		{Version: 3, Interval: 100 * time.Millisecond},
		{Version: 3, Interval: 10 * time.Millisecond},
		{Version: 2, Interval: time.Second, AuthPass: "secret1"},
	}
	// keepalived's own pairing first, as the reference of the ratios.
	pairings := [][2]failover.Impl{
		{failover.Keepalived, failover.Keepalived},
		{failover.LVSD, failover.LVSD},
		{failover.Keepalived, failover.LVSD},
		{failover.LVSD, failover.Keepalived},
	}
	var res benchresult.Failover
	for _, proto := range protocols {
		for round := 1; round <= *failoverBenchRounds; round++ {
			for _, pr := range pairings {
				c := proto
				c.Master, c.Backup = pr[0], pr[1]
				t.Run(fmt.Sprintf("%s/round%d", c, round), func(t *testing.T) {
					p := startPair(t, bin, c)
					r := p.Failover(t, syscall.SIGKILL)
					t.Logf("gap %v, GARP +%v (Master_Down_Interval %v)", r.Gap, r.GARPGap-r.Gap, r.Expected)
					res.Samples = append(res.Samples, benchresult.FailoverSample{
						Version: c.Version, Interval: c.Interval, Master: string(c.Master), Backup: string(c.Backup),
						Gap: r.Gap, GARPLag: r.GARPGap - r.Gap, Expected: r.Expected,
					})
				})
			}
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*failoverBenchOut, js, 0o644); err != nil {
		t.Fatal(err)
	}
}
