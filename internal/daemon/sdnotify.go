package daemon

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier tells the service manager about the daemon's life: READY=1,
// STATUS=..., WATCHDOG=1, STOPPING=1 (sd_notify(3)). Send must not block
// for long and must be safe for concurrent use.
type Notifier interface {
	Send(state string) error
}

// sdNotifier sends sd_notify datagrams to $NOTIFY_SOCKET. It is written out
// here rather than taken from a library because the protocol is one
// datagram on a unix socket, and a library would add a dependency for it.
type sdNotifier struct {
	addr string // "" when not run by systemd: every Send is a no-op
}

// systemdNotifier returns the notifier of the process environment.
func systemdNotifier() sdNotifier {
	return sdNotifier{addr: os.Getenv("NOTIFY_SOCKET")}
}

func (n sdNotifier) Send(state string) error {
	if n.addr == "" {
		return nil
	}
	name := n.addr
	if strings.HasPrefix(name, "@") {
		// An abstract socket: the leading @ stands for a NUL byte.
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = conn.Write([]byte(state))
	return err
}

// watchdogInterval returns how often to send WATCHDOG=1: half of
// WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, or 0 when the service
// manager does not expect pings (unset, or meant for another process).
func watchdogInterval(getenv func(string) string) time.Duration {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec == 0 {
		return 0
	}
	if pid := getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}
