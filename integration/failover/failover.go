// Package failover measures how long a VRRP backup takes to replace a
// master that dies (SIGKILL) or stops (SIGTERM), for pairs of lvsd and
// keepalived routers in a lab LAN, and checks that the two implementations
// agree on who is master.
//
// The reference is the protocol: a backup declares the master down when no
// advert arrived for Master_Down_Interval (RFC 5798 §6.1 for version 3,
// RFC 3768 §6.1 for version 2), and a master that stops sends a priority-0
// advert, after which the backup waits only its Skew_Time. Every gap is
// measured on the wire, from the timestamps of the lab's observer capture
// (kernel time at the bridge), never from the clock of the test: the old
// master's last advert to the new master's first advert and to its first
// gratuitous ARP.
//
// A pair is two hosts of one lab LAN, "a" (192.0.2.11) running the master
// and "b" (192.0.2.12) the backup, sharing one virtual router (VRID 51,
// VIP 192.0.2.100). The bridge is made to flood every frame, so the observer
// also sees unicast adverts.
package failover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/vrrp"
)

// Impl names a VRRP implementation.
type Impl string

// The implementations a pair can run.
const (
	LVSD       Impl = "lvsd"
	Keepalived Impl = "keepalived"
)

// Fixed lab facts of every pair.
const (
	VRID     = 51
	VIP      = "192.0.2.100"
	AddrA    = "192.0.2.11" // the master's host
	AddrB    = "192.0.2.12" // the backup's host
	Instance = "VI_1"
)

// Case describes one pair.
type Case struct {
	// Master runs on host "a" with MasterPriority, Backup on "b" with
	// BackupPriority.
	Master, Backup Impl
	// Version is the VRRP version, 2 or 3.
	Version int
	// Interval is the advertisement interval: whole seconds for version
	// 2, centiseconds for version 3.
	Interval time.Duration
	// Unicast sends adverts to the peer's address instead of 224.0.0.18.
	Unicast bool
	// AuthPass is the version 2 simple password ("" for none).
	AuthPass string
	// MasterPriority and BackupPriority default to 150 and 100.
	MasterPriority, BackupPriority uint8
}

func (c Case) withDefaults() Case {
	if c.MasterPriority == 0 {
		c.MasterPriority = 150
	}
	if c.BackupPriority == 0 {
		c.BackupPriority = 100
	}
	if c.Version == 0 {
		c.Version = 3
	}
	return c
}

// String names the case for subtests and tables: "lvsd→keepalived v3
// 100ms unicast" reads "lvsd master, keepalived backup".
func (c Case) String() string {
	c = c.withDefaults()
	s := fmt.Sprintf("%s→%s v%d %v", c.Master, c.Backup, c.Version, c.Interval)
	if c.Unicast {
		s += " unicast"
	}
	if c.AuthPass != "" {
		s += " auth"
	}
	return s
}

// MasterDownInterval is the backup's Master_Down_Interval: how long after
// the master's last advert the backup must take over when the master dies.
func (c Case) MasterDownInterval() time.Duration {
	c = c.withDefaults()
	if c.Version == 2 {
		return vrrp.MasterDownIntervalV2(c.BackupPriority, c.Interval)
	}
	return vrrp.MasterDownInterval(c.BackupPriority, c.Interval)
}

// SkewTime is the backup's Skew_Time: how long after a priority-0 advert
// it takes over.
func (c Case) SkewTime() time.Duration {
	c = c.withDefaults()
	if c.Version == 2 {
		return vrrp.SkewTimeV2(c.BackupPriority)
	}
	return vrrp.SkewTime(c.BackupPriority, c.Interval)
}

// Tolerance is the accepted deviation of a measured gap from the protocol's
// value: 2 % plus 5 ms, room for timer slack and scheduling on a loaded
// machine, far less than a lost advert would cost.
func Tolerance(expected time.Duration) time.Duration {
	return expected/50 + 5*time.Millisecond
}

// Node is one router of a pair.
type Node struct {
	Name     string // lab host name: "a" or "b"
	Impl     Impl
	Addr     string
	Priority uint8
	Host     *lab.Host
	// Socket is lvsd's status socket ("" for keepalived).
	Socket string
	Proc   *lab.Proc

	argv []string
}

// Pair is a running master and backup.
type Pair struct {
	Case           Case
	LAN            *lab.LAN
	Master, Backup *Node
}

// Start builds the LAN, writes both configurations and starts both routers
// (backup first). It does not wait for the election: see WaitElected.
// lvsdBin is the lvsd binary (see Build); it may be "" when neither router
// is lvsd.
func Start(t testing.TB, lvsdBin string, c Case) *Pair {
	t.Helper()
	c = c.withDefaults()
	progs := []string{"ip", "tcpdump"}
	if c.Master == Keepalived || c.Backup == Keepalived {
		progs = append(progs, "keepalived")
	}
	lab.RequireRoot(t, progs...)
	if (c.Master == LVSD || c.Backup == LVSD) && lvsdBin == "" {
		t.Fatal("failover: no lvsd binary")
	}
	// Made before the LAN, so removed after its processes are gone.
	dir, err := os.MkdirTemp("", "failover-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	lan := lab.NewLAN(t, "a", "b")
	lan.AddAddr("a", AddrA+"/24")
	lan.AddAddr("b", AddrB+"/24")
	// Ageing 0: the bridge learns no address and floods every frame, so
	// the observer sees unicast adverts too, as on a hub.
	sw := lan.Prefix() + "-sw"
	if out, err := exec.Command("ip", "-n", sw, "link", "set", lan.Bridge, "type", "bridge", "ageing_time", "0").CombinedOutput(); err != nil {
		t.Fatalf("failover: making %s flood: %v: %s", lan.Bridge, err, out)
	}

	p := &Pair{
		Case:   c,
		LAN:    lan,
		Master: &Node{Name: "a", Impl: c.Master, Addr: AddrA, Priority: c.MasterPriority, Host: lan.Host("a")},
		Backup: &Node{Name: "b", Impl: c.Backup, Addr: AddrB, Priority: c.BackupPriority, Host: lan.Host("b")},
	}
	hcl := filepath.Join(dir, "lvsd.hcl")
	if err := os.WriteFile(hcl, []byte(LVSDConfig(c)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{p.Master, p.Backup} {
		switch n.Impl {
		case LVSD:
			n.Socket = filepath.Join(dir, n.Name+".sock")
			n.argv = []string{lvsdBin, "run", "-c", hcl, "--node", n.Name, "--socket", n.Socket}
		case Keepalived:
			conf := filepath.Join(dir, "keepalived-"+n.Name+".conf")
			if err := os.WriteFile(conf, []byte(KeepalivedConfig(c, n.Priority, n.Addr, p.peer(n).Addr)), 0o644); err != nil {
				t.Fatal(err)
			}
			n.argv = []string{"keepalived", "--vrrp", "-n", "-l", "-f", conf,
				"-p", filepath.Join(dir, "keepalived-"+n.Name+".pid"),
				"-r", filepath.Join(dir, "vrrp-"+n.Name+".pid")}
		default:
			t.Fatalf("failover: unknown implementation %q", n.Impl)
		}
	}
	p.Backup.Start()
	p.Master.Start()
	return p
}

func (p *Pair) peer(n *Node) *Node {
	if n == p.Master {
		return p.Backup
	}
	return p.Master
}

// Start (re)starts the node's router.
func (n *Node) Start() {
	n.Proc = n.Host.Start(n.argv...)
}

// LVSDConfig is the cluster file both lvsd nodes of a case share: node "a"
// has the master's priority, "b" the backup's.
func LVSDConfig(c Case) string {
	c = c.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "cluster = \"failover\"\n\n")
	fmt.Fprintf(&b, "node \"a\" {\n  priority = %d\n}\n", c.MasterPriority)
	fmt.Fprintf(&b, "node \"b\" {\n  priority = %d\n}\n\n", c.BackupPriority)
	fmt.Fprintf(&b, "vrrp_instance %q {\n", Instance)
	fmt.Fprintf(&b, "  interface       = \"eth0\"\n")
	fmt.Fprintf(&b, "  vrid            = %d\n", VRID)
	fmt.Fprintf(&b, "  version         = %d\n", c.Version)
	fmt.Fprintf(&b, "  advert_interval = %q\n", c.Interval.String())
	if c.AuthPass != "" {
		fmt.Fprintf(&b, "  auth_pass       = %q\n", c.AuthPass)
	}
	if c.Unicast {
		fmt.Fprintf(&b, "  unicast_peers   = [%q, %q]\n", AddrA, AddrB)
	}
	fmt.Fprintf(&b, "  virtual_ips     = [\"%s/32\"]\n", VIP)
	fmt.Fprintf(&b, "}\n\nstatus {\n  metrics_listen = \"\"\n}\n")
	return b.String()
}

// KeepalivedConfig is the keepalived.conf of one node of a case.
func KeepalivedConfig(c Case, prio uint8, self, peer string) string {
	c = c.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  vrrp_version %d\n}\n\n", c.Version)
	fmt.Fprintf(&b, "vrrp_instance %s {\n", Instance)
	fmt.Fprintf(&b, "  state BACKUP\n  interface eth0\n")
	fmt.Fprintf(&b, "  virtual_router_id %d\n  priority %d\n", VRID, prio)
	fmt.Fprintf(&b, "  advert_int %s\n", strconv.FormatFloat(c.Interval.Seconds(), 'f', -1, 64))
	if c.AuthPass != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", c.AuthPass)
	}
	if c.Unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", self, peer)
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s/32\n  }\n}\n", VIP)
	return b.String()
}

// State is a node's VRRP state as far as can be seen from outside: lvsd's
// status document says it; for keepalived, holding the VIP means MASTER and
// not holding it BACKUP (the adverts on the wire tell the rest).
func (n *Node) State() (string, error) {
	if n.Impl == LVSD {
		in, err := n.Status()
		if err != nil {
			return "", err
		}
		return in.State, nil
	}
	has, err := n.HasVIP()
	if err != nil {
		return "", err
	}
	if has {
		return status.StateMaster, nil
	}
	return status.StateBackup, nil
}

// Status returns an lvsd node's view of the pair's instance.
func (n *Node) Status() (status.Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	doc, err := status.Get(ctx, n.Socket)
	if err != nil {
		return status.Instance{}, err
	}
	for _, in := range doc.VRRPInstances {
		if in.Name == Instance {
			return in, nil
		}
	}
	return status.Instance{}, fmt.Errorf("%s: no instance %s in the status", n.Name, Instance)
}

// HasVIP reports whether the node's eth0 holds the VIP.
func (n *Node) HasVIP() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := n.Host.Exec(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if err != nil {
		return false, err
	}
	return strings.Contains(out, " "+VIP+"/32 "), nil
}

// WaitElected waits until the master node is MASTER and the backup BACKUP,
// as State sees them, and the backup's view is steady (lvsd knows the
// master's address).
func (p *Pair) WaitElected(within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for {
		ms, err1 := p.Master.State()
		bs, err2 := p.Backup.State()
		last = fmt.Sprintf("master %s=%s (%v), backup %s=%s (%v)", p.Master.Impl, ms, err1, p.Backup.Impl, bs, err2)
		if err1 == nil && err2 == nil && ms == status.StateMaster && bs == status.StateBackup {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no election within %v: %s", within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signalName is the short name of the signals a failover uses.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
