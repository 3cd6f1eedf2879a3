package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// writeFiles writes files (name -> contents) under a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func vsBlock(name, addr string, weight int) string {
	return fmt.Sprintf("virtual_server %q {\n  address = %q\n\n  real_server \"10.1.0.1:80\" {\n    weight = %d\n  }\n}\n", name, addr, weight)
}

const includeMain = `cluster = "c"
include = ["conf.d/*.hcl", "vrrp.hcl", "none.d/*.hcl"]

virtual_server "main" {
  address = "10.0.0.1:80"
}
`

const includeVRRP = `vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}

vrrp_sync_group "G" {
  instances = ["VI_1"]
}

track_script "chk" {
  command = ["/bin/true"]
}

track_file "maint" {
  path = "/run/maint"
}
`

const includeGroup = `virtual_server_group "edge" {
  addresses = ["10.0.0.10-11:80"]
}

virtual_server "edge" {
  group = "edge"

  real_server "10.1.0.2:80" {}
}
`

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"lvsd.hcl":        includeMain,
		"conf.d/b.hcl":    vsBlock("b", "10.0.0.3:80", 2),
		"conf.d/a.hcl":    vsBlock("a", "10.0.0.2:80", 1),
		"conf.d/note.txt": "not matched",
		"vrrp.hcl":        includeVRRP,
		"conf.d/c.hcl":    includeGroup,
	})
	cfg, _, diags := Load(filepath.Join(dir, "lvsd.hcl"), "x")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var names []string
	for _, vs := range cfg.VirtualServers {
		names = append(names, vs.Name)
	}
	// The main file's blocks first, then each include entry's files in
	// turn, a glob's in name order.
	if diff := cmp.Diff([]string{"main", "a", "b", "edge/10.0.0.10:80", "edge/10.0.0.11:80"}, names); diff != "" {
		t.Errorf("virtual servers (-want +got):\n%s", diff)
	}
	if len(cfg.VRRPInstances) != 1 || len(cfg.SyncGroups) != 1 || len(cfg.TrackScripts) != 1 || len(cfg.TrackFiles) != 1 {
		t.Errorf("instances %d, sync groups %d, track scripts %d, track files %d; want 1 each",
			len(cfg.VRRPInstances), len(cfg.SyncGroups), len(cfg.TrackScripts), len(cfg.TrackFiles))
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // FILE:LINE:COL: message, FILE relative to the directory
	}{{
		name: "missing explicit path",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"conf.d/*.hcl\", \"gone.hcl\"]\n",
		},
		want: "lvsd.hcl:2:28: include: reading",
	}, {
		name: "error in an included file names its line",
		files: map[string]string{
			"lvsd.hcl":     "cluster = \"c\"\ninclude = [\"conf.d/*.hcl\"]\n",
			"conf.d/a.hcl": "\n\nvirtual_server \"a\" {\n  address   = \"10.0.0.2:80\"\n  scheduler = \"nope\"\n}\n",
		},
		want: "conf.d/a.hcl:5:15: unknown scheduler \"nope\"",
	}, {
		name: "syntax error in an included file",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"a.hcl\"]\n",
			"a.hcl":    "virtual_server \"a\" {\n  address = \n}\n",
		},
		want: "a.hcl:2:",
	}, {
		name: "main-file attribute in an included file",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"a.hcl\"]\n",
			"a.hcl":    "\ncluster = \"d\"\n",
		},
		want: "a.hcl:2:1: cluster belongs in the main file",
	}, {
		name: "main-file block in an included file",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"a.hcl\"]\n",
			"a.hcl":    "ipvs {\n}\n",
		},
		want: "a.hcl:1:1: ipvs belongs in the main file",
	}, {
		name: "the main file including itself",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"*.hcl\"]\n",
		},
		want: "lvsd.hcl:2:12: include \"*.hcl\" names the main file itself",
	}, {
		name: "a duplicate across files",
		files: map[string]string{
			"lvsd.hcl": "cluster = \"c\"\ninclude = [\"a.hcl\"]\n" + vsBlock("a", "10.0.0.2:80", 1),
			"a.hcl":    vsBlock("a", "10.0.0.3:80", 1),
		},
		want: "a.hcl:1:16: duplicate virtual_server \"a\"",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, f, diags := Load(filepath.Join(dir, "lvsd.hcl"), "x")
			if !diags.HasErrors() {
				t.Fatal("loaded without errors")
			}
			got := strings.TrimPrefix(diags[0].Error(), dir+"/")
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("first diagnostic = %q, want it to start with %q (all: %v)", got, tt.want, diags)
			}
			// Format finds the snippet of an included file.
			var buf bytes.Buffer
			diags.Format(&buf, f.Source())
			if diags[0].Line > 0 && !strings.Contains(buf.String(), " | ") {
				t.Errorf("no snippet in:\n%s", buf.String())
			}
		})
	}
}

// TestLoaderReparsesOnlyChanged checks that a reload decodes again only
// the file that changed, and that a load of unchanged files returns the
// last File at once.
func TestLoaderReparsesOnlyChanged(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"lvsd.hcl":     includeMain,
		"conf.d/a.hcl": vsBlock("a", "10.0.0.2:80", 1),
		"conf.d/b.hcl": vsBlock("b", "10.0.0.3:80", 1),
		"vrrp.hcl":     includeVRRP,
	})
	main := filepath.Join(dir, "lvsd.hcl")
	l := NewLoader()
	f1, unchanged, diags := l.Load(main)
	if diags.HasErrors() || unchanged {
		t.Fatalf("first load: unchanged %v, %v", unchanged, diags)
	}
	f2, unchanged, diags := l.Load(main)
	if diags.HasErrors() || !unchanged || f2 != f1 {
		t.Fatalf("second load of the same files: unchanged %v, same File %v, %v", unchanged, f2 == f1, diags)
	}

	if err := os.WriteFile(filepath.Join(dir, "conf.d/b.hcl"), []byte(vsBlock("b", "10.0.0.3:80", 7)), 0o644); err != nil {
		t.Fatal(err)
	}
	f3, unchanged, diags := l.Load(main)
	if diags.HasErrors() || unchanged {
		t.Fatalf("load after a change: unchanged %v, %v", unchanged, diags)
	}
	vs1, vs3 := f1.root.blocks["virtual_server"], f3.root.blocks["virtual_server"]
	for i, name := range []string{"main", "a", "b"} {
		reused := vs1[i] == vs3[i]
		if reused != (name != "b") {
			t.Errorf("virtual_server %q reused from the last load: %v", name, reused)
		}
	}
	cfg, diags := f3.Resolve("x")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if w := cfg.VirtualServers[2].RealServers[0].Weight; w != 7 {
		t.Errorf("weight after the change = %d, want 7", w)
	}

	// A new file matched by a glob is a change.
	if err := os.WriteFile(filepath.Join(dir, "conf.d/c.hcl"), []byte(vsBlock("c", "10.0.0.4:80", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, unchanged, diags := l.Load(main); diags.HasErrors() || unchanged {
		t.Fatalf("load after a new file: unchanged %v, %v", unchanged, diags)
	}
}

// TestPiecesMatchWhole checks that parsing a large file in pieces gives
// what parsing it whole gives: the same Config when it is valid, the same
// diagnostics when it is not, wherever the mistake is.
func TestPiecesMatchWhole(t *testing.T) {
	src := bigConfig(300)
	if len(src) < 4*pieceSize {
		t.Fatalf("the file is %d bytes: too few pieces of %d", len(src), pieceSize)
	}
	mistakes := []struct{ name, old, new string }{
		{"valid", "", ""},
		{"syntax error", `"vs-150" {`, `"vs-150" {{`},
		{"unclosed block at the end", `"vs-299" {`, `"vs-299" { {`},
		{"bad value", `"vs-200" {
  address   = "10.0.0.200:80"`, `"vs-200" {
  address   = "10.0.0.200"`},
		{"top-level attribute set twice", "# generated\n", "# generated\n" + strings.Repeat("\n", 1) + "cluster = \"b\"\n"},
		{"top-level attribute set again far away", `virtual_server "vs-250"`, "cluster = \"b\"\nvirtual_server \"vs-250\""},
		{"duplicate service far apart", `"vs-280"`, `"vs-3"`},
		{"unclosed string", `"/healthz"`, `"/healthz`},
	}
	for _, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			text := bytes.Replace(src, []byte(m.old), []byte(m.new), 1)
			if m.old != "" && bytes.Equal(text, src) {
				t.Fatalf("%q is not in the file", m.old)
			}
			pieced, pd := Parse("big.hcl", text)
			var wholeRoot *block
			var wd Diagnostics
			if d := checkLimits("big.hcl", text); d != nil {
				wd = Diagnostics{d}
			} else {
				wholeRoot, wd = parseWhole("big.hcl", text, schema)
			}
			if wholeRoot != nil {
				d := &decoder{}
				d.checkRequired(schema, wholeRoot, hcl.Range{Filename: "big.hcl"})
				b := &builder{}
				b.build(wholeRoot)
				wd = append(append(wd, d.diags...), b.diags...)
			}
			wd = sortDiags(wd, []source{{name: "big.hcl"}})
			if diff := cmp.Diff(wd.Error(), pd.Error()); diff != "" && len(wd)+len(pd) > 0 {
				t.Errorf("diagnostics (-whole +pieces):\n%s", diff)
			}
			if m.name != "valid" {
				if !pd.HasErrors() {
					t.Error("no error")
				}
				return
			}
			got, _ := pieced.Resolve("a")
			b := &builder{}
			want := b.build(wholeRoot)
			want.File, want.Node = "big.hcl", "a"
			for i := range want.VRRPInstances {
				want.VRRPInstances[i].Priority = got.VRRPInstances[i].Priority
			}
			if diff := cmp.Diff(want, got, netipOpts); diff != "" {
				t.Errorf("config (-whole +pieces):\n%s", diff)
			}
		})
	}
}

// TestBeforeParse checks that a Loader tells its caller the bytes read
// before each file is parsed, the main file first.
func TestBeforeParse(t *testing.T) {
	files := map[string]string{
		"lvsd.hcl":     includeMain,
		"conf.d/a.hcl": vsBlock("a", "10.0.0.2:80", 1),
		"vrrp.hcl":     includeVRRP,
	}
	dir := writeFiles(t, files)
	var totals []int
	l := NewLoader()
	l.BeforeParse = func(total int) { totals = append(totals, total) }
	if _, _, diags := l.Load(filepath.Join(dir, "lvsd.hcl")); diags.HasErrors() {
		t.Fatal(diags)
	}
	m, a := len(files["lvsd.hcl"]), len(files["conf.d/a.hcl"])
	want := []int{m, m + a, m + a + len(files["vrrp.hcl"])}
	if diff := cmp.Diff(want, totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
}

// TestReloadBuildsOnlyChanged checks that a reload builds again only the
// virtual servers of the pieces that changed, reusing what the last load
// built for the others, and that the result is what a fresh load gives.
func TestReloadBuildsOnlyChanged(t *testing.T) {
	src := bigConfig(300)
	l := NewLoader()
	f1, diags := l.Parse("big.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg1, _ := f1.Resolve("a")

	next := bytes.Replace(src, []byte(`"vs-150" {
  address   = "10.0.0.150:80"
  scheduler = "wlc"`), []byte(`"vs-150" {
  address   = "10.0.0.150:80"
  scheduler = "rr"`), 1)
	if bytes.Equal(next, src) {
		t.Fatal("vs-150 is not in the file")
	}
	f2, diags := l.Parse("big.hcl", next)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg2, _ := f2.Resolve("a")
	if f1.Parsed() != len(src) || f2.Parsed() == 0 || f2.Parsed() > 4*pieceSize {
		t.Errorf("bytes parsed: first load %d of %d, reload %d; want all, then the pieces around the change", f1.Parsed(), len(src), f2.Parsed())
	}

	fresh, _ := Parse("big.hcl", next)
	want, _ := fresh.Resolve("a")
	if diff := cmp.Diff(want, cfg2, netipOpts); diff != "" {
		t.Fatalf("config after the reload (-fresh load +reload):\n%s", diff)
	}
	if got := cfg2.VirtualServers[150].Scheduler; got != "rr" {
		t.Errorf("vs-150's scheduler after the reload = %q, want rr", got)
	}
	// A virtual server was built again exactly when its block was
	// decoded again; the others share their real servers with the last
	// load's Config.
	vb1, vb2 := f1.root.blocks["virtual_server"], f2.root.blocks["virtual_server"]
	rebuilt := 0
	for i := range cfg2.VirtualServers {
		shared := &cfg1.VirtualServers[i].RealServers[0] == &cfg2.VirtualServers[i].RealServers[0]
		if reused := vb1[i] == vb2[i]; shared != reused {
			t.Errorf("%s: built again %v, its block decoded again %v", cfg2.VirtualServers[i].Name, !shared, !reused)
		}
		if !shared {
			rebuilt++
		}
	}
	if rebuilt == 0 || rebuilt > 300/4 {
		t.Errorf("%d of 300 virtual servers built again, want those of one piece", rebuilt)
	}
}

// TestReloadGroupChangeReachesMembers checks that a virtual server with a
// group is built again when only its group changed, in another piece.
func TestReloadGroupChangeReachesMembers(t *testing.T) {
	group := func(addrs string) []byte {
		return slices.Concat([]byte("cluster = \"c\"\nvirtual_server_group \"g\" {\n  addresses = "+addrs+"\n}\n"),
			bigConfig(60)[len("cluster = \"big\"\n"):],
			[]byte("virtual_server \"web\" {\n  group = \"g\"\n  real_server \"192.0.2.50:80\" {}\n}\n"))
	}
	l := NewLoader()
	if _, diags := l.Parse("g.hcl", group(`["192.0.2.1:80"]`)); diags.HasErrors() {
		t.Fatal(diags)
	}
	f, diags := l.Parse("g.hcl", group(`["192.0.2.1:80", "192.0.2.2:80"]`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, _ := f.Resolve("a")
	var members []string
	for _, vs := range cfg.VirtualServers {
		if strings.HasPrefix(vs.Name, "web") {
			members = append(members, vs.Address.String())
		}
	}
	if want := []string{"192.0.2.1:80", "192.0.2.2:80"}; !slices.Equal(members, want) {
		t.Errorf("members after the group changed = %v, want %v", members, want)
	}
}

// TestReloadMovedPieces checks that pieces moved by an edit above them are
// taken from the cache and report their mistakes where they now are, as a
// fresh load does: after lines are inserted at the top, and after the
// text of many services is repeated further down.
func TestReloadMovedPieces(t *testing.T) {
	src := bigConfig(300)
	l := NewLoader()
	if _, diags := l.Parse("big.hcl", src); diags.HasErrors() {
		t.Fatal(diags)
	}
	// Three lines more at the top: every piece below moves.
	moved := bytes.Replace(src, []byte("# generated\n"), []byte("# generated\n\n# by hand\n\n"), 1)
	f, diags := l.Parse("big.hcl", moved)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if f.Parsed() > 4*pieceSize {
		t.Errorf("after three lines inserted at the top, %d of %d bytes parsed again", f.Parsed(), len(moved))
	}
	got, _ := f.Resolve("a")
	fresh, _ := Parse("big.hcl", moved)
	want, _ := fresh.Resolve("a")
	if diff := cmp.Diff(want, got, netipOpts); diff != "" {
		t.Errorf("config after the move (-fresh load +reload):\n%s", diff)
	}

	for _, tc := range []struct{ name, old, new string }{
		// The first vs-100 is in a moved piece.
		{"duplicate of a moved service", `virtual_server "vs-280"`, `virtual_server "vs-100"`},
		// The services from vs-100 on, repeated: the repeated pieces
		// are the same text as cached ones.
		{"repeated text", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := bytes.Replace(moved, []byte(tc.old), []byte(tc.new), 1)
			if tc.old == "" {
				at := bytes.Index(moved, []byte(`virtual_server "vs-100"`))
				text = slices.Concat(moved, moved[at:])
			}
			_, diags := l.Parse("big.hcl", text)
			_, want := Parse("big.hcl", text)
			if !want.HasErrors() {
				t.Fatal("no mistake in the file")
			}
			if diff := cmp.Diff(want.Error(), diags.Error()); diff != "" {
				t.Errorf("diagnostics (-fresh load +reload):\n%s", diff)
			}
		})
	}
}

// TestUnchangedLoadAllocatesLittle checks that a Load of files that did
// not change compares them without reading them whole: on a large
// configuration, a reload that allocates the files' size makes the
// collector pass over everything the daemon keeps.
func TestUnchangedLoadAllocatesLittle(t *testing.T) {
	src := bigConfig(3000) // about 1 MB
	dir := writeFiles(t, map[string]string{"lvsd.hcl": string(src)})
	main := filepath.Join(dir, "lvsd.hcl")
	l := NewLoader()
	if _, _, diags := l.Load(main); diags.HasErrors() {
		t.Fatal(diags)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, unchanged, diags := l.Load(main)
	runtime.ReadMemStats(&after)
	if diags.HasErrors() || !unchanged {
		t.Fatalf("second load: unchanged %v, %v", unchanged, diags)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(src))/8 {
		t.Errorf("a load of an unchanged %d-byte file allocated %d bytes", len(src), got)
	}
}
