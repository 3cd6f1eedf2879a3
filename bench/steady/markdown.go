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

// estimate is lvsd's CPU share in g scaled from the emulated CPUs to the
// host's by the ratio the check load alone shows between them (measured
// in the same window as lvsd), and whether it can be made.
func (r report) estimate(g *guestReport) (float64, bool) {
	if g == nil || g.Checks == nil || r.Host == nil || g.Checks.Share() <= 0 {
		return 0, false
	}
	return g.LVSD.Share() * r.Host.Share() / g.Checks.Share(), true
}

// run is one VM run of lvsd and where its real servers were.
type run struct {
	g           *guestReport
	remote      bool
	short, long string
}

// runs are the VM runs made, across the network first.
func (r report) runs() []run {
	var out []run
	if r.Remote != nil {
		out = append(out, run{r.Remote, true, "across a network", "across the network card"})
	}
	if r.Guest != nil {
		out = append(out, run{r.Guest, false, "on loopback", "on the guest's loopback"})
	}
	return out
}

// headline is the run the claim is judged on: real servers across the
// network card when measured, as a director's are.
func (r report) headline() *guestReport {
	if r.Remote != nil {
		return r.Remote
	}
	return r.Guest
}

func (r report) section() string {
	var b strings.Builder
	l := r.Load
	vmInterval, vmTimeout := l.Interval, l.Timeout
	if g := r.headline(); g != nil {
		vmInterval, vmTimeout = g.Load.Interval, g.Load.Timeout
	}
	fmt.Fprintf(&b, `%s

What an idle director costs: %d virtual services (one VIP each,
wlc, DR or NAT as below) with %d real servers in all, each checked over HTTP every %v
(timeout %v, rise 2, fall 3), one VRRP instance holding the %d VIPs
as master (advert 1 s), the IPVS table re-read every 10 s (the default)
and the metrics listener on. The claim: under %.0f %% of one core and
under %d MB resident.

Command (root, from the module's root; it boots the lab VM twice and
rewrites this section):

    go run ./bench/steady -write BENCHMARKS.md

Method. A director with virtual servers needs IPVS, which the host
kernel lacks, so lvsd runs in the lab VM (integration/vm, Debian's
cloud kernel) with real IPVS, twice, each in its own boot:

- **real servers across a network**: the VM has a network card
  (virtio-net on qemu's user-mode network) and the real servers are
  HTTP listeners on the host's loopback, consecutive ports reached as
  10.0.2.2 (NAT destinations, since their ports differ from the
  service's). qemu's process completes each connection on the host, so
  the guest's kernel does only the director's side of every check, as
  across a real network. This is the run the claim is judged on.
- **real servers on the guest's loopback** (127.2.S.D:80, DR
  destinations): the guest's kernel does both ends of every check's TCP
  exchange in lvsd's system calls, so this figure overstates a
  director's cost; it is kept as the upper bound.

Once every real server is healthy, in IPVS (ipvsadm lists every rule)
and the instance is master, a warm-up of %v passes, then lvsd's
utime+stime is read from /proc/PID/stat at both ends of a %v window;
the peak resident set is VmHWM from /proc/PID/status. The status socket
is not read inside the window, since every read costs lvsd CPU.

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
listeners on the guest's loopback in a child process), measured in the
same window: in separate windows the emulator's pace varied between the
two more than lvsd's cost differs from the checker's. The host runs the
check load alone natively at the claimed rate, also over loopback. The
estimate for lvsd on the host's cores at the claimed rate is lvsd's
in-VM share times the host's check-load share over the VM's check-load
share in the same window: the emulation's slowdown, measured on the same
work on both sides. It assumes lvsd's work is slowed by emulation as
much as the checker's; the network card's emulation (each packet is a
trap into qemu, charged to the guest process that sent it) makes the
across-a-network figure err on the high side. Memory is not inflated by
emulation: the VM's peak RSS is the faithful figure.
`)
	fmt.Fprintf(&b, "\nResults (%s, %d-core host, load average %s before, %s after; the machine is shared):\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.HostCPUs, r.LoadBefore, r.LoadAfter)
	b.WriteString("| what | where | checks | CPU, share of one core | CPU per check | peak RSS (VmHWM) | RSS at the end |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, run := range r.runs() {
		g := run.g
		gl := g.Load
		checks := float64(g.Served)
		if g.Remote != "" {
			checks = gl.expected(g.LVSD.Wall) // the host's listeners counted them
		}
		fmt.Fprintf(&b, "| lvsd run, real servers %s | lab VM (TCG, %d vCPUs) | %d every %v | %s | %s | %s | %s |\n",
			run.short, g.CPUs, gl.servers(), gl.Interval, pct(g.LVSD.Share()), perCheck(g.LVSD, checks), mb(g.LVSD.PeakRSS), mb(g.LVSD.RSS))
		if c := g.Checks; c != nil {
			fmt.Fprintf(&b, "| check load alone (healthload), same window | lab VM (TCG) | %d every %v | %s | %s | %s | %s |\n",
				gl.servers(), gl.Interval, pct(c.Share()), perCheck(*c, gl.expected(c.Wall)), mb(c.PeakRSS), mb(c.RSS))
		} else if g.CheckErr != "" {
			fmt.Fprintf(&b, "| check load alone (healthload), same window | lab VM (TCG) | %d every %v | not measured: %s | | | |\n", gl.servers(), gl.Interval, oneLine(g.CheckErr))
		}
	}
	if h := r.Host; h != nil {
		fmt.Fprintf(&b, "| check load alone (healthload) | host | %d every %v | %s | %s | %s | %s |\n",
			l.servers(), l.Interval, pct(h.Share()), perCheck(*h, l.expected(h.Wall)), mb(h.PeakRSS), mb(h.RSS))
	}
	for _, run := range r.runs() {
		if est, ok := r.estimate(run.g); ok {
			bold := run.g == r.headline()
			label := "lvsd run, estimated, real servers " + run.short
			if !run.remote {
				label += " (upper bound)"
			}
			fmt.Fprintf(&b, "| %s | host (VM × host/VM check load) | %d every %v | %s | | %s (VM) | |\n",
				emph(label, bold), l.servers(), l.Interval, emph(pct(est), bold), mb(run.g.LVSD.PeakRSS))
		}
	}
	b.WriteString("\nCPU per check: the process's CPU over the checks its jobs make in the window (for lvsd with real servers on loopback, the requests they answered).\n")

	for _, run := range r.runs() {
		g := run.g
		served := fmt.Sprintf("the real servers answered %.1f requests/s in the window", float64(g.Served)/g.LVSD.Wall.Seconds())
		if g.Remote != "" {
			served = fmt.Sprintf("the real servers were %s and the next %d ports of the host", g.Remote, g.Load.servers()-1)
		}
		fmt.Fprintf(&b, "\nIn the VM, real servers %s (kernel %s): lvsd was steady %.1f s after its start; ipvsadm listed %d services and %d destinations; %s (%d checks every %v make %.1f/s); %d of %d real servers were healthy and %d in IPVS after it; guest load average %s.\n",
			run.long, g.Kernel, g.Ready.Seconds(), g.IPVSServices, g.IPVSDests, served,
			g.Load.servers(), g.Load.Interval, g.Load.expected(time.Second), g.Healthy, g.Load.servers(), g.InIPVS, g.Load1)
	}

	b.WriteString("\nAgainst the targets: ")
	var verdicts []string
	if g := r.headline(); g != nil {
		verdicts = append(verdicts, fmt.Sprintf("peak RSS %s, %s %d MB", mb(g.LVSD.PeakRSS), meets(g.LVSD.PeakRSS < targetRSS), targetRSS>>20))
		where := "real servers across a network"
		if g.Remote == "" {
			where = "real servers on loopback"
		}
		if est, ok := r.estimate(g); ok {
			verdicts = append(verdicts, fmt.Sprintf("estimated CPU on the host, %s, %s, %s %.0f %%", where, pct(est), meets(est < targetCPU), targetCPU*100))
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

// emph makes s bold in markdown when on.
func emph(s string, on bool) string {
	if on {
		return "**" + s + "**"
	}
	return s
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
