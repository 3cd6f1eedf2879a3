// Command gendocs writes the documentation generated from the code: the
// manual pages in man/, config/REFERENCE.md and the configuration
// reference inside README.md. Run it from the module's root (make docs);
// tests in man/ and config/ fail while what it would write differs from
// what is committed.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/man"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	for _, p := range man.Pages() {
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			return fmt.Errorf("%s: %w", p.File, err)
		}
		if err := write(filepath.Join("man", p.File), buf.Bytes()); err != nil {
			return err
		}
	}
	var ref bytes.Buffer
	if err := config.WriteReference(&ref); err != nil {
		return err
	}
	if err := write(filepath.Join("config", "REFERENCE.md"), ref.Bytes()); err != nil {
		return err
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		return err
	}
	spliced, err := config.SpliceReadme(readme)
	if err != nil {
		return err
	}
	return write("README.md", spliced)
}

// write writes a file only when its contents change.
func write(name string, b []byte) error {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return os.WriteFile(name, b, 0o644)
}
