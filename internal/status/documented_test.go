package status

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
)

// contractFamilies are the metric names and labels the product contract
// fixes; they may never change.
var contractFamilies = map[string]string{
	"lvsd_vrrp_state":                   "instance",
	"lvsd_vrrp_transitions_total":       "instance,to",
	"lvsd_vrrp_adverts_sent_total":      "instance",
	"lvsd_vrrp_adverts_received_total":  "instance",
	"lvsd_vrrp_packets_dropped_total":   "instance,reason",
	"lvsd_realserver_healthy":           "service,server",
	"lvsd_healthcheck_duration_seconds": "service,server",
	"lvsd_ipvs_operations_total":        "op",
	"lvsd_ipvs_reconcile_seconds":       "",
	"lvsd_ipvs_connections_active":      "service,server",
	"lvsd_ipvs_bytes_total":             "service,server,direction",
	"lvsd_config_reloads_total":         "result",
}

// documentedFamilies reads the README's Metrics table: family name (or a
// prefix ending in "*") -> label names, sorted, joined by ",".
func documentedFamilies(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Metrics\n")
	if !ok {
		t.Fatal("README.md has no ### Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	name := regexp.MustCompile("`([a-z_:]+\\*?)`")
	docs := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		var labels []string
		for _, l := range strings.Split(cells[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := docs[m[1]]; dup {
				t.Errorf("README documents %s twice", m[1])
			}
			docs[m[1]] = strings.Join(labels, ",")
		}
	}
	if len(docs) == 0 {
		t.Fatal("no metric rows in the README's Metrics section")
	}
	return docs
}

// exposedFamilies scrapes a director with one of everything: family
// name -> label-name sets of its series (sorted, joined by ",").
func exposedFamilies(t *testing.T) map[string]map[string]bool {
	t.Helper()
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	m.Reload(ReloadFailed)
	got := map[string]map[string]bool{}
	for name, mf := range families(t, m.Handler()) {
		got[name] = map[string]bool{}
		for _, s := range mf.GetMetric() {
			got[name][labelNames(s)] = true
		}
	}
	return got
}

func labelNames(m *dto.Metric) string {
	var names []string
	for _, l := range m.GetLabel() {
		names = append(names, l.GetName())
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// TestDocumentedMetrics: the README's table lists exactly the families a
// scrape shows, with their labels, and keeps every name the contract fixes.
func TestDocumentedMetrics(t *testing.T) {
	docs := documentedFamilies(t)
	exposed := exposedFamilies(t)

	for name, labels := range contractFamilies {
		if got, ok := docs[name]; !ok {
			t.Errorf("the README does not document %s", name)
		} else if got != sortedNames(labels) {
			t.Errorf("the README gives %s the labels %q, want %q", name, got, sortedNames(labels))
		}
	}
	var prefixes []string
	for name := range docs {
		if p, ok := strings.CutSuffix(name, "*"); ok {
			prefixes = append(prefixes, p)
			if !slices.ContainsFunc(keys(exposed), func(n string) bool { return strings.HasPrefix(n, p) }) {
				t.Errorf("the README documents %s, the scrape has none", name)
			}
			continue
		}
		if exposed[name] == nil {
			t.Errorf("the README documents %s, the scrape has no such family", name)
			continue
		}
		if diff := cmp.Diff(map[string]bool{docs[name]: true}, exposed[name]); diff != "" {
			t.Errorf("%s: labels of the scrape differ from the README's (-README +scrape):\n%s", name, diff)
		}
	}
	for name := range exposed {
		if _, ok := docs[name]; ok {
			continue
		}
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			t.Errorf("the scrape has %s, which the README does not document", name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
