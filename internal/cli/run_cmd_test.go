package cli

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/daemon"
)

func TestRunExit(t *testing.T) {
	cfgErr := &daemon.ConfigError{
		Diagnostics: config.Diagnostics{{Filename: "web.hcl", Line: 2, Column: 3, EndLine: 2, EndColumn: 4, Message: "unknown attribute"}},
		Source:      map[string][]byte{"web.hcl": []byte("cluster = \"x\"\n  bogus = 1\n")},
	}
	tests := []struct {
		name   string
		err    error
		code   int
		stderr *regexp.Regexp
	}{
		{"clean stop", nil, exitOK, regexp.MustCompile(`^$`)},
		{"config error", cfgErr, exitConfig, regexp.MustCompile(`^web\.hcl:2:3: unknown attribute\n(.|\n)*bogus = 1`)},
		{"wrapped config error", errorsJoin(cfgErr), exitConfig, regexp.MustCompile(`^web\.hcl:2:3: `)},
		{"start-up failure", errors.New("vrrp_instance VI_1: interface eth9 does not exist: create it or fix interface in web.hcl"),
			exitStart, regexp.MustCompile(`^lvsd: vrrp_instance VI_1: interface eth9 does not exist: create it or fix interface in web\.hcl\n$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := runExit(&b, tt.err); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !tt.stderr.MatchString(b.String()) {
				t.Errorf("stderr %q does not match %s", b.String(), tt.stderr)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("starting"), err) }

func TestRunConfigErrorExits1(t *testing.T) {
	p := writeFile(t, "cluster = \"x\"\n\nvrrp_instance \"VI_1\" {\n  interface = \"eth0\"\n  vrid = 300\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n")
	_, errOut, code := run(t, "run", "-c", p)
	if code != exitConfig {
		t.Fatalf("exit %d, want %d\n%s", code, exitConfig, errOut)
	}
	if !strings.Contains(errOut, p+":5:10: ") || !strings.Contains(errOut, "vrid = 300") {
		t.Errorf("stderr lacks the diagnostic with its snippet:\n%s", errOut)
	}
}

// A missing interface is a start-up failure: exit 2, one line saying what
// to do. Reading links needs no privilege, so this runs anywhere.
func TestRunMissingInterfaceExits2(t *testing.T) {
	p := writeFile(t, "cluster = \"x\"\n\nvrrp_instance \"VI_1\" {\n  interface = \"lvsdnosuch0\"\n  vrid = 30\n  virtual_ips = [\"192.0.2.1/32\"]\n}\n")
	_, errOut, code := run(t, "run", "-c", p, "--socket", t.TempDir()+"/s")
	if code != exitStart {
		t.Fatalf("exit %d, want %d\n%s", code, exitStart, errOut)
	}
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "lvsd: ") || !strings.Contains(last, "interface lvsdnosuch0 does not exist") {
		t.Errorf("last stderr line %q, want the missing interface named", last)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-c", "x.hcl", "--log-format", "xml"},
		{"run", "-c", "x.hcl", "--log-level", "loud"},
		{"run", "-c", "x.hcl", "extra"},
		{"run"}, // no config file
	} {
		_, errOut, code := run(t, args...)
		if code != exitStart {
			t.Errorf("lvsd %v: exit %d, want %d\n%s", args, code, exitStart, errOut)
		}
	}
}
