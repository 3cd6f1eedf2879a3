//go:build vm

package vmtests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/plan"
	"github.com/lvsd/lvsd/ipvs"
)

// planConfigs are the cluster files whose plans are checked against the
// kernel: this package's every-feature file and the examples, which the
// host-side test copies into the guest under /examples.
func planConfigs(t *testing.T) []string {
	t.Helper()
	files := []string{"testdata/every-feature.hcl"}
	ex, err := filepath.Glob("/examples/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) < 5 {
		t.Fatalf("found %d example files under /examples, want at least 5", len(ex))
	}
	return append(files, ex...)
}

// director is a namespace with routes to every real-server subnet of the
// plan configs: IPVS refuses a DR destination it has no route to.
func director(t *testing.T) *lab.Host {
	t.Helper()
	run(t, "modprobe", "ip_vs")
	lan := lab.NewLAN(t, "d")
	for _, cidr := range []string{
		"198.51.100.1/24", "10.10.10.1/24", "10.20.20.1/24", "10.30.30.1/24",
		"2001:db8:1::1/64", "2001:db8:10::1/64",
	} {
		lan.AddAddr("d", cidr)
	}
	return lan.Host("d")
}

func planSave(t *testing.T, file string) (string, []ipvs.Service) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := config.NewLoader().Parse(file, src)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", file, diags)
	}
	node := ""
	if names := f.NodeNames(); len(names) > 0 {
		node = names[0]
	}
	cfg, diags := f.Resolve(node)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", file, diags)
	}
	desired := plan.Services(cfg, plan.AllHealthy)
	var b strings.Builder
	if err := ipvs.WriteSave(&b, desired); err != nil {
		t.Fatal(err)
	}
	return b.String(), desired
}

// loadSchedulers loads the scheduler modules of services ahead of the
// commands under test, which run with a time limit: the kernel would load
// each on demand through modprobe, and a dozen of those on emulated CPUs
// under load once took longer than ipvsadm -R's 30 s.
func loadSchedulers(t *testing.T, services []ipvs.Service) {
	t.Helper()
	start := time.Now()
	loaded := map[string]bool{}
	for _, s := range services {
		if !loaded[s.Scheduler] {
			loaded[s.Scheduler] = true
			run(t, "modprobe", "ip_vs_"+s.Scheduler)
		}
	}
	t.Logf("%d scheduler modules loaded in %v", len(loaded), time.Since(start).Round(time.Millisecond))
}

// TestPlanIsIPVSAdmSave restores each plan's rules with ipvsadm -R and
// reads them back with ipvsadm -S -n: ipvsadm, not lvsd, decides what the
// rules look like, so `lvsd plan` must print exactly what it prints.
func TestPlanIsIPVSAdmSave(t *testing.T) {
	vm.RequireGuest(t)
	d := director(t)
	for _, file := range planConfigs(t) {
		want, desired := planSave(t, file)
		if want == "" {
			continue // a VRRP-only example
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			loadSchedulers(t, desired)
			rules := filepath.Join(t.TempDir(), "rules")
			if err := os.WriteFile(rules, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
			d.MustExec(t, "ipvsadm", "-C")
			d.MustExec(t, "sh", "-c", "ipvsadm -R < "+rules)
			got := d.MustExec(t, "ipvsadm", "-S", "-n")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ipvsadm -S -n after restoring the plan (-plan +ipvsadm):\n%s", diff)
			}
		})
	}
}

// TestClientProgramsThePlan programs each plan through lvsd's own
// generic-netlink client and diff, then asks ipvsadm what the kernel
// holds: it must be exactly the plan, and a second diff must be empty.
func TestClientProgramsThePlan(t *testing.T) {
	vm.RequireGuest(t)
	d := director(t)
	c := dialIPVS(t, d)
	all := func(ipvs.ServiceKey) bool { return true }
	for _, file := range planConfigs(t) {
		want, desired := planSave(t, file)
		if want == "" {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			d.MustExec(t, "ipvsadm", "-C")
			actual, err := c.Services()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Apply(ipvs.Diff(desired, actual, all)); err != nil {
				t.Fatalf("apply: %v", err)
			}
			got := d.MustExec(t, "ipvsadm", "-S", "-n")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ipvsadm -S -n after lvsd programmed the plan (-plan +ipvsadm):\n%s", diff)
			}
			actual, err = c.Services()
			if err != nil {
				t.Fatal(err)
			}
			if ops := ipvs.Diff(desired, actual, all); len(ops) != 0 {
				t.Errorf("second diff is not empty: %v", ops)
			}
		})
	}
	if _, err := d.Exec(context.Background(), "ipvsadm", "-C"); err != nil {
		t.Error(err)
	}
}
