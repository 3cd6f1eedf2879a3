// Package benchrun holds what the benchmark commands share to run: where
// the module is, and running the host-side test that boots the lab VM.
package benchrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/internal/benchdoc"
)

// ModuleRoot is the directory of the go.mod the command runs in.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the lvsd module")
	}
	return filepath.Dir(gomod), nil
}

// GoTest runs `go test args...` in root, where args name the test with
// -run: the host side of a VM benchmark. Its output goes to standard error
// as it comes when verbose, else only when the run fails. A run in which
// test was skipped (no root, no qemu) is a failure: a benchmark that did
// not run has no figures.
func GoTest(root string, verbose bool, test string, args ...string) error {
	cmd := exec.Command("go", append([]string{"test"}, args...)...)
	cmd.Dir = root
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if verbose {
		w := io.MultiWriter(&log, os.Stderr)
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Run(); err != nil {
		if !verbose {
			os.Stderr.Write(log.Bytes())
		}
		return fmt.Errorf("go test: %w", err)
	}
	if strings.Contains(log.String(), "--- SKIP: "+test) {
		os.Stderr.Write(log.Bytes())
		return errors.New("the benchmark was skipped")
	}
	return nil
}

// ReadResult decodes the JSON result file that one run's host-side test
// wrote at path into v.
func ReadResult(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the result: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding the result %q: %w", b, err)
	}
	return nil
}

// WriteSection replaces sec's section of the markdown file at path (a
// relative path is taken from root) and returns the file it wrote.
func WriteSection(root, path, sec string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	return path, benchdoc.Write(path, sec)
}

// Median is the median of xs, 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Publish prints sec and, unless path is empty, writes it into its
// section of that markdown file (WriteSection), telling stderr so as the
// command name.
func Publish(root, path, name, sec string) error {
	fmt.Print(sec)
	if path == "" {
		return nil
	}
	wrote, err := WriteSection(root, path, sec)
	if err != nil {
		return err
	}
	heading, _, _ := strings.Cut(sec, "\n")
	fmt.Fprintf(os.Stderr, "%s: wrote the %q section of %s\n", name, heading, wrote)
	return nil
}

// Machine is where and when a benchmark ran: the host's CPUs and load
// average before and after, the wall time and the date.
type Machine struct {
	LoadBefore, LoadAfter string
	Wall                  time.Duration
	CPUs                  int
	Date                  time.Time
}
