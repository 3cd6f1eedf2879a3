package healthcheck

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/internal/command"
)

// TestMain lets the test binary serve as the supervisor of exec checks,
// as lvsd's main does, and fails the package if any test leaves a
// goroutine behind: checks, their connections and the scheduler must all
// be gone when they return.
func TestMain(m *testing.M) {
	command.SuperviseIfAsked()
	goleak.VerifyTestMain(m)
}
