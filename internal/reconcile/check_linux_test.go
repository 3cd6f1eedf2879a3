package reconcile

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

type dumpFails struct {
	*ipvstest.Kernel
	err error
}

func (k dumpFails) ListServices() ([]ipvs.Service, error) { return nil, k.err }

func TestCheck(t *testing.T) {
	other := errors.New("receiving: connection reset")
	for _, tc := range []struct {
		name string
		err  error
		want string // "" = nil
		is   error
	}{
		{"available", nil, "", nil},
		{"module missing", fmt.Errorf("looking up generic netlink family \"IPVS\": %w", ipvs.ErrNotAvailable),
			"IPVS is not available: run `modprobe ip_vs` (or add ip_vs to /etc/modules-load.d)", ipvs.ErrNotAvailable},
		{"no capability", fmt.Errorf("listing IPVS services: %w", syscall.EPERM),
			"IPVS: permission denied: lvsd needs CAP_NET_ADMIN (run it as root or grant the capability)", syscall.EPERM},
		{"other errors unchanged", other, other.Error(), other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(dumpFails{&ipvstest.Kernel{}, tc.err})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("Check's error does not wrap %v", tc.is)
			}
			if got := Explain(tc.err); got.Error() != tc.want {
				t.Errorf("Explain = %q, want %q", got, tc.want)
			}
		})
	}
	if Explain(nil) != nil {
		t.Error("Explain(nil) != nil")
	}
}
