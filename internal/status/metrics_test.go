package status

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// exposition is a scrape parsed just enough to check names, types, labels
// and values.
type exposition struct {
	types   map[string]string          // family -> TYPE
	samples map[string]float64         // `name{l="v",...}` as written -> value
	labels  map[string]map[string]bool // sample name -> label-name sets seen, joined by ","
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

func scrape(t *testing.T, h http.Handler) exposition {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	return parseExposition(t, resp.Body)
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

// TestMetricNamesTypesAndLabels checks every documented metric name with its type
// and label names.
func TestMetricNamesTypesAndLabels(t *testing.T) {
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	e := scrape(t, m.Handler())

	for _, tc := range []struct {
		name, typ string
		labels    string // label names of the plain sample, or of _bucket without le
	}{
		{"lvsd_vrrp_state", "gauge", "instance"},
		{"lvsd_vrrp_transitions_total", "counter", "instance,to"},
		{"lvsd_vrrp_adverts_sent_total", "counter", "instance"},
		{"lvsd_vrrp_adverts_received_total", "counter", "instance"},
		{"lvsd_vrrp_packets_dropped_total", "counter", "instance,reason"},
		{"lvsd_vrrp_interface_packets_dropped_total", "counter", "interface,reason"},
		{"lvsd_realserver_healthy", "gauge", "service,server"},
		{"lvsd_healthcheck_duration_seconds", "histogram", "service,server"},
		{"lvsd_ipvs_operations_total", "counter", "op"},
		{"lvsd_ipvs_reconcile_seconds", "histogram", ""},
		{"lvsd_ipvs_connections_active", "gauge", "service,server"},
		{"lvsd_ipvs_bytes_total", "counter", "service,server,direction"},
		{"lvsd_config_reloads_total", "counter", "result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.types[tc.name]; got != tc.typ {
				t.Errorf("TYPE %q, want %q", got, tc.typ)
			}
			want := map[string]bool{tc.labels: true}
			got := e.labels[tc.name]
			if tc.typ == "histogram" {
				withLE := strings.TrimPrefix(tc.labels+",le", ",")
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
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 13 {
		t.Errorf("families %v, want the 13 documented ones", names)
	}
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
		`lvsd_realserver_healthy{service="web",server="10.10.10.12:80"}`:                              1,
		`lvsd_realserver_healthy{service="web",server="10.10.10.13:80"}`:                              0,
		`lvsd_ipvs_connections_active{service="web",server="10.10.10.12:80"}`:                         7,
		`lvsd_ipvs_connections_active{service="web",server="10.10.10.13:80"}`:                         0,
		`lvsd_ipvs_bytes_total{service="web",server="10.10.10.12:80",direction="in"}`:                 1000,
		`lvsd_ipvs_bytes_total{service="web",server="10.10.10.12:80",direction="out"}`:                20000,
		`lvsd_ipvs_bytes_total{service="web",server="10.10.10.13:80",direction="in"}`:                 0,
		`lvsd_ipvs_bytes_total{service="web",server="10.10.10.13:80",direction="out"}`:                0,
		`lvsd_ipvs_operations_total{op="add_service"}`:                                                1,
		`lvsd_ipvs_operations_total{op="add_destination"}`:                                            3,
		`lvsd_config_reloads_total{result="applied"}`:                                                 1,
		`lvsd_config_reloads_total{result="rejected"}`:                                                2,
		`lvsd_healthcheck_duration_seconds_count{service="web",server="10.10.10.12:80"}`:              2,
		`lvsd_healthcheck_duration_seconds_sum{service="web",server="10.10.10.12:80"}`:                0.0043,
		`lvsd_healthcheck_duration_seconds_count{service="web",server="10.10.10.13:80"}`:              1,
		`lvsd_healthcheck_duration_seconds_sum{service="web",server="10.10.10.13:80"}`:                2,
		`lvsd_ipvs_reconcile_seconds_count`:                                                           1,
		`lvsd_ipvs_reconcile_seconds_sum`:                                                             0.0008,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.12:80",le="0.001"}`:  0,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.12:80",le="0.0025"}`: 1,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.12:80",le="0.005"}`:  2,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.12:80",le="+Inf"}`:   2,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.13:80",le="1"}`:      0,
		`lvsd_healthcheck_duration_seconds_bucket{service="web",server="10.10.10.13:80",le="2.5"}`:    1,
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
// on: counts never decrease along le, and +Inf equals _count.
func TestBucketsAreCumulative(t *testing.T) {
	h := newHistogram(checkBuckets)
	for _, v := range []float64{0, .0005, .0007, .003, .2, 9, 11, 100} {
		h.observe(v)
	}
	f := family{name: "x"}
	h.addTo(&f, nil)
	var last float64
	for _, s := range f.samples {
		if s.suffix != "_bucket" {
			continue
		}
		if s.value < last {
			t.Errorf("bucket %v = %v after %v", s.labels, s.value, last)
		}
		last = s.value
	}
	if last != 8 || h.count != 8 {
		t.Errorf("+Inf bucket %v, count %d; want 8", last, h.count)
	}
	// 0 and .0005 fall in le=0.0005 (upper bounds are inclusive).
	if f.samples[0].value != 2 {
		t.Errorf("first bucket %v, want 2", f.samples[0].value)
	}
}

func TestNoInstancesStillDeclaresEveryFamily(t *testing.T) {
	m := NewMetrics(sourceFunc(Document{}.wire))
	e := scrape(t, m.Handler())
	if len(e.types) != 13 {
		t.Errorf("%d families declared, want 13", len(e.types))
	}
	for _, k := range []string{`lvsd_config_reloads_total{result="applied"}`, `lvsd_config_reloads_total{result="rejected"}`, `lvsd_ipvs_reconcile_seconds_count`} {
		if v, ok := e.samples[k]; !ok || v != 0 {
			t.Errorf("%s = %v, %v; want 0 from the start", k, v, ok)
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
	go func() { done <- ServeMetrics(ctx, addr, m.Handler()) }()

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
		t.Errorf("ServeMetrics: %v", err)
	}
}

func TestServeMetricsOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMetrics(ctx, "", nil) }()
	select {
	case err := <-done:
		t.Fatalf("ServeMetrics(\"\") returned before its context ended: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeMetrics: %v", err)
	}
}

func TestServeMetricsBadAddress(t *testing.T) {
	err := ServeMetrics(context.Background(), "127.0.0.1:notaport", nil)
	if err == nil || !strings.Contains(err.Error(), "listening for metrics on 127.0.0.1:notaport") {
		t.Errorf("ServeMetrics: %v", err)
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
