package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultStatePath is where `up` keeps its Record. /run is a tmpfs: the
// record goes with a reboot, as do the addresses and sysctls it describes.
const DefaultStatePath = "/run/lvsd/realserver.json"

// System is the namespace as realserver sees it: the kernel, or a fake
// that records the changes in tests.
type System interface {
	// Snapshot reads lo, tunl0 and ip6tnl0 and the sysctls of SysctlKeys.
	Snapshot() (Snapshot, error)
	// Apply makes one change.
	Apply(Change) error
}

// Up prepares the namespace for req. It returns the changes it made (in
// order; empty when there was nothing to do) and rec with them added. On
// error the changes made before the failure are returned and recorded
// too, so a later Down undoes them.
func Up(sys System, req Request, rec Record) ([]Change, Record, error) {
	cur, err := sys.Snapshot()
	if err != nil {
		return nil, rec, err
	}
	applied, err := apply(sys, PlanUp(req, cur))
	return applied, rec.With(applied), err
}

// Down undoes Up for req; rec is nil when no record was kept. It returns
// the changes made, the notes of PlanDown and the record to keep (empty
// when nothing is left to undo).
func Down(sys System, req Request, rec *Record) ([]Change, []string, Record, error) {
	cur, err := sys.Snapshot()
	if err != nil {
		if rec != nil {
			return nil, nil, *rec, err
		}
		return nil, nil, Record{}, err
	}
	plan, notes, next := PlanDown(req, cur, rec)
	applied, err := apply(sys, plan)
	if err != nil && rec != nil {
		// Keep everything but the addresses already gone, so that running
		// down again finishes the job.
		next = rec.removeAddrs(applied)
	}
	return applied, notes, next, err
}

func apply(sys System, plan []Change) ([]Change, error) {
	applied := make([]Change, 0, len(plan))
	for _, c := range plan {
		if err := sys.Apply(c); err != nil {
			return applied, err
		}
		applied = append(applied, c)
	}
	return applied, nil
}

// stateFile is the JSON document at the state path.
type stateFile struct {
	Version int `json:"version"`
	Record
}

const stateVersion = 1

// LoadRecord reads the record at path; it returns nil and no error when
// there is no file.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading state file %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("state file %s has version %d, this lvsd reads version %d", path, s.Version, stateVersion)
	}
	return &s.Record, nil
}

// SaveRecord writes rec to path, creating the directory. It replaces the
// file in one rename, so a crash leaves the old record or the new one.
func SaveRecord(path string, rec Record) error {
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Record: rec}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".realserver-*.json")
	if err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing state file %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing state file: %w", err)
	}
	return nil
}

// RemoveRecord deletes the state file; a missing file is not an error.
func RemoveRecord(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing state file: %w", err)
	}
	return nil
}
