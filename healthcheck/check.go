package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"syscall"
	"time"
)

// Result is the outcome of one check.
type Result struct {
	OK bool
	// Message is short and human-readable, for the status document and logs:
	// "HTTP 200", "connection refused", "timed out after 1s".
	Message string
	// Duration is how long the check took.
	Duration time.Duration
	// At is when the check started.
	At time.Time
	// Due is when the Scheduler meant it to start, on its job's grid (zero
	// for a check not run by a Scheduler). At - Due is how late it was; a
	// TCP or HTTP check may start a little early (see batchWindow).
	Due time.Time
	// Weighted says that a passing check asks for the real server's
	// weight to be Weight rather than the configured one (an exec check
	// with a dynamic weight, as keepalived's misc_dynamic).
	Weighted bool
	Weight   int
}

// Checker probes one target once.
//
// Check must return by ctx's deadline (a little scheduling slack aside) and
// must never block past it: a target that does not answer is a failure, not a
// hang. Check must be safe to call from several goroutines, although the
// Scheduler never runs two checks of one job at the same time.
type Checker interface {
	Check(ctx context.Context) Result
}

// Target is the address a check probes.
type Target struct {
	Addr netip.AddrPort
}

// withTimeout bounds ctx by timeout when timeout is positive, so a Checker
// honours its own timeout even when called without a deadline. It also
// returns the time the check is allowed, whichever deadline binds, for the
// "timed out after" message (0 when there is no deadline at all).
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc, time.Duration) {
	budget := timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); timeout <= 0 || left < timeout {
			// Rounded so that a deadline set a moment before the check
			// started still reads as the configured "2s", not "1.9996s".
			budget = max(left.Round(10*time.Millisecond), 0)
			// The caller's deadline binds (the Scheduler's always does):
			// a derived context would add a timer per check and change
			// nothing.
			return ctx, func() {}, budget
		}
	}
	if timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		return ctx, cancel, budget
	}
	ctx, cancel := context.WithCancel(ctx)
	return ctx, cancel, budget
}

// fail builds a failed Result.
func fail(start time.Time, msg string) Result {
	return Result{OK: false, Message: msg, At: start, Duration: time.Since(start)}
}

// pass builds a successful Result.
func pass(start time.Time, msg string) Result {
	return Result{OK: true, Message: msg, At: start, Duration: time.Since(start)}
}

// describeError turns the errors of dialing, TLS and HTTP into the short
// phrases an operator expects to read in a status line, rather than Go's
// nested "Get \"https://...\": dial tcp ...: connect: ..." chains.
func describeError(ctx context.Context, budget time.Duration, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		if budget > 0 {
			return fmt.Sprintf("timed out after %v", budget)
		}
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed before a complete response"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}
