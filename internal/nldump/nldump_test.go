package nldump

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDoRetriesInterruptedDumps(t *testing.T) {
	calls := 0
	got, err := Do(func() ([]int, error) {
		calls++
		if calls < 3 {
			return []int{1}, netlink.ErrDumpInterrupted
		}
		return []int{1, 2}, nil
	})
	if err != nil || len(got) != 2 || calls != 3 {
		t.Errorf("Do = %v, %v after %d calls; want [1 2], nil after 3", got, err, calls)
	}
}

func TestDoGivesUp(t *testing.T) {
	calls := 0
	_, err := Do(func() (int, error) {
		calls++
		return 0, netlink.ErrDumpInterrupted
	})
	if !errors.Is(err, netlink.ErrDumpInterrupted) || calls != Tries {
		t.Errorf("Do = %v after %d calls; want ErrDumpInterrupted after %d", err, calls, Tries)
	}
}

func TestDoReturnsOtherErrorsAtOnce(t *testing.T) {
	calls := 0
	other := errors.New("no such device")
	_, err := Do(func() (int, error) {
		calls++
		return 0, other
	})
	if err != other || calls != 1 {
		t.Errorf("Do = %v after %d calls; want %v after 1", err, calls, other)
	}
}
