// Package sysctl reads and writes kernel parameters as files under
// /proc/sys, and puts back what it changed.
//
// The net.* entries under /proc/sys belong to the network namespace of the
// thread that opens them: a director in a namespace sets its own IPVS and
// ARP parameters. Tests pass a temporary directory with the same layout as
// the root.
package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root is where the kernel shows its parameters.
const Root = "/proc/sys"

// Path turns a key into its file under root. As with sysctl(8), a key
// written with dots has them turned into slashes ("net.ipv4.vs.am_droprate"),
// and a key with a slash is taken as a path already, which is how a device
// whose name has a dot is named ("net/ipv4/conf/eth0.100/arp_ignore").
func Path(root, key string) string {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	return filepath.Join(root, filepath.FromSlash(key))
}

// Read returns the value of key, without its trailing newline. A key the
// kernel does not have (a module not loaded, a device that does not exist)
// gives an error that wraps fs.ErrNotExist.
func Read(root, key string) (string, error) {
	b, err := os.ReadFile(Path(root, key))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", display(key), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Write sets key to value. The file must exist: the kernel has no
// parameter to create, and creating it would only hide a misspelt key in a
// test directory.
func Write(root, key, value string) error {
	f, err := os.OpenFile(Path(root, key), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("setting %s to %s: %w", display(key), value, err)
	}
	_, werr := f.WriteString(value + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("setting %s to %s: %w", display(key), value, err)
	}
	return nil
}

// display names key the way sysctl(8) prints it.
func display(key string) string {
	return strings.ReplaceAll(key, "/", ".")
}

// Saved sets parameters and remembers the value each had before its
// first change, so that Restore can put them back. The zero value is not
// usable: make one with NewSaved.
type Saved struct {
	root  string
	old   map[string]string
	order []string // keys in the order of their first change
}

// NewSaved returns a Saved for the parameters under root.
func NewSaved(root string) *Saved {
	return &Saved{root: root, old: map[string]string{}}
}

// Set writes value to key, first reading the value to restore if key was
// not changed before.
func (s *Saved) Set(key, value string) error {
	if _, ok := s.old[key]; !ok {
		v, err := Read(s.root, key)
		if err != nil {
			return err
		}
		s.old[key] = v
		s.order = append(s.order, key)
	}
	return Write(s.root, key, value)
}

// Changed reports whether Set has changed anything since the last Restore.
func (s *Saved) Changed() bool { return len(s.order) > 0 }

// Restore writes back the values the parameters had before their first
// Set, the last changed first, and forgets them. It goes on past a failed
// write and returns every error.
func (s *Saved) Restore() error {
	var errs []error
	for i := len(s.order) - 1; i >= 0; i-- {
		k := s.order[i]
		if err := Write(s.root, k, s.old[k]); err != nil {
			errs = append(errs, err)
		}
	}
	clear(s.old)
	s.order = s.order[:0]
	return errors.Join(errs...)
}

// IsNotExist reports whether err says that a parameter does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
