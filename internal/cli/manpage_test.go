package cli

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCommandsDescribeEveryFlag: the manual's view of a command, read from
// its -h output, has every command and, for run, every flag.
func TestCommandsDescribeEveryFlag(t *testing.T) {
	docs := Commands()
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
		if d.Summary == "" || d.Example == "" {
			t.Errorf("%s: no summary or example", d.Name)
		}
	}
	for n := range commands {
		if !slices.Contains(names, n) {
			t.Errorf("Commands lacks %s", n)
		}
	}
	if names[0] != "run" {
		t.Errorf("first command %s, want run", names[0])
	}
	run := docs[slices.Index(names, "run")]
	want := []FlagDoc{
		{"c", "FILE", "cluster FILE (env LVSD_CONFIG)"},
		{"config", "string", "same as -c"},
		{"log-format", "string", `log format on stderr: text or json (default "text")`},
		{"log-level", "string", `least important log level: debug, info, warn or error (default "info")`},
		{"node", "NAME", "this director's node NAME (env LVSD_NODE)"},
		{"socket", "PATH", "control socket PATH, overriding status.socket (env LVSD_SOCKET)"},
	}
	if diff := cmp.Diff(want, run.Flags); diff != "" {
		t.Errorf("run's flags (-want +got):\n%s", diff)
	}
	status := docs[slices.Index(names, "status")]
	if i := slices.IndexFunc(status.Flags, func(f FlagDoc) bool { return f.Name == "json" }); i < 0 || status.Flags[i].Arg != "" {
		t.Errorf("status --json is not a switch: %+v", status.Flags)
	}
}
