package cli

import (
	"fmt"
	"strings"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/buildinfo"
	"github.com/lvsd/lvsd/internal/memlimit"
	"github.com/lvsd/lvsd/internal/plan"
)

func runVersion(env Env, args []string) int {
	fs := newFlags(env, "version")
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	fmt.Fprintln(env.Stdout, buildinfo.String())
	return exitOK
}

// readConfig reads and parses the cluster file and the files it
// includes, printing diagnostics.
func readConfig(env Env, file string) (*config.File, bool) {
	if file == "" {
		fmt.Fprintln(env.Stderr, "lvsd: no config file: pass -c FILE or set LVSD_CONFIG")
		return nil, false
	}
	l := config.NewLoader()
	l.BeforeParse = memlimit.ForConfig
	f, _, diags := l.Load(file)
	if diags.HasErrors() {
		var src map[string][]byte
		if f != nil {
			src = f.Source()
		}
		diags.Format(env.Stderr, src)
		return nil, false
	}
	return f, true
}

func runValidate(env Env, args []string) int {
	fs := newFlags(env, "validate")
	file, node := configFlags(env, fs)
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	f, ok := readConfig(env, *file)
	if !ok {
		return exitConfig
	}
	// Parse has run every check of every declared node (each node's
	// priority in each instance, the one owner of priority 255); Resolve
	// only picks the node. So one Resolve answers for all of them, where
	// one per node would build the whole config once per node: quadratic
	// in node blocks.
	name := *node
	if nodes := f.NodeNames(); name == "" && len(nodes) > 0 {
		name = nodes[0]
	}
	cfg, diags := f.Resolve(name)
	if diags.HasErrors() {
		diags.Format(env.Stderr, f.Source())
		return exitConfig
	}
	fmt.Fprintf(env.Stdout, "%s: valid: cluster %q, %s, %d VRRP instance(s), %d virtual server(s)\n",
		*file, cfg.Cluster, nodeSummary(f.NodeNames()), len(cfg.VRRPInstances), len(cfg.VirtualServers))
	return exitOK
}

func nodeSummary(nodes []string) string {
	switch len(nodes) {
	case 0:
		return "no node blocks"
	case 1:
		return "node " + nodes[0]
	}
	return "nodes " + strings.Join(nodes, ", ")
}

func runPlan(env Env, args []string) int {
	fs := newFlags(env, "plan")
	file, node := configFlags(env, fs)
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	f, ok := readConfig(env, *file)
	if !ok {
		return exitConfig
	}
	name := *node
	if name == "" {
		host, _ := env.Hostname()
		name = config.DefaultNode(f, host)
	}
	cfg, diags := f.Resolve(name)
	if diags.HasErrors() {
		diags.Format(env.Stderr, f.Source())
		return exitConfig
	}
	if err := plan.Write(env.Stdout, cfg); err != nil {
		fmt.Fprintf(env.Stderr, "lvsd: %v\n", err)
		return exitStart
	}
	return exitOK
}
