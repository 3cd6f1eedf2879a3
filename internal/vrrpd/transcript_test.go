package vrrpd

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata")

// transcript renders the journal from t0: every effect on every router,
// with a master's periodic adverts folded into the first one. Routers acting
// at the same virtual instant run concurrently, so entries are ordered by
// time and router; each router's own entries keep their order.
func (j *journal) transcript(t0 time.Time) string {
	j.mu.Lock()
	entries := slices.Clone(j.entries)
	j.mu.Unlock()
	slices.SortStableFunc(entries, func(x, y entry) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return strings.Compare(x.node, y.node)
	})
	var sb strings.Builder
	lastSend := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.what, "send ") {
			if lastSend[e.node] == e.what {
				continue
			}
			lastSend[e.node] = e.what
		} else if strings.HasPrefix(e.what, "notify ") && !strings.HasSuffix(e.what, " MASTER") {
			// Out of MASTER: the next advert, if any, is news.
			delete(lastSend, e.node)
		}
		fmt.Fprintf(&sb, "%12s %s %s\n", e.at.Sub(t0), e.node, e.what)
	}
	return sb.String()
}

// Three routers elect the highest priority; the master crashes and the next
// takes over after its Master_Down_Interval; that one stops cleanly and the
// last takes over after Skew_Time, while the stopping master holds its
// addresses until a linger after it hears the new one, when the new one has
// added them too. RFC 5798 §6.4.
func TestTranscriptThreeRouters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		n := newFakeNet(j)
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 150))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		c := newRouter(t, n, "c", addrC, instanceConfig("VI_1", 51, 200))
		t0 := time.Now()
		for _, r := range []*router{a, b, c} {
			r.start()
		}
		time.Sleep(10 * time.Second)
		c.conn.detach()
		time.Sleep(10 * time.Second)
		a.stop(t)
		time.Sleep(5 * time.Second)
		b.stop(t)
		c.stop(t)
		checkGolden(t, "three_routers.txt", j.transcript(t0))
	})
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
