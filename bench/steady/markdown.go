package main

import (
	"fmt"
	"strings"
	"time"
)

// heading is the title of this command's section of BENCHMARKS.md.
const heading = "## Steady state"

// Targets of the steady-state claim.
const (
	targetCPU = 0.03     // share of one core
	targetRSS = 60 << 20 // bytes
)

// estimate is lvsd's CPU share scaled from the emulated CPUs to the host's
// by the ratio the check load alone shows between them, and whether it
// can be made.
func (r report) estimate() (float64, bool) {
	if r.Guest == nil || r.Guest.Checks == nil || r.Host == nil || r.Guest.Checks.Share() <= 0 {
		return 0, false
	}
	return r.Guest.LVSD.Share() * r.Host.Share() / r.Guest.Checks.Share(), true
}

func (r report) section() string {
	var b strings.Builder
	l := r.Load
	vmInterval, vmTimeout := l.Interval, l.Timeout
	if r.Guest != nil {
		vmInterval, vmTimeout = r.Guest.Load.Interval, r.Guest.Load.Timeout
	}
	fmt.Fprintf(&b, `%s

What an idle director costs: %d virtual services (one VIP each, DR,
wlc) with %d real servers in all, each checked over HTTP every %v
(timeout %v, rise 2, fall 3), one VRRP instance holding the %d VIPs
as master (advert 1 s), the IPVS table re-read every 10 s (the default)
and the metrics listener on. The claim: under %.0f %% of one core and
under %d MB resident.

Command (root, from the module's root; it boots the lab VM once and
rewrites this section):

    go run ./bench/steady -write BENCHMARKS.md

Method. A director with virtual servers needs IPVS, which the host
kernel lacks, so lvsd runs in the lab VM (integration/vm, Debian's
cloud kernel) with real IPVS: the real servers are HTTP listeners on
loopback addresses (127.2.S.D:80, in the kernel's table as DR
destinations; only the checks reach them). Once every real server is
healthy, in IPVS (ipvsadm lists every rule) and the instance is master,
a warm-up of %v passes, then lvsd's utime+stime is read from
/proc/PID/stat at both ends of a %v window; the peak resident set is
VmHWM from /proc/PID/status. The status socket is not read inside the
window, since every read costs lvsd CPU.

`, heading, l.Services, l.servers(), l.Interval, l.Timeout, l.Services,
		targetCPU*100, targetRSS>>20, l.Warmup, l.Duration)

	b.WriteString("\nThe VM runs without KVM: qemu emulates its CPUs (TCG), so CPU time in\nthe guest is several times what the same work takes on the host's cores.\n")
	if vmInterval != l.Interval || vmTimeout != l.Timeout {
		fmt.Fprintf(&b, `On this 2-core machine the emulated CPUs cannot keep up with %d HTTP
checks every %v at all (checks start late, time out and servers flap),
so in the VM the same %d servers are checked every %v with a timeout
of %v.
`, l.servers(), l.Interval, l.servers(), vmInterval, vmTimeout)
	}
	b.WriteString(`Beside lvsd the guest runs the check load alone at the VM's rate
(bench/healthload: the healthcheck Scheduler with the same jobs, its
listeners in a child process), measured in the same window: in separate
windows the emulator's pace varied between the two more than lvsd's
cost differs from the checker's. The host
runs the check load alone natively at the claimed rate. The estimate
for lvsd on the host's cores at the claimed rate is lvsd's in-VM share
times the host's check-load share over the VM's check-load share. It
assumes lvsd's idle work is almost all checks and slowed by emulation
as much as the checker alone is; lvsd's fixed work (VRRP adverts, IPVS
re-reads) is scaled with the VM's ratio, which errs on the high side.
Over loopback the checker's system calls also run the real servers'
side of each TCP exchange (see the kernel floor of bench/healthload),
so every check figure here is above what checks across a network cost
the director. Memory is not inflated by emulation: the VM's peak RSS is
the faithful figure.
`)

	fmt.Fprintf(&b, "\nResults (%s, %d-core host, load average %s before, %s after; the machine is shared):\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.HostCPUs, r.LoadBefore, r.LoadAfter)
	b.WriteString("| what | where | checks | CPU, share of one core | CPU per check | peak RSS (VmHWM) | RSS at the end |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	if g := r.Guest; g != nil {
		gl := g.Load
		fmt.Fprintf(&b, "| lvsd run, the whole director | lab VM (TCG, %d vCPUs) | %d every %v | %s | %s | %s | %s |\n",
			g.CPUs, gl.servers(), gl.Interval, pct(g.LVSD.Share()), perCheck(g.LVSD, float64(g.Served)), mb(g.LVSD.PeakRSS), mb(g.LVSD.RSS))
		if c := g.Checks; c != nil {
			fmt.Fprintf(&b, "| check load alone (healthload) | lab VM (TCG) | %d every %v | %s | %s | %s | %s |\n",
				gl.servers(), gl.Interval, pct(c.Share()), perCheck(*c, gl.expected(c.Wall)), mb(c.PeakRSS), mb(c.RSS))
		} else if g.CheckErr != "" {
			fmt.Fprintf(&b, "| check load alone (healthload) | lab VM (TCG) | %d every %v | not measured: %s | | | |\n", gl.servers(), gl.Interval, oneLine(g.CheckErr))
		}
	}
	if h := r.Host; h != nil {
		fmt.Fprintf(&b, "| check load alone (healthload) | host | %d every %v | %s | %s | %s | %s |\n",
			l.servers(), l.Interval, pct(h.Share()), perCheck(*h, l.expected(h.Wall)), mb(h.PeakRSS), mb(h.RSS))
	}
	if est, ok := r.estimate(); ok {
		fmt.Fprintf(&b, "| **lvsd run, estimated** | host (VM × host/VM check load) | %d every %v | **%s** | | %s (VM) | |\n",
			l.servers(), l.Interval, pct(est), mb(r.Guest.LVSD.PeakRSS))
	}
	b.WriteString("\nCPU per check: lvsd's from the requests the real servers answered in the window, healthload's from the checks its jobs make in it.\n")

	if g := r.Guest; g != nil {
		fmt.Fprintf(&b, "\nIn the VM (kernel %s): lvsd was steady %.1f s after its start; ipvsadm listed %d services and %d destinations; the real servers answered %.1f requests/s in the window (%d checks every %v make %.1f/s); %d of %d real servers were healthy and %d in IPVS after it; guest load average %s.\n",
			g.Kernel, g.Ready.Seconds(), g.IPVSServices, g.IPVSDests, float64(g.Served)/g.LVSD.Wall.Seconds(),
			g.Load.servers(), g.Load.Interval, g.Load.expected(time.Second), g.Healthy, g.Load.servers(), g.InIPVS, g.Load1)
	}

	b.WriteString("\nAgainst the targets: ")
	var verdicts []string
	if g := r.Guest; g != nil {
		verdicts = append(verdicts, fmt.Sprintf("peak RSS %s, %s %d MB", mb(g.LVSD.PeakRSS), meets(g.LVSD.PeakRSS < targetRSS), targetRSS>>20))
		if est, ok := r.estimate(); ok {
			verdicts = append(verdicts, fmt.Sprintf("estimated CPU on the host %s, %s %.0f %%", pct(est), meets(est < targetCPU), targetCPU*100))
		}
	}
	if len(verdicts) == 0 {
		verdicts = append(verdicts, "lvsd was not measured in this run")
	}
	b.WriteString(strings.Join(verdicts, "; ") + ".\n")
	return b.String()
}

// perCheck is a measurement's CPU time divided by the checks made in it.
func perCheck(m measurement, checks float64) string {
	if checks <= 0 {
		return "n/a"
	}
	return (time.Duration(float64(m.CPU) / checks)).Round(time.Microsecond).String()
}

func meets(ok bool) string {
	if ok {
		return "under"
	}
	return "NOT under"
}

func pct(share float64) string { return fmt.Sprintf("%.2f %%", share*100) }

func mb(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/(1<<20)) }

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
