package reconcile

import (
	"context"
	"fmt"

	"github.com/lvsd/lvsd/ipvs"
)

// InPackets reads the kernel's table and sums the packets that the
// services of keys have received from clients: a director whose route was
// withdrawn watches it to see the routers stop sending. It waits for a
// round in progress; when ctx ends first it returns ctx's error.
func (r *Reconciler) InPackets(ctx context.Context, keys map[ipvs.ServiceKey]bool) (uint64, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("reading IPVS counters: %w", ctx.Err())
	}
	defer func() { <-r.sem }()
	actual, err := readTable(r.k, nil)
	if err != nil {
		return 0, fmt.Errorf("reading IPVS counters: %w", err)
	}
	var n uint64
	for i := range actual {
		if keys[actual[i].ServiceKey.Normalize()] {
			n += actual[i].Stats.InPkts
		}
	}
	return n, nil
}
