package cli

import (
	"fmt"
	"io"

	"github.com/lvsd/lvsd/internal/status"
)

// writeBGP prints the BGP sessions and routes of an active-active
// director; nothing without a bgp block.
func writeBGP(w io.Writer, b *status.BGP) {
	if b == nil {
		return
	}
	state := ""
	if b.Draining {
		state = "  draining"
	}
	fmt.Fprintf(w, "BGP  AS %d  router-id %s%s\n", b.ASN, b.RouterID, state)
	for _, s := range b.Sessions {
		fmt.Fprintf(w, "  neighbor %-12s %-20s %s", s.Neighbor, s.Address, s.State)
		if s.Since != "" {
			fmt.Fprintf(w, " since %s", s.Since)
		}
		fmt.Fprintln(w)
	}
	for _, r := range b.Routes {
		if r.Announced {
			fmt.Fprintf(w, "  route %-24s announced\n", r.Prefix)
		} else {
			fmt.Fprintf(w, "  route %-24s withdrawn (%s)\n", r.Prefix, r.Reason)
		}
	}
}
