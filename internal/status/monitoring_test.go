package status

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Grafana dashboard and Prometheus alerting rules in
// examples/monitoring, checked against what lvsd exports and run through
// promtool.

const monitoringDir = "../../examples/monitoring"

// promtoolPath finds promtool: without it the test skips, except under
// CI=true, where it fails.
func promtoolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (package prometheus; run .ci/install-deps.sh): %v", err)
		}
		t.Skipf("promtool not found (package prometheus): %v", err)
	}
	return p
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alert     string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func alertRules(t *testing.T) map[string]string {
	t.Helper()
	var f ruleFile
	readYAML(t, "lvsd-alerts.yml", &f)
	rules := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r.Expr
		}
	}
	if len(rules) == 0 {
		t.Fatal("lvsd-alerts.yml has no alerts")
	}
	return rules
}

// TestAlertRules runs the rules' unit tests with promtool.
func TestAlertRules(t *testing.T) {
	promtool := promtoolPath(t)
	cmd := exec.Command(promtool, "test", "rules", "lvsd-alerts.test.yml")
	cmd.Dir = monitoringDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// TestEveryAlertIsTested: each alert has a case where it fires and one
// where it does not.
func TestEveryAlertIsTested(t *testing.T) {
	var tests ruleTests
	readYAML(t, "lvsd-alerts.test.yml", &tests)
	firing, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, c := range tc.Cases {
			if len(c.ExpAlerts) > 0 {
				firing[c.Alert] = true
			} else {
				silent[c.Alert] = true
			}
		}
	}
	for alert := range alertRules(t) {
		if !firing[alert] {
			t.Errorf("no test where %s fires", alert)
		}
		if !silent[alert] {
			t.Errorf("no test where %s stays silent", alert)
		}
	}
}

// dashboardExprs returns every PromQL expression of the dashboard: panel
// targets, annotations and template variables' queries, by where they are.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, "lvsd-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("lvsd-dashboard.json: %v", err)
	}
	exprs := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					exprs[path+"."+k] = s
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", d)
	if len(exprs) < 10 {
		t.Fatalf("only %d expressions in the dashboard", len(exprs))
	}
	return exprs
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlNumbers  = regexp.MustCompile(`(^|[^\w:$])\d[\w.]*`) // 0.5, 1e3, 15m, 1h30m
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	labelValues    = regexp.MustCompile(`label_values\(([^,()]*),\s*[a-zA-Z_]\w*\s*\)`)
	promqlIdent    = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywords = []string{"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "Inf", "NaN"}
)

// metricNames returns the metric names an expression reads: what is left
// of it without strings, label matchers, ranges, grouping clauses,
// numbers and durations, function names (identifiers before a
// parenthesis), keywords and Grafana variables.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = labelValues.ReplaceAllString(e, "$1")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlNumbers.ReplaceAllString(e, "$1 ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	var names []string
	for _, m := range promqlIdent.FindAllStringSubmatch(e, -1) {
		id := m[0]
		if m[1] != "" || strings.HasPrefix(id, "$") || slices.Contains(promqlKeywords, id) {
			continue
		}
		names = append(names, id)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="lvsd"} == 0`, []string{"up"}},
		{`count by (cluster, exported_instance) (lvsd_vrrp_state) unless count by (cluster, exported_instance) (lvsd_vrrp_state == 2)`, []string{"lvsd_vrrp_state", "lvsd_vrrp_state"}},
		{`histogram_quantile(0.9, sum by (instance, le) (rate(a_bucket{x=~"$x",y="sum(b)"}[$__rate_interval]))) > 0.5`, []string{"a_bucket"}},
		{`sum without (to) (increase(t_total[15m] offset 1h)) > 4 and on(instance) c`, []string{"t_total", "c"}},
		{`label_values(lvsd_vrrp_state{job="$job"}, cluster)`, []string{"lvsd_vrrp_state"}},
		{`rate(x[5m]) * 8 + 1e3`, []string{"x"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// exportedNames are the series names a scrape of lvsd has, histograms
// with their _bucket, _sum and _count.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	doc := sampleDocument()
	m := NewMetrics(sourceFunc(func() Document { return doc }))
	observed(m)
	names := map[string]bool{}
	for name, mf := range families(t, m.Handler()) {
		names[name] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	return names
}

// TestMonitoringUsesExportedMetrics: the dashboard and the rules read only
// series lvsd exports, or Prometheus's own up.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	exported["up"] = true
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: %s is not a series lvsd exports (%q)", where, n, expr)
			}
		}
	}
	for alert, expr := range alertRules(t) {
		check("lvsd-alerts.yml "+alert, expr)
	}
	for where, expr := range dashboardExprs(t) {
		check("lvsd-dashboard.json "+where, expr)
	}
}

// TestDashboardPromQL has promtool parse every dashboard query, written
// as a recording rule with Grafana's variables filled in.
func TestDashboardPromQL(t *testing.T) {
	promtool := promtoolPath(t)
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$job", "lvsd", "$cluster", ".*", "$director", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for where, expr := range dashboardExprs(t) {
		if strings.Contains(expr, "label_values(") {
			continue // Grafana's, not PromQL
		}
		n++
		q, _ := json.Marshal(vars.Replace(expr))
		fmt.Fprintf(&rules, "      - record: dashboard_query_%d # %s\n        expr: %s\n", n, where, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}
