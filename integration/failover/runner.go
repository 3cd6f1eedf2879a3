package failover

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
)

// runner is the part of testing.TB that package lab and this package use,
// for running a measurement outside go test (the benchmark command). The
// embedded interface is nil: a method not defined here panics, which would
// show at once that the lab started to use it.
type runner struct {
	testing.TB

	name string
	log  io.Writer

	mu       sync.Mutex
	failed   bool
	skipped  bool
	errs     []string
	cleanups []func()
}

// Run runs f as a test named name would run, outside go test: Fatal and
// Skip end f, Error marks it failed, cleanups run when it returns, in
// reverse order. Log lines go to log (nil discards them). The error lists
// every failure message.
func Run(name string, log io.Writer, f func(t testing.TB)) error {
	if log == nil {
		log = io.Discard
	}
	r := &runner{name: name, log: log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	for {
		r.mu.Lock()
		if len(r.cleanups) == 0 {
			r.mu.Unlock()
			break
		}
		c := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		r.mu.Unlock()
		// Its own goroutine: a cleanup that calls Fatal must not end
		// the others.
		cd := make(chan struct{})
		go func() {
			defer close(cd)
			c()
		}()
		<-cd
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.failed:
		return fmt.Errorf("%s: %v", name, r.errs)
	case r.skipped:
		return fmt.Errorf("%s: skipped: %v", name, r.errs)
	}
	return nil
}

func (r *runner) Helper()      {}
func (r *runner) Name() string { return r.name }

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runner) Log(args ...any)                 { fmt.Fprintln(r.log, args...) }
func (r *runner) Logf(format string, args ...any) { fmt.Fprintf(r.log, format+"\n", args...) }

func (r *runner) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.errs = append(r.errs, msg)
	fmt.Fprintln(r.log, msg)
}

func (r *runner) Error(args ...any)                 { r.record(fmt.Sprint(args...)) }
func (r *runner) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }
func (r *runner) Fail()                             { r.record("failed") }
func (r *runner) FailNow()                          { r.record("failed"); runtime.Goexit() }
func (r *runner) Fatal(args ...any)                 { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *runner) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *runner) skip(msg string) {
	r.mu.Lock()
	r.skipped = true
	r.errs = append(r.errs, msg)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *runner) Skip(args ...any)                 { r.skip(fmt.Sprint(args...)) }
func (r *runner) Skipf(format string, args ...any) { r.skip(fmt.Sprintf(format, args...)) }
func (r *runner) SkipNow()                         { r.skip("skipped") }

func (r *runner) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "failover-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
