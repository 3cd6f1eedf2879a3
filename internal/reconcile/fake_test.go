package reconcile

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsd/lvsd/ipvs/ipvstest"
)

// The reconciler's Kernel is ipvs.Client; ipvstest.Kernel stands in for it.
var _ Kernel = (*ipvstest.Kernel)(nil)

// recordingMetrics records what the reconciler reports.
type recordingMetrics struct {
	mu     sync.Mutex
	ops    map[string]int
	rounds []time.Duration
}

func (m *recordingMetrics) ObserveReconcile(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rounds = append(m.rounds, d)
}

func (m *recordingMetrics) IPVSOps(op string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ops == nil {
		m.ops = map[string]int{}
	}
	m.ops[op] += n
}

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// lines returns the records of level at least min as "MESSAGE k=v k=v".
func (h *logRecorder) lines(min slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Level < min {
			continue
		}
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "err" {
				line += " " + a.Key + "=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}
