package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
)

// LVSDMode says whether GoTests.Run puts an lvsd binary in the guest.
type LVSDMode int

const (
	// LVSDIfBuilds builds ./cmd/lvsd and carries on without it, with a
	// note in the log, when it does not build.
	LVSDIfBuilds LVSDMode = iota
	// LVSDRequired fails the test when ./cmd/lvsd does not build.
	LVSDRequired
	// LVSDNone leaves lvsd out.
	LVSDNone
)

const (
	// GuestLVSD is where the lvsd binary is in the guest; LVSD_BIN names
	// it too when it is there.
	GuestLVSD = "/usr/sbin/lvsd"
	// guestPkgDir is the working directory of the test binary in the
	// guest; the package's testdata directory is copied below it.
	guestPkgDir = "/root/pkg"
	// guestEnv is set to 1 in the guest, so tests know where they run.
	guestEnv = "LVSD_IN_VM"
)

// InGuest reports whether the code runs inside the VM.
func InGuest() bool { return os.Getenv(guestEnv) == "1" }

// RequireGuest ends a test through lab.Missing unless it runs inside the
// VM: tests built with the vm tag need the guest's IPVS kernel, and the
// host-side test that boots the VM runs them there.
func RequireGuest(t testing.TB) {
	t.Helper()
	if !InGuest() {
		lab.Missing(t, "runs only inside the lab VM (go test ./integration/ boots it)")
	}
}

// GoTests describes a Go test package to run inside the VM.
type GoTests struct {
	// Package is the package to test, as "go test" takes it (an import
	// path, or a directory relative to the calling test's directory).
	Package string
	// Tags are extra build tags, comma separated; "vm" is always set.
	Tags string
	// Args are passed to the test binary after -test.v.
	Args []string
	// LVSD says whether to build ./cmd/lvsd into the guest.
	LVSD LVSDMode
	// Binaries, Files, Env, Timeout, MemoryMB and TSC are as in Config.
	Binaries []string
	Files    map[string]string
	Env      map[string]string
	Timeout  time.Duration
	MemoryMB int
	TSC      bool
	// Setup is shell run in the guest before the test binary.
	Setup string
}

// Run builds the package's tests with the vm tag (and Tags) as a static
// binary, with lvsd if it builds, runs them with -test.v and Args inside
// the VM, relays their output to the test log and fails the test if they
// fail.
func (g GoTests) Run(t testing.TB) *Result {
	t.Helper()
	Require(t)
	if g.Timeout == 0 {
		g.Timeout = 3 * time.Minute
	}
	goBin, err := findGo()
	if err != nil {
		lab.Missing(t, "%v", err)
	}
	dir := t.TempDir()
	start := time.Now()

	tags := "vm"
	if g.Tags != "" {
		tags += "," + g.Tags
	}
	testBin := filepath.Join(dir, "pkg.test")
	if _, err := output(goCmd(goBin, "", "test", "-c", "-tags", tags, "-o", testBin, g.Package)); err != nil {
		t.Fatalf("building tests of %s: %v", g.Package, err)
	}
	if _, err := os.Stat(testBin); err != nil {
		t.Fatalf("building tests of %s: no test binary (no test files with the vm tag?): %v", g.Package, err)
	}
	files := map[string]string{"/usr/local/bin/pkg.test": testBin}
	for k, v := range g.Files {
		files[k] = v
	}
	env := map[string]string{guestEnv: "1"}
	if ci := os.Getenv("CI"); ci != "" {
		env["CI"] = ci
	}
	for k, v := range g.Env {
		env[k] = v
	}

	if g.LVSD != LVSDNone {
		lvsd := filepath.Join(dir, "lvsd")
		err := buildLVSD(goBin, lvsd)
		switch {
		case err == nil:
			files[GuestLVSD] = lvsd
			env["LVSD_BIN"] = GuestLVSD
			t.Logf("vm: lvsd built into %s", GuestLVSD)
		case g.LVSD == LVSDRequired:
			t.Fatalf("building lvsd: %v", err)
		default:
			t.Logf("vm: lvsd left out, it does not build: %v", err)
		}
	}

	dirs := map[string]string{}
	if pkgDir, err := output(goCmd(goBin, "", "list", "-tags", tags, "-f", "{{.Dir}}", g.Package)); err == nil {
		td := filepath.Join(strings.TrimSpace(pkgDir), "testdata")
		if st, err := os.Stat(td); err == nil && st.IsDir() {
			dirs[guestPkgDir+"/testdata"] = td
		}
	}
	t.Logf("vm: built %s in %v", g.Package, time.Since(start).Round(time.Millisecond))

	// The test binary's own deadline comes before the VM's, so a hung
	// test dumps its goroutines instead of being cut off silently.
	inner := g.Timeout - 20*time.Second
	if inner < 10*time.Second {
		inner = g.Timeout / 2
	}
	argv := []string{"/usr/local/bin/pkg.test", "-test.v", "-test.timeout=" + inner.String()}
	argv = append(argv, g.Args...)
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	script := "mkdir -p " + guestPkgDir + "\ncd " + guestPkgDir + "\n" + g.Setup + "\n" + strings.Join(quoted, " ") + "\n"

	res, err := Run(context.Background(), t, Config{
		Files:    files,
		Dirs:     dirs,
		Binaries: g.Binaries,
		Env:      env,
		Script:   script,
		Timeout:  g.Timeout,
		MemoryMB: g.MemoryMB,
		TSC:      g.TSC,
	})
	if err != nil {
		t.Fatalf("vm: running tests of %s: %v", g.Package, err)
	}
	t.Logf("vm: booted in %v, powered off after %v", res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	if res.ExitCode != 0 {
		var failed []string
		for _, line := range strings.Split(res.Output, "\n") {
			if strings.Contains(line, "--- FAIL: ") {
				failed = append(failed, strings.TrimSpace(line))
			}
		}
		t.Errorf("tests of %s failed inside the VM (exit status %d): %s", g.Package, res.ExitCode, strings.Join(failed, "; "))
	}
	return res
}

// buildLVSD builds the module's ./cmd/lvsd statically.
func buildLVSD(goBin, out string) error {
	gomod, err := output(goCmd(goBin, "", "env", "GOMOD"))
	if err != nil {
		return err
	}
	gomod = strings.TrimSpace(gomod)
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("not inside a Go module")
	}
	_, err = output(goCmd(goBin, filepath.Dir(gomod), "build", "-o", out, "./cmd/lvsd"))
	return err
}

// goCmd returns a go command that builds static binaries.
func goCmd(goBin, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// findGo finds the go command, also where a root shell's $PATH lacks it.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("go command not found")
}
