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
// every pairing alike. The measurement is the test TestBenchFailover of
// ./integration (build tag failoverbench); this command runs it and writes
// the table. The reference is the backup's Master_Down_Interval
// (RFC 5798 §6.1, RFC 3768 §6.1).
//
// Run it as root from the module:
//
//	go run ./bench/failover -rounds 5 -write BENCHMARKS.md
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchdoc"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	var o options
	flag.IntVar(&o.Rounds, "rounds", 5, "failovers of each pairing at each interval")
	flag.StringVar(&o.Write, "write", "", "file whose Failover section is replaced (BENCHMARKS.md); empty to only print")
	flag.BoolVar(&o.Verbose, "v", false, "relay the test's output")
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
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "failover-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "result.json")
	m := machine{
		Date:       time.Now().UTC(),
		CPUs:       runtime.NumCPU(),
		Kernel:     kernel(),
		Keepalived: keepalivedVersion(),
		LoadBefore: benchresult.LoadAverage(),
	}
	if err := benchrun.GoTest(root, o.Verbose, "TestBenchFailover", "-tags", "failoverbench", "-count=1", "-timeout=60m", "-v",
		"-run", "^TestBenchFailover$", "./integration/", "-args",
		"-failover-bench.rounds", fmt.Sprint(o.Rounds), "-failover-bench.out", out); err != nil {
		return err
	}
	var r benchresult.Failover
	if err := benchrun.ReadResult(out, &r); err != nil {
		return err
	}
	for _, s := range r.Samples {
		fmt.Fprintf(os.Stderr, "failover: %s→%s %s: gap %v, GARP +%v (Master_Down_Interval %v)\n",
			s.Master, s.Backup, protocolName(s), s.Gap, s.GARPLag, s.Expected)
	}
	m.LoadAfter = benchresult.LoadAverage()
	sec := section(summarize(r.Samples), m, o.Rounds)
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
