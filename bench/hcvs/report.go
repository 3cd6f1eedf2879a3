package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
)

// heading is the section of BENCHMARKS.md this command owns.
const heading = "## Health checks: lvsd and keepalived"

// The checkers, as the guest names them.
const (
	keepalived = "keepalived"
	lvsd       = "lvsd"
)

// result is the guest's JSON line, and window one checker's figures over
// one of its windows.
type (
	result = benchresult.Health
	window = benchresult.HealthRun
)

// boot is one VM boot's result and the host's load around it.
type boot struct {
	Result                result
	LoadBefore, LoadAfter string
	Wall                  time.Duration
	// Rev names the lvsd code the boot measured (see revision).
	Rev string
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs int
	Date time.Time
}

// validate refuses a result whose figures would mean nothing: a checker
// missing, a window without checks, or a server not checked or not
// healthy. The guest fails such a run already; this guards the report.
func validate(r result) error {
	var errs []error
	for _, c := range []string{keepalived, lvsd} {
		if !slices.ContainsFunc(r.Runs, func(w window) bool { return w.Checker == c }) {
			errs = append(errs, fmt.Errorf("no window of %s", c))
		}
	}
	for i, w := range r.Runs {
		switch {
		case w.Checks <= 0 || w.WallS <= 0:
			errs = append(errs, fmt.Errorf("window %d (%s): %d checks in %.1f s", i+1, w.Checker, w.Checks, w.WallS))
		case w.Covered != r.Servers || w.Healthy != r.Servers:
			errs = append(errs, fmt.Errorf("window %d (%s): %d servers checked and %d healthy of %d", i+1, w.Checker, w.Covered, w.Healthy, r.Servers))
		case float64(w.Failed) > maxFailed*float64(w.Checks):
			errs = append(errs, fmt.Errorf("window %d (%s): %d failed checks of %d", i+1, w.Checker, w.Failed, w.Checks))
		}
	}
	return errors.Join(errs...)
}

// maxFailed is the share of failed checks above which a window does not
// count (vmtests.hcbMaxFailed): failed checks cost less than passed ones.
const maxFailed = 0.05

// figures are one checker's windows of one boot taken together.
type figures struct {
	Windows      int
	ChecksPerSec float64
	// Expected is the share of Servers/Interval checks per second made.
	Expected      float64
	CPUPerCheckUS float64
	UserPerCheck  float64 // µs
	SysPerCheck   float64 // µs
	CoreShare     float64 // CPU time / wall time
	GuestBusy     float64 // mean over the windows
}

func figuresOf(r result, checker string) figures {
	var f figures
	var checks int64
	var wall, user, sys, busy float64
	for _, w := range r.Runs {
		if w.Checker != checker {
			continue
		}
		f.Windows++
		checks += w.Checks
		wall += w.WallS
		user += w.UserMS
		sys += w.SysMS
		busy += w.GuestBusy
	}
	if f.Windows == 0 || checks == 0 || wall == 0 {
		return f
	}
	f.ChecksPerSec = float64(checks) / wall
	if r.IntervalMS > 0 && r.Servers > 0 {
		f.Expected = f.ChecksPerSec / (float64(r.Servers) * 1000 / r.IntervalMS)
	}
	f.UserPerCheck = user * 1000 / float64(checks)
	f.SysPerCheck = sys * 1000 / float64(checks)
	f.CPUPerCheckUS = f.UserPerCheck + f.SysPerCheck
	f.CoreShare = (user + sys) / 1000 / wall
	f.GuestBusy = busy / float64(f.Windows)
	return f
}

// ratio is a/b, 0 when b is unknown.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func pct(x float64) string { return fmt.Sprintf("%.1f %%", 100*x) }

func seconds(ms float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", ms/1000), ".0") + " s" }

// section renders the section of BENCHMARKS.md.
func section(boots []boot, m machine, command string) string {
	var b strings.Builder
	first := boots[0].Result
	fmt.Fprintf(&b, "%s\n\n", heading)
	b.WriteString("The CPU time `lvsd run` and keepalived's checker spend on the same\n" +
		"HTTP checks with the same settings, measured side by side in the lab VM\n" +
		"(keepalived's checker needs a kernel with IPVS).\n\n")
	b.WriteString("Command (root, from the module's root; it boots the lab VM once per run\n" +
		"and prints this section, which `-write BENCHMARKS.md` puts in place):\n\n" +
		"    " + command + "\n\n")
	fmt.Fprintf(&b, "Method. Both checkers run at the same time, each on its own set of %d\n"+
		"real servers: HTTP listeners on loopback addresses (127.1.0.1 on, port\n"+
		"8080; keepalived's set first, then lvsd's) in a process of their own,\n"+
		"each answering `200 OK` with a 3-byte body and closing the connection;\n"+
		"they count the requests each set answers. Each checker checks each of\n"+
		"its servers with `GET /healthz` every %s with a %s timeout:\n\n",
		first.Servers, seconds(first.IntervalMS), seconds(first.TimeoutMS))
	fmt.Fprintf(&b, "- **keepalived** (%s, Debian's package): `keepalived -n -C`\n"+
		"  (the checker alone) with one virtual server in `alpha` mode and a\n"+
		"  `real_server` with `HTTP_GET { url { path /healthz status_code 200 }\n"+
		"  connect_timeout %s retry 0 }` for each server, `delay_loop %s`, and\n"+
		"  `checker_log_all_failures` so that every failed check is logged (to a\n"+
		"  syslogd in the guest) and counted. Measured: its healthcheck child\n"+
		"  process (the pid of `-c`), which runs every check.\n",
		strings.TrimPrefix(first.Keepalived, "Keepalived "), strings.TrimSuffix(seconds(first.TimeoutMS), " s"), strings.TrimSuffix(seconds(first.IntervalMS), " s"))
	b.WriteString("- **lvsd**: `lvsd run` on the cluster file that `lvsd convert` makes of\n" +
		"  the same keepalived.conf written for lvsd's servers and another virtual\n" +
		"  address: a `health_check \"http\"` per real server with keepalived's\n" +
		"  interval, timeout (for the whole check), no retry, rise and fall 1, each\n" +
		"  server down until its first check passes. Measured: the whole `lvsd run`\n" +
		"  process, its IPVS reconciler, status socket and metrics listener\n" +
		"  included.\n\n")
	fmt.Fprintf(&b, "The windows open once both checkers have every server in IPVS\n"+
		"(`ipvsadm -Ln` lists all %d real servers of each virtual server, with a\n"+
		"weight) and %s more of warm-up; each lasts %s. The run\n"+
		"fails unless every server answered a check in each window, each checker\n"+
		"still has all of its servers in IPVS after it and at most %.0f %% of its\n"+
		"checks in it failed (keepalived's log of every failure; lvsd's log of\n"+
		"every real server going down, which with no retry and fall 1 is every\n"+
		"failure). CPU time is user + system time of the checker's process from\n"+
		"`/proc/PID/stat` (10 ms ticks), its reaped children included; checks are\n"+
		"the listeners' count over the same window. The guest is\n"+
		"%s with %d virtual CPUs under qemu TCG (no KVM), reading its\n"+
		"clock from the %s:\n"+
		"absolute figures are those of an emulated CPU, many times a real one's,\n"+
		"and the guest's clock charges whatever process runs for the time the\n"+
		"host takes the CPU away, so host load inflates them too. Measured over\n"+
		"the same windows, both checkers share those conditions: their ratio is\n"+
		"the result.\n\n",
		first.Servers, seconds(first.WarmupS*1000), seconds(first.WindowS*1000), 100*maxFailed, first.Kernel, first.CPUs, clockWords(first.Clocksource))
	fmt.Fprintf(&b, "Results (%s, %d-core host):\n\n", m.Date.Format("2006-01-02"), m.CPUs)
	b.WriteString("| run | checker | checks/s | of expected | CPU per check | user + system | share of one core |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	var ratios []float64
	for i, bt := range boots {
		for _, c := range []string{keepalived, lvsd} {
			f := figuresOf(bt.Result, c)
			fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %.0f µs | %.0f + %.0f µs | %s |\n", i+1, c,
				f.ChecksPerSec, pct(f.Expected), f.CPUPerCheckUS, f.UserPerCheck, f.SysPerCheck, pct(f.CoreShare))
		}
		ratios = append(ratios, ratio(figuresOf(bt.Result, keepalived).CPUPerCheckUS, figuresOf(bt.Result, lvsd).CPUPerCheckUS))
	}
	b.WriteString("\n| run | lvsd code | host load before | CPU per check, keepalived / lvsd | user CPU per check, lvsd / keepalived |\n|---|---|---|---|---|\n")
	for i, bt := range boots {
		fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %.2f |\n", i+1, bt.Rev, bt.LoadBefore, ratios[i], userRatio(bt.Result))
	}
	b.WriteString(observations(boots, ratios))
	b.WriteString("\nEach window (CPU per check, then failed checks; the guest's busy share\n" +
		"covers both checkers and the listeners):\n\n")
	b.WriteString("| run | window | keepalived | lvsd | keepalived / lvsd | failed, keepalived / lvsd | guest CPUs busy |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for i, bt := range boots {
		for j, p := range pairs(bt.Result.Runs) {
			k, l := perCheck(p[0]), perCheck(p[1])
			fmt.Fprintf(&b, "| %d | %d | %.0f µs | %.0f µs | %.2f | %d / %d | %s |\n", i+1, j+1,
				k, l, ratio(k, l), p[0].Failed, p[1].Failed, pct(p[0].GuestBusy))
		}
	}
	return b.String()
}

// pairs groups the windows as the guest lists them, keepalived's then
// lvsd's of each window; an unpaired one is left out.
func pairs(ws []window) [][2]window {
	var out [][2]window
	for i := 0; i+1 < len(ws); i += 2 {
		if ws[i].Checker == keepalived && ws[i+1].Checker == lvsd {
			out = append(out, [2]window{ws[i], ws[i+1]})
		}
	}
	return out
}

// clockWords names the guest's clock source in the method's words.
func clockWords(cs string) string {
	switch cs {
	case "tsc":
		return "CPU's time-stamp counter (`clocksource=tsc`), as a director\n" +
			"on real hardware does, not the emulated HPET qemu's machine gives by\n" +
			"default, where each reading is an exit to the emulator and a program\n" +
			"that reads the clock often (the Go runtime does on each scheduling\n" +
			"pass) pays for the emulator's clock"
	case "":
		return "clock source it picked"
	}
	return "`" + cs + "` clock source"
}

// userRatio is lvsd's user CPU time per check over keepalived's, the
// checkers' own code with the kernel's work left out.
func userRatio(r result) float64 {
	return ratio(figuresOf(r, lvsd).UserPerCheck, figuresOf(r, keepalived).UserPerCheck)
}

// perCheck is a window's CPU time per check in µs; 0 without checks.
func perCheck(w window) float64 {
	if w.Checks <= 0 {
		return 0
	}
	return (w.UserMS + w.SysMS) * 1000 / float64(w.Checks)
}

// observations says in words what the tables show, from the figures
// themselves, so that a rerun cannot leave a stale claim behind.
func observations(boots []boot, ratios []float64) string {
	var b strings.Builder
	lo, hi := slices.Min(ratios), slices.Max(ratios)
	span := fmt.Sprintf("%.2f", lo)
	if h := fmt.Sprintf("%.2f", hi); h != span {
		span += " to " + h
	}
	switch {
	case lo > 1:
		fmt.Fprintf(&b, "\nkeepalived spent %s× the CPU time per check that lvsd spent.", span)
	case hi < 1:
		fmt.Fprintf(&b, "\nlvsd spent %s× the CPU time per check that keepalived spent\n"+
			"(keepalived / lvsd = %s).", inverse(lo, hi), span)
	default:
		fmt.Fprintf(&b, "\nThe ratio keepalived / lvsd of CPU time per check was %s: neither\n"+
			"checker was consistently cheaper.", span)
	}
	// Where the time goes: the kernel's share of each checker's time.
	var kaSys, lvSys []float64
	for _, bt := range boots {
		ka, lv := figuresOf(bt.Result, keepalived), figuresOf(bt.Result, lvsd)
		kaSys = append(kaSys, ratio(ka.SysPerCheck, ka.CPUPerCheckUS))
		lvSys = append(lvSys, ratio(lv.SysPerCheck, lv.CPUPerCheckUS))
	}
	fmt.Fprintf(&b, " System time was %s of keepalived's\n"+
		"CPU time and %s of lvsd's: over loopback the kernel runs both ends'\n"+
		"TCP work (handshake, delivery, teardown) inside the checker's system\n"+
		"calls, a floor no checker goes below; the rest is the checker's own code.\n",
		pctRange(kaSys), pctRange(lvSys))
	var users []float64
	for _, bt := range boots {
		users = append(users, userRatio(bt.Result))
	}
	fmt.Fprintf(&b, "User time alone, the checkers' own code: lvsd spent %s× keepalived's per check.\n", fmtRange(users))
	var per []float64
	for _, bt := range boots {
		for _, p := range pairs(bt.Result.Runs) {
			per = append(per, ratio(perCheck(p[0]), perCheck(p[1])))
		}
	}
	if len(per) > 1 {
		fmt.Fprintf(&b, "Window by window, keepalived / lvsd ranged from %.2f to %.2f.\n", slices.Min(per), slices.Max(per))
	}
	return b.String()
}

// inverse renders 1/hi to 1/lo, the ratio turned round.
func inverse(lo, hi float64) string {
	a, z := fmt.Sprintf("%.2f", 1/hi), fmt.Sprintf("%.2f", 1/lo)
	if a == z {
		return a
	}
	return a + " to " + z
}

// fmtRange renders the smallest and largest of xs, or one figure.
func fmtRange(xs []float64) string {
	lo, hi := fmt.Sprintf("%.2f", slices.Min(xs)), fmt.Sprintf("%.2f", slices.Max(xs))
	if lo == hi {
		return lo
	}
	return lo + " to " + hi
}

func pctRange(xs []float64) string {
	lo, hi := fmt.Sprintf("%.0f", 100*slices.Min(xs)), fmt.Sprintf("%.0f", 100*slices.Max(xs))
	if lo == hi {
		return lo + " %"
	}
	return lo + " to " + hi + " %"
}
