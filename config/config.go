// Package config reads lvsd's cluster file: one HCL file, the same on every
// director, that describes the VRRP instances (RFC 5798 v3, RFC 3768 v2),
// the IPVS virtual servers with their real servers and health checks, and
// the daemon's own settings.
//
// Parse checks everything that does not depend on which director reads the
// file; Resolve then picks one node and yields a Config made only of the
// domain types in types.go, so nothing outside this package sees HCL. Every
// error is a Diagnostic naming FILE:LINE:COL of the offending token.
//
// The language is described once, by the schema table in schema.go: the
// decoder accepts exactly what it lists, and WriteReference (REFERENCE.md)
// documents it from the same table.
package config

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// File is a parsed cluster file, checked as far as that can be done without
// knowing the node. It keeps its source for diagnostic snippets.
type File struct {
	// mu serialises Resolve: building marks the decoded tree as read.
	mu    sync.Mutex
	name  string
	src   []byte
	root  *block // nil after a syntax error
	nodes []string
	diags Diagnostics
}

// Parse parses and checks a cluster file. It always returns a File, so that
// Source can feed Diagnostics.Format; when the diagnostics have errors the
// File is not usable and Resolve returns the same diagnostics.
func Parse(filename string, src []byte) (*File, Diagnostics) {
	f := &File{name: filename, src: src}
	if d := checkLimits(filename, src); d != nil {
		f.diags = Diagnostics{d}
		return f, f.diags
	}
	hf, hd := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if hd.HasErrors() {
		// A broken syntax tree gives misleading follow-on errors: stop here.
		f.diags = sortDiags(fromHCL(hd))
		return f, f.diags
	}
	body, ok := hf.Body.(*hclsyntax.Body)
	if !ok {
		f.diags = Diagnostics{{Filename: filename, Message: "not an HCL native syntax file"}}
		return f, f.diags
	}
	d := &decoder{}
	root := &block{}
	d.decodeBody(body, schema, root)
	b := &builder{}
	cfg := b.build(root)
	for _, n := range cfg.Nodes {
		f.nodes = append(f.nodes, n.Name)
	}
	f.root = root
	f.diags = sortDiags(append(d.diags, b.diags...))
	return f, f.diags
}

func sortDiags(ds Diagnostics) Diagnostics {
	slices.SortStableFunc(ds, func(a, b *Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return ds
}

// Source returns the file's contents keyed by its name, as
// Diagnostics.Format wants them.
func (f *File) Source() map[string][]byte {
	return map[string][]byte{f.name: f.src}
}

// NodeNames returns the declared nodes in file order.
func (f *File) NodeNames() []string {
	return slices.Clone(f.nodes)
}

// Resolve returns the configuration as node runs it. The node must be
// declared, unless the file declares no node at all: then every node runs
// the same configuration with the default priorities.
func (f *File) Resolve(node string) (*Config, Diagnostics) {
	if f.diags.HasErrors() {
		return nil, f.diags
	}
	if len(f.nodes) > 0 && !slices.Contains(f.nodes, node) {
		return nil, Diagnostics{{
			Filename: f.name,
			Message:  fmt.Sprintf("node %q is not declared%s", node, declaredList(f.nodes)),
			Detail:   "pick one with --node, or add a node block for this host",
		}}
	}
	// Building again gives every Config its own slices and maps.
	b := &builder{}
	f.mu.Lock()
	cfg := b.build(f.root)
	f.mu.Unlock()
	if b.diags.HasErrors() {
		// Parse ran the same checks; reaching this is a bug in this package.
		return nil, sortDiags(b.diags)
	}
	cfg.File = f.name
	cfg.Node = node
	for i := range cfg.VRRPInstances {
		vi := &cfg.VRRPInstances[i]
		vi.Priority = defaultPriority
		if p, ok := vi.NodePriorities[node]; ok {
			vi.Priority = p
		}
	}
	return cfg, nil
}

// Load reads filename and resolves it for node. The File is returned
// whenever the file could be read, for Format's snippets; a read error is
// one Diagnostic without a position.
func Load(filename, node string) (*Config, *File, Diagnostics) {
	src, diags := ReadFile(filename)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	f, diags := Parse(filename, src)
	if diags.HasErrors() {
		return nil, f, diags
	}
	cfg, diags := f.Resolve(node)
	return cfg, f, diags
}

// DefaultNode is the node lvsd runs as when none is named: the only
// declared node if there is exactly one, else the host name.
func DefaultNode(f *File, hostname string) string {
	if f != nil && len(f.nodes) == 1 {
		return f.nodes[0]
	}
	return hostname
}
