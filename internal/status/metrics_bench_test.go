package status

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// bigDocument is a large director: services virtual servers with servers
// real servers each, and one VRRP instance per 100 services.
func bigDocument(services, servers int) Document {
	var d Document
	for i := range services / 100 {
		d.VRRPInstances = append(d.VRRPInstances, Instance{
			Name: fmt.Sprintf("VI_%d", i), State: StateMaster,
			AdvertsSent: 1000, TransitionsTo: map[string]uint64{StateBackup: 1, StateMaster: 1},
			Dropped: map[string]uint64{"ttl": 1},
		})
	}
	for i := range services {
		vs := VirtualServer{Name: fmt.Sprintf("svc%d", i), Address: fmt.Sprintf("192.0.2.%d:%d", i%250+1, 1000+i/250)}
		for j := range servers {
			vs.RealServers = append(vs.RealServers, RealServer{
				Address: fmt.Sprintf("198.51.100.%d:%d", j+1, 1000+i), Healthy: true,
				ActiveConns: uint64(i + j), BytesIn: uint64(1e6 + i), BytesOut: uint64(1e9 + j),
			})
		}
		d.VirtualServers = append(d.VirtualServers, vs)
	}
	return d
}

// discard is a ResponseWriter that keeps only the size of the body.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

var _ io.Writer = (*discard)(nil)

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape is one GET /metrics of a director with 5,000 services
// of 4 real servers each, every server with a check histogram.
func BenchmarkScrape(b *testing.B) {
	for _, tc := range []struct {
		name, accept, encoding string
	}{
		{"text", "text/plain", ""},
		{"openmetrics", "application/openmetrics-text; version=1.0.0", ""},
		// What Prometheus asks for.
		{"openmetrics+gzip", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "gzip"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			doc := bigDocument(5000, 4)
			m := NewMetrics(sourceFunc(func() Document { return doc }))
			for _, vs := range doc.VirtualServers {
				for _, rs := range vs.RealServers {
					m.ObserveCheck(vs.Name, netip.MustParseAddrPort(rs.Address), time.Millisecond)
				}
			}
			h := m.Handler()
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", tc.accept)
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			b.ReportAllocs()
			var size int
			cpu0 := cpuTime()
			for b.Loop() {
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
				size = w.n
			}
			// CPU time tells more than wall time on a shared machine.
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// BenchmarkObserveCheck is one check's duration recorded, as the daemon
// does for every check of 5,000 services of 4 real servers.
func BenchmarkObserveCheck(b *testing.B) {
	m := NewMetrics(sourceFunc(func() Document { return Document{} }))
	type target struct {
		service string
		server  netip.AddrPort
	}
	var ts []target
	for i := range 5000 {
		for j := range 4 {
			ts = append(ts, target{fmt.Sprintf("svc%d", i), netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), uint16(8000+j))})
		}
	}
	for _, t := range ts {
		m.ObserveCheck(t.service, t.server, time.Millisecond)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := ts[i%len(ts)]
		m.ObserveCheck(t.service, t.server, time.Millisecond)
		i++
	}
}
