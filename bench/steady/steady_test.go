package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/config"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are 250 and 50 ticks: 3 s at USER_HZ 100. The
	// command name holds a space and a parenthesis, as comm may.
	stat := "4242 (lvsd (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 100 1000000 2000 18446744073709551615\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 lvsd S 1", "1 (lvsd) S 1 2 3", "1 (lvsd) S 1 2 3 4 5 6 7 8 9 10 x 5 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tlvsd\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n"
	hwm, rss, err := parseStatusMemory(status)
	if err != nil {
		t.Fatal(err)
	}
	if hwm != 20<<20 || rss != 10<<20 {
		t.Errorf("VmHWM %d, VmRSS %d; want %d, %d", hwm, rss, 20<<20, 10<<20)
	}
	if _, _, err := parseStatusMemory("Name:\tkthreadd\nThreads:\t1\n"); err == nil {
		t.Error("a status without VmHWM parsed")
	}
}

// readProc on this very process: it has run and is resident.
func TestReadProcSelf(t *testing.T) {
	end := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(end) { // burn a few ticks
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU <= 0 || s.RSS <= 0 || s.PeakRSS < s.RSS {
		t.Errorf("readProc(self) = %+v: want CPU > 0 and 0 < RSS <= PeakRSS", s)
	}
}

// The generated director config is what lvsd accepts, with the intended
// shape: one service per VIP, every real server checked over HTTP.
func TestDirectorConfig(t *testing.T) {
	l := load{Services: 100, Dests: 4, Interval: 2 * time.Second, Timeout: time.Second, Duration: time.Second}
	if err := l.check(); err != nil {
		t.Fatal(err)
	}
	src := directorConfig(l, realServers{dests: l.Dests})
	f, diags := config.NewLoader().Parse("steady.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("config.Parse: %v\n%s", diags, src)
	}
	cfg, diags := f.Resolve("a")
	if diags.HasErrors() {
		t.Fatalf("Resolve: %v", diags)
	}
	if len(cfg.VRRPInstances) != 1 || len(cfg.VRRPInstances[0].VirtualIPs) != l.Services {
		t.Errorf("want one VRRP instance with %d VIPs, got %d instances", l.Services, len(cfg.VRRPInstances))
	}
	if len(cfg.VirtualServers) != l.Services {
		t.Fatalf("%d virtual servers, want %d", len(cfg.VirtualServers), l.Services)
	}
	seen := map[string]bool{}
	for s, vs := range cfg.VirtualServers {
		if vs.Address.Addr() != vip(s) {
			t.Errorf("service %d at %v, want %v", s, vs.Address, vip(s))
		}
		if len(vs.RealServers) != l.Dests {
			t.Errorf("%s has %d real servers, want %d", vs.Name, len(vs.RealServers), l.Dests)
		}
		for _, rs := range vs.RealServers {
			if seen[rs.Address.String()] {
				t.Errorf("real server %v listed twice", rs.Address)
			}
			seen[rs.Address.String()] = true
			if !rs.Address.Addr().IsLoopback() {
				t.Errorf("real server %v is not on loopback", rs.Address)
			}
			if c := rs.Check; c == nil || c.Interval != l.Interval || c.Timeout != l.Timeout {
				t.Errorf("real server %v check %+v, want HTTP every %v", rs.Address, c, l.Interval)
			}
		}
	}
}

func TestLoadCheck(t *testing.T) {
	good := load{Services: 1, Dests: 1, Interval: time.Second, Timeout: time.Millisecond, Duration: time.Second}
	if err := good.check(); err != nil {
		t.Fatalf("%+v: %v", good, err)
	}
	for name, mut := range map[string]func(*load){
		"no services":             func(l *load) { l.Services = 0 },
		"more services than VIPs": func(l *load) { l.Services = 251 },
		"no dests":                func(l *load) { l.Dests = 0 },
		"timeout not below":       func(l *load) { l.Timeout = l.Interval },
		"no window":               func(l *load) { l.Duration = 0 },
	} {
		l := good
		mut(&l)
		if err := l.check(); err == nil {
			t.Errorf("%s: %+v accepted", name, l)
		}
	}
}

func TestSectionEstimate(t *testing.T) {
	l := load{Services: 100, Dests: 4, Interval: 2 * time.Second, Timeout: time.Second, Duration: 60 * time.Second}
	loop := &guestReport{
		Load:   l,
		LVSD:   measurement{CPU: 30 * time.Second, Wall: 60 * time.Second, PeakRSS: 30 << 20},
		Checks: &measurement{CPU: 60 * time.Second, Wall: 60 * time.Second},
	}
	r := report{Load: l, Guest: loop, Host: &measurement{CPU: 7200 * time.Millisecond, Wall: 60 * time.Second}}
	est, ok := r.estimate(loop)
	// 50 % in the VM, where the checks alone take 100 %, and 12 % on the
	// host: 6 %.
	if !ok || est < 0.0599 || est > 0.0601 {
		t.Errorf("estimate = %v, %v; want 0.06", est, ok)
	}
	sec := r.section()
	for _, want := range []string{heading + "\n", "| **lvsd run, estimated, real servers on loopback (upper bound)** |", "**6.00 %**",
		"peak RSS 30.0 MB, under 60 MB", "estimated CPU on the host, real servers on loopback, 6.00 %, NOT under 3 %"} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}

	// With the run across a network the claim is judged on it; the
	// loopback figure stays, not in bold.
	remote := &guestReport{
		Load:   l,
		Remote: "10.0.2.2:20000",
		LVSD:   measurement{CPU: 6 * time.Second, Wall: 60 * time.Second, PeakRSS: 20 << 20},
		Checks: &measurement{CPU: 60 * time.Second, Wall: 60 * time.Second},
	}
	r.Remote = remote
	sec = r.section()
	for _, want := range []string{"| **lvsd run, estimated, real servers across a network** |", "**1.20 %**",
		"| lvsd run, estimated, real servers on loopback (upper bound) |", "| 6.00 % |",
		"peak RSS 20.0 MB, under 60 MB", "estimated CPU on the host, real servers across a network, 1.20 %, under 3 %",
		"the real servers were 10.0.2.2:20000 and the next 399 ports of the host"} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}

	r.Host = nil
	if _, ok := r.estimate(remote); ok {
		t.Error("an estimate without the host's figure")
	}
}
