package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Frame is one line of a capture: a frame as tcpdump prints it with
// -nn -tt -e, and the capture time of its timestamp.
type Frame struct {
	Time time.Time
	// Text is the whole line, timestamp included.
	Text string
}

// Capture is a running tcpdump inside a host.
type Capture struct {
	t    testing.TB
	proc *Proc

	mu      sync.Mutex
	frames  []Frame
	changed chan struct{} // closed and replaced on every new frame
	stopped bool
}

// listenTimeout bounds the wait for tcpdump to open its socket.
const listenTimeout = 15 * time.Second

// Capture starts "tcpdump -i ifname -nn -tt -l -e [filter]" inside the host
// and returns once tcpdump says it is listening, so no frame sent after
// Capture returns is missed. The capture is stopped when the test ends.
func (h *Host) Capture(t testing.TB, ifname, filter string) *Capture {
	t.Helper()
	RequireRoot(t, "tcpdump")
	// -Z root: tcpdump would otherwise drop to a "tcpdump" user that a
	// minimal system (the VM's initramfs) may not have.
	// --immediate-mode: frames are printed as they arrive rather than when
	// the kernel buffer fills, so a test waiting for one is not held up.
	argv := []string{"tcpdump", "--immediate-mode", "-i", ifname, "-nn", "-tt", "-l", "-e", "-Z", "root"}
	if filter != "" {
		argv = append(argv, filter)
	}
	cmd := h.Command(argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tcpdump in %s: %v", h.Name, err)
	}
	c := &Capture{
		t:       t,
		proc:    &Proc{name: h.Name, pid: cmd.Process.Pid, done: make(chan struct{}), relay: make(chan struct{})},
		changed: make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Add(2)
	listening := make(chan struct{})
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			line := sc.Text()
			if !said && strings.Contains(line, "listening on") {
				said = true
				close(listening)
				continue
			}
			c.proc.mu.Lock()
			c.proc.out.WriteString(line + "\n")
			c.proc.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			c.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		readers.Wait()
		err := cmd.Wait()
		c.proc.mu.Lock()
		c.proc.err = err
		c.proc.mu.Unlock()
		close(c.proc.done)
		close(c.proc.relay)
	}()
	t.Cleanup(func() { c.Stop() })

	select {
	case <-listening:
		return c
	case <-c.proc.done:
		t.Fatalf("tcpdump on %s/%s exited before listening: %v: %s", h.Name, ifname, c.proc.Err(), c.proc.Output())
	case <-time.After(listenTimeout):
		c.proc.Kill()
		t.Fatalf("tcpdump on %s/%s did not start listening within %v: %s", h.Name, ifname, listenTimeout, c.proc.Output())
	}
	return nil
}

func (c *Capture) add(line string) {
	f := Frame{Text: line}
	if ts, _, ok := strings.Cut(line, " "); ok {
		if sec, frac, ok := strings.Cut(ts, "."); ok {
			s, err1 := strconv.ParseInt(sec, 10, 64)
			us, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
			if err1 == nil && err2 == nil {
				f.Time = time.Unix(s, us*1000)
			}
		}
	}
	c.mu.Lock()
	c.frames = append(c.frames, f)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Lines returns the frames captured so far.
func (c *Capture) Lines() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// Stop ends the capture, letting tcpdump flush what it has, and returns
// every frame captured. Calling it again returns the same frames.
func (c *Capture) Stop() []Frame {
	c.mu.Lock()
	stopped := c.stopped
	c.stopped = true
	c.mu.Unlock()
	if !stopped {
		_ = syscall.Kill(c.proc.pid, syscall.SIGINT)
		select {
		case <-c.proc.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-c.proc.pid, syscall.SIGKILL)
			<-c.proc.done
		}
	}
	return c.Lines()
}

// Wait waits until a frame for which match returns true has been captured
// (including frames captured before the call) and returns the first such
// frame, or an error when ctx ends first.
func (c *Capture) Wait(ctx context.Context, match func(Frame) bool) (Frame, error) {
	seen := 0
	for {
		c.mu.Lock()
		frames := c.frames[seen:]
		changed := c.changed
		seen = len(c.frames)
		c.mu.Unlock()
		for _, f := range frames {
			if match(f) {
				return f, nil
			}
		}
		select {
		case <-changed:
		case <-c.proc.done:
			// tcpdump ended: take the last frames, then give up.
			c.mu.Lock()
			rest := c.frames[seen:]
			c.mu.Unlock()
			for _, f := range rest {
				if match(f) {
					return f, nil
				}
			}
			return Frame{}, fmt.Errorf("capture ended without a matching frame: %v", c.proc.Err())
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("waiting for a matching frame: %w", ctx.Err())
		}
	}
}

// WaitMatch is Wait for a frame whose text matches the regular expression,
// giving up after timeout.
func (c *Capture) WaitMatch(timeout time.Duration, expr string) (Frame, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return Frame{}, fmt.Errorf("compiling %q: %w", expr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Wait(ctx, func(f Frame) bool { return re.MatchString(f.Text) })
}
