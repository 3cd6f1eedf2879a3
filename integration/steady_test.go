package integration

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/integration/vm"
)

// By default TestSteadyState is a short run of bench/steady's guest side,
// so the benchmark cannot rot: a small director for a few seconds, with
// generous bounds (the VM's CPUs are emulated). go run ./bench/steady sets
// these flags for the full load and reads -steady.out.
var (
	steadyOut      = flag.String("steady.out", "", "write the guest's JSON report of TestSteadyState to this file")
	steadyServices = flag.Int("steady.services", 10, "virtual services of TestSteadyState")
	steadyDests    = flag.Int("steady.dests", 4, "real servers per virtual service of TestSteadyState")
	steadyInterval = flag.Duration("steady.interval", 2*time.Second, "health-check interval of TestSteadyState")
	steadyTimeout  = flag.Duration("steady.timeout", time.Second, "health-check timeout of TestSteadyState")
	steadyWarmup   = flag.Duration("steady.warmup", time.Second, "warm-up before TestSteadyState measures")
	steadyDuration = flag.Duration("steady.duration", 3*time.Second, "measuring window of TestSteadyState")
	steadyMaxCPU   = flag.Float64("steady.max-cpu", 1.0, "fail TestSteadyState above this share of one core (emulated); 0: no bound")
	steadyMaxRSS   = flag.Int64("steady.max-rss", 100, "fail TestSteadyState above this peak RSS in MB; 0: no bound")
	steadyProfile  = flag.Bool("steady.profile", false, "put lvsd's CPU profile over the window in the -steady.out report")
	steadyRemote   = flag.Bool("steady.remote", false, "put lvsd's real servers on the host, across the VM's network card, instead of on the guest's loopback")
)

// steadyReport is the part of bench/steady's guest report the test checks.
type steadyReport struct {
	LVSD struct {
		CPU     time.Duration `json:"cpu_ns"`
		Wall    time.Duration `json:"wall_ns"`
		PeakRSS int64         `json:"peak_rss"`
	} `json:"lvsd"`
	Served       int64 `json:"served"`
	Healthy      int   `json:"healthy"`
	InIPVS       int   `json:"in_ipvs"`
	IPVSServices int   `json:"ipvs_services"`
	IPVSDests    int   `json:"ipvs_dests"`
	Checks       *struct {
		CPU  time.Duration `json:"cpu_ns"`
		Wall time.Duration `json:"wall_ns"`
	} `json:"checks"`
	CheckErr string `json:"checks_error"`
}

// TestSteadyState runs lvsd with checked real servers in the VM (the
// director needs IPVS) and measures its CPU and memory in steady state,
// then the same check load run alone by bench/healthload.
func TestSteadyState(t *testing.T) {
	runSteady(t, *steadyRemote)
}

// TestSteadyStateAcrossNetwork is TestSteadyState with lvsd's real
// servers on the host, across the VM's network card: the placement
// bench/steady judges the claim on.
func TestSteadyStateAcrossNetwork(t *testing.T) {
	runSteady(t, true)
}

func runSteady(t *testing.T, remote bool) {
	vm.Require(t)
	lvsd := buildLVSD(t)
	dir := t.TempDir()
	steady := buildStatic(t, dir, "github.com/lvsd/lvsd/bench/steady")
	healthload := buildStatic(t, dir, "github.com/lvsd/lvsd/bench/healthload")

	services, dests := *steadyServices, *steadyDests
	args := []string{
		"-guest", "-lvsd", vm.GuestLVSD, "-healthload", "/usr/local/bin/healthload",
		fmt.Sprintf("-services=%d", services), fmt.Sprintf("-dests=%d", dests),
		"-interval=" + steadyInterval.String(), "-timeout=" + steadyTimeout.String(),
		"-warmup=" + steadyWarmup.String(), "-duration=" + steadyDuration.String(),
		fmt.Sprintf("-guest-profile=%t", *steadyProfile),
	}
	setup := `set -e
modprobe ip_vs
/sbin/ip link set lo up
/sbin/ip link add eth0 type veth peer name eth1
/sbin/ip addr add 192.0.2.1/24 dev eth0
/sbin/ip link set eth0 up
/sbin/ip link set eth1 up
`
	var rs *hostServers
	if remote {
		rs = startHostServers(t, services*dests)
		args = append(args, "-remote", netip.AddrPortFrom(netip.MustParseAddr(vm.UserNetHost), rs.base).String())
		// The card comes after eth0 and eth1: it is the one device left.
		setup += `modprobe virtio_pci
modprobe virtio_net
nic=$(ls /sys/class/net | grep -v -x -e lo -e eth0 -e eth1)
/sbin/ip link set "$nic" up
/sbin/ip addr add ` + vm.UserNetGuest + `/24 dev "$nic"
`
	}
	script := setup + "steady " + strings.Join(args, " ") + "\n"
	// Boot, start-up, two windows with their warm-ups, and margin.
	budget := 3*time.Minute + 2*(*steadyWarmup+*steadyDuration)
	res := vm.Must(t, vm.Config{
		Files: map[string]string{
			vm.GuestLVSD:                lvsd,
			"/usr/local/bin/steady":     steady,
			"/usr/local/bin/healthload": healthload,
		},
		Script:  script,
		Timeout: budget,
		UserNet: remote,
	})
	if res.ExitCode != 0 {
		t.Fatalf("the guest failed with status %d (see the console above)", res.ExitCode)
	}
	js, ok := findResult(res.Output, benchresult.SteadyMarker)
	if !ok {
		t.Fatalf("the guest printed no %q line", benchresult.SteadyMarker)
	}
	var r steadyReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("decoding the guest's report %q: %v", js, err)
	}
	if *steadyOut != "" {
		if err := os.WriteFile(*steadyOut, []byte(js+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	n := services * dests
	share := r.LVSD.CPU.Seconds() / r.LVSD.Wall.Seconds()
	served := fmt.Sprintf("%d requests served in %v", r.Served, r.LVSD.Wall.Round(time.Millisecond))
	if rs != nil {
		served = fmt.Sprintf("%d requests served by the host in the whole run", rs.served.Load())
	}
	t.Logf("lvsd: %.2f%% of one core (emulated), peak RSS %.1f MB; %s", 100*share, float64(r.LVSD.PeakRSS)/(1<<20), served)
	if r.IPVSServices != services || r.IPVSDests != n {
		t.Errorf("ipvsadm listed %d services and %d destinations, want %d and %d", r.IPVSServices, r.IPVSDests, services, n)
	}
	if r.Healthy != n || r.InIPVS != n {
		t.Errorf("after the window %d real servers healthy and %d in IPVS, want %d", r.Healthy, r.InIPVS, n)
	}
	if d := r.LVSD.Wall - *steadyDuration; d < 0 || d > *steadyDuration/2+time.Second {
		t.Errorf("window lasted %v, want about %v", r.LVSD.Wall, *steadyDuration)
	}
	// The checks ran at their interval during the window: at least half
	// the requests they should have made (the window's edges and the
	// scheduler's spreading account for a few). Real servers on the host
	// count the whole run, which is longer than the window.
	want := int64(float64(n) * r.LVSD.Wall.Seconds() / steadyInterval.Seconds())
	if rs != nil {
		if got := rs.served.Load(); got < want/2 {
			t.Errorf("the real servers on the host answered %d requests in the whole run, want at least %d", got, want/2)
		}
	} else if r.Served < want/2 || r.Served > want*2 {
		t.Errorf("the real servers answered %d requests in the window, want about %d", r.Served, want)
	}
	// lvsd checks and re-reads IPVS: it cannot have used no CPU at all,
	// which would mean the sample read another process or nothing.
	if r.LVSD.CPU <= 0 {
		t.Errorf("lvsd used %v of CPU in the window", r.LVSD.CPU)
	}
	if *steadyMaxCPU > 0 && share > *steadyMaxCPU {
		t.Errorf("lvsd used %.1f%% of one core in steady state, bound %.1f%%", 100*share, 100**steadyMaxCPU)
	}
	if *steadyMaxRSS > 0 && r.LVSD.PeakRSS > *steadyMaxRSS<<20 {
		t.Errorf("lvsd's peak RSS %.1f MB, bound %d MB", float64(r.LVSD.PeakRSS)/(1<<20), *steadyMaxRSS)
	}
	if r.Checks == nil {
		t.Errorf("the check load alone was not measured: %s", r.CheckErr)
	} else if r.Checks.CPU <= 0 || r.Checks.Wall < *steadyDuration {
		t.Errorf("check load alone: %v of CPU over %v", r.Checks.CPU, r.Checks.Wall)
	}
}

// buildStatic builds a main package as a static binary in dir.
func buildStatic(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// hostServers are real servers on the host's loopback for a guest with
// vm.Config.UserNet: HTTP listeners on n consecutive ports from base of
// 127.0.0.1, which the guest reaches as vm.UserNetHost.
type hostServers struct {
	base   uint16
	served atomic.Int64
}

// startHostServers listens on n consecutive free ports and serves until
// the test ends.
func startHostServers(t *testing.T, n int) *hostServers {
	t.Helper()
	hs := &hostServers{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hs.served.Add(1)
			_, _ = io.WriteString(w, "ok\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	srv.SetKeepAlivesEnabled(false)
	t.Cleanup(func() { _ = srv.Close() })
	// The first base whose n ports are all free, above the ephemeral
	// range's usual start so that no outgoing connection takes one.
	for base := 20000; base+n <= 32000; base += 1000 {
		var lns []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			for _, ln := range lns {
				go func() { _ = srv.Serve(ln) }()
			}
			hs.base = uint16(base)
			return hs
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1 between 20000 and 32000", n)
	return nil
}
