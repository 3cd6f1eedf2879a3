package integration

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/integration/lab"
)

// The Debian package (make deb) installed on this machine, checked, then
// removed and purged.

const debVersion = "0.0~itest-1"

// debFiles are the files (not directories) the package installs, with
// their modes.
var debFiles = map[string]fs.FileMode{
	"/etc/lvsd/lvsd.hcl":                          0o644,
	"/lib/systemd/system/lvsd.service":            0o644,
	"/usr/lib/modules-load.d/lvsd.conf":           0o644,
	"/usr/sbin/lvsd":                              0o755,
	"/usr/share/bash-completion/completions/lvsd": 0o644,
	"/usr/share/doc/lvsd/README.md.gz":            0o644,
	"/usr/share/doc/lvsd/changelog.Debian.gz":     0o644,
	"/usr/share/doc/lvsd/copyright":               0o644,
	"/usr/share/lintian/overrides/lvsd":           0o644,
	"/usr/share/man/man5/lvsd.hcl.5.gz":           0o644,
	"/usr/share/man/man8/lvsd.8.gz":               0o644,
}

const (
	wantsLink = "/etc/systemd/system/multi-user.target.wants/lvsd.service"
	debUnit   = "/lib/systemd/system/lvsd.service"
	debConf   = "/etc/lvsd/lvsd.hcl"
)

// sh runs a command and returns its combined output, failing the test on
// a non-zero exit.
func sh(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// debStatus is dpkg's status of the lvsd package, "" when dpkg has none.
func debStatus() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "lvsd").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// lvsdRunning reports whether a process runs /usr/sbin/lvsd.
// owned reports whether a path dpkg -L lists is the package's own: a file,
// or a directory named for lvsd. Other directories (/usr/sbin, /lib, which
// may be a link to /usr/lib) are shared.
func owned(path string) bool {
	if _, ok := debFiles[path]; ok {
		return true
	}
	return strings.Contains(filepath.Base(path), "lvsd")
}

func lvsdRunning(t *testing.T) bool {
	t.Helper()
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, e := range exes {
		if target, err := os.Readlink(e); err == nil && strings.TrimSuffix(target, " (deleted)") == "/usr/sbin/lvsd" {
			return true
		}
	}
	return false
}

func TestDebianPackage(t *testing.T) {
	lab.RequireRoot(t, "dpkg", "dpkg-deb", "dpkg-query", "go", "git", "gzip", "md5sum", "bash")
	if s := debStatus(); s != "" && !strings.HasSuffix(s, "not-installed") {
		lab.Missing(t, "a package lvsd is on this machine already (%s): purge it first (dpkg -P lvsd)", s)
	}
	runWasThere := exists("/run/lvsd")
	t.Cleanup(func() {
		if s := debStatus(); s != "" && !strings.HasSuffix(s, "not-installed") {
			if out, err := exec.Command("dpkg", "--purge", "lvsd").CombinedOutput(); err != nil {
				t.Errorf("cleaning up: dpkg --purge lvsd: %v\n%s", err, out)
			}
		}
	})
	dpkgEnv := []string{"DEBIAN_FRONTEND=noninteractive"}

	start := time.Now()
	bin := buildLVSD(t)
	deb := strings.TrimSpace(sh(t, nil, "bash", "../packaging/deb/build.sh", bin, debVersion, t.TempDir()))
	t.Logf("built %s in %v", filepath.Base(deb), time.Since(start).Round(time.Millisecond))

	t.Run("contents", func(t *testing.T) {
		// Every entry root-owned, nothing outside the paths policy allows.
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(sh(t, nil, "dpkg-deb", "-c", deb)), "\n") {
			f := strings.Fields(l)
			if len(f) < 6 || f[1] != "root/root" {
				t.Errorf("entry not owned by root/root: %s", l)
				continue
			}
			if f[0][0] == '-' {
				got = append(got, strings.TrimPrefix(f[5], "."))
			}
		}
		want := slices.Sorted(maps.Keys(debFiles))
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("files in the package (-want +got):\n%s", diff)
		}
		if c := sh(t, nil, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture"); !strings.Contains(c, "Package: lvsd\nVersion: "+debVersion+"\n") {
			t.Errorf("control fields:\n%s", c)
		}
	})

	sh(t, dpkgEnv, "dpkg", "--install", deb)
	t.Logf("installed after %v", time.Since(start).Round(time.Millisecond))
	installed := map[string]bool{}
	for _, p := range strings.Split(strings.TrimSpace(sh(t, nil, "dpkg", "-L", "lvsd")), "\n") {
		installed[p] = true
	}

	t.Run("installed files", func(t *testing.T) {
		for path, mode := range debFiles {
			if !installed[path] {
				t.Errorf("dpkg -L lacks %s", path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Error(err)
				continue
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
			}
		}
		if c := sh(t, nil, "dpkg-query", "-W", "-f=${Conffiles}", "lvsd"); !strings.Contains(c, " "+debConf+" ") {
			t.Errorf("conffiles %q lack %s", c, debConf)
		}
		unit, err := os.ReadFile(debUnit)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ExecStartPre=/usr/sbin/lvsd validate -c ${LVSD_CONFIG}\n", "ExecStart=/usr/sbin/lvsd run -c ${LVSD_CONFIG}\n", "Environment=LVSD_CONFIG=/etc/lvsd/lvsd.hcl\n"} {
			if !strings.Contains(string(unit), want) {
				t.Errorf("the installed unit lacks %q", want)
			}
		}
		if strings.Contains(string(unit), "/usr/local") {
			t.Error("the installed unit names /usr/local")
		}
	})

	t.Run("enabled, not started", func(t *testing.T) {
		target, err := os.Readlink(wantsLink)
		if err != nil || target != debUnit {
			t.Errorf("%s -> %q (%v), want a link to %s", wantsLink, target, err, debUnit)
		}
		if lvsdRunning(t) {
			t.Error("/usr/sbin/lvsd runs after the install")
		}
	})

	t.Run("validate", func(t *testing.T) {
		out := sh(t, nil, "/usr/sbin/lvsd", "validate", "-c", debConf)
		if !strings.Contains(out, "valid") {
			t.Errorf("lvsd validate: %s", out)
		}
		// The commented example in the file is valid once uncommented.
		src, err := os.ReadFile(debConf)
		if err != nil {
			t.Fatal(err)
		}
		_, example, ok := strings.Cut(string(src), "\n# node ")
		if !ok {
			t.Fatalf("%s has no commented node block", debConf)
		}
		uncomment := regexp.MustCompile(`(?m)^# ?`)
		file := filepath.Join(t.TempDir(), "example.hcl")
		text := "cluster = \"example\"\n" + uncomment.ReplaceAllString("# node "+example, "")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out = sh(t, nil, "/usr/sbin/lvsd", "validate", "-c", file)
		if !strings.Contains(out, "1 VRRP instance(s), 1 virtual server(s)") {
			t.Errorf("the uncommented example: %s", out)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			lab.Missing(t, "systemd-analyze not found (package systemd; run .ci/install-deps.sh): %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "systemd-analyze", "verify", debUnit)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "lvsd") {
				t.Errorf("systemd-analyze verify: %s", l)
			}
		}
	})

	t.Run("man pages", func(t *testing.T) {
		if _, err := exec.LookPath("man"); err != nil {
			lab.Missing(t, "man not found (package man-db; run .ci/install-deps.sh): %v", err)
		}
		for page, name := range map[string]string{"/usr/share/man/man8/lvsd.8.gz": "lvsd", "/usr/share/man/man5/lvsd.hcl.5.gz": "lvsd.hcl"} {
			cmd := exec.Command("man", "-l", page)
			cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "LC_ALL=C.UTF-8")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Errorf("man -l %s: %v\n%s", page, err, stderr.String())
			}
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `\s+-\s+\S`).Match(out) {
				t.Errorf("man -l %s has no NAME line:\n%s", page, out)
			}
		}
	})

	t.Run("bash completion", func(t *testing.T) {
		out := sh(t, nil, "bash", "-c", `source /usr/share/bash-completion/completions/lvsd
COMP_WORDS=(lvsd ""); COMP_CWORD=1; _lvsd; echo "${COMPREPLY[*]}"
COMP_WORDS=(lvsd status --); COMP_CWORD=2; _lvsd; echo "${COMPREPLY[*]}"`)
		want := "run validate plan status reload realserver convert digest version help\n--json --socket\n"
		if out != want {
			t.Errorf("completions %q, want %q", out, want)
		}
	})

	t.Run("reinstall keeps the edited cluster file", func(t *testing.T) {
		edited := "# edited by the operator\n"
		f, err := os.OpenFile(debConf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(edited)
		f.Close()
		sh(t, dpkgEnv, "dpkg", "--install", deb)
		src, err := os.ReadFile(debConf)
		if err != nil || !strings.HasSuffix(string(src), edited) {
			t.Errorf("%s after a reinstall: %v, edit kept: %v", debConf, err, strings.HasSuffix(string(src), edited))
		}
		if lvsdRunning(t) {
			t.Error("/usr/sbin/lvsd runs after a reinstall")
		}
	})

	// lintian is slow (about 20 s) and its tags change between versions:
	// it runs on request only.
	if os.Getenv("LVSD_TEST_LINTIAN") == "1" {
		t.Run("lintian", func(t *testing.T) {
			// A binary built as make build does: stripped (-s -w), which
			// lintian wants and buildLVSD's is not.
			dir := t.TempDir()
			stripped := filepath.Join(dir, "lvsd")
			sh(t, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", stripped, "github.com/lvsd/lvsd/cmd/lvsd")
			pkg := strings.TrimSpace(sh(t, nil, "bash", "../packaging/deb/build.sh", stripped, debVersion, dir))
			out, _ := exec.Command("lintian", "--tag-display-limit", "0", pkg).CombinedOutput()
			t.Logf("lintian:\n%s", out)
			if regexp.MustCompile(`(?m)^E: `).Match(out) {
				t.Error("lintian reports errors")
			}
		})
	}

	// Remove: everything goes but the cluster file (a conffile) and the
	// enablement, which a reinstall finds again.
	sh(t, dpkgEnv, "dpkg", "--remove", "lvsd")
	if s := debStatus(); s != "deinstall ok config-files" {
		t.Errorf("status after remove %q, want deinstall ok config-files", s)
	}
	for path := range installed {
		switch {
		case path == debConf || path == "/etc/lvsd":
			if !exists(path) {
				t.Errorf("remove took %s", path)
			}
		case owned(path) && exists(path):
			t.Errorf("%s is left after remove", path)
		}
	}

	// Leftovers of a director's life, which purge removes too.
	if err := os.MkdirAll("/etc/lvsd/conf.d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/lvsd/conf.d/extra.hcl", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !runWasThere {
		if err := os.MkdirAll("/run/lvsd", 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("/run/lvsd/lvsd.vips.json", []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	sh(t, dpkgEnv, "dpkg", "--purge", "lvsd")
	if s := debStatus(); s != "" && !strings.HasSuffix(s, "not-installed") {
		t.Errorf("status after purge %q", s)
	}
	gone := []string{"/etc/lvsd", wantsLink, "/var/lib/systemd/deb-systemd-helper-enabled/lvsd.service.dsh-also",
		"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/lvsd.service"}
	if !runWasThere {
		gone = append(gone, "/run/lvsd")
	}
	for path := range installed {
		if owned(path) {
			gone = append(gone, path)
		}
	}
	for _, path := range gone {
		if exists(path) {
			t.Errorf("%s is left after purge", path)
		}
	}
	t.Logf("built, installed, checked, removed and purged in %v", time.Since(start).Round(time.Millisecond))
}
