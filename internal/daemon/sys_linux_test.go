package daemon

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestLinkUp(t *testing.T) {
	tests := []struct {
		name  string
		flags net.Flags
		oper  netlink.LinkOperState
		raw   uint32
		want  bool
	}{
		{"up with carrier", net.FlagUp, netlink.OperUp, unix.IFF_UP | unix.IFF_LOWER_UP, true},
		{"administratively down", 0, netlink.OperDown, 0, false},
		{"cable pulled (veth peer down)", net.FlagUp, netlink.OperLowerLayerDown, unix.IFF_UP, false},
		{"no carrier", net.FlagUp, netlink.OperDown, unix.IFF_UP, false},
		{"operstate unknown with carrier (loopback)", net.FlagUp, netlink.OperUnknown, unix.IFF_UP | unix.IFF_LOWER_UP, true},
		{"operstate unknown without carrier", net.FlagUp, netlink.OperUnknown, unix.IFF_UP, false},
		{"dormant", net.FlagUp, netlink.OperDormant, unix.IFF_UP | unix.IFF_LOWER_UP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "eth0", Flags: tt.flags, OperState: tt.oper, RawFlags: tt.raw}}
			if got := linkUp(l); got != tt.want {
				t.Errorf("linkUp = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExplainPermission(t *testing.T) {
	for _, err := range []error{syscall.EPERM, &os.SyscallError{Syscall: "socket", Err: syscall.EPERM}, os.ErrPermission, syscall.EACCES} {
		got := explainPermission(err)
		if !errors.Is(got, err) || !strings.Contains(got.Error(), "run lvsd as root or with CAP_NET_ADMIN and CAP_NET_RAW") {
			t.Errorf("explainPermission(%v) = %v", err, got)
		}
	}
	other := errors.New("no such device")
	if got := explainPermission(other); got != other {
		t.Errorf("explainPermission changed an unrelated error: %v", got)
	}
}
