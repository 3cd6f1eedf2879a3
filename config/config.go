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
	"fmt"
	"slices"
	"sync"
)

// File is a parsed cluster file with the files it includes, checked as far
// as that can be done without knowing the node. It keeps their sources for
// diagnostic snippets.
type File struct {
	// mu serialises Resolve with the loads of the Loader that made the
	// File: building marks the decoded tree as read, and the tree is
	// shared with that Loader's other Files.
	mu      *sync.Mutex
	name    string
	sources []source // the main file first
	parsed  int      // bytes parsed, not taken from a Loader's cache
	root    *block   // nil after a syntax error
	nodes   []string
	// cfg is the Config built by the checks of Parse; the first Resolve
	// takes it rather than building the same again.
	cfg   *Config
	diags Diagnostics
}

// Source returns the file's contents keyed by its name, as
// Diagnostics.Format wants them.
func (f *File) Source() map[string][]byte {
	m := make(map[string][]byte, len(f.sources))
	for _, s := range f.sources {
		m[s.name] = s.src
	}
	return m
}

// Size is the size in bytes of the main file and the files it includes.
func (f *File) Size() int {
	n := 0
	for _, s := range f.sources {
		n += len(s.src)
	}
	return n
}

// Parsed is the size in bytes of what the load parsed: all of Size for a
// first load, the pieces that changed for a Loader's reload.
func (f *File) Parsed() int { return f.parsed }

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
	f.mu.Lock()
	cfg := f.cfg
	f.cfg = nil
	if cfg == nil {
		// Building again gives every Config its own slices and maps.
		b := &builder{}
		cfg = b.build(f.root)
		if b.diags.HasErrors() {
			f.mu.Unlock()
			// Parse ran the same checks; reaching this is a bug in this package.
			return nil, sortDiags(b.diags, f.sources)
		}
	}
	f.mu.Unlock()
	cfg.File = f.name
	cfg.Node = node
	if cfg.BGP != nil {
		for _, n := range cfg.Nodes {
			if n.Name == node && n.RouterID.IsValid() {
				cfg.BGP.RouterID = n.RouterID
			}
		}
	}
	for i := range cfg.VRRPInstances {
		vi := &cfg.VRRPInstances[i]
		vi.Priority = defaultPriority
		if p, ok := vi.NodePriorities[node]; ok {
			vi.Priority = p
		}
	}
	return cfg, nil
}

// DefaultNode is the node lvsd runs as when none is named: the only
// declared node if there is exactly one, else the host name.
func DefaultNode(f *File, hostname string) string {
	if f != nil && len(f.nodes) == 1 {
		return f.nodes[0]
	}
	return hostname
}
