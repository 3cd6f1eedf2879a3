package reconcile

import (
	"errors"
	"io/fs"

	"github.com/lvsd/lvsd/ipvs"
)

// The real client is the Kernel the daemon uses.
var _ Kernel = (*ipvs.Client)(nil)

// The one-line messages of a missing requirement (one clear line
// that says what to do).
const (
	msgNotAvailable = "IPVS is not available: run `modprobe ip_vs` (or add ip_vs to /etc/modules-load.d)"
	msgPermission   = "IPVS: permission denied: lvsd needs CAP_NET_ADMIN (run it as root or grant the capability)"
)

// requirementError is a missing requirement: its text is the one line to
// show, and it still unwraps to the cause for errors.Is.
type requirementError struct {
	msg string
	err error
}

func (e *requirementError) Error() string { return e.msg }
func (e *requirementError) Unwrap() error { return e.err }

// Check reads the kernel's IPVS table once and turns a failure into the
// one line a user needs (see Explain). The daemon calls it at start-up
// only when the config has virtual servers: a VRRP-only config runs on a
// kernel without IPVS.
func Check(k Kernel) error {
	if _, err := k.ListServices(); err != nil {
		return Explain(err)
	}
	return nil
}

// Explain turns an error of ipvs.Dial or of an IPVS request into one clear
// line when it means a missing requirement: no IPVS in the kernel
// (ipvs.ErrNotAvailable) or no permission. Other errors are returned
// unchanged, nil stays nil. The result still matches the cause with
// errors.Is.
func Explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ipvs.ErrNotAvailable):
		return &requirementError{msg: msgNotAvailable, err: err}
	case errors.Is(err, fs.ErrPermission):
		return &requirementError{msg: msgPermission, err: err}
	}
	return err
}
