package status

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Results of lvsd_config_reloads_total{result}.
const (
	ReloadApplied  = "applied"  // the new config runs
	ReloadRejected = "rejected" // the new config was invalid; the old one runs on
	ReloadFailed   = "error"    // the file could not be read, or applying failed
)

// Bucket bounds in seconds. A health check on a LAN takes about a
// millisecond and times out after seconds; a reconcile is one netlink dump
// plus a few requests. Prometheus's default buckets start at 5 ms, which
// would put every healthy check in the first bucket.
var (
	checkBuckets     = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	reconcileBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
)

// Metrics is the Prometheus view of the daemon. What the daemon
// already counts (VRRP state and counters, health, connections, bytes) is
// read from Source at scrape time, so it can never disagree with `lvsd
// status`; events that have no place in the document (check and reconcile
// durations, IPVS operations, reloads) are recorded here through the
// Observe methods. It is safe for concurrent use.
//
// It writes the Prometheus text exposition format (version 0.0.4) itself
// and holds all its state in the value: there is no global registry.
type Metrics struct {
	src Source

	mu        sync.Mutex
	checks    map[serverKey]*histogram
	reconcile *histogram
	ops       map[string]uint64
	reloads   map[string]uint64
}

type serverKey struct {
	service string
	server  netip.AddrPort
}

// NewMetrics returns metrics that read the daemon's counters from src.
func NewMetrics(src Source) *Metrics {
	return &Metrics{
		src:       src,
		checks:    make(map[serverKey]*histogram),
		reconcile: newHistogram(reconcileBuckets),
		ops:       make(map[string]uint64),
		// Both outcomes exist from the start, so that an alert on
		// increase(...{result="rejected"}) works before the first failure.
		reloads: map[string]uint64{ReloadApplied: 0, ReloadRejected: 0},
	}
}

// ObserveCheck records how long one health check of server (a real
// server's address) in service (a virtual server's name) took.
func (m *Metrics) ObserveCheck(service string, server netip.AddrPort, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := serverKey{service, server}
	h := m.checks[k]
	if h == nil {
		h = newHistogram(checkBuckets)
		m.checks[k] = h
	}
	h.observe(d.Seconds())
}

// ObserveReconcile records how long one IPVS reconcile (dump, diff and
// apply) took.
func (m *Metrics) ObserveReconcile(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reconcile.observe(d.Seconds())
}

// IPVSOps counts n IPVS operations of one kind (the ipvs package's
// OpKind names: "add_service", "delete_destination", ...).
func (m *Metrics) IPVSOps(op string, n int) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops[op] += uint64(n)
}

// Reload counts one reload with its result: ReloadApplied, ReloadRejected
// or ReloadFailed.
func (m *Metrics) Reload(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reloads[result]++
}

// ServeHTTP answers a scrape.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	m.WriteText(w)
}

// Handler serves the metrics at /metrics, the path Prometheus scrapes by
// default.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "lvsd: metrics at /metrics")
	})
	return mux
}

// ServeMetrics serves h on addr until ctx ends: ListenMetrics, then
// ServeMetricsOn. An empty addr serves nothing and waits for ctx.
func ServeMetrics(ctx context.Context, addr string, h http.Handler) error {
	ln, err := ListenMetrics(addr)
	if err != nil {
		return err
	}
	return ServeMetricsOn(ctx, ln, h)
}

// ListenMetrics binds the metrics port; "" binds nothing and returns a nil
// listener. The daemon binds it before it tells systemd it is ready.
func ListenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	return ln, nil
}

// ServeMetricsOn serves h on ln until ctx ends, then closes ln; a nil ln
// serves nothing and waits for ctx.
func ServeMetricsOn(ctx context.Context, ln net.Listener, h http.Handler) error {
	if ln == nil {
		<-ctx.Done()
		return nil
	}
	return serveHTTP(ctx, ln, h)
}

// WriteText writes every metric in the Prometheus text format.
func (m *Metrics) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, f := range m.gather() {
		f.write(bw)
	}
	return bw.Flush()
}

// gather builds the families in a fixed order, reading the document once.
func (m *Metrics) gather() []family {
	doc := m.src.Status()

	state := family{name: "lvsd_vrrp_state", typ: "gauge",
		help: "VRRP state of the instance: 0 init, 1 backup, 2 master, 3 fault."}
	trans := family{name: "lvsd_vrrp_transitions_total", typ: "counter",
		help: "VRRP state transitions, by the state entered."}
	sent := family{name: "lvsd_vrrp_adverts_sent_total", typ: "counter",
		help: "VRRP advertisements sent."}
	recv := family{name: "lvsd_vrrp_adverts_received_total", typ: "counter",
		help: "VRRP advertisements received and accepted."}
	dropped := family{name: "lvsd_vrrp_packets_dropped_total", typ: "counter",
		help: "Received VRRP packets dropped, by reason."}
	for _, in := range doc.VRRPInstances {
		l := labels{{"instance", in.Name}}
		state.add("", l, StateValue(in.State))
		for _, to := range sortedKeys(in.TransitionsTo) {
			trans.add("", labels{{"instance", in.Name}, {"to", to}}, float64(in.TransitionsTo[to]))
		}
		sent.add("", l, float64(in.AdvertsSent))
		recv.add("", l, float64(in.AdvertsReceived))
		for _, reason := range sortedKeys(in.Dropped) {
			dropped.add("", labels{{"instance", in.Name}, {"reason", reason}}, float64(in.Dropped[reason]))
		}
	}
	// A packet no instance could be given has no instance label to go
	// under: its own family, by interface.
	ifDropped := family{name: "lvsd_vrrp_interface_packets_dropped_total", typ: "counter",
		help: "Received VRRP packets dropped before reaching an instance (a VRID no instance on the interface runs, or none readable), by reason."}
	for _, f := range doc.VRRPInterfaces {
		for _, reason := range sortedKeys(f.Dropped) {
			ifDropped.add("", labels{{"interface", f.Interface}, {"reason", reason}}, float64(f.Dropped[reason]))
		}
	}

	healthy := family{name: "lvsd_realserver_healthy", typ: "gauge",
		help: "1 if the real server passes its health checks, else 0."}
	conns := family{name: "lvsd_ipvs_connections_active", typ: "gauge",
		help: "Active connections of the real server in the kernel's IPVS table."}
	bytes := family{name: "lvsd_ipvs_bytes_total", typ: "counter",
		help: "Bytes forwarded to (in) and from (out) the real server, as IPVS counts them."}
	for _, vs := range doc.VirtualServers {
		for _, rs := range vs.RealServers {
			l := labels{{"service", vs.Name}, {"server", rs.Address}}
			healthy.add("", l, boolValue(rs.Healthy))
			conns.add("", l, float64(rs.ActiveConns))
			bytes.add("", append(slices.Clone(l), label{"direction", "in"}), float64(rs.BytesIn))
			bytes.add("", append(slices.Clone(l), label{"direction", "out"}), float64(rs.BytesOut))
		}
	}

	checks := family{name: "lvsd_healthcheck_duration_seconds", typ: "histogram",
		help: "Duration of health checks, passed or failed."}
	ops := family{name: "lvsd_ipvs_operations_total", typ: "counter",
		help: "IPVS changes sent to the kernel, by operation."}
	reconcile := family{name: "lvsd_ipvs_reconcile_seconds", typ: "histogram",
		help: "Duration of one IPVS reconcile: dump, diff and apply."}
	reloads := family{name: "lvsd_config_reloads_total", typ: "counter",
		help: "Config reloads, by result (applied, rejected, error)."}
	m.mu.Lock()
	keys := make([]serverKey, 0, len(m.checks))
	for k := range m.checks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b serverKey) int {
		if c := strings.Compare(a.service, b.service); c != 0 {
			return c
		}
		return a.server.Compare(b.server)
	})
	for _, k := range keys {
		m.checks[k].addTo(&checks, labels{{"service", k.service}, {"server", k.server.String()}})
	}
	for _, op := range sortedKeys(m.ops) {
		ops.add("", labels{{"op", op}}, float64(m.ops[op]))
	}
	m.reconcile.addTo(&reconcile, nil)
	for _, r := range sortedKeys(m.reloads) {
		reloads.add("", labels{{"result", r}}, float64(m.reloads[r]))
	}
	m.mu.Unlock()

	return []family{state, trans, sent, recv, dropped, ifDropped, healthy, checks, ops, reconcile, conns, bytes, reloads}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type label struct{ name, value string }

type labels []label

type sample struct {
	suffix string // "_bucket", "_sum", "_count" of a histogram
	labels labels
	value  float64
}

type family struct {
	name, help, typ string
	samples         []sample
}

func (f *family) add(suffix string, l labels, v float64) {
	f.samples = append(f.samples, sample{suffix, l, v})
}

// write emits the family. HELP and TYPE are written even without samples,
// so every documented name is visible from the first scrape.
func (f *family) write(w *bufio.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
	for _, s := range f.samples {
		w.WriteString(f.name)
		w.WriteString(s.suffix)
		if len(s.labels) > 0 {
			w.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(l.name)
				w.WriteString(`="`)
				w.WriteString(escapeLabel(l.value))
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.WriteString(formatValue(s.value))
		w.WriteByte('\n')
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// histogram is a cumulative Prometheus histogram; the caller locks.
type histogram struct {
	bounds []float64 // upper bounds, ascending, without +Inf
	counts []uint64  // observations per bucket, not cumulative
	count  uint64
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	// Buckets are "less than or equal": v lands in the first bound >= v.
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
}

func (h *histogram) addTo(f *family, l labels) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		f.add("_bucket", append(slices.Clone(l), label{"le", formatValue(b)}), float64(cum))
	}
	f.add("_bucket", append(slices.Clone(l), label{"le", "+Inf"}), float64(h.count))
	f.add("_sum", l, h.sum)
	f.add("_count", l, float64(h.count))
}
