package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/memlimit"
)

// reloadResult is what the child measured, in its own process.
type reloadResult struct {
	StartCPU     time.Duration   // the first load, Resolve included
	RSSAfterKiB  int64           // VmRSS once the start's memory is handed back
	NoOp         []time.Duration // CPU of each reload of unchanged files
	OneWeight    []time.Duration // CPU of each reload after one weight changed
	RSSEndKiB    int64           // VmRSS after the reloads, memory handed back
	PeakKiB      int64           // VmHWM: the largest the process was
	LiveHeapKiB  int64           // the Go heap in use after the reloads
	ServicesSeen int
}

// reloadChild loads file as the daemon does at start, hands the memory
// back as it does, then reloads it: first unchanged, then with the first
// real server's weight changed each time. It prints a reloadResult.
func reloadChild(file string, reloads int) error {
	l := config.NewLoader()
	l.BeforeParse = memlimit.ForConfig // as the daemon does
	var res reloadResult
	load := func() (time.Duration, bool, error) {
		before := cpu()
		f, unchanged, diags := l.Load(file)
		if diags.HasErrors() {
			return 0, false, diags
		}
		if !unchanged {
			cfg, diags := f.Resolve("director-a")
			if diags.HasErrors() {
				return 0, false, diags
			}
			res.ServicesSeen = len(cfg.VirtualServers)
		}
		took := cpu() - before
		if !unchanged && f.Parsed() >= 1<<20 {
			debug.FreeOSMemory() // as the daemon does after a big parse
		}
		return took, unchanged, nil
	}
	took, _, err := load()
	if err != nil {
		return err
	}
	res.StartCPU, res.RSSAfterKiB = took, procStatus("VmRSS")
	for range reloads {
		took, unchanged, err := load()
		if err != nil {
			return err
		}
		if !unchanged {
			return fmt.Errorf("a reload of unchanged files was not seen as unchanged")
		}
		res.NoOp = append(res.NoOp, took)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	const first = "    weight = 1\n"
	at := bytes.Index(src, []byte(first))
	if at < 0 {
		return fmt.Errorf("%s has no %q", file, strings.TrimSpace(first))
	}
	for i := range reloads {
		// 2..9 and back: the same length, so only one piece changes.
		src[at+len("    weight = ")] = byte('2' + i%8)
		if err := os.WriteFile(file, src, 0o644); err != nil {
			return err
		}
		took, unchanged, err := load()
		if err != nil {
			return err
		}
		if unchanged {
			return fmt.Errorf("a changed weight was not seen")
		}
		res.OneWeight = append(res.OneWeight, took)
	}
	res.RSSEndKiB, res.PeakKiB = procStatus("VmRSS"), procStatus("VmHWM")
	res.LiveHeapKiB = liveHeapKiB()
	runtime.KeepAlive(l) // the daemon keeps its Loader, and so its pieces
	return json.NewEncoder(os.Stdout).Encode(res)
}

// cpu is the process's user and system time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a "kB" line of /proc/self/status.
func procStatus(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
