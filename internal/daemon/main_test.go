package daemon

import (
	"os"
	"testing"

	"github.com/lvsd/lvsd/internal/command"
)

// TestMain lets the test binary serve as the supervisor of the notify and
// exec commands, as lvsd's main does.
func TestMain(m *testing.M) {
	command.SuperviseIfAsked()
	os.Exit(m.Run())
}
