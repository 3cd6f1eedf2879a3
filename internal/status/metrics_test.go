package status

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposition is a scrape parsed just enough to check names, types, labels
// and values.
type exposition struct {
	types   map[string]string          // family -> TYPE
	samples map[string]float64         // `name{l="v",...}` as written -> value
	labels  map[string]map[string]bool // sample name -> label-name sets seen, sorted, joined by ","
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseExposition(t *testing.T, r io.Reader) exposition {
	t.Helper()
	e := exposition{types: map[string]string{}, samples: map[string]float64{}, labels: map[string]map[string]bool{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				t.Fatalf("bad TYPE line %q", line)
			}
			if _, dup := e.types[f[0]]; dup {
				t.Errorf("TYPE of %s given twice", f[0])
			}
			e.types[f[0]] = f[1]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line does not parse as a sample: %q", line)
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		var names []string
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			names = append(names, p[1])
		}
		slices.Sort(names)
		if e.labels[m[1]] == nil {
			e.labels[m[1]] = map[string]bool{}
		}
		e.labels[m[1]][strings.Join(names, ",")] = true
		key := m[1] + m[2]
		if _, dup := e.samples[key]; dup {
			t.Errorf("sample %s written twice", key)
		}
		e.samples[key] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// get scrapes /metrics with an Accept header ("" sends none) and returns
// the Content-Type and the body.
func get(t *testing.T, h http.Handler, accept string) (string, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("Content-Type"), body
}

// scrape is a plain scrape (no Accept header), parsed.
func scrape(t *testing.T, h http.Handler) exposition {
	t.Helper()
	ct, body := get(t, h, "")
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	return parseExposition(t, bytes.NewReader(body))
}

// families is a plain scrape parsed by the Prometheus text parser.
func families(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	_, body := get(t, h, "")
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return mfs
}

func observed(m *Metrics) {
	m.ObserveCheck("web", netip.MustParseAddrPort("10.10.10.12:80"), 1300*time.Microsecond)
	m.ObserveCheck("web", netip.MustParseAddrPort("10.10.10.12:80"), 3*time.Millisecond)
	m.ObserveCheck("web", netip.MustParseAddrPort("10.10.10.13:80"), 2*time.Second)
	m.ObserveReconcile(800 * time.Microsecond)
	m.IPVSOps("add_service", 1)
	m.IPVSOps("add_destination", 2)
	m.IPVSOps("add_destination", 1)
	m.IPVSOps("delete_destination", 0)
	m.Reload(ReloadApplied)
	m.Reload(ReloadRejected)
	m.Reload(ReloadRejected)
}

// lvsdFamilies are lvsd's own families with their type and label names
// (of the plain sample, or of _bucket without le).
var lvsdFamilies = []struct {
	name, typ string
	labels    string
}{
	{"lvsd_vrrp_state", "gauge", "instance"},
	{"lvsd_vrrp_transitions_total", "counter", "instance,to"},
	{"lvsd_vrrp_adverts_sent_total", "counter", "instance"},
	{"lvsd_vrrp_adverts_received_total", "counter", "instance"},
	{"lvsd_vrrp_adverts_late_total", "counter", "instance"},
	{"lvsd_vrrp_packets_dropped_total", "counter", "instance,reason"},
	{"lvsd_vrrp_interface_packets_dropped_total", "counter", "interface,reason"},
	{"lvsd_realserver_healthy", "gauge", "service,server"},
	{"lvsd_virtual_server_quorum_met", "gauge", "service"},
	{"lvsd_healthcheck_duration_seconds", "histogram", "service,server"},
	{"lvsd_ipvs_operations_total", "counter", "op"},
	{"lvsd_ipvs_reconcile_seconds", "histogram", ""},
	{"lvsd_ipvs_connections_active", "gauge", "service,server"},
	{"lvsd_ipvs_bytes_total", "counter", "service,server,direction"},
	{"lvsd_config_reloads_total", "counter", "result"},
}

// TestMetricNamesTypesAndLabels checks every lvsd metric name with its
// type and label names.
func TestMetricNamesTypesAndLabels(t *testing.T) {
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	e := scrape(t, m.Handler())

	for _, tc := range lvsdFamilies {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.types[tc.name]; got != tc.typ {
				t.Errorf("TYPE %q, want %q", got, tc.typ)
			}
			want := map[string]bool{sortedNames(tc.labels): true}
			got := e.labels[tc.name]
			if tc.typ == "histogram" {
				withLE := sortedNames(strings.TrimPrefix(tc.labels+",le", ","))
				if diff := cmp.Diff(map[string]bool{withLE: true}, e.labels[tc.name+"_bucket"]); diff != "" {
					t.Errorf("_bucket labels (-want +got):\n%s", diff)
				}
				got = e.labels[tc.name+"_count"]
				if diff := cmp.Diff(want, e.labels[tc.name+"_sum"]); diff != "" {
					t.Errorf("_sum labels (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
	var names []string
	for n := range e.types {
		if strings.HasPrefix(n, "lvsd_") {
			names = append(names, n)
		}
	}
	if len(names) != len(lvsdFamilies) {
		slices.Sort(names)
		t.Errorf("lvsd families %v, want the %d documented ones", names, len(lvsdFamilies))
	}
}

// sortedNames sorts a comma-separated list of label names: the library
// writes labels in name order.
func sortedNames(list string) string {
	names := strings.Split(list, ",")
	slices.Sort(names)
	return strings.Join(names, ",")
}

func TestMetricValues(t *testing.T) {
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	e := scrape(t, m.Handler())

	want := map[string]float64{
		`lvsd_vrrp_state{instance="VI_1"}`:                                                            2,
		`lvsd_vrrp_transitions_total{instance="VI_1",to="BACKUP"}`:                                    1,
		`lvsd_vrrp_transitions_total{instance="VI_1",to="MASTER"}`:                                    1,
		`lvsd_vrrp_adverts_sent_total{instance="VI_1"}`:                                               120,
		`lvsd_vrrp_adverts_received_total{instance="VI_1"}`:                                           3,
		`lvsd_vrrp_packets_dropped_total{instance="VI_1",reason="checksum"}`:                          1,
		`lvsd_vrrp_packets_dropped_total{instance="VI_1",reason="ttl"}`:                               4,
		`lvsd_vrrp_interface_packets_dropped_total{interface="eth0",reason="length"}`:                 1,
		`lvsd_vrrp_interface_packets_dropped_total{interface="eth0",reason="vrid"}`:                   6,
		`lvsd_realserver_healthy{server="10.10.10.12:80",service="web"}`:                              1,
		`lvsd_realserver_healthy{server="10.10.10.13:80",service="web"}`:                              0,
		`lvsd_ipvs_connections_active{server="10.10.10.12:80",service="web"}`:                         7,
		`lvsd_ipvs_connections_active{server="10.10.10.13:80",service="web"}`:                         0,
		`lvsd_ipvs_bytes_total{direction="in",server="10.10.10.12:80",service="web"}`:                 1000,
		`lvsd_ipvs_bytes_total{direction="out",server="10.10.10.12:80",service="web"}`:                20000,
		`lvsd_ipvs_bytes_total{direction="in",server="10.10.10.13:80",service="web"}`:                 0,
		`lvsd_ipvs_bytes_total{direction="out",server="10.10.10.13:80",service="web"}`:                0,
		`lvsd_ipvs_operations_total{op="add_service"}`:                                                1,
		`lvsd_ipvs_operations_total{op="add_destination"}`:                                            3,
		`lvsd_config_reloads_total{result="applied"}`:                                                 1,
		`lvsd_config_reloads_total{result="rejected"}`:                                                2,
		`lvsd_config_reloads_total{result="error"}`:                                                   0,
		`lvsd_healthcheck_duration_seconds_count{server="10.10.10.12:80",service="web"}`:              2,
		`lvsd_healthcheck_duration_seconds_sum{server="10.10.10.12:80",service="web"}`:                0.0043,
		`lvsd_healthcheck_duration_seconds_count{server="10.10.10.13:80",service="web"}`:              1,
		`lvsd_healthcheck_duration_seconds_sum{server="10.10.10.13:80",service="web"}`:                2,
		`lvsd_ipvs_reconcile_seconds_count`:                                                           1,
		`lvsd_ipvs_reconcile_seconds_sum`:                                                             0.0008,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.12:80",service="web",le="0.001"}`:  0,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.12:80",service="web",le="0.0025"}`: 1,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.12:80",service="web",le="0.005"}`:  2,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.12:80",service="web",le="+Inf"}`:   2,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.13:80",service="web",le="1"}`:      0,
		`lvsd_healthcheck_duration_seconds_bucket{server="10.10.10.13:80",service="web",le="2.5"}`:    1,
		`lvsd_ipvs_reconcile_seconds_bucket{le="0.0005"}`:                                             0,
		`lvsd_ipvs_reconcile_seconds_bucket{le="0.001"}`:                                              1,
	}
	got := make(map[string]float64)
	for k := range want {
		if v, ok := e.samples[k]; ok {
			got[k] = v
		}
	}
	approx := cmp.Comparer(func(a, b float64) bool { return a == b || (a-b)*(a-b) < 1e-18 })
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	// No sample for an operation never counted.
	if _, ok := e.samples[`lvsd_ipvs_operations_total{op="delete_destination"}`]; ok {
		t.Error("an operation counted 0 times has a sample")
	}
}

// TestBucketsAreCumulative checks the histogram invariant Prometheus relies
// on: counts never decrease along le, and +Inf equals _count; and that
// bounds are inclusive (a check of exactly 0.5 ms is in le="0.0005").
func TestBucketsAreCumulative(t *testing.T) {
	m := NewMetrics(sourceFunc(Document{}.wire))
	for _, v := range []time.Duration{0, 500 * time.Microsecond, 700 * time.Microsecond, 3 * time.Millisecond,
		200 * time.Millisecond, 9 * time.Second, 11 * time.Second, 100 * time.Second} {
		m.ObserveCheck("s", netip.MustParseAddrPort("192.0.2.1:80"), v)
	}
	h := families(t, m.Handler())["lvsd_healthcheck_duration_seconds"].GetMetric()[0].GetHistogram()
	var last uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < last {
			t.Errorf("bucket le=%v = %v after %v", b.GetUpperBound(), b.GetCumulativeCount(), last)
		}
		last = b.GetCumulativeCount()
	}
	if h.GetSampleCount() != 8 || last > 8 {
		t.Errorf("count %d, last finite bucket %d; want 8 and at most 8", h.GetSampleCount(), last)
	}
	if b := h.GetBucket()[0]; b.GetUpperBound() != .0005 || b.GetCumulativeCount() != 2 {
		t.Errorf("first bucket le=%v holds %d, want le=0.0005 holding 2", b.GetUpperBound(), b.GetCumulativeCount())
	}
}

// TestEmptyDaemon: a director with nothing configured has no per-instance
// or per-server series, but its reload outcomes and reconcile histogram
// are there from the first scrape.
func TestEmptyDaemon(t *testing.T) {
	m := NewMetrics(sourceFunc(Document{}.wire))
	e := scrape(t, m.Handler())
	for _, k := range []string{
		`lvsd_config_reloads_total{result="applied"}`,
		`lvsd_config_reloads_total{result="rejected"}`,
		`lvsd_config_reloads_total{result="error"}`,
		`lvsd_ipvs_reconcile_seconds_count`,
	} {
		if v, ok := e.samples[k]; !ok || v != 0 {
			t.Errorf("%s = %v, %v; want 0 from the start", k, v, ok)
		}
	}
	for k := range e.samples {
		if strings.HasPrefix(k, "lvsd_vrrp_") || strings.HasPrefix(k, "lvsd_realserver_") {
			t.Errorf("sample %s without an instance or a server", k)
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	m := NewMetrics(sourceFunc(Document{}.wire))
	m.IPVSOps("we\"ird\\op\n", 1)
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := `lvsd_ipvs_operations_total{op="we\"ird\\op\n"} 1`; !strings.Contains(b.String(), want+"\n") {
		t.Errorf("output lacks %s:\n%s", want, b.String())
	}
}

// TestStandardFamilies: the client library's process and Go runtime
// collectors are registered.
func TestStandardFamilies(t *testing.T) {
	mfs := families(t, NewMetrics(sourceFunc(Document{}.wire)).Handler())
	for _, name := range []string{
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
		"go_goroutines", "go_gc_duration_seconds", "go_memstats_heap_inuse_bytes", "go_info",
	} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestRegistriesAreSeparate: two daemons in one process each count their
// own events.
func TestRegistriesAreSeparate(t *testing.T) {
	a := NewMetrics(sourceFunc(Document{}.wire))
	b := NewMetrics(sourceFunc(Document{}.wire))
	a.Reload(ReloadApplied)
	if v := scrape(t, b.Handler()).samples[`lvsd_config_reloads_total{result="applied"}`]; v != 0 {
		t.Errorf("a reload of one Metrics shows in another: %v", v)
	}
}

func TestOpenMetricsNegotiation(t *testing.T) {
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	for _, tc := range []struct {
		accept, contentType string
		has                 []string
	}{
		{"", "text/plain; version=0.0.4", []string{
			"# TYPE lvsd_vrrp_transitions_total counter\n",
			`lvsd_vrrp_transitions_total{instance="VI_1",to="MASTER"} 1` + "\n",
		}},
		{"application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "application/openmetrics-text; version=1.0.0", []string{
			// OpenMetrics names a counter family without _total.
			"# TYPE lvsd_vrrp_transitions counter\n",
			`lvsd_vrrp_transitions_total{instance="VI_1",to="MASTER"} 1.0` + "\n",
			"# TYPE lvsd_healthcheck_duration_seconds histogram\n",
			"# EOF\n",
		}},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			ct, body := get(t, m.Handler(), tc.accept)
			if !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			for _, s := range tc.has {
				if !bytes.Contains(body, []byte(s)) {
					t.Errorf("scrape lacks %q", s)
				}
			}
		})
	}
}

func TestMetricsMethods(t *testing.T) {
	srv := httptest.NewServer(NewMetrics(sourceFunc(Document{}.wire)).Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/metrics", 200},
		{"HEAD", "/metrics", 200},
		{"POST", "/metrics", 405},
		{"GET", "/", 200},
		{"GET", "/other", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestServeMetrics(t *testing.T) {
	// Find a free port, then serve on it by address as the daemon does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	m := NewMetrics(sourceFunc(func() Document { return Document{VRRPInstances: []Instance{{Name: "VI_9", State: StateBackup}}} }))
	go func() { done <- serveMetrics(ctx, addr, m.Handler()) }()

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	var body []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/metrics")
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(string(body), "lvsd_vrrp_state{instance=\"VI_9\"} 1\n") {
		t.Errorf("scrape lacks the backup state:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serving metrics: %v", err)
	}
}

func TestServeMetricsOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveMetrics(ctx, "", nil) }()
	select {
	case err := <-done:
		t.Fatalf("serving metrics on \"\" returned before its context ended: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serving metrics: %v", err)
	}
}

func TestServeMetricsBadAddress(t *testing.T) {
	err := serveMetrics(context.Background(), "127.0.0.1:notaport", nil)
	if err == nil || !strings.Contains(err.Error(), "listening for metrics on 127.0.0.1:notaport") {
		t.Errorf("serving metrics: %v", err)
	}
}

func TestStateValue(t *testing.T) {
	var got []string
	for _, s := range []string{StateInit, StateBackup, StateMaster, StateFault, "bogus"} {
		got = append(got, fmt.Sprintf("%s=%v", s, StateValue(s)))
	}
	want := []string{"INIT=0", "BACKUP=1", "MASTER=2", "FAULT=3", "bogus=-1"}
	if !slices.Equal(want, got) {
		t.Errorf("%v, want %v", got, want)
	}
}

// TestPromtoolCheckMetrics runs Prometheus's own linter on a real scrape.
// promtool comes with Debian's prometheus package (.ci/install-deps.sh);
// without it the test skips, except under CI=true.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (package prometheus; run .ci/install-deps.sh): %v", err)
		}
		t.Skipf("promtool not found (package prometheus): %v", err)
	}
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	_, body := get(t, m.Handler(), "")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// serveMetrics binds addr and serves h on it until ctx ends, as the daemon
// does in two steps; an empty addr serves nothing and waits for ctx.
func serveMetrics(ctx context.Context, addr string, h http.Handler) error {
	ln, err := ListenMetrics(addr)
	if err != nil {
		return err
	}
	return ServeMetricsOn(ctx, ln, h)
}
