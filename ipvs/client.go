//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotAvailable is returned by Dial when the kernel has no IPVS: the
// ip_vs module is not loaded or not built.
var ErrNotAvailable = errors.New("IPVS is not available in this kernel (load it with `modprobe ip_vs`)")

// Batch limits of Apply. The kernel answers each request of a batch with
// its own acknowledgement datagram, and drops acknowledgements that do not
// fit the socket's receive buffer (ENOBUFS): a batch must stay well under
// the default 208 KiB rmem, counting the ~1 KiB of socket-buffer overhead
// of each small datagram. The byte limit keeps one sendmsg under the
// default 208 KiB wmem.
const (
	maxBatchOps   = 128
	maxBatchBytes = 64 << 10
)

// Client speaks IPVS generic netlink on one socket. It serialises its
// exchanges, so it is safe for concurrent use, but one request runs at a
// time.
type Client struct {
	mu       sync.Mutex
	conn     *netlink.Conn
	family   uint16
	seq      uint32 // last sequence number used, under mu
	requests atomic.Uint64
}

// Dial opens an IPVS client in the calling thread's network namespace.
func Dial() (*Client, error) {
	return dial(nil)
}

// recvBuffer is the fixed receive buffer of a Client's socket. The kernel
// fills a datagram of a dump up to the reader's buffer, 32 KiB at most
// (netlink_recvmsg), and an acknowledgement is far smaller, so every
// datagram fits; without a fixed buffer each receive first peeks at the
// datagram's size, a second system call. A datagram that did not fit
// would be an error (truncated), never a silent loss.
const recvBuffer = 64 << 10

func dial(cfg *netlink.Config) (*Client, error) {
	if cfg == nil {
		cfg = &netlink.Config{}
	}
	cfg.MessageBufferSize = recvBuffer
	conn, err := netlink.Dial(genetlink.Protocol, cfg)
	if err != nil {
		return nil, fmt.Errorf("dialing generic netlink: %w", err)
	}
	// Best effort: errors of a batch then carry only the failed request's
	// header, and a deeper receive buffer leaves room for acknowledgements.
	_ = conn.SetOption(netlink.CapAcknowledge, true)
	_ = conn.SetReadBuffer(1 << 20)
	c, err := newClient(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

// newClient looks up the IPVS family on conn. The family ID is dynamic and
// differs between boots; it is never cached beyond this Client.
func newClient(conn *netlink.Conn) (*Client, error) {
	fam, err := genetlink.NewConn(conn).GetFamily(genlName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("looking up generic netlink family %q: %w", genlName, ErrNotAvailable)
		}
		return nil, fmt.Errorf("looking up generic netlink family %q: %w", genlName, err)
	}
	return &Client{conn: conn, family: fam.ID}, nil
}

// Close closes the socket.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Requests returns the number of IPVS request messages sent so far: table
// changes, dumps and settings. The family lookup of Dial and the read that
// closes each batch of Apply are not counted.
func (c *Client) Requests() uint64 {
	return c.requests.Load()
}

// nextSeq returns a fresh non-zero sequence number; c.mu must be held.
func (c *Client) nextSeq() uint32 {
	c.seq++
	if c.seq == 0 {
		c.seq = 1
	}
	return c.seq
}

// message builds one request of a command and its attributes.
func (c *Client) message(cmd uint8, attrs []byte, flags netlink.HeaderFlags) netlink.Message {
	data := make([]byte, 4, 4+len(attrs))
	data[0] = cmd
	data[1] = genlVersion
	return c.request(append(data, attrs...), flags)
}

// request wraps a generic netlink message (header and attributes) in a
// netlink request of the IPVS family.
func (c *Client) request(data []byte, flags netlink.HeaderFlags) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{
			Type:     netlink.HeaderType(c.family),
			Flags:    flags,
			Sequence: c.nextSeq(),
		},
		Data: data,
	}
}

// do sends one request and gathers its replies: the messages of a dump,
// the one reply of a "get", or nothing for an acknowledged command.
// Messages of other sequence numbers are stale answers to an exchange that
// failed half-way, and are skipped.
func (c *Client) do(cmd uint8, attrs []byte, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	req := c.message(cmd, attrs, flags)
	if _, err := c.conn.Send(req); err != nil {
		return nil, fmt.Errorf("sending: %w", err)
	}
	c.requests.Add(1)
	seq := req.Header.Sequence
	for {
		msgs, err := c.conn.Receive()
		if err != nil {
			var oe *netlink.OpError
			if errors.As(err, &oe) && oe.Sequence != 0 {
				if oe.Sequence != seq {
					continue
				}
				return nil, kernelError(oe)
			}
			return nil, fmt.Errorf("receiving: %w", err)
		}
		var (
			out  []genetlink.Message
			mine bool
		)
		for _, m := range msgs {
			if m.Header.Sequence != seq {
				continue
			}
			mine = true
			if m.Header.Type == netlink.Error || m.Header.Type == netlink.Done {
				continue // an acknowledgement
			}
			var gm genetlink.Message
			if err := gm.UnmarshalBinary(m.Data); err != nil {
				return nil, fmt.Errorf("%w: %w", errMalformed, err)
			}
			out = append(out, gm)
		}
		// An empty dump is only the Done message, which Receive swallows.
		if mine || (flags&netlink.Dump == netlink.Dump && len(msgs) == 0) {
			return out, nil
		}
	}
}

// errnoError is a kernel error number with IPVS's meaning of it where the
// C library's words would mislead (strerror(ESRCH) is "no such process").
type errnoError struct {
	errno   unix.Errno
	kind    OpKind
	message string // extended acknowledgement text, if any
}

func (e *errnoError) Error() string {
	text := e.errno.Error()
	switch e.errno {
	case unix.ESRCH:
		if e.kind != 0 {
			text = "service does not exist"
		}
	case unix.ENOENT:
		switch e.kind {
		case AddService, UpdateService:
			text = "scheduler or persistence engine not found (is its ip_vs_* module available?)"
		case UpdateDest, DelDest:
			text = "destination does not exist"
		}
	}
	if e.message != "" {
		text += " (" + e.message + ")"
	}
	return text
}

// Unwrap lets errors.Is match the errno (unix.EEXIST, unix.ESRCH, ...).
func (e *errnoError) Unwrap() error { return e.errno }

func kernelError(oe *netlink.OpError) error {
	return kernelOpError(0, oe)
}

func kernelOpError(kind OpKind, oe *netlink.OpError) error {
	var errno unix.Errno
	if !errors.As(oe.Err, &errno) {
		return oe
	}
	return &errnoError{errno: errno, kind: kind, message: oe.Message}
}

// Info returns the IPVS version and connection table size.
func (c *Client) Info() (Info, error) {
	msgs, err := c.do(cmdGetInfo, nil, netlink.Request)
	if err != nil {
		return Info{}, fmt.Errorf("getting IPVS info: %w", err)
	}
	if len(msgs) != 1 {
		return Info{}, fmt.Errorf("getting IPVS info: %d replies: %w", len(msgs), errMalformed)
	}
	info, err := decodeInfo(msgs[0].Data)
	if err != nil {
		return Info{}, fmt.Errorf("getting IPVS info: %w", err)
	}
	return info, nil
}

// Services reads the whole table: ListServices, then Destinations of each
// service. Services come in ServiceKey.Compare order, destinations in
// address order; statistics are the 64-bit ones when the kernel has them.
func (c *Client) Services() ([]Service, error) {
	svcs, err := c.ListServices()
	if err != nil {
		return nil, err
	}
	for i := range svcs {
		if svcs[i].Destinations, err = c.Destinations(svcs[i].ServiceKey); err != nil {
			return nil, err
		}
	}
	return svcs, nil
}

// ListServices reads the services without their destinations, in one
// dump, in ServiceKey.Compare order.
func (c *Client) ListServices() ([]Service, error) {
	msgs, err := c.do(cmdGetService, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	svcs := make([]Service, 0, len(msgs))
	for _, m := range msgs {
		s, err := decodeService(m.Data)
		if err != nil {
			return nil, fmt.Errorf("listing IPVS services: %w", err)
		}
		svcs = append(svcs, s)
	}
	slices.SortFunc(svcs, func(a, b Service) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return svcs, nil
}

// Destinations reads the destinations of one service, in one dump, in
// address order. A service the kernel does not have has none: the kernel
// answers its dump with nothing rather than an error.
func (c *Client) Destinations(k ServiceKey) ([]Destination, error) {
	attrs, start := beginNested(nil, attrService)
	attrs = endNested(appendServiceKey(attrs, k), start)
	msgs, err := c.do(cmdGetDest, attrs, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, fmt.Errorf("listing destinations of %s: %w", k, err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	ds := make([]Destination, 0, len(msgs))
	for _, m := range msgs {
		d, err := decodeDest(m.Data, k.Family())
		if err != nil {
			return nil, fmt.Errorf("listing destinations of %s: %w", k, err)
		}
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b Destination) int { return a.Addr.Compare(b.Addr) })
	return ds, nil
}

// Apply sends the operations in order, many per sendmsg, each with its own
// sequence number, so that the kernel's answer to each one is known. The
// kernel answers a request only when it fails (no acknowledgement is asked
// for: at a first start that would be tens of thousands of answers to
// read, two system calls each); a GET_INFO request closes each batch as a
// fence, since the kernel handles a socket's requests in order: once its
// answer is in, every request before it has been handled, and those
// without an error succeeded. The results have one entry per op, in order.
// The error joins the errors of the failed ops ("adding destination
// 10.0.0.2:80 to tcp 10.0.0.1:80: file exists"); the kernel goes on with
// the rest of a batch after a failed request, and so does Apply.
func (c *Client) Apply(ops []Op) ([]OpResult, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	results := make([]OpResult, len(ops))
	for i := range ops {
		results[i].Op = ops[i]
	}
	var errs []error
	fail := func(i int, err error) {
		results[i].Err = fmt.Errorf("%s: %w", ops[i], err)
		errs = append(errs, results[i].Err)
	}

	batch := make([]netlink.Message, 0, min(len(ops), maxBatchOps))
	index := make([]int, 0, cap(batch)) // batch position -> op index
	for next := 0; next < len(ops); {
		batch, index = batch[:0], index[:0]
		size := 0
		for ; next < len(ops) && len(batch) < maxBatchOps && size < maxBatchBytes; next++ {
			data, err := appendOp(make([]byte, 0, 128), &ops[next])
			if err != nil {
				fail(next, err)
				continue
			}
			m := c.request(data, netlink.Request)
			size += 16 + len(m.Data)
			batch = append(batch, m)
			index = append(index, next)
		}
		if len(batch) == 0 {
			continue
		}
		if err := c.exchange(ops, batch, index, fail); err != nil {
			for _, i := range index {
				if results[i].Err == nil {
					fail(i, err)
				}
			}
			return results, errors.Join(errs...)
		}
	}
	return results, errors.Join(errs...)
}

// exchange sends one batch of unacknowledged requests and a fence after
// them, and fails the requests the kernel answers with an error until the
// fence's answer comes. A transport error (not a kernel answer) is
// returned; the caller fails the requests it leaves unsettled. c.mu is
// held.
func (c *Client) exchange(ops []Op, batch []netlink.Message, index []int, fail func(int, error)) error {
	at := make(map[uint32]int, len(batch)) // sequence -> op index
	for i, m := range batch {
		at[m.Header.Sequence] = index[i]
	}
	fence := c.message(cmdGetInfo, nil, netlink.Request)
	if _, err := c.conn.SendMessages(append(batch, fence)); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	c.requests.Add(uint64(len(batch)))
	for {
		msgs, err := c.conn.Receive()
		if err != nil {
			var oe *netlink.OpError
			if errors.As(err, &oe) && oe.Sequence != 0 {
				if oe.Sequence == fence.Header.Sequence {
					return nil // all handled, though the fence itself failed
				}
				if i, ok := at[oe.Sequence]; ok {
					delete(at, oe.Sequence)
					fail(i, kernelOpError(ops[i].Kind, oe))
				}
				continue
			}
			return fmt.Errorf("receiving the kernel's answers: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Sequence == fence.Header.Sequence {
				return nil
			}
		}
	}
}

// Flush deletes every service of the namespace (ipvsadm -C), lvsd's or not.
func (c *Client) Flush() error {
	if _, err := c.do(cmdFlush, nil, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("flushing IPVS: %w", err)
	}
	return nil
}

// Timeouts returns the kernel's tcp, tcpfin and udp timeouts.
func (c *Client) Timeouts() (Timeouts, error) {
	msgs, err := c.do(cmdGetConfig, nil, netlink.Request)
	if err != nil {
		return Timeouts{}, fmt.Errorf("getting IPVS timeouts: %w", err)
	}
	if len(msgs) != 1 {
		return Timeouts{}, fmt.Errorf("getting IPVS timeouts: %d replies: %w", len(msgs), errMalformed)
	}
	t, err := decodeTimeouts(msgs[0].Data)
	if err != nil {
		return Timeouts{}, fmt.Errorf("getting IPVS timeouts: %w", err)
	}
	return t, nil
}

// SetTimeouts sets the non-zero timeouts of t and leaves the others.
func (c *Client) SetTimeouts(t Timeouts) error {
	attrs, err := encodeTimeouts(t)
	if err != nil {
		return fmt.Errorf("setting IPVS timeouts: %w", err)
	}
	if _, err := c.do(cmdSetConfig, attrs, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("setting IPVS timeouts: %w", err)
	}
	return nil
}

// SyncDaemons returns the running connection-synchronisation daemons
// (at most one master and one backup).
func (c *Client) SyncDaemons() ([]SyncDaemon, error) {
	msgs, err := c.do(cmdGetDaemon, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, fmt.Errorf("listing IPVS sync daemons: %w", err)
	}
	var ds []SyncDaemon
	for _, m := range msgs {
		d, err := decodeDaemon(m.Data)
		if err != nil {
			return nil, fmt.Errorf("listing IPVS sync daemons: %w", err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// StartSyncDaemon starts a sync daemon (ipvsadm --start-daemon). The
// kernel answers EEXIST when one of that state already runs.
func (c *Client) StartSyncDaemon(d SyncDaemon) error {
	attrs, err := encodeDaemon(d, true)
	if err != nil {
		return fmt.Errorf("starting IPVS %s sync daemon: %w", d.State, err)
	}
	if _, err := c.do(cmdNewDaemon, attrs, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("starting IPVS %s sync daemon on %s: %w", d.State, d.Interface, err)
	}
	return nil
}

// StopSyncDaemon stops the sync daemon of the given state (ipvsadm
// --stop-daemon). The kernel answers ESRCH when none runs.
//
// A daemon stopped right after its start can get no answer at all: the
// kernel stops the daemon's thread with kthread_stop, which returns -EINTR
// when the thread has not run yet, and netlink_rcv_skb sends no
// acknowledgement for -EINTR. Waiting for one would block for ever, so the
// request is fenced (see doFenced); the daemon is stopped either way.
func (c *Client) StopSyncDaemon(state SyncState) error {
	attrs, err := encodeDaemon(SyncDaemon{State: state}, false)
	if err != nil {
		return fmt.Errorf("stopping IPVS sync daemon: %w", err)
	}
	if err := c.doFenced(cmdDelDaemon, attrs); err != nil {
		return fmt.Errorf("stopping IPVS %s sync daemon: %w", state, err)
	}
	return nil
}

// doFenced sends an acknowledged command, then a GET_INFO request as a
// fence, and reads until the fence's answer: the kernel handles a
// socket's requests in order, so an answer to the command comes before it
// or never. It returns the command's error, nil when the command was
// acknowledged or not answered.
func (c *Client) doFenced(cmd uint8, attrs []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	req := c.message(cmd, attrs, netlink.Request|netlink.Acknowledge)
	fence := c.message(cmdGetInfo, nil, netlink.Request)
	for _, m := range []netlink.Message{req, fence} {
		if _, err := c.conn.Send(m); err != nil {
			return fmt.Errorf("sending: %w", err)
		}
		c.requests.Add(1)
	}
	var cmdErr error
	for {
		msgs, err := c.conn.Receive()
		if err != nil {
			var oe *netlink.OpError
			if errors.As(err, &oe) && oe.Sequence != 0 {
				switch oe.Sequence {
				case req.Header.Sequence:
					cmdErr = kernelError(oe)
				case fence.Header.Sequence:
					return cmdErr
				}
				continue
			}
			return fmt.Errorf("receiving: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Sequence == fence.Header.Sequence {
				return cmdErr
			}
		}
	}
}
