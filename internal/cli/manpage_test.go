package cli

import (
	"os"
	"regexp"
	"slices"
	"strings"
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

// TestBashCompletion keeps the packaged bash completion in step with the
// commands: every command and every flag of it is offered.
func TestBashCompletion(t *testing.T) {
	src, err := os.ReadFile("../../packaging/deb/lvsd.bash-completion")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*local commands="([^"]*)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no commands list in the completion script")
	}
	listed := strings.Fields(string(m[1]))
	for _, c := range Commands() {
		if !slices.Contains(listed, c.Name) {
			t.Errorf("the completion does not offer the command %s", c.Name)
		}
		// The flags offered after the command: its case branch.
		branch := regexp.MustCompile(`(?m)^\s*(?:[a-z|\s]*\|\s*)?` + regexp.QuoteMeta(c.Name) + `(?:\s*\|[a-z|\s]*)?\)([^;]*;;|(?s:.*?);;)`).FindSubmatch(src)
		for _, f := range c.Flags {
			if branch == nil || !regexp.MustCompile(`(^|[\s"])`+regexp.QuoteMeta(f.Dash())+`([\s"]|$)`).Match(branch[1]) {
				t.Errorf("the completion does not offer %s %s", c.Name, f.Dash())
			}
		}
	}
}
