package man

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPagesUpToDate keeps the committed pages equal to what the
// generators write now.
func TestPagesUpToDate(t *testing.T) {
	for _, p := range Pages() {
		t.Run(p.File, func(t *testing.T) {
			var buf bytes.Buffer
			if err := p.Write(&buf); err != nil {
				t.Fatal(err)
			}
			disk, err := os.ReadFile(p.File)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(disk), buf.String()); diff != "" {
				t.Errorf("%s is stale; run make docs (-file +generated):\n%s", p.File, diff)
			}
		})
	}
}

// missing skips, or fails under CI=true, when a program is absent.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// TestPagesRender formats each page as man(1) does and fails on any
// warning: groff with every warning on, then man -l itself.
func TestPagesRender(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		missing(t, "groff not found (package groff-base; run .ci/install-deps.sh): %v", err)
	}
	man, err := exec.LookPath("man")
	if err != nil {
		missing(t, "man not found (package man-db; run .ci/install-deps.sh): %v", err)
	}
	for _, p := range Pages() {
		t.Run(p.File, func(t *testing.T) {
			out, stderr := run(t, groff, "-man", "-Tutf8", "-ww", "-z", p.File)
			if len(out)+len(stderr) > 0 {
				t.Errorf("groff -ww warns:\n%s%s", out, stderr)
			}
			text, stderr := run(t, man, "-l", p.File)
			if len(stderr) > 0 {
				t.Errorf("man -l %s: %s", p.File, stderr)
			}
			// The page reads as text: its name line and no roff left over.
			name := strings.TrimSuffix(p.File, filepath.Ext(p.File))
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `\s+-\s+\S`).MatchString(text) {
				t.Errorf("man -l %s has no NAME line for %s:\n%s", p.File, name, text)
			}
			for _, leftover := range []string{`\f`, `\e`, `\[`, "\n.", "`"} {
				if strings.Contains(text, leftover) {
					t.Errorf("man -l %s shows %q", p.File, leftover)
				}
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// Plain text at a fixed width, without a pager or terminal codes.
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "LC_ALL=C.UTF-8", "GROFF_NO_SGR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, e.String())
	}
	return o.String(), e.String()
}
