package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRealserverUsageErrors(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"realserver"}, "say up or down"},
		{[]string{"realserver", "--vip", "192.0.2.1"}, "say up or down"},
		{[]string{"realserver", "sideways", "--vip", "192.0.2.1"}, `unknown action "sideways"`},
		{[]string{"realserver", "up"}, "no VIP given"},
		{[]string{"realserver", "up", "--vip", "192.0.2.0/24"}, "host address (/32)"},
		{[]string{"realserver", "up", "--vip", "192.0.2.1", "--method", "nat"}, `unknown method "nat"`},
		{[]string{"realserver", "up", "--vip", "192.0.2.1", "--frob"}, "flag provided but not defined"},
		{[]string{"realserver", "up", "--vip", "192.0.2.1", "extra"}, "unexpected arguments: extra"},
		{[]string{"realserver", "down", "--vip", "192.0.2.1", "--state", broken}, "remove it if it is damaged"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}
