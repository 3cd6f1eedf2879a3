// Command lvsd makes Linux Virtual Server directors highly available:
// VRRP elects the master, the master holds the virtual IPs, and every
// director keeps the kernel's IPVS table equal to the cluster file and the
// health of the real servers. See README.md.
package main

import (
	"os"

	"github.com/lvsd/lvsd/internal/cli"
	"github.com/lvsd/lvsd/internal/command"
)

func main() {
	// Notify and exec commands run under lvsd itself, started again as
	// their supervisor; that process stops here.
	command.SuperviseIfAsked()
	os.Exit(cli.Main(cli.OSEnv(), os.Args[1:]))
}
