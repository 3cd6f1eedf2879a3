package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/status"
)

// fuzzBase is the running configuration every fuzzed reload starts from:
// one instance, alone on its segment, so MASTER; one virtual server.
const fuzzBase = `cluster = "fuzz"
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "10ms"
  virtual_ips     = ["192.0.2.100/32"]
}
virtual_server "web" {
  address = "192.0.2.100:80"
  real_server "192.0.2.11:80" {}
}
status {
  metrics_listen = ""
}
`

// FuzzReload feeds whole files to a running daemon's reload path: whatever
// the file, the daemon survives, and a rejected file changes nothing that
// runs (the instance keeps its state and transitions, the config its load
// time). An accepted file is reloaded back to the base before the next
// input, so every input meets the same daemon.
func FuzzReload(f *testing.F) {
	for _, seed := range []string{
		fuzzBase,
		fuzzBase + "\n# a comment\n",
		strings.Replace(fuzzBase, `vrid            = 51`, `vrid            = 52`, 1),
		strings.Replace(fuzzBase, `"10ms"`, `"20ms"`, 1),
		fuzzBase + "bogus = 1\n",
		"x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
		"x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n",
		strings.Repeat("a { ", 50000) + strings.Repeat("} ", 50000),
		"cluster = \"" + strings.Repeat("\\", 3) + "\x00\xff\"\n",
		"cluster = \"a\nb\"\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(file, []byte(fuzzBase), 0o644); err != nil {
		f.Fatal(err)
	}
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	d := New(Options{
		ConfigFile: file, Node: "a", Socket: filepath.Join(dir, "lvsd.sock"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notifier: &recordingNotifier{}, sys: sys,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	master := func() (status.Instance, bool) {
		doc := d.Status()
		if len(doc.VRRPInstances) != 1 || doc.VRRPInstances[0].State != status.StateMaster {
			return status.Instance{}, false
		}
		return doc.VRRPInstances[0], true
	}
	settle := func(t *testing.T) status.Instance {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if in, ok := master(); ok {
				return in
			}
			select {
			case err := <-done:
				t.Fatalf("the daemon stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the daemon is not MASTER of VI_1 with the base config: %+v", d.Status().VRRPInstances)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// reload reloads, and fails when the daemon takes longer than any
	// reload may: a file must never hold the reload path.
	reload := func(t *testing.T, src []byte) bool {
		type answer struct{ applied bool }
		got := make(chan answer, 1)
		go func() {
			applied, _, _ := d.Reload(context.Background())
			got <- answer{applied}
		}()
		select {
		case a := <-got:
			return a.applied
		case <-time.After(10 * time.Second):
			t.Fatalf("a reload of %q did not return within 10 s", src)
			return false
		}
	}

	f.Fuzz(func(t *testing.T, src []byte) {
		before := settle(t)
		loadedAt := d.Status().Config.LoadedAt
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		applied := reload(t, src)
		if !applied {
			after, ok := master()
			if !ok || after.Transitions != before.Transitions {
				t.Fatalf("a rejected reload changed the instance: %+v, was %+v", after, before)
			}
			if got := d.Status().Config.LoadedAt; !got.Equal(loadedAt) {
				t.Fatalf("a rejected reload changed loaded_at: %v, was %v", got, loadedAt)
			}
			return
		}
		if err := os.WriteFile(file, []byte(fuzzBase), 0o644); err != nil {
			t.Fatal(err)
		}
		if !reload(t, []byte(fuzzBase)) {
			t.Fatalf("the base was rejected after an accepted input")
		}
		settle(t)
	})
}
