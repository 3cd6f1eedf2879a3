package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Do runs f on an OS thread switched into the host's namespace and returns
// its error. f must not start goroutines that expect to be in the namespace:
// only the calling thread is.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// A fresh goroutine: if the thread cannot be switched back it is
		// left locked, and the runtime discards it when the goroutine ends
		// instead of handing a thread in the wrong namespace to other code.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("getting current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening namespace %s: %w", h.NS, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering namespace %s: %w", h.NS, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving namespace %s: %w", h.NS, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Proc is a background process started in a host by Start.
type Proc struct {
	name string
	pid  int
	done chan struct{}
	err  error

	mu  sync.Mutex
	out bytes.Buffer
	// relay is closed when every output line has been logged.
	relay chan struct{}
}

// Start runs argv in the background inside the host's namespace, in a
// process group of its own. Every output line goes to the test log,
// prefixed with the host's name, and is kept for Output. The process group
// is killed when the test ends, if it has not ended by then.
func (h *Host) Start(argv ...string) *Proc {
	t := h.lab.t
	t.Helper()
	p, err := h.start(argv...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *Host) start(argv ...string) (*Proc, error) {
	cmd := h.Command(argv...)
	// Its own group, so killing it also kills what it forked (keepalived's
	// VRRP child, a shell's children).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	// A daemon's grandchild that left the group may hold the pipe open;
	// do not wait for it forever.
	cmd.WaitDelay = 2 * time.Second
	p := &Proc{
		name:  h.Name,
		done:  make(chan struct{}),
		relay: make(chan struct{}),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q in %s: %w", strings.Join(argv, " "), h.Name, err)
	}
	p.pid = cmd.Process.Pid

	h.lab.mu.Lock()
	cleaned := h.lab.cleaned
	if !cleaned {
		h.lab.procs = append(h.lab.procs, p)
	}
	h.lab.mu.Unlock()

	go func() {
		defer close(p.relay)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line)
			p.out.WriteByte('\n')
			p.mu.Unlock()
			h.lab.t.Logf("[%s] %s", h.Name, line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	if cleaned {
		p.Kill()
		return nil, fmt.Errorf("starting %q in %s: lab already cleaned up", strings.Join(argv, " "), h.Name)
	}
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended, once Done is closed.
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("process %d in %s already exited", p.pid, p.name)
	default:
	}
	return syscall.Kill(p.pid, sig)
}

// Stop sends SIGTERM to the process group, waits up to timeout for the
// process to exit, then kills the group. It returns how the process ended.
func (p *Proc) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
		}
	}
	p.Kill()
	return p.Err()
}

// Kill kills the process group with SIGKILL and waits for the process and
// its output relay to end.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
	<-p.relay
}
