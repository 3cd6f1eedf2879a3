package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. The kernel
// exports it as USER_HZ, which is 100 on every architecture Linux runs Go
// on; sysconf(_SC_CLK_TCK) would need cgo to ask.
const userHZ = 100

// procSample is what /proc says about one process at one moment.
type procSample struct {
	// CPU is utime+stime: user and kernel time on the process's behalf,
	// every thread included.
	CPU time.Duration
	// PeakRSS is VmHWM, the high-water mark of the resident set; RSS is
	// VmRSS now. Bytes.
	PeakRSS, RSS int64
}

// readProc reads a process's CPU time and memory from /proc.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("reading the stat of process %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(string(stat))
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("reading the status of process %d: %w", pid, err)
	}
	hwm, rss, err := parseStatusMemory(string(status))
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return procSample{CPU: cpu, PeakRSS: hwm, RSS: rss}, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15 of proc(5)'s
// /proc/PID/stat). The command name, field 2, is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat has %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing the CPU time in /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusMemory returns VmHWM and VmRSS of a /proc/PID/status, in
// bytes.
func parseStatusMemory(status string) (hwm, rss int64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", key, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing %s: %w", key, err)
		}
		if key == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc status lacks VmHWM or VmRSS (a kernel thread or a zombie?)")
	}
	return hwm, rss, nil
}

// measurement is one process's cost over a window.
type measurement struct {
	// CPU is utime+stime spent in the window, Wall the window's length.
	CPU  time.Duration `json:"cpu_ns"`
	Wall time.Duration `json:"wall_ns"`
	// PeakRSS is VmHWM at the end of the window (since the process
	// started), RSS is VmRSS then. Bytes.
	PeakRSS int64 `json:"peak_rss"`
	RSS     int64 `json:"rss"`
}

// Share is the CPU time as a share of one core.
func (m measurement) Share() float64 {
	if m.Wall <= 0 {
		return 0
	}
	return m.CPU.Seconds() / m.Wall.Seconds()
}

// window measures processes pids over one window: it waits warmup, then
// samples all of them over duration, so that whatever slows the machine
// meanwhile (the emulator, the host's other work) weighs on each alike.
// mark, when not nil, is called right after each of the two samples (so a
// caller can count work done in the same window).
func window(ctx context.Context, pids []int, warmup, duration time.Duration, mark func(end bool)) ([]measurement, error) {
	if err := sleep(ctx, warmup); err != nil {
		return nil, err
	}
	read := func() ([]procSample, error) {
		out := make([]procSample, len(pids))
		for i, pid := range pids {
			s, err := readProc(pid)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	s0, err := read()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if mark != nil {
		mark(false)
	}
	if err := sleep(ctx, duration); err != nil {
		return nil, err
	}
	s1, err := read()
	if err != nil {
		return nil, err
	}
	wall := time.Since(t0)
	if mark != nil {
		mark(true)
	}
	out := make([]measurement, len(pids))
	for i := range pids {
		out[i] = measurement{CPU: s1[i].CPU - s0[i].CPU, Wall: wall, PeakRSS: s1[i].PeakRSS, RSS: s1[i].RSS}
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
