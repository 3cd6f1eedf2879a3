package status

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
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

// Metrics is the Prometheus view of the daemon, served through the
// Prometheus client library. What the daemon already counts (VRRP state
// and counters, health, connections, bytes) is read from Source at scrape
// time by a collector, so it can never disagree with `lvsd status`;
// events that have no place in the document (check and reconcile
// durations, IPVS operations, reloads) are recorded here through the
// Observe methods. The standard process_* and go_* families come with
// them. It is safe for concurrent use.
//
// Every Metrics has its own registry, never the library's global one:
// several daemons may run in one process (the daemon's tests do).
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	checks *prometheus.HistogramVec
	// checkObs caches each (service, server)'s histogram of checks: a
	// check's observation then costs neither the server's address as a
	// string nor the hashing of both labels.
	checkMu   sync.RWMutex
	checkObs  map[checkKey]prometheus.Observer
	reconcile prometheus.Histogram
	ops       *prometheus.CounterVec
	reloads   *prometheus.CounterVec
}

// NewMetrics returns metrics that read the daemon's counters from src.
func NewMetrics(src Source) *Metrics {
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		checkObs: make(map[checkKey]prometheus.Observer),
		checks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lvsd_healthcheck_duration_seconds",
			Help:    "Duration of health checks, passed or failed.",
			Buckets: checkBuckets,
		}, []string{"service", "server"}),
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lvsd_ipvs_reconcile_seconds",
			Help:    "Duration of one IPVS reconcile: dump, diff and apply.",
			Buckets: reconcileBuckets,
		}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsd_ipvs_operations_total",
			Help: "IPVS changes sent to the kernel, by operation.",
		}, []string{"op"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsd_config_reloads_total",
			Help: "Config reloads, by result (applied, rejected, error).",
		}, []string{"result"}),
	}
	// Every outcome exists from the start, so that an alert on
	// increase(...{result="rejected"}) works before the first failure.
	for _, r := range []string{ReloadApplied, ReloadRejected, ReloadFailed} {
		m.reloads.WithLabelValues(r)
	}
	m.reg.MustRegister(
		newSourceCollector(src),
		m.checks, m.reconcile, m.ops, m.reloads,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A scraper that asks for OpenMetrics gets it; others get the
		// text format 0.0.4.
		EnableOpenMetrics: true,
		// A collector's error costs its own series, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// checkKey names the series of one real server's checks.
type checkKey struct {
	service string
	server  netip.AddrPort
}

// ObserveCheck records how long one health check of server (a real
// server's address) in service (a virtual server's name) took.
func (m *Metrics) ObserveCheck(service string, server netip.AddrPort, d time.Duration) {
	k := checkKey{service, server}
	m.checkMu.RLock()
	o := m.checkObs[k]
	m.checkMu.RUnlock()
	if o == nil {
		o = m.checks.WithLabelValues(service, server.String())
		m.checkMu.Lock()
		m.checkObs[k] = o
		m.checkMu.Unlock()
	}
	o.Observe(d.Seconds())
}

// ObserveReconcile records how long one IPVS reconcile (dump, diff and
// apply) took.
func (m *Metrics) ObserveReconcile(d time.Duration) {
	m.reconcile.Observe(d.Seconds())
}

// IPVSOps counts n IPVS operations of one kind (the ipvs package's
// OpKind names: "add_service", "delete_destination", ...).
func (m *Metrics) IPVSOps(op string, n int) {
	if n <= 0 {
		return
	}
	m.ops.WithLabelValues(op).Add(float64(n))
}

// Reload counts one reload with its result: ReloadApplied, ReloadRejected
// or ReloadFailed.
func (m *Metrics) Reload(result string) {
	m.reloads.WithLabelValues(result).Inc()
}

// Registry is the registry every family of m is gathered from.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP answers a scrape in the format the scraper asks for (Accept):
// OpenMetrics or the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.handler.ServeHTTP(w, r)
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

// WriteText writes every metric in the Prometheus text format, as a
// scrape without an Accept header gets it.
func (m *Metrics) WriteText(w io.Writer) error {
	mfs, err := m.reg.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return err
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

// sourceCollector turns one status document, read at scrape time, into
// the families of what the daemon counts itself.
type sourceCollector struct {
	src Source

	state, trans, sent, recv, late, dropped, ifDropped *prometheus.Desc
	healthy, conns, bytes, quorum                      *prometheus.Desc
	bgp                                                bgpCollector
}

func newSourceCollector(src Source) *sourceCollector {
	d := prometheus.NewDesc
	return &sourceCollector{
		src: src,
		bgp: newBGPCollector(),
		state: d("lvsd_vrrp_state",
			"VRRP state of the instance: 0 init, 1 backup, 2 master, 3 fault.", []string{"instance"}, nil),
		trans: d("lvsd_vrrp_transitions_total",
			"VRRP state transitions, by the state entered.", []string{"instance", "to"}, nil),
		sent: d("lvsd_vrrp_adverts_sent_total",
			"VRRP advertisements sent.", []string{"instance"}, nil),
		late: d("lvsd_vrrp_adverts_late_total",
			"VRRP advertisements sent more than an advert interval after they were due: the process was not run in time (at three intervals the backups take over).", []string{"instance"}, nil),
		recv: d("lvsd_vrrp_adverts_received_total",
			"VRRP advertisements received and accepted.", []string{"instance"}, nil),
		dropped: d("lvsd_vrrp_packets_dropped_total",
			"Received VRRP packets dropped, by reason.", []string{"instance", "reason"}, nil),
		// A packet no instance could be given has no instance label to go
		// under: its own family, by interface.
		ifDropped: d("lvsd_vrrp_interface_packets_dropped_total",
			"Received VRRP packets dropped before reaching an instance (a VRID no instance on the interface runs, or none readable), by reason.",
			[]string{"interface", "reason"}, nil),
		healthy: d("lvsd_realserver_healthy",
			"1 if the real server passes its health checks, else 0.", []string{"service", "server"}, nil),
		conns: d("lvsd_ipvs_connections_active",
			"Active connections of the real server in the kernel's IPVS table.", []string{"service", "server"}, nil),
		quorum: d("lvsd_virtual_server_quorum_met",
			"1 if at least quorum real servers of the virtual server are healthy, else 0 (the sorry server, if any, takes the service).", []string{"service"}, nil),
		bytes: d("lvsd_ipvs_bytes_total",
			"Bytes forwarded to (in) and from (out) the real server, as IPVS counts them.", []string{"service", "server", "direction"}, nil),
	}
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.trans, c.sent, c.recv, c.late, c.dropped, c.ifDropped, c.healthy, c.conns, c.bytes, c.quorum} {
		ch <- d
	}
	c.bgp.describe(ch)
}

// Collect reads the document once, so every family of a scrape shows the
// same moment.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	doc := c.src.Status()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for _, in := range doc.VRRPInstances {
		gauge(c.state, StateValue(in.State), in.Name)
		for to, n := range in.TransitionsTo {
			counter(c.trans, n, in.Name, to)
		}
		counter(c.sent, in.AdvertsSent, in.Name)
		counter(c.recv, in.AdvertsReceived, in.Name)
		counter(c.late, in.AdvertsLate, in.Name)
		for reason, n := range in.Dropped {
			counter(c.dropped, n, in.Name, reason)
		}
	}
	for _, f := range doc.VRRPInterfaces {
		for reason, n := range f.Dropped {
			counter(c.ifDropped, n, f.Interface, reason)
		}
	}
	for _, vs := range doc.VirtualServers {
		gauge(c.quorum, boolValue(vs.QuorumMet), vs.Name)
		for _, rs := range vs.RealServers {
			gauge(c.healthy, boolValue(rs.Healthy), vs.Name, rs.Address)
			gauge(c.conns, float64(rs.ActiveConns), vs.Name, rs.Address)
			counter(c.bytes, rs.BytesIn, vs.Name, rs.Address, "in")
			counter(c.bytes, rs.BytesOut, vs.Name, rs.Address, "out")
		}
	}
	c.bgp.collect(&doc, gauge)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
