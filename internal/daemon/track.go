package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/vrrpd"
)

// fileInterval is how often the track_file files are read.
const fileInterval = time.Second

// tracker runs the track_script commands and reads the track_file files of
// the config, and tells every instance what it finds. Scripts run on a
// scheduler of their own (healthcheck.Scheduler with exec checks: each run
// concurrent, bounded by its timeout, its whole process tree killed),
// never on an instance's goroutine, so a hung script delays no advert.
type tracker struct {
	d     *Daemon
	sched *healthcheck.Scheduler
	every time.Duration // of the file reads

	mu      sync.Mutex
	scripts map[string]*scriptJob // by job key
	files   []config.TrackFile
	ok      map[string]bool  // script name -> state, once known
	values  map[string]int64 // file name -> number, once read
	wake    chan struct{}    // a reload changed the files
}

// scriptJob is one track_script with the state of its results.
type scriptJob struct {
	name  string
	state vrrpd.ScriptState
}

func newTracker(d *Daemon) *tracker {
	t := &tracker{
		d:       d,
		every:   fileInterval,
		scripts: map[string]*scriptJob{},
		ok:      map[string]bool{},
		values:  map[string]int64{},
		wake:    make(chan struct{}, 1),
	}
	t.sched = healthcheck.NewScheduler(t.onResult)
	return t
}

// scriptKey identifies a script's job: a reload that keeps a script as it
// was keeps its state.
func scriptKey(s config.TrackScript) string {
	return fmt.Sprintf("track_script %q %q interval=%v timeout=%v rise=%d fall=%d", s.Name, s.Command, s.Interval, s.Timeout, s.Rise, s.Fall)
}

// set makes the scripts and files of cfg the tracked ones. A script whose
// command or schedule changed starts again without a result.
func (t *tracker) set(cfg *config.Config) error {
	var jobs []healthcheck.Job
	keep := map[string]*scriptJob{}
	t.mu.Lock()
	for _, s := range cfg.TrackScripts {
		key := scriptKey(s)
		j := t.scripts[key]
		if j == nil {
			j = &scriptJob{name: s.Name, state: vrrpd.ScriptState{Rise: s.Rise, Fall: s.Fall}}
		}
		keep[key] = j
		// Rise and Fall are kept here, on keepalived's rule; the
		// scheduler reports every result.
		jobs = append(jobs, healthcheck.Job{
			Key:      key,
			Checker:  healthcheck.NewExec(healthcheck.ExecParams{Argv: s.Command, Timeout: s.Timeout}),
			Interval: s.Interval,
			Timeout:  s.Timeout,
			Rise:     1,
			Fall:     1,
		})
	}
	t.mu.Unlock()
	if err := t.sched.Set(jobs); err != nil {
		return fmt.Errorf("track scripts: %w", err)
	}
	t.mu.Lock()
	t.scripts = keep
	for name := range t.ok {
		if !t.known(name) {
			delete(t.ok, name)
		}
	}
	for _, j := range keep {
		if j.state.Known() {
			t.ok[j.name] = j.state.OK()
		}
	}
	t.files = cfg.TrackFiles
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

// saved returns the tracked scripts with their states, for undo.
func (t *tracker) saved() map[string]*scriptJob {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.scripts)
}

// undo makes cfg's scripts and files the tracked ones again, each script
// with the state it had in saved: a reload that failed after set does not
// cost a script its rise and fall count.
func (t *tracker) undo(cfg *config.Config, saved map[string]*scriptJob) error {
	t.mu.Lock()
	for key, j := range saved {
		if t.scripts[key] == nil {
			t.scripts[key] = j
		}
	}
	t.mu.Unlock()
	return t.set(cfg)
}

// known reports whether a script of that name is tracked; under mu.
func (t *tracker) known(name string) bool {
	for _, j := range t.scripts {
		if j.name == name {
			return true
		}
	}
	return false
}

// onResult takes every script result (healthcheck.ResultFunc).
func (t *tracker) onResult(key string, r healthcheck.Result, _ healthcheck.Health, _ bool) {
	t.mu.Lock()
	j := t.scripts[key]
	if j == nil {
		t.mu.Unlock()
		return
	}
	ok, changed := j.state.Observe(r.OK)
	if changed {
		t.ok[j.name] = ok
	}
	t.mu.Unlock()
	if !changed {
		return
	}
	t.d.log.Info("track script", "script", j.name, "ok", ok, "result", r.Message)
	for _, in := range t.d.following(func(vi config.VRRPInstance) []config.Tracked { return vi.TrackScripts }, j.name) {
		in.SetScript(j.name, ok)
	}
}

// tell gives an instance everything known so far.
func (t *tracker) tell(in *vrrpd.Instance) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, ok := range t.ok {
		in.SetScript(name, ok)
	}
	for name, v := range t.values {
		in.SetFile(name, v)
	}
}

// runFiles reads the files now and every t.every until ctx ends.
func (t *tracker) runFiles(ctx context.Context) error {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		t.readFiles()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-t.wake:
		}
	}
}

func (t *tracker) readFiles() {
	t.mu.Lock()
	files := t.files
	t.mu.Unlock()
	for _, f := range files {
		v, ok := readTrackFile(f.Path)
		t.mu.Lock()
		was, known := t.values[f.Name]
		if !ok {
			v = was // a number out of range keeps the last value
		}
		changed := !known || v != was
		t.values[f.Name] = v
		t.mu.Unlock()
		if !changed {
			continue
		}
		t.d.log.Info("track file", "file", f.Name, "path", f.Path, "value", v)
		for _, in := range t.d.following(func(vi config.VRRPInstance) []config.Tracked { return vi.TrackFiles }, f.Name) {
			in.SetFile(f.Name, v)
		}
	}
}

// readTrackFile reads a track_file's number as keepalived does: a file that
// is missing, empty or unreadable, or whose text does not start with a
// number (decimal, 0x hex or 0 octal, as strtol), holds 0; ok is false for
// a number outside 32 bits, which is ignored.
func readTrackFile(path string) (v int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true
	}
	defer f.Close()
	buf := make([]byte, 127)
	n, _ := f.Read(buf)
	s := strings.TrimLeft(string(buf[:n]), " \t\n\r\v\f")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	if strings.HasPrefix(strings.ToLower(s[end:]), "0x") {
		end += 2
		for end < len(s) && strings.ContainsRune("0123456789abcdefABCDEF", rune(s[end])) {
			end++
		}
	} else {
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
	}
	v, err = strconv.ParseInt(s[:end], 0, 64)
	if err != nil {
		// No digits (0), or more than 64 bits (out of range).
		if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
			return 0, false
		}
		return 0, true
	}
	if v < -1<<31 || v > 1<<31 {
		return 0, false
	}
	return v, true
}

// following returns the running instances whose list (of scripts or
// files) names name.
func (d *Daemon) following(list func(config.VRRPInstance) []config.Tracked, name string) []*vrrpd.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*vrrpd.Instance
	for _, in := range d.instances {
		for _, t := range list(in.cfg) {
			if t.Name == name {
				out = append(out, in.in)
				break
			}
		}
	}
	return out
}
