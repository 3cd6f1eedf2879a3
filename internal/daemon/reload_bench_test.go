package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reloadBenchConfig is a cluster file of n TCP NAT services of four
// unchecked real servers, the first real server of the first service at
// weight w.
func reloadBenchConfig(n, w int) []byte {
	var b strings.Builder
	b.WriteString("cluster = \"bench\"\n\nnode \"d\" {\n  priority = 100\n}\n\nstatus {\n  metrics_listen = \"\"\n}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"10.%d.%d.%d:80\"\n  method  = \"nat\"\n", i, i>>16&255, i>>8&255, i&255)
		for j := range 4 {
			k := i*4 + j
			weight := 1
			if i == 0 && j == 0 {
				weight = w
			}
			fmt.Fprintf(&b, "  real_server \"172.%d.%d.%d:8080\" { weight = %d }\n", 16+k>>16&15, k>>8&255, k&255, weight)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// BenchmarkReloadOneWeight times a running daemon's reload of a file of
// 5,000 services in which one weight changed, up to the desired table
// handed to the reconciler.
func BenchmarkReloadOneWeight(b *testing.B) {
	const n = 5000
	dir := b.TempDir()
	file := filepath.Join(dir, "lvsd.hcl")
	files := [][]byte{reloadBenchConfig(n, 1), reloadBenchConfig(n, 2)}
	if err := os.WriteFile(file, files[0], 0o644); err != nil {
		b.Fatal(err)
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	sd := &recordingNotifier{}
	d := New(Options{ConfigFile: file, Node: "d", Socket: filepath.Join(dir, "lvsd.sock"),
		Logger: slog.New(slog.DiscardHandler), Notifier: sd, sys: sys})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.Error("Run did not return after the benchmark")
		}
	}()
	for !sd.has("READY=1") {
		select {
		case err := <-done:
			b.Fatalf("Run returned before READY: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	i := 0
	for b.Loop() {
		i++
		if err := os.WriteFile(file, files[i%2], 0o644); err != nil {
			b.Fatal(err)
		}
		applied, diags, err := d.Reload(ctx)
		if err != nil || !applied {
			b.Fatalf("reload: %v %s", err, diags)
		}
	}
}
