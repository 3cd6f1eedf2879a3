package healthcheck

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netCheck is a TCP or plain-HTTP check in the form the event loop runs it:
// connect to addr; with no request, passing means connected; with one, send
// it and judge the response.
type netCheck struct {
	addr netip.AddrPort
	// source, when valid, is the local address the connection is bound to.
	source  netip.Addr
	timeout time.Duration
	request []byte
	judge   func(response) (ok bool, msg string)
}

// netChecker is implemented by the Checkers whose checks the event loop can
// run without a goroutine of their own. netCheck returns nil when this one
// cannot (a TLS check, a link-local target with a zone).
type netChecker interface {
	netCheck() *netCheck
}

// probe states.
const (
	connecting = iota
	sending
	reading
	finished
)

// probe is one check in flight on a netLoop.
type probe struct {
	c     *netCheck
	fd    int
	state int
	sent  int
	// buf holds the response once it takes more than one read.
	buf *[]byte
	// The check may last budget from its start (0: no limit of its own)
	// and must end by limit (zero: no limit); deadline, set by start, is
	// the earlier of the two. budget is also the time the "timed out
	// after" message gives.
	budget   time.Duration
	limit    time.Time
	start    time.Time
	deadline time.Time
	hidx     int // position in the deadline heap; -1 when not in it
	res      Result
	// owner is the Scheduler's entry the check belongs to, if any.
	owner *entry
}

// netLoop runs many probes on one epoll instance, from one goroutine: it
// replaces, for these checks, the goroutine, the runtime poller
// registration, the deadline timers and the buffered reader that a check
// through package net costs, which at thousands of checks a second cost
// more than the TCP work itself. A check is then socket, setsockopt,
// connect, epoll_ctl, write, read and close, and the loop's epoll_wait
// serves every check in flight at once.
//
// Every method but wake must be called from the goroutine that runs the
// loop.
type netLoop struct {
	epfd, wakefd int
	// epfile is epfd handed to the Go runtime's poller, which parks the
	// loop's goroutine until epfd has events; raw reaches epfd through it.
	epfile    *os.File
	raw       syscall.RawConn
	byFD      []*probe
	nlive     int
	deadlines timeHeap[*probe]
	events    []unix.EpollEvent
	scratch   []byte
	// now is the time of the loop's last look at the clock: when the
	// events being handled were fetched, or when the probes being started
	// were. A check's duration ends there. One reading serves them all,
	// which matters where reading the clock is dear (an emulated HPET).
	now time.Time
	// until is the deadline last set on epfile.
	until time.Time
	// done collects the probes that finished since takeDone.
	done []*probe

	// wakeMu orders wake against close, so that a late wake never writes
	// to a closed (and perhaps reused) descriptor.
	wakeMu sync.Mutex
	closed bool
}

// maxRaw bounds what one response may make a probe buffer: a head and a
// body at their limits, and room for a chunked body's framing.
const maxRaw = maxHead + 8*maxBody

func newNetLoop() (*netLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile registers it with the runtime's
	// poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	l := &netLoop{
		epfd:    epfd,
		wakefd:  wakefd,
		epfile:  os.NewFile(uintptr(epfd), "epoll"),
		events:  make([]unix.EpollEvent, 256),
		scratch: make([]byte, 16<<10),
	}
	if l.raw, err = l.epfile.SyscallConn(); err != nil {
		l.epfile.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	return l, nil
}

// close aborts every probe and releases the loop.
func (l *netLoop) close() {
	l.now = time.Now()
	l.abortAll("canceled")
	l.done = l.done[:0]
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	l.closed = true
	l.epfile.Close()
	unix.Close(l.wakefd)
}

// wake makes a poll in progress (or the next one) return at once. It is the
// one method safe to call from any goroutine.
func (l *netLoop) wake() {
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	if !l.closed {
		one := [8]byte{1}
		_, _ = unix.Write(l.wakefd, one[:])
	}
}

// start begins p's check: a non-blocking connect. A check that fails at
// once (no file descriptor left, no route) is finished on the spot.
func (l *netLoop) start(p *probe, now time.Time) {
	l.now = now
	p.start, p.state, p.sent, p.hidx = now, connecting, 0, -1
	p.deadline = p.limit
	if p.budget > 0 {
		if end := now.Add(p.budget); p.deadline.IsZero() || end.Before(p.deadline) {
			p.deadline = end
		}
	}
	family := unix.AF_INET
	if p.c.addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := rawSocket(family)
	if err != nil {
		p.fd = -1
		l.finish(p, false, describeErrno(err))
		return
	}
	p.fd = fd
	// Closed with a reset rather than a FIN; see abortClose.
	rawLingerZero(fd)
	if p.c.source.IsValid() {
		if err := bindSource(fd, p.c.source); err != nil {
			l.finish(p, false, "bind to "+p.c.source.String()+": "+describeErrno(err))
			return
		}
	}
	err = rawConnect(fd, p.c.addr)
	if err != nil && err != unix.EINPROGRESS {
		l.finish(p, false, describeErrno(err))
		return
	}
	// Edge-triggered: the loop hears once that the connection is up and
	// once each time data arrives, and never has to change the interest
	// set between the two.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := rawEpollAdd(l.epfd, fd, &ev); err != nil {
		l.finish(p, false, describeErrno(err))
		return
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = p
	l.nlive++
	if !p.deadline.IsZero() {
		heap.Push(&l.deadlines, p)
	}
}

// bindSource binds fd to source with port 0. IP_BIND_ADDRESS_NO_PORT
// leaves the port to connect, which can then share a local port between
// destinations, rather than have bind reserve one port per socket.
func bindSource(fd int, source netip.Addr) error {
	_ = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	return unix.Bind(fd, sockaddr(netip.AddrPortFrom(source, 0)))
}

// sockaddr builds a fresh address for bind.
func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if a := ap.Addr(); a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

// nextDeadline is the earliest deadline of the probes in flight.
func (l *netLoop) nextDeadline() (time.Time, bool) {
	if len(l.deadlines) == 0 {
		return time.Time{}, false
	}
	return l.deadlines[0].deadline, true
}

// live counts the probes in flight.
func (l *netLoop) live() int { return l.nlive }

// inFlight returns the probes in flight, in no order.
func (l *netLoop) inFlight() []*probe {
	var out []*probe
	for _, p := range l.byFD {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// poll waits until an event, a wake or until (zero: no limit), handles what
// came and fails the probes whose deadline has passed. Finished probes are
// then in takeDone.
//
// The wait is the Go runtime's: the goroutine parks in its poller on epfd
// and a runtime timer, like any goroutine reading a socket, rather than
// block a thread in epoll_wait. A thread blocked in a system call for
// milliseconds at a time gets its processor taken away by the runtime's
// monitor, which then polls every 20 µs for a while: at a few hundred
// checks a second that cost more CPU than the checks.
func (l *netLoop) poll(until time.Time) error {
	if !until.Equal(l.until) {
		if err := l.epfile.SetReadDeadline(until); err != nil {
			return fmt.Errorf("epoll fd: %w", err)
		}
		l.until = until
	}
	var n int
	var werr error
	err := l.raw.Read(func(uintptr) bool {
		n, werr = rawEpollPoll(l.epfd, l.events)
		return n != 0 || werr != nil && werr != unix.EINTR
	})
	l.now = time.Now()
	for {
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("waiting on epoll: %w", err)
		}
		if werr != nil && werr != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", werr)
		}
		l.handleEvents(l.events[:max(n, 0)])
		if n < len(l.events) {
			break
		}
		// A full batch: there may be more. Edge-triggered, the runtime
		// hears of epfd again only once it has been emptied.
		n, werr = rawEpollPoll(l.epfd, l.events)
		err = nil
	}
	for len(l.deadlines) > 0 && !l.now.Before(l.deadlines[0].deadline) {
		p := l.deadlines[0]
		l.finish(p, false, p.timeoutMsg())
	}
	return nil
}

func (l *netLoop) handleEvents(events []unix.EpollEvent) {
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd == l.wakefd {
			var b [8]byte
			_, _ = unix.Read(l.wakefd, b[:])
			continue
		}
		if fd < len(l.byFD) && l.byFD[fd] != nil {
			l.handle(l.byFD[fd], ev.Events)
		}
	}
}

// takeDone returns the probes finished since the last call; the slice is
// reused by the next poll.
func (l *netLoop) takeDone() []*probe {
	d := l.done
	l.done = l.done[:0]
	return d
}

// abort fails p with msg if it is still in flight.
func (l *netLoop) abort(p *probe, msg string) {
	if p.state != finished {
		l.now = time.Now()
		l.finish(p, false, msg)
	}
}

// abortAll fails every probe in flight with msg.
func (l *netLoop) abortAll(msg string) {
	for _, p := range l.byFD {
		if p != nil {
			l.finish(p, false, msg)
		}
	}
}

// handle advances p on the events epoll reported for its socket.
func (l *netLoop) handle(p *probe, events uint32) {
	switch p.state {
	case connecting:
		if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			errno, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && errno != 0 {
				err = unix.Errno(errno)
			}
			if err == nil {
				err = unix.ECONNRESET
			}
			l.finish(p, false, describeErrno(err))
			return
		}
		if events&unix.EPOLLOUT == 0 {
			return
		}
		if p.c.request == nil {
			l.finish(p, true, "connected")
			return
		}
		p.state = sending
		fallthrough
	case sending:
		for p.sent < len(p.c.request) {
			n, err := rawWrite(p.fd, p.c.request[p.sent:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				// The rest goes when epoll says there is room.
				return
			case err != nil:
				l.finish(p, false, describeErrno(err))
				return
			}
			p.sent += n
		}
		p.state = reading
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
			return
		}
		fallthrough
	case reading:
		l.read(p)
	}
}

// read takes in what p's socket holds and judges the response once it is
// complete. Edge-triggered epoll reports new data once, so it reads until
// the socket is empty, unless the response is complete first.
func (l *netLoop) read(p *probe) {
	for {
		n, err := rawRead(p.fd, l.scratch)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			l.finish(p, false, p.readError(describeErrno(err)))
			return
		}
		eof := n == 0
		b := l.scratch[:n]
		if p.buf != nil {
			*p.buf = append(*p.buf, b...)
			b = *p.buf
		}
		r, more, perr := parseResponse(b, eof)
		switch {
		case perr != nil:
			l.finish(p, false, perr.Error())
			return
		case !more:
			ok, msg := p.c.judge(r)
			l.finish(p, ok, msg)
			return
		}
		if p.buf == nil {
			p.buf = getBuf()
			*p.buf = append(*p.buf, b...)
		}
		if len(*p.buf) > maxRaw {
			l.finish(p, false, p.readError("response too large"))
			return
		}
	}
}

// readError words a failure while waiting for the response: one that cut
// the body short names the status already received.
func (p *probe) readError(msg string) string {
	if p.buf != nil {
		if r, _, err := parseResponse(*p.buf, false); err == nil && r.status != 0 {
			return fmt.Sprintf("HTTP %d, reading body: %s", r.status, msg)
		}
	}
	return msg
}

func (p *probe) timeoutMsg() string {
	msg := "timed out"
	if p.budget > 0 {
		msg = fmt.Sprintf("timed out after %v", p.budget)
	}
	if p.state == reading {
		return p.readError(msg)
	}
	return msg
}

// finish records p's result, closes its socket and moves it to done.
func (l *netLoop) finish(p *probe, ok bool, msg string) {
	if p.fd >= 0 {
		// Closing the socket also takes it out of the epoll set.
		rawClose(p.fd)
		if p.fd < len(l.byFD) && l.byFD[p.fd] == p {
			l.byFD[p.fd] = nil
			l.nlive--
		}
		p.fd = -1
	}
	if p.hidx >= 0 {
		heap.Remove(&l.deadlines, p.hidx)
	}
	if p.buf != nil {
		putBuf(p.buf)
		p.buf = nil
	}
	p.state = finished
	p.res = Result{OK: ok, Message: msg, At: p.start, Duration: l.now.Sub(p.start)}
	l.done = append(l.done, p)
}

// describeErrno words a system call's error as describeError does.
func describeErrno(err error) string {
	return describeError(context.Background(), 0, err)
}

// bufs recycles the buffers of responses that take more than one read.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // let an outsized one go
	}
	*b = (*b)[:0]
	bufs.Put(b)
}

// runNetCheck runs one check on a loop of its own: Check's path for the
// checks the Scheduler runs on its shared loop.
func runNetCheck(ctx context.Context, c *netCheck) Result {
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.timeout)
	defer cancel()
	l, err := newNetLoop()
	if err != nil {
		return fail(start, err.Error())
	}
	stop := context.AfterFunc(ctx, l.wake)
	defer func() {
		stop()
		l.close()
	}()
	p := &probe{c: c, budget: budget}
	p.limit, _ = ctx.Deadline()
	l.start(p, start)
	for p.state != finished {
		if err := ctx.Err(); err != nil {
			l.abort(p, describeError(ctx, budget, err))
			break
		}
		if err := l.poll(p.deadline); err != nil {
			l.abort(p, err.Error())
		}
	}
	return p.res
}

// bodyContains reports whether body holds want (an empty want always
// does).
func bodyContains(body []byte, want string) bool {
	return want == "" || bytes.Contains(body, []byte(want))
}
