package config

// Parse parses and checks a cluster file, with the files it includes, in
// a Loader of its own.
func Parse(filename string, src []byte) (*File, Diagnostics) {
	return NewLoader().Parse(filename, src)
}

// Load reads filename and resolves it for node, in a Loader of its own.
// The File is returned whenever the file could be read.
func Load(filename, node string) (*Config, *File, Diagnostics) {
	f, _, diags := NewLoader().Load(filename)
	if diags.HasErrors() {
		return nil, f, diags
	}
	cfg, diags := f.Resolve(node)
	return cfg, f, diags
}
