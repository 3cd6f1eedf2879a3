package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestSdNotifierSendsDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := (sdNotifier{addr: path}).Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("received %q, %v; want READY=1", buf[:n], err)
	}
	if err := (sdNotifier{}).Send("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET Send must do nothing, got %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"garbage", "", 0},
		{"0", "", 0},
		{"10000000", "", 5 * time.Second},
		{"10000000", self, 5 * time.Second},
		{"10000000", "1", 0}, // meant for another process
	}
	for _, tt := range tests {
		env := map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid}
		if got := watchdogInterval(func(k string) string { return env[k] }); got != tt.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tt.usec, tt.pid, got, tt.want)
		}
	}
}
