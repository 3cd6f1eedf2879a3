// Package benchdoc keeps BENCHMARKS.md. Each benchmark command owns one
// "## " section of it and rewrites only that section, leaving the others
// byte for byte, so commands run at different times never undo each other.
package benchdoc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Title starts a BENCHMARKS.md that does not exist yet.
const Title = "# Benchmarks\n"

// Replace puts section in place of doc's section with the same heading
// (section's first line, a "## " heading) up to the next "## " heading, or
// appends it when doc has no such section.
func Replace(doc, section string) string {
	section = strings.TrimRight(section, "\n") + "\n"
	heading, _, _ := strings.Cut(section, "\n")
	if strings.TrimSpace(doc) == "" {
		doc = Title
	}
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	before := strings.Join(lines[:start], "")
	after := strings.Join(lines[end:], "")
	if after != "" {
		section += "\n"
	}
	return before + section + after
}

// Write replaces section in the file at path, reading it right before
// writing (other commands rewrite other sections of the same file), and
// renames a temporary file into place so a reader never sees half of it.
func Write(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".benchmarks-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(Replace(string(old), section)); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
