package convert

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/lvsd/lvsd/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the .hcl and .diags golden files")

// goldenCases lists the cases under dir: a NAME.conf is one director's
// file; a directory NAME holds one file per director (NAME/*.conf, in
// name order) and whatever they include.
func goldenCases(t *testing.T, dir string) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			files, _ := filepath.Glob(filepath.Join(p, "*.conf"))
			sort.Strings(files)
			cases[e.Name()] = files
		case strings.HasSuffix(e.Name(), ".conf"):
			cases[strings.TrimSuffix(e.Name(), ".conf")] = []string{p}
		}
	}
	return cases
}

func load(t *testing.T, files []string) ([]*keepalived.File, []Diag) {
	t.Helper()
	var out []*keepalived.File
	var diags []Diag
	for _, f := range files {
		kf, ds := keepalived.Load(f, keepalived.OSFS{})
		out = append(out, kf)
		diags = append(diags, ds...)
	}
	return out, diags
}

func diagLines(ds []Diag) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

// checkGolden compares got with the file, or rewrites it under -update.
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if len(got) == 0 {
			os.Remove(file)
			return
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is stale; run go test ./internal/convert -update (-want +got):\n%s", file, diff)
	}
}

// TestGolden converts every case and compares the cluster file and the
// diagnostics with the golden files. A converted file must parse and
// resolve for every node with lvsd's own config package; where a
// NAME.plan file exists (written by hand from what keepalived programs:
// the rules `ipvsadm -S -n` shows with every real server up), `lvsd plan`
// of its first node must print exactly it.
func TestGolden(t *testing.T) {
	for _, dir := range []string{"testdata/golden", "testdata/samples", "testdata/oracle"} {
		for name, files := range goldenCases(t, dir) {
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				parsed, diags := load(t, files)
				var res Result
				if !keepalived.HasErrors(diags) {
					res = Convert(parsed, optionsFor(dir, name))
				}
				diags = append(diags, res.Diags...)
				base := filepath.Join(dir, name)
				checkGolden(t, base+".hcl", res.HCL)
				checkGolden(t, base+".diags", []byte(diagLines(diags)))
				if res.HCL == nil || keepalived.HasErrors(res.Diags) {
					if _, err := os.Stat(base + ".plan"); err == nil {
						t.Errorf("%s.plan exists but the case does not convert", base)
					}
					return
				}
				checkValid(t, base+".hcl", res.HCL, base+".plan")
			})
		}
	}
}

func optionsFor(dir, name string) Options {
	if name == "names" {
		return Options{Names: []string{"director-a", "director-b"}}
	}
	return Options{}
}

// checkValid parses and resolves the output for every node, and compares
// the plan of the first node with the hand-written one.
func checkValid(t *testing.T, name string, src []byte, planFile string) {
	t.Helper()
	if diff := cmp.Diff(string(hclwrite.Format(src)), string(src)); diff != "" {
		t.Errorf("the output is not formatted as hclwrite.Format does (-formatted +got):\n%s", diff)
	}
	f, diags := config.NewLoader().Parse(name, src)
	if diags.HasErrors() {
		var b bytes.Buffer
		diags.Format(&b, f.Source())
		t.Fatalf("the output does not validate:\n%s", b.String())
	}
	var first *config.Config
	for _, n := range f.NodeNames() {
		cfg, diags := f.Resolve(n)
		if diags.HasErrors() {
			t.Fatalf("node %s: %v", n, diags)
		}
		if first == nil {
			first = cfg
		}
	}
	want, err := os.ReadFile(planFile)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := plan.Write(&got, first); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("plan of node %s differs from %s (-want +got):\n%s", first.Node, planFile, diff)
	}
}

// TestNotSupportedTable puts every keyword of the not-supported table in
// its block and checks that it is reported as such, with its position.
func TestNotSupportedTable(t *testing.T) {
	for key := range notSupported {
		ctx, kw, _ := strings.Cut(key, " ")
		if strings.Contains(kw, ".") || ctx == "top" && strings.ContainsAny(kw[:1], "@$~") {
			continue // options and preprocessor lines have golden cases
		}
		t.Run(key, func(t *testing.T) {
			src, line := inContext(ctx, kw+" 1")
			f, _ := keepalived.Parse("t.conf", []byte(src), nil)
			res := Convert([]*keepalived.File{f}, Options{})
			want := fmt.Sprintf("t.conf:%d:", line)
			for _, d := range res.Diags {
				if !d.Warning && strings.HasPrefix(d.String(), want) && strings.HasPrefix(d.Msg, "not supported: ") && strings.Contains(d.Msg, kw+" ") {
					return
				}
			}
			t.Errorf("%s in %s: no \"not supported\" at line %d:\n%s\n%s", kw, ctx, line, src, diagLines(res.Diags))
		})
	}
}

// TestMonitoringOnlyTable checks that every monitoring-only keyword is a
// warning and a comment, and the conversion still succeeds.
func TestMonitoringOnlyTable(t *testing.T) {
	for key := range monitoringOnly {
		ctx, kw, _ := strings.Cut(key, " ")
		t.Run(key, func(t *testing.T) {
			src, line := inContext(ctx, kw+" 1")
			f, _ := keepalived.Parse("t.conf", []byte(src), nil)
			res := Convert([]*keepalived.File{f}, Options{})
			if keepalived.HasErrors(res.Diags) {
				t.Fatalf("conversion failed:\n%s\n%s", src, diagLines(res.Diags))
			}
			if !bytes.Contains(res.HCL, []byte(fmt.Sprintf("t.conf:%d: %s", line, kw))) {
				t.Errorf("no comment for %s:\n%s", kw, res.HCL)
			}
		})
	}
}

// inContext returns a converting file with the line put in the block ctx,
// and the line's number.
func inContext(ctx, line string) (string, int) {
	const inst = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n"
	const vs = "virtual_server 192.0.2.1 80 {\n lb_kind DR\n protocol TCP\n"
	const rs = " real_server 192.0.2.2 80 {\n"
	switch ctx {
	case "top":
		return line + "\n", 1
	case "global_defs":
		return "global_defs {\n " + line + "\n}\n", 2
	case "vrrp_instance", "*":
		return inst + " " + line + "\n}\n", 7
	case "authentication":
		return inst + " authentication {\n  " + line + "\n }\n}\n", 8
	case "virtual_ipaddress":
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1 " + line + "\n }\n}\n", 5
	case "vrrp_sync_group":
		return inst + "}\nvrrp_sync_group G {\n group {\n  VI_1\n }\n " + line + "\n}\n", 12
	case "virtual_server":
		return vs + " " + line + "\n}\n", 4
	case "real_server":
		return vs + rs + "  " + line + "\n }\n}\n", 5
	case "check":
		return vs + " delay_loop 10\n" + rs + "  TCP_CHECK {\n   " + line + "\n  }\n }\n}\n", 7
	case "url":
		return vs + " delay_loop 10\n" + rs + "  HTTP_GET {\n   url {\n    path /\n    " + line + "\n   }\n  }\n }\n}\n", 9
	case "misc":
		return vs + " delay_loop 10\n" + rs + "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout 2\n   " + line + "\n  }\n }\n}\n", 9
	case "vrrp_script":
		return "vrrp_script chk {\n script /bin/true\n " + line + "\n}\n", 3
	case "track_file":
		return "track_file f {\n file /run/f\n " + line + "\n}\n", 3
	}
	panic("unknown context " + ctx)
}

// largeConf is a generated keepalived.conf of n DR services with two
// TCP-checked real servers each.
func largeConf(n int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id big\n}\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "virtual_server 10.%d.%d.1 80 {\n  delay_loop 5\n  lb_algo wlc\n  lb_kind DR\n  protocol TCP\n", i/250, i%250)
		for r := 2; r < 4; r++ {
			fmt.Fprintf(&b, "  real_server 10.%d.%d.%d 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 2\n    }\n  }\n", i/250, i%250, r)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// TestLarge converts a generated keepalived.conf with 20,000 services and
// logs the time taken (BenchmarkConvertLarge measures it).
func TestLarge(t *testing.T) {
	src := largeConf(20000)
	start := time.Now()
	f, diags := keepalived.Parse("big.conf", src, nil)
	parsed := time.Since(start)
	res := Convert([]*keepalived.File{f}, Options{})
	t.Logf("20000 services, %d bytes: read in %v, read and converted in %v (%d bytes of HCL)", len(src), parsed, time.Since(start), len(res.HCL))
	if keepalived.HasErrors(diags) || keepalived.HasErrors(res.Diags) {
		t.Fatalf("conversion failed: %s%s", diagLines(diags), diagLines(res.Diags)[:200])
	}
	if n := bytes.Count(res.HCL, []byte("\nvirtual_server ")); n != 20000 {
		t.Errorf("%d virtual_server blocks in the output, want 20000", n)
	}
}

// BenchmarkConvertLarge reads and converts the 20,000-service file.
func BenchmarkConvertLarge(b *testing.B) {
	src := largeConf(20000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		f, _ := keepalived.Parse("big.conf", src, nil)
		if res := Convert([]*keepalived.File{f}, Options{}); keepalived.HasErrors(res.Diags) {
			b.Fatal(diagLines(res.Diags))
		}
	}
}

// TestREADMEListsNotSupported checks the README's list of what `lvsd
// convert` refuses against the table: every keyword of the table is named
// in the list's first column, and every keyword named there is refused.
func TestREADMEListsNotSupported(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "\nNot supported yet")
	if !ok {
		t.Fatal("no \"Not supported yet\" list in the README")
	}
	if end := strings.Index(list, "\n## "); end >= 0 {
		list = list[:end]
	}
	listed := map[string]bool{}
	span := regexp.MustCompile("`([^`]+)`")
	word := regexp.MustCompile(`[@$~]?[A-Za-z_][A-Za-z0-9_-]*|[@$~]`)
	for _, row := range strings.Split(list, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range span.FindAllStringSubmatch(cells[1], -1) {
			for _, w := range word.FindAllString(m[1], -1) {
				listed[w] = true
			}
		}
	}
	refused := map[string]bool{}
	for key := range notSupported {
		_, kw, _ := strings.Cut(key, " ")
		kw, _, _ = strings.Cut(kw, ".")
		names := tableKeywords[kw]
		if names == nil {
			names = []string{kw}
		}
		for _, kw := range names {
			refused[kw] = true
			if !listed[kw] {
				t.Errorf("%s is refused (table key %q) but not named in the README's not-supported list", kw, key)
			}
		}
	}
	for w := range listed {
		if !refused[w] && !readmeContext[w] {
			t.Errorf("the README's not-supported list names %s, which the table does not refuse", w)
		}
	}
}

// tableKeywords are the keepalived keywords of the table's entries that
// name a rule rather than a keyword.
var tableKeywords = map[string][]string{
	"garp":    {"garp_master_repeat"},
	"timeout": {"connect_timeout", "misc_timeout"},
	"mask":    {"virtual_server_group", "mask"},
}

// readmeContext are the words of the README's list that are not refused
// keywords themselves: a refused keyword's block, option or value, an
// example of a conditional line or definition.
var readmeContext = map[string]bool{
	"AH": true, "TUN": true, "type": true, "weight": true, "NAME": true, "id": true,
	"$NAME": true, "@id": true, "MISC_CHECK": true, "delay_loop": true,
	"virtual_server": true, "vrrp_sync_group": true, "reverse": true, "SMTP_CHECK": true,
}
