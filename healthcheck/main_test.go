package healthcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: checks,
// their connections and the scheduler must all be gone when they return.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
