package command

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as the commands' supervisor, as
// lvsd's main does, and fails the package if a test leaves a goroutine
// behind.
func TestMain(m *testing.M) {
	SuperviseIfAsked()
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperDaemon())
	}
	goleak.VerifyTestMain(m)
}
