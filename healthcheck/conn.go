package healthcheck

import (
	"context"
	"time"
)

// deadliner is a net.Conn or a net.PacketConn.
type deadliner interface {
	SetDeadline(t time.Time) error
}

// bindDeadline makes ctx bound every read and write on conn: its deadline
// becomes conn's, and its cancellation (the job removed, the daemon
// stopping) cuts a blocked call short at once. The returned function
// releases the cancellation hook.
func bindDeadline(ctx context.Context, conn deadliner) (stop func() bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return func() bool { return false }, err
		}
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) }), nil
}

// readErr is the error a read that failed on a bound conn stands for: the
// context's own when it ended, so a cancelled check reads "canceled" and
// not "i/o timeout".
func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
