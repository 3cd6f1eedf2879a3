package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/status"
)

// How long the CLI waits for the daemon. A reload parses the file and
// applies the difference, which is quick but may queue behind a reconcile.
const (
	statusTimeout = 5 * time.Second
	reloadTimeout = 60 * time.Second
)

// socketFlag adds --socket, defaulting from LVSD_SOCKET, then the daemon's
// default path.
func socketFlag(env Env, fs *flag.FlagSet) *string {
	def := env.Getenv("LVSD_SOCKET")
	if def == "" {
		def = status.DefaultSocket
	}
	return fs.String("socket", def, "control socket `PATH` of the daemon (env LVSD_SOCKET)")
}

// reportUnreachable prints the one-line error for a daemon that did not
// answer and returns the exit status (1).
func reportUnreachable(env Env, err error) int {
	var ue *status.UnreachableError
	switch {
	case errors.As(err, &ue) && status.IsPermission(err):
		fmt.Fprintf(env.Stderr, "lvsd: %v; the socket is for root only: run as root\n", err)
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "lvsd: %v; is lvsd running?\n", err)
	default:
		fmt.Fprintf(env.Stderr, "lvsd: %v\n", err)
	}
	return exitConfig
}

func runStatus(env Env, args []string) int {
	fs := newFlags(env, "status")
	asJSON := fs.Bool("json", false, "print the status document (JSON) instead of the table")
	socket := socketFlag(env, fs)
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	if *asJSON {
		b, err := status.GetJSON(ctx, *socket)
		if err != nil {
			return reportUnreachable(env, err)
		}
		env.Stdout.Write(b)
		return exitOK
	}
	d, err := status.Get(ctx, *socket)
	if err != nil {
		return reportUnreachable(env, err)
	}
	writeStatus(env.Stdout, d)
	return exitOK
}

func runReload(env Env, args []string) int {
	fs := newFlags(env, "reload")
	socket := socketFlag(env, fs)
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	applied, diags, err := status.Reload(ctx, *socket)
	if err != nil {
		if diags != "" {
			io.WriteString(env.Stderr, withNewline(diags))
		}
		return reportUnreachable(env, err)
	}
	if !applied {
		fmt.Fprintln(env.Stderr, "lvsd: the new config was rejected; the daemon keeps running the old one")
		io.WriteString(env.Stderr, withNewline(diags))
		return exitConfig
	}
	if diags != "" {
		io.WriteString(env.Stderr, withNewline(diags))
	}
	fmt.Fprintln(env.Stdout, "lvsd: config reloaded")
	return exitOK
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// writeStatus prints the document the way `ipvsadm -Ln` prints the kernel
// table, with the VRRP instances above it and a health column added, so
// that an ipvsadm user reads it without learning a new layout.
func writeStatus(w io.Writer, d status.Document) {
	fmt.Fprintf(w, "lvsd %s  cluster %s  node %s  config %s (loaded %s)\n",
		d.Version, d.Cluster, d.Node, d.Config.File, formatTime(d.Config.LoadedAt))
	if e := d.Config.LastReloadError; e != nil {
		fmt.Fprintln(w, "last reload rejected, the config above still runs:")
		for line := range strings.SplitSeq(strings.TrimRight(*e, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}

	fmt.Fprintln(w, "VRRP")
	if len(d.VRRPInstances) == 0 {
		fmt.Fprintln(w, "  (no instances)")
	}
	width := 0
	for _, in := range d.VRRPInstances {
		width = max(width, len(in.Name))
	}
	for _, in := range d.VRRPInstances {
		writeInstance(w, in, width)
	}
	writeBGP(w, d.BGP)

	fmt.Fprintln(w, "IP Virtual Server (lvsd view)")
	if len(d.VirtualServers) == 0 {
		fmt.Fprintln(w, "  (no virtual servers)")
		return
	}
	fmt.Fprintln(w, "Prot LocalAddress:Port Scheduler Flags")
	fmt.Fprintln(w, "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  Health")
	for _, vs := range d.VirtualServers {
		writeVirtualServer(w, vs)
	}
}

func writeInstance(w io.Writer, in status.Instance, width int) {
	prio := strconv.Itoa(in.EffectivePriority)
	if in.EffectivePriority != in.Priority {
		prio += " (configured " + strconv.Itoa(in.Priority) + ")"
	}
	master := in.MasterAddress
	if master == "" {
		master = "unknown"
	}
	var since string
	if !in.Since.IsZero() {
		since = "  since " + formatTime(in.Since)
	}
	fmt.Fprintf(w, "  %-*s  %-7s %s vrid %d v%d prio %s  master %s%s (%s)  adverts %d sent, %d received, %s\n",
		width, in.Name, in.State, in.Interface, in.VRID, in.Version, prio, master, since,
		plural(in.Transitions, "transition"), in.AdvertsSent, in.AdvertsReceived, dropped(in.Dropped))
	if len(in.VirtualIPs) > 0 {
		fmt.Fprintf(w, "  %*s  %s\n", width, "", strings.Join(in.VirtualIPs, " "))
	}
	if l := in.LastLateAdvert; l != nil {
		fmt.Fprintf(w, "  %*s  %s late, the last %.0f ms late at %s: lvsd was not run in time\n",
			width, "", plural(in.AdvertsLate, "advert"), l.LateMS, formatTime(l.At))
	}
}

// dropped sums the drop counters and names the reasons that occurred.
func dropped(m map[string]uint64) string {
	var total uint64
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(m)) {
		if n := m[reason]; n > 0 {
			total += n
			parts = append(parts, reason+" "+strconv.FormatUint(n, 10))
		}
	}
	if total == 0 {
		return "0 dropped"
	}
	return strconv.FormatUint(total, 10) + " dropped (" + strings.Join(parts, ", ") + ")"
}

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatUint(n, 10) + " " + word + "s"
}

func writeVirtualServer(w io.Writer, vs status.VirtualServer) {
	var flags []string
	if !vs.QuorumMet {
		flags = append(flags, "quorum lost")
	}
	if vs.SorryServerActive {
		flags = append(flags, "sorry server active")
	}
	var flagText string
	if len(flags) > 0 {
		flagText = " [" + strings.Join(flags, ", ") + "]"
	}
	if mark, ok := status.ParseFwmark(vs.Address); ok {
		fmt.Fprintf(w, "FWM  %d %s%s\n", mark, vs.Scheduler, flagText)
	} else {
		fmt.Fprintf(w, "%-4s %s %s%s\n", strings.ToUpper(vs.Protocol), vs.Address, vs.Scheduler, flagText)
	}
	for _, rs := range vs.RealServers {
		note := ""
		switch {
		case !rs.InIPVS:
			note = "  [not in IPVS]"
		case rs.Weight == 0 && rs.ConfiguredWeight != 0:
			note = "  [quiescent]"
		}
		fmt.Fprintf(w, "  -> %-28s %-7s %-6d %-10d %-10d %s%s\n",
			rs.Address, forward(vs.Method), rs.Weight, rs.ActiveConns, rs.InactiveConns, health(rs), note)
	}
}

// forward names the method as ipvsadm's Forward column does.
func forward(method string) string {
	switch method {
	case "dr":
		return "Route"
	case "nat":
		return "Masq"
	case "tun":
		return "Tunnel"
	}
	return method
}

// health is "up" or "DOWN" with the last check's outcome; where the last
// check disagrees with the state (a server on its way up or down, within
// rise or fall), it says so.
func health(rs status.RealServer) string {
	state := "DOWN"
	if rs.Healthy {
		state = "up"
	}
	c := rs.LastCheck
	if c == nil {
		if rs.Healthy {
			return state
		}
		return state + " (not checked yet)"
	}
	detail := formatMS(c.DurationMS)
	if c.Message != "" {
		detail = c.Message + ", " + detail
	}
	switch {
	case c.OK && !rs.Healthy:
		return state + ", last check passed (" + detail + ")"
	case !c.OK && rs.Healthy:
		return state + ", last check failed (" + detail + ")"
	}
	return state + " (" + detail + ")"
}

func formatMS(ms float64) string {
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
