// Package benchresult holds the results that the lab VM's benchmarks
// (integration/vmtests, behind the ipvsbench and hcbench tags, and the
// guest side of bench/steady) print on the console and that the host-side
// commands (bench/ipvsprog, bench/hcvs, bench/steady) read back: one JSON
// object on a line that starts with the benchmark's marker. Both sides use
// these types and markers, so a field added on one side is there on the
// other.
package benchresult

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// IPVSMarker starts the line of the IPVS programming benchmark's result.
const IPVSMarker = "IPVSBENCH "

// IPVS is the IPVS programming benchmark's result: lvsd's reconciler and
// ipvsadm -R programming the same large table, alternately.
type IPVS struct {
	Services     int       `json:"services"`
	Destinations int       `json:"destinations"`
	Reps         int       `json:"reps"`
	LVSDms       []float64 `json:"lvsd_ms"`
	IPVSAdmms    []float64 `json:"ipvsadm_ms"`
	LVSDRequests uint64    `json:"lvsd_requests"`
	WeightLVSDms []float64 `json:"weight_lvsd_ms"`
	WeightAdmms  []float64 `json:"weight_ipvsadm_ms"`
	// CPU time of the programming, user and system (kernel), per
	// repetition: lvsd's is the test process's, ipvsadm's its child's.
	LVSDUserms    []float64 `json:"lvsd_user_ms"`
	LVSDSysms     []float64 `json:"lvsd_sys_ms"`
	IPVSAdmUserms []float64 `json:"ipvsadm_user_ms"`
	IPVSAdmSysms  []float64 `json:"ipvsadm_sys_ms"`
	// Wall times of programming a table flushed just before.
	LVSDFlushedms    []float64 `json:"lvsd_flushed_ms"`
	IPVSAdmFlushedms []float64 `json:"ipvsadm_flushed_ms"`
	Kernel           string    `json:"kernel"`
}

// ColdStartMarker starts the line of the cold start benchmark's result.
const ColdStartMarker = "COLDSTART "

// ColdStart is the cold start benchmark's result: `lvsd run` from process
// start to its "ready" log line (the whole table in the kernel), against
// ipvsadm -R of the same rules, per table size.
type ColdStart struct {
	Kernel string          `json:"kernel"`
	Reps   int             `json:"reps"`
	Sizes  []ColdStartSize `json:"sizes"`
}

// ColdStartSize is one table size's figures, one entry per repetition.
type ColdStartSize struct {
	Services int `json:"services"`
	Rules    int `json:"rules"`
	// Wall time from process start, and the process's user and system
	// CPU time until then (lvsd's read from /proc at its ready line).
	LVSDms        []float64 `json:"lvsd_ms"`
	LVSDUserms    []float64 `json:"lvsd_user_ms"`
	LVSDSysms     []float64 `json:"lvsd_sys_ms"`
	IPVSAdmms     []float64 `json:"ipvsadm_ms"`
	IPVSAdmUserms []float64 `json:"ipvsadm_user_ms"`
	IPVSAdmSysms  []float64 `json:"ipvsadm_sys_ms"`
	// lvsd's own account of its start-up, from its ready line: loading
	// the file, dialling and checking IPVS, the first reconcile round.
	LoadMS       []float64 `json:"load_ms"`
	IPVSSetupMS  []float64 `json:"ipvs_setup_ms"`
	FirstRoundMS []float64 `json:"first_round_ms"`
	// lvsd's peak resident set size (VmHWM) at its ready line, KiB.
	PeakRSSKiB []int64 `json:"peak_rss_kib"`
	// Then, on the running daemon: `lvsd reload` of the unchanged file,
	// of one weight changed and of one service in a hundred changed (the
	// command's wall time, and until the kernel has the last change), and
	// its resident size after (VmRSS).
	ReloadNoopMS         []float64 `json:"reload_noop_ms"`
	ReloadWeightMS       []float64 `json:"reload_weight_ms"`
	ReloadWeightKernelMS []float64 `json:"reload_weight_kernel_ms"`
	ReloadShareMS        []float64 `json:"reload_share_ms"`
	ReloadShareKernelMS  []float64 `json:"reload_share_kernel_ms"`
	SettledRSSKiB        []int64   `json:"settled_rss_kib"`
	// The same reloads asked by SIGHUP, as `systemctl reload` does: from
	// the signal to the daemon's "config reloaded" line (unchanged), and
	// to the changed weight in the kernel (one weight).
	SignalNoopMS         []float64 `json:"signal_noop_ms"`
	SignalWeightKernelMS []float64 `json:"signal_weight_kernel_ms"`
	// lvsd's own process start, for the command's share of the reloads:
	// the wall time of `lvsd version`.
	CommandStartMS []float64 `json:"command_start_ms"`
}

// HealthMarker starts the line of the health check CPU benchmark's result.
const HealthMarker = "HCBENCH "

// Health is the health check CPU benchmark's result: keepalived's checker
// and lvsd's Scheduler measured over the same windows.
type Health struct {
	Servers    int     `json:"servers"`
	IntervalMS float64 `json:"interval_ms"`
	TimeoutMS  float64 `json:"timeout_ms"`
	WindowS    float64 `json:"window_s"`
	WarmupS    float64 `json:"warmup_s"`
	Kernel     string  `json:"kernel"`
	CPUs       int     `json:"cpus"`
	Keepalived string  `json:"keepalived"`
	// Clocksource is the guest kernel's clock source while it ran.
	Clocksource string      `json:"clocksource"`
	Runs        []HealthRun `json:"runs"`
}

// HealthRun is one checker's figures over one window; Health.Runs lists
// keepalived's, then lvsd's, for each window in turn.
type HealthRun struct {
	// Checker is "keepalived" or "lvsd".
	Checker string  `json:"checker"`
	WallS   float64 `json:"wall_s"`
	// UserMS and SysMS are the checker process's CPU time in the window
	// (its own and its reaped children's): keepalived's healthcheck
	// child, or the process running lvsd's Scheduler.
	UserMS float64 `json:"user_ms"`
	SysMS  float64 `json:"sys_ms"`
	// OtherMS is the CPU time of the rest of the checker's processes
	// (keepalived's parent), not counted in UserMS and SysMS.
	OtherMS float64 `json:"other_ms"`
	// Checks are the requests the listeners answered in the window, and
	// Covered how many distinct servers answered at least one.
	Checks  int64 `json:"checks"`
	Covered int   `json:"covered"`
	// Healthy is the checker's own count of healthy servers after the
	// window: ipvsadm -Ln's real servers for keepalived, the Scheduler's
	// healthy jobs for lvsd.
	Healthy int `json:"healthy"`
	// Failed counts failed checks in the window: the Scheduler's results
	// for lvsd, the failures keepalived logged (retries included).
	Failed int64 `json:"failed"`
	// ListenerMS (the listener process's CPU time, both sets) and
	// GuestBusy (the share of the guest's CPUs busy) are the window's,
	// the same for both checkers.
	ListenerMS float64 `json:"listener_ms"`
	GuestBusy  float64 `json:"guest_busy"`
}

// SteadyMarker starts the line of the steady-state benchmark's guest report
// (bench/steady, whose guest side prints it and whose host side,
// integration's TestSteadyState, reads it).
const SteadyMarker = "STEADY-RESULT "

// Print writes v to w as JSON on one line after marker.
func Print(w io.Writer, marker string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", marker, b)
	return err
}

// LoadAverage is the three load averages of /proc/loadavg, as uptime
// prints them, or "unknown": the machine's load around a measurement.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// Failover is the failover benchmark's result: one sample per failover.
type Failover struct {
	Samples []FailoverSample
}

// FailoverSample is one measured failover of a pair: Master's process
// killed, Backup taking over.
type FailoverSample struct {
	Version        int
	Interval       time.Duration
	Master, Backup string // "lvsd" or "keepalived"
	// Gap is from the master's last advert to the backup's first;
	// GARPLag from that advert to the backup's first gratuitous ARP;
	// Expected the backup's Master_Down_Interval.
	Gap, GARPLag, Expected time.Duration
}
