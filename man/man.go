// Package man generates lvsd's manual pages: lvsd(8) from the commands'
// usage text and lvsd.hcl(5) from the config decoder's schema, the one
// REFERENCE.md comes from. The pages in this directory are its output; a
// test keeps them in step (make docs rewrites them).
package man

import (
	"io"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/cli"
)

// Page is one manual page: its file name in this directory and its writer.
type Page struct {
	File  string
	Write func(io.Writer) error
}

// Pages are lvsd's manual pages.
func Pages() []Page {
	return []Page{
		{"lvsd.8", cli.WriteManPage},
		{"lvsd.hcl.5", config.WriteManPage},
	}
}
