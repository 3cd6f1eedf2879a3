package lab

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under continuous integration, where
// every prerequisite is expected to be installed: a missing one is then a
// failure, never a skip, so a broken runner cannot pass by skipping.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because a prerequisite is absent: it fails under
// CI=true and skips with the reason otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "prerequisite missing: " + fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireRoot ends the test through Missing unless it runs as root and every
// named program is on $PATH.
func RequireRoot(t testing.TB, programs ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (run: sudo go test ./integration/...)")
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			Missing(t, "program %q not found (run .ci/install-deps.sh): %v", p, err)
		}
	}
}
