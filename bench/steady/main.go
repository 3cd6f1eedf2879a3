// Command steady measures what an idle lvsd director costs in steady state:
// 100 virtual services with 400 real servers, each checked over HTTP every
// 2 s, one VRRP instance holding the 100 VIPs as master. The target is under
// 3 % of one core and under 60 MB resident. It prints a markdown table and,
// with -write, replaces the "Steady state" section of BENCHMARKS.md.
//
// A director with virtual servers needs IPVS, which the host kernel may
// lack, so the faithful figure comes from the lab VM (integration/vm): the
// command runs the host-side test TestSteadyState of ./integration, which
// boots the VM, and this same binary, started with -guest inside it, runs
// the real servers and lvsd and reads lvsd's utime+stime from /proc/PID/stat
// over the window after a warm-up, and its VmHWM from /proc/PID/status. The
// VM emulates its CPUs (qemu TCG, no KVM), which inflates CPU time several
// times, so the same boot also measures the check load alone
// (bench/healthload, the healthcheck Scheduler with the same jobs), and the
// host measures that check load natively: the ratio of the two estimates
// what lvsd would use on the host's CPUs. Memory is not inflated by
// emulation.
//
// Run it as root from the module:
//
//	go run ./bench/steady -write BENCHMARKS.md
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchdoc"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	if err := steadyMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "steady:", err)
		os.Exit(1)
	}
}

func steadyMain(args []string) error {
	fs := flag.NewFlagSet("steady", flag.ContinueOnError)
	var l load
	fs.IntVar(&l.Services, "services", 100, "virtual services, one VIP each")
	fs.IntVar(&l.Dests, "dests", 4, "real servers per virtual service")
	fs.DurationVar(&l.Interval, "interval", 2*time.Second, "health-check interval")
	fs.DurationVar(&l.Timeout, "timeout", time.Second, "health-check timeout")
	fs.DurationVar(&l.Warmup, "warmup", 10*time.Second, "wait this long in steady state before measuring")
	fs.DurationVar(&l.Duration, "duration", 60*time.Second, "measuring window")
	vmInterval := fs.Duration("vm-interval", 10*time.Second, "health-check interval in the lab VM, whose emulated CPUs cannot keep up with -interval")
	vmTimeout := fs.Duration("vm-timeout", 5*time.Second, "health-check timeout in the lab VM, whose emulated CPUs are slow")
	inVM := fs.Bool("vm", true, "measure lvsd in the lab VM")
	onHost := fs.Bool("host", true, "measure the check load alone on the host")
	write := fs.String("write", "", "replace the Steady state section of this markdown file (BENCHMARKS.md)")
	verbose := fs.Bool("v", false, "relay the test's and the VM's output")
	guest := fs.Bool("guest", false, "run the guest side (inside the lab VM)")
	lvsd := fs.String("lvsd", "/usr/sbin/lvsd", "with -guest: the lvsd binary")
	healthload := fs.String("healthload", "", "with -guest: the healthload binary; empty to skip the check-load figure")
	dir := fs.String("dir", "/tmp", "with -guest: where the config, socket and log go")
	profile := fs.String("profile", "", "write lvsd's CPU profiles over the windows (pprof) to FILE.remote and FILE.loopback, and the check load's alone beside them to FILE.*.healthload; sampling costs lvsd a little CPU, so leave it out of the runs whose figures count")
	onlyRemote := fs.Bool("only-remote", false, "in the VM, measure lvsd with real servers across the network card only, not on the guest's loopback too")
	guestProfile := fs.Bool("guest-profile", false, "with -guest: put lvsd's CPU profile in the report")
	remote := fs.String("remote", "", "with -guest: lvsd's first real server ADDR:PORT across the network card, the others on the next ports; empty: on the guest's loopback")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := l.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *guest {
		o := guestOptions{Load: l, LVSD: *lvsd, Healthload: *healthload, Dir: *dir, Profile: *guestProfile}
		if *remote != "" {
			var err error
			if o.Remote, err = netip.ParseAddrPort(*remote); err != nil {
				return fmt.Errorf("-remote: %w", err)
			}
		}
		return guestMain(ctx, o, os.Stdout)
	}
	if !*inVM && !*onHost {
		return fmt.Errorf("nothing to measure: -vm=false and -host=false")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM does")
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "steady-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	r := report{Load: l, Started: time.Now().UTC(), HostCPUs: runtime.NumCPU(), LoadBefore: benchresult.LoadAverage(),
		Command: strings.Join(append([]string{"go run ./bench/steady"}, args...), " ")}
	if *inVM {
		vl := l
		vl.Interval, vl.Timeout = *vmInterval, *vmTimeout
		if err := vl.check(); err != nil {
			return fmt.Errorf("-vm-interval, -vm-timeout: %w", err)
		}
		// Real servers across the network card first, the director's
		// view; then on the guest's loopback, where the guest's kernel
		// also does their side of every check.
		for _, remote := range []bool{true, false} {
			if *onlyRemote && !remote {
				continue
			}
			where := "across the network card"
			if !remote {
				where = "on the guest's loopback"
			}
			fmt.Fprintf(os.Stderr, "steady: booting the lab VM for lvsd, real servers %s; it runs for about %v\n", where, (l.Warmup+l.Duration)+time.Minute)
			g, err := runVM(root, tmp, vl, remote, *profile != "", *verbose)
			if err != nil {
				return fmt.Errorf("in the VM, real servers %s: %w", where, err)
			}
			if remote {
				r.Remote = &g
			} else {
				r.Guest = &g
			}
			if *profile != "" {
				if err := saveProfiles(*profile, remote, g); err != nil {
					return err
				}
			}
		}
	}
	if *write != "" && *profile != "" {
		return fmt.Errorf("-profile with -write: a profiled run's figures include the sampling's cost")
	}
	if *onHost {
		fmt.Fprintln(os.Stderr, "steady: measuring the check load alone on the host")
		m, err := runHost(ctx, root, tmp, l)
		if err != nil {
			return fmt.Errorf("on the host: %w", err)
		}
		r.Host = &m
	}
	r.LoadAfter = benchresult.LoadAverage()
	sec := r.section()
	fmt.Print(sec)
	if *write != "" {
		if err := benchdoc.Write(*write, sec); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "steady: wrote the %q section of %s\n", heading, *write)
	}
	return nil
}

func numCPU() int { return runtime.NumCPU() }

// saveProfiles writes the profiles of one VM run beside base.
func saveProfiles(base string, remote bool, g guestReport) error {
	name := base + ".loopback"
	if remote {
		name = base + ".remote"
	}
	if len(g.Profile) == 0 {
		return fmt.Errorf("the guest sent no profile: %s", g.ProfileErr)
	}
	if err := os.WriteFile(name, g.Profile, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "steady: lvsd's CPU profile is in %s (go tool pprof -top %s)\n", name, name)
	if len(g.ChecksProfile) == 0 {
		fmt.Fprintf(os.Stderr, "steady: no profile of the check load alone: %s\n", g.ChecksProfileErr)
		return nil
	}
	if err := os.WriteFile(name+".healthload", g.ChecksProfile, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "steady: the check load's alone is in %s.healthload\n", name)
	return nil
}
