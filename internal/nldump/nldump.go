// Package nldump retries netlink dumps that the kernel interrupted.
//
// A dump (the addresses of a link, say) that races with a change to the
// same table ends with NLM_F_DUMP_INTR, and the netlink library returns
// what it read along with netlink.ErrDumpInterrupted: the list may miss or
// repeat entries. Creating a tunnel, for one, adds link-local addresses
// behind the caller's back. Such a list must be read again, never used.
package nldump

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// Tries is how many times Do runs a dump that keeps being interrupted
// before it gives up.
const Tries = 5

// Do runs dump until it returns anything but an interrupted dump, at most
// Tries times, and returns the last result.
func Do[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range Tries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}
