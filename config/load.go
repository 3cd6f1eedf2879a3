package config

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// includable are the top-level blocks an included file may hold; the
// rest of the top level (cluster, node, ipvs, status, include) belongs to
// the main file, which every director reads the same way.
var includable = []string{"virtual_server", "virtual_server_group", "vrrp_instance", "vrrp_sync_group", "track_script", "track_file"}

// includeSpec is the top level of an included file.
var includeSpec = func() *blockSpec {
	s := &blockSpec{Name: "", Doc: "The top level of an included file."}
	for _, b := range schema.Blocks {
		if slices.Contains(includable, b.Name) {
			s.Blocks = append(s.Blocks, b)
		}
	}
	return s
}()

// includedBlocks lists the blocks an included file may hold.
func includedBlocks() string {
	names := make([]string, len(includeSpec.Blocks))
	for i, b := range includeSpec.Blocks {
		names[i] = b.Name
	}
	return strings.Join(names, ", ")
}

// source is one file of a configuration: the main file or an included one.
type source struct {
	name string
	src  []byte
}

// Loader reads cluster files with the files they include. It keeps the
// decoded pieces of the last load (parse.go), so that a reload parses
// again only the pieces of the files that changed and builds again only
// their virtual servers (builtServer); and the last File, so that a
// reload of files that did not change at all costs their reading.
// A Loader is safe for concurrent use.
type Loader struct {
	// mu serialises loads and the builds of their Files: the decoded
	// blocks are shared between the Files of successive loads, and a
	// build marks them as read.
	mu     sync.Mutex
	pieces map[pieceKey]*parsed
	last   *File

	// BeforeParse, when set, is called before each file is parsed with
	// the bytes of the files read so far in this load, the main file
	// first: a caller can size its memory for the load.
	BeforeParse func(total int)
}

func (l *Loader) beforeParse(f *File) {
	if l.BeforeParse != nil {
		l.BeforeParse(f.Size())
	}
}

// NewLoader returns a Loader with nothing cached.
func NewLoader() *Loader {
	return &Loader{}
}

// Load reads filename and the files it includes and parses them. It always
// returns a File when the main file could be read, for Format's snippets.
// When neither the files read nor the set that include names changed
// since the Loader's last good load, it returns that load's File and
// unchanged is true.
func (l *Loader) Load(filename string) (f *File, unchanged bool, diags Diagnostics) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != nil && l.last.name == filename && l.sameSources() {
		return l.last, true, nil
	}
	src, diags := ReadFile(filename)
	if diags.HasErrors() {
		return nil, false, diags
	}
	f = l.parse(filename, src)
	return f, false, f.diags
}

// Forget makes the next Load parse every file that changed since the last
// good load and build its Config even if none did; the pieces of files
// stay cached.
func (l *Loader) Forget() {
	l.mu.Lock()
	l.last = nil
	l.mu.Unlock()
}

// Parse parses a main file already read; its includes are read from the
// file system, relative to filename. The File keeps src: it must not
// change afterwards.
func (l *Loader) Parse(filename string, src []byte) (*File, Diagnostics) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.parse(filename, src)
	return f, f.diags
}

// sameSources reports whether the main file, and every file the last
// load's includes name now, are byte for byte those of the last load.
func (l *Loader) sameSources() bool {
	last := l.last
	if !sameFile(last.name, last.sources[0].src) {
		return false
	}
	names, diags := includedFiles(last.name, last.root)
	if diags.HasErrors() || len(names) != len(last.sources)-1 {
		return false
	}
	for i, inc := range names {
		old := last.sources[i+1]
		if inc.name != old.name || !sameFile(inc.name, old.src) {
			return false
		}
	}
	return true
}

func (l *Loader) parse(filename string, src []byte) *File {
	f := &File{mu: &l.mu, name: filename, sources: []source{{filename, src}}}
	used := make(map[pieceKey]*parsed, len(l.pieces))
	l.beforeParse(f)
	root, diags, n := parseSource(filename, src, schema, l.pieces, used)
	f.parsed = n
	if root == nil {
		f.diags = sortDiags(diags, f.sources)
		return f
	}
	if root.attr("include") != nil {
		var ds Diagnostics
		root, ds = l.includes(f, root, used)
		diags = append(diags, ds...)
	}
	d := &decoder{}
	d.checkRequired(schema, root, hcl.Range{Filename: filename})
	b := &builder{memo: true}
	cfg := b.build(root)
	for _, n := range cfg.Nodes {
		f.nodes = append(f.nodes, n.Name)
	}
	f.root = root
	f.diags = sortDiags(append(append(diags, d.diags...), b.diags...), f.sources)
	if !f.diags.HasErrors() {
		f.cfg = cfg
		l.last = f
		l.pieces = used
	}
	return f
}

// includes reads and parses the files root's include attribute names and
// returns a top level with their blocks after the main file's.
func (l *Loader) includes(f *File, root *block, used map[pieceKey]*parsed) (*block, Diagnostics) {
	names, diags := includedFiles(f.name, root)
	all := []*parsed{itemsOf(root, nil, hcl.Pos{})}
	for _, ref := range names {
		src, err := readFile(ref.name)
		if err != nil {
			diags = append(diags, diagAt(ref.rng, "include: reading %s: %v", ref.name, err))
			continue
		}
		f.sources = append(f.sources, source{ref.name, src})
		l.beforeParse(f)
		inc, ds, n := parseSource(ref.name, src, includeSpec, l.pieces, used)
		f.parsed += n
		diags = append(diags, ds...)
		if inc != nil {
			all = append(all, itemsOf(inc, nil, hcl.Pos{}))
		}
	}
	merged, ds, _ := merge(all, schema)
	merged.used |= root.used // include, read above
	return merged, append(diags, ds...)
}

// includeRef is an included file and the include entry that names it.
type includeRef struct {
	name string
	rng  hcl.Range
}

// includedFiles expands the include attribute of a main file's top level:
// each entry is a path or a glob, relative to the main file's directory.
// A glob may match nothing; a path must name a file. Files come in the
// order of the entries, each glob's matches sorted, each file once.
func includedFiles(mainFile string, root *block) ([]includeRef, Diagnostics) {
	v := root.get("include")
	if v == nil {
		return nil, nil
	}
	dir := filepath.Dir(mainFile)
	mainAbs, _ := filepath.Abs(mainFile)
	seen := map[string]bool{}
	var names []includeRef
	var diags Diagnostics
	for _, it := range v.list {
		pattern := it.str
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(dir, pattern)
		}
		var matches []string
		if strings.ContainsAny(it.str, `*?[\`) {
			m, err := filepath.Glob(pattern)
			if err != nil {
				diags = append(diags, diagAt(it.rng, "include: bad pattern %q: %v", it.str, err))
				continue
			}
			matches = m
		} else {
			matches = []string{pattern}
		}
		for _, name := range matches {
			abs, _ := filepath.Abs(name)
			switch {
			case abs == mainAbs:
				diags = append(diags, diagAt(it.rng, "include %q names the main file itself", it.str))
				continue
			case seen[abs]:
				continue
			}
			seen[abs] = true
			names = append(names, includeRef{name, it.rng})
		}
	}
	return names, diags
}

// sortDiags orders diagnostics by file, in the order the files were
// read, then by position.
func sortDiags(ds Diagnostics, files []source) Diagnostics {
	order := func(name string) int {
		for i, f := range files {
			if f.name == name {
				return i
			}
		}
		return len(files)
	}
	slices.SortStableFunc(ds, func(a, b *Diagnostic) int {
		if a.Filename != b.Filename {
			return order(a.Filename) - order(b.Filename)
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return ds
}
