package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// DefaultHELOName is the name an SMTP check gives in HELO unless told
// otherwise: keepalived's, so that a mail server's rules written for
// keepalived's checks hold for lvsd's.
const DefaultHELOName = "smtpchecker.keepalived.org"

// SMTPParams describe an SMTP check.
type SMTPParams struct {
	Target netip.AddrPort
	// HELOName is the name sent in HELO; "" is DefaultHELOName.
	HELOName string
	// Timeout bounds the whole dialogue; 0 leaves only the caller's
	// context.
	Timeout time.Duration
	// Source, if valid, is the address the connection is made from
	// (keepalived's bindto).
	Source netip.Addr
}

type smtpChecker struct {
	p      SMTPParams
	dialer net.Dialer
}

// maxSMTPReply bounds what a check reads of the server's replies; a
// greeting and two replies take a few hundred bytes.
const maxSMTPReply = 16 << 10

// NewSMTP returns a Checker that holds the start of an SMTP session (RFC
// 5321 §3.1, §4.1.1.1), as keepalived's SMTP_CHECK does: it reads the
// greeting, which must be 220, says HELO and wants 250, then says QUIT and
// waits for the reply, whatever its code. Multi-line replies ("250-...")
// are read whole. A server that greets with anything else, answers garbage
// or never answers fails within the timeout.
func NewSMTP(p SMTPParams) Checker {
	if p.HELOName == "" {
		p.HELOName = DefaultHELOName
	}
	return &smtpChecker{p: p, dialer: net.Dialer{KeepAlive: -1, LocalAddr: localAddr(p.Source)}}
}

// String describes the check completely, so it can serve in a Job key.
func (c *smtpChecker) String() string {
	return fmt.Sprintf("smtp %s%s helo=%q timeout=%v", c.p.Target, fromOf(c.p.Source), c.p.HELOName, c.p.Timeout)
}

// errReplyTooLong ends a dialogue with a server that sends more than
// maxSMTPReply.
var errReplyTooLong = errors.New("reply too long")

func (c *smtpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "tcp", c.p.Target.String())
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	defer abortClose(conn)
	stop, err := bindDeadline(ctx, conn)
	defer stop()
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	tp := textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{&limitedReader{r: conn, left: maxSMTPReply}, conn, conn})

	step := func(what string, want int) (string, error) {
		code, text, err := readReply(&tp.Reader)
		switch {
		case errors.Is(err, errMalformedReply):
			return "", fmt.Errorf("%s: malformed reply", what)
		case err != nil:
			return "", fmt.Errorf("%s: %s", what, describeError(ctx, budget, readErr(ctx, err)))
		case want != 0 && code != want:
			return "", fmt.Errorf("%s: %d %s", what, code, summary([]byte(text)))
		}
		return text, nil
	}
	banner, err := step("greeting", 220)
	if err != nil {
		return fail(start, err.Error())
	}
	if err := tp.PrintfLine("HELO %s", c.p.HELOName); err != nil {
		return fail(start, "sending HELO: "+describeError(ctx, budget, readErr(ctx, err)))
	}
	if _, err := step("HELO", 250); err != nil {
		return fail(start, err.Error())
	}
	if err := tp.PrintfLine("QUIT"); err != nil {
		return fail(start, "sending QUIT: "+describeError(ctx, budget, readErr(ctx, err)))
	}
	// Any reply to QUIT will do: the server has shown it is serving.
	if _, err := step("QUIT", 0); err != nil {
		return fail(start, err.Error())
	}
	return pass(start, "220 "+summary([]byte(banner)))
}

// errMalformedReply is a reply line that is not a code and text.
var errMalformedReply = errors.New("malformed reply")

// readReply reads one reply, all its lines (RFC 5321 §4.2.1), and returns
// its code and the text of its first line. Not textproto's ReadResponse,
// which after a line such as "SSH-2.0-..." waits for the rest of what it
// takes for a multi-line reply.
func readReply(r *textproto.Reader) (code int, text string, err error) {
	for i := 0; ; i++ {
		line, err := r.ReadLine()
		if err != nil {
			return 0, "", err
		}
		c, err := strconv.Atoi(line[:min(3, len(line))])
		if err != nil || c < 200 || c > 599 || len(line) > 3 && line[3] != ' ' && line[3] != '-' || i > 0 && c != code {
			return 0, "", errMalformedReply
		}
		if i == 0 {
			code, text = c, strings.TrimSpace(line[min(4, len(line)):])
		}
		if len(line) <= 3 || line[3] == ' ' {
			return code, text, nil
		}
	}
}

// limitedReader reads from r until left bytes are spent, then fails with
// errReplyTooLong: a server streaming bytes without end costs a check no
// more than that.
type limitedReader struct {
	r    io.Reader
	left int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errReplyTooLong
	}
	p = p[:min(len(p), l.left)]
	n, err := l.r.Read(p)
	l.left -= n
	return n, err
}
