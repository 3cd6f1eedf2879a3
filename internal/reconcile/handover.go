package reconcile

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/lvsd/lvsd/ipvs"
)

// Flush runs a round at once when SetDesired, SetSyncRole or Reconfigure
// changed something since the last one, so that the kernel has the
// desired table (as far as it accepted it) when Flush returns. It waits
// for a round in progress; when ctx ends first it returns ctx's error.
func (r *Reconciler) Flush(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("applying the IPVS table: %w", ctx.Err())
	}
	defer func() { <-r.sem }()
	if r.changed() {
		r.round(false)
	}
	return nil
}

// ActiveConns reads the kernel's table and sums the active connections
// (as IPVS counts them: in the handshake or established) that the
// services of keys have on their destinations, leaving out those for which
// skip is true. It waits for a round in progress; when ctx ends first it
// returns ctx's error.
func (r *Reconciler) ActiveConns(ctx context.Context, keys map[ipvs.ServiceKey]bool, skip func(netip.AddrPort) bool) (int, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("reading IPVS connections: %w", ctx.Err())
	}
	defer func() { <-r.sem }()
	actual, err := readTable(r.k, nil)
	if err != nil {
		return 0, fmt.Errorf("reading IPVS connections: %w", err)
	}
	n := 0
	for i := range actual {
		if !keys[actual[i].ServiceKey.Normalize()] {
			continue
		}
		for _, d := range actual[i].Destinations {
			if skip == nil || !skip(d.Addr) {
				n += int(d.ActiveConns)
			}
		}
	}
	return n, nil
}
