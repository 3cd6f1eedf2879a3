// Command failover measures VRRP failover times of lvsd and of Debian's
// keepalived in the same run, and writes the "Failover" section of
// BENCHMARKS.md.
//
// For each advertisement interval (VRRPv3 at 100 ms and 10 ms, VRRPv2 at
// 1 s) and each pairing of implementations (keepalived→keepalived,
// lvsd→lvsd, keepalived→lvsd, lvsd→keepalived: the master, then the backup
// that takes over), it starts a fresh pair in a lab LAN (network
// namespaces on a bridge, see integration/lab), waits for the election,
// kills the master's process group with SIGKILL and reads, from the
// observer's capture, the gap from the master's last advert to the
// backup's first advert and to its first gratuitous ARP. The rounds of the
// pairings are interleaved, so that a change of the machine's load hits
// every pairing alike. The reference is the backup's Master_Down_Interval
// (RFC 5798 §6.1, RFC 3768 §6.1).
//
// Run it as root from the module:
//
//	go run ./bench/failover -rounds 5 -write BENCHMARKS.md
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/internal/benchdoc"
	"github.com/lvsd/lvsd/integration/benchresult"
	"github.com/lvsd/lvsd/integration/failover"
)

func main() {
	var o options
	flag.IntVar(&o.Rounds, "rounds", 5, "failovers of each pairing at each interval")
	flag.StringVar(&o.Write, "write", "", "file whose Failover section is replaced (BENCHMARKS.md); empty to only print")
	flag.BoolVar(&o.Verbose, "v", false, "relay the routers' output")
	flag.Parse()
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

type options struct {
	Rounds  int
	Write   string
	Verbose bool
}

// protocols are the intervals measured, the fast ones first.
var protocols = []failover.Case{
	{Version: 3, Interval: 100 * time.Millisecond},
	{Version: 3, Interval: 10 * time.Millisecond},
	{Version: 2, Interval: time.Second, AuthPass: "secret1"},
}

// pairings are master and backup; keepalived's own first, as the
// reference of the ratios.
var pairings = [][2]failover.Impl{
	{failover.Keepalived, failover.Keepalived},
	{failover.LVSD, failover.LVSD},
	{failover.Keepalived, failover.LVSD},
	{failover.LVSD, failover.Keepalived},
}

func benchmark(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab's namespaces do")
	}
	if o.Rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	for _, prog := range []string{"ip", "tcpdump", "keepalived", "go"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("%s is not installed: %w", prog, err)
		}
	}
	tmp, err := os.MkdirTemp("", "failover-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := failover.Build(tmp)
	if err != nil {
		return err
	}
	var log io.Writer
	if o.Verbose {
		log = os.Stderr
	}

	m := machine{
		Date:       time.Now().UTC(),
		CPUs:       runtime.NumCPU(),
		Kernel:     kernel(),
		Keepalived: keepalivedVersion(),
		LoadBefore: benchresult.LoadAverage(),
	}
	var samples []sample
	for _, proto := range protocols {
		for round := 1; round <= o.Rounds; round++ {
			for _, pr := range pairings {
				c := proto
				c.Master, c.Backup = pr[0], pr[1]
				var r failover.Result
				err := failover.Run(c.String(), log, func(t testing.TB) {
					p := failover.Start(t, bin, c)
					if err := p.WaitElected(10 * time.Second); err != nil {
						t.Fatal(err)
					}
					r = p.Failover(t, syscall.SIGKILL)
				})
				if err != nil {
					return fmt.Errorf("round %d: %w", round, err)
				}
				fmt.Fprintf(os.Stderr, "failover: %-40s round %d: gap %v, GARP +%v (Master_Down_Interval %v)\n",
					c, round, r.Gap, r.GARPGap-r.Gap, r.Expected)
				samples = append(samples, sample{Case: c, Gap: r.Gap, GARPLag: r.GARPGap - r.Gap, Expected: r.Expected})
			}
		}
	}
	m.LoadAfter = benchresult.LoadAverage()
	sec := section(summarize(samples), m, o.Rounds)
	fmt.Print(sec)
	if o.Write == "" {
		return nil
	}
	return benchdoc.Write(o.Write, sec)
}

func kernel() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

func keepalivedVersion() string {
	out, _ := exec.Command("keepalived", "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(line); len(f) >= 2 {
		return strings.TrimPrefix(f[1], "v")
	}
	return "unknown"
}
