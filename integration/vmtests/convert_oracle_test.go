//go:build vm

package vmtests

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/lvsd/lvsd/ipvs"
)

// The host-side test copies the corpus and the README into the guest:
// keepalived's own sample files, files written for each feature lvsd
// converts, and the README whose list of features lvsd does not support
// every refusal must name.
const (
	oracleSamples  = "/keepalived/samples"
	oracleFeatures = "/keepalived/features"
	oracleREADME   = "/keepalived/README.md"
)

// TestConvertOracle checks `lvsd convert` against keepalived itself. For
// each keepalived.conf of the corpus, keepalived runs on it (its checkers
// removed, so every real server counts as up) in a fresh namespace with a
// dummy device for every interface the file names, and lvsd runs the
// converted file (its health checks removed alike) in another: `ipvsadm
// -S -n` must show the same table in both, and keepalived's dump of its
// VRRP instances must match the converted file's. A file keepalived
// refuses (`keepalived -t`) is skipped with keepalived's reason; a file
// lvsd refuses must be refused only for features the README lists as not
// supported.
func TestConvertOracle(t *testing.T) {
	vm.RequireGuest(t)
	bin := os.Getenv("LVSD_BIN")
	if bin == "" {
		lab.Missing(t, "no lvsd binary in the guest ($LVSD_BIN is empty: ./cmd/lvsd did not build)")
	}
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not in the guest: %v", err)
	}
	readme, err := os.ReadFile(oracleREADME)
	if err != nil {
		t.Fatal(err)
	}
	unsupported := readmeUnsupported(string(readme))
	if len(unsupported) < 20 {
		t.Fatalf("found %d keywords in the README's not-supported list; is the section still there?", len(unsupported))
	}
	samples, _ := filepath.Glob(oracleSamples + "/*.conf")
	features, _ := filepath.Glob(oracleFeatures + "/*.conf")
	if len(samples) < 25 || len(features) == 0 {
		t.Fatalf("found %d samples and %d feature files in the guest", len(samples), len(features))
	}
	run(t, "modprobe", "ip_vs")
	// keepalived and lvsd both make the kernel load a scheduler on demand;
	// loading them first keeps that out of the waits below.
	for _, s := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"} {
		_ = exec.Command("modprobe", "ip_vs_"+s).Run()
	}
	start := time.Now()
	// The first dummy device loads the kernel's dummy module; cases that
	// asked for one at the same moment could find the module not yet
	// registered ("Unknown device type"): one device first, alone.
	newOracleNS(t, []string{"warm0"})
	// Each file has namespaces of its own, and most of a case is waiting
	// for processes to start: the cases run side by side.
	t.Run("corpus", func(t *testing.T) {
		for _, file := range append(samples, features...) {
			name := filepath.Base(filepath.Dir(file)) + "/" + strings.TrimSuffix(filepath.Base(file), ".conf")
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				oracleCase(t, bin, file, unsupported)
			})
		}
	})
	t.Logf("%d files in %v", len(samples)+len(features), time.Since(start).Round(time.Millisecond))
}

func oracleCase(t *testing.T, bin, file string, unsupported map[string]bool) {
	// lvsd's reader finds the interfaces; its errors, if any, are the
	// convert step's to report.
	parsed, _ := keepalived.Load(file, keepalived.OSFS{})
	ifaces := oracleInterfaces(parsed)
	ka := newOracleNS(t, ifaces)
	dir := t.TempDir()

	// keepalived's own verdict on the file, with its interfaces present.
	// It exits 5 after warnings too (a deprecated keyword, a default
	// filled in, a value corrected) and then runs as it said; 4 (or
	// anything else) means it would not run the file.
	testLog := filepath.Join(dir, "config-test.log")
	err := ka.command("keepalived", "--config-test="+testLog, "-f", file).Run()
	verdict, _ := os.ReadFile(testLog)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 5:
		t.Logf("keepalived -t warns:\n%s", strings.TrimSpace(string(verdict)))
	default:
		t.Skipf("keepalived -t refuses the file (%v):\n%s", err, strings.TrimSpace(string(verdict)))
	}

	converted := filepath.Join(dir, "lvsd.hcl")
	cmd := exec.Command(bin, "convert", "-o", converted, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		checkRefusal(t, file, stderr.String(), unsupported)
		return
	}

	want, kaVRRP := runKeepalived(t, ka, dir, file)
	src, err := os.ReadFile(converted)
	if err != nil {
		t.Fatal(err)
	}
	got, cfg := runLVSD(t, newOracleNS(t, ifaces), bin, dir, src)
	if diff := cmp.Diff(sortedLines(want), sortedLines(got)); diff != "" {
		t.Errorf("ipvsadm -S -n (-keepalived +lvsd):\n%s", diff)
	}
	if diff := cmp.Diff(kaVRRP, lvsdVRRP(cfg)); diff != "" {
		t.Errorf("VRRP instances (-keepalived +lvsd):\n%s", diff)
	}
	if !t.Failed() {
		t.Logf("%d IPVS lines, %d VRRP instances alike", len(sortedLines(got)), len(kaVRRP))
	}
}

// oracleInterfaces are the interfaces the file names, each of which the
// test makes as a dummy device: an instance's interface, tracked ones,
// the sync daemon's, an address's dev.
func oracleInterfaces(f *keepalived.File) []string {
	if f == nil {
		return []string{"eth0"}
	}
	seen := map[string]bool{}
	var walk func(stmts []*keepalived.Stmt, tracked bool)
	walk = func(stmts []*keepalived.Stmt, tracked bool) {
		for _, s := range stmts {
			switch s.Key.Text {
			case "interface", "lvs_sync_daemon_interface", "lvs_sync_daemon", "default_interface":
				if s.Arg(0) != "" {
					seen[s.Arg(0)] = true
				}
			}
			if tracked && !s.HasBlock {
				seen[s.Key.Text] = true
			}
			for i, a := range s.Args {
				if a.Text == "dev" && i+1 < len(s.Args) {
					seen[s.Args[i+1].Text] = true
				}
			}
			walk(s.Block, s.Key.Text == "track_interface")
		}
	}
	walk(f.Stmts, false)
	seen["eth0"] = true // keepalived's default interface
	return slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
}

// notSupported is a refusal: `FILE:LINE:COL: not supported: KEYWORD (…)`.
var notSupported = regexp.MustCompile(`^[^:]+:\d+:\d+: not supported: (.+?) \(`)

// checkRefusal checks that every error of a refused conversion is a
// positioned `not supported` whose keyword the README lists.
func checkRefusal(t *testing.T, file, stderr string, unsupported map[string]bool) {
	t.Helper()
	var reasons []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.Contains(line, ": warning: ") || strings.HasPrefix(line, "lvsd convert: not converted") {
			continue
		}
		m := notSupported.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(line, file+":") {
			t.Errorf("refused without a positioned not-supported reason: %s", line)
			continue
		}
		if !listed(m[1], unsupported) {
			t.Errorf("refused for %q, which the README's not-supported list does not name: %s", m[1], line)
			continue
		}
		reasons = append(reasons, m[1])
	}
	if len(reasons) == 0 && !t.Failed() {
		t.Errorf("lvsd convert failed without a reason:\n%s", stderr)
	}
	t.Logf("refused by lvsd convert, as the README says: %s", strings.Join(slices.Compact(reasons), "; "))
}

// listed reports whether a word of the refusal's keyword is one the
// README's list names in code.
func listed(keyword string, unsupported map[string]bool) bool {
	for _, w := range keywordWord.FindAllString(keyword, -1) {
		if unsupported[w] {
			return true
		}
	}
	return false
}

// keywordWord is a keepalived keyword, or a preprocessor mark alone.
var keywordWord = regexp.MustCompile(`[@$~]?[A-Za-z_][A-Za-z0-9_]*|[@$~]`)

// readmeUnsupported returns the words in code spans of the README's list
// of what `lvsd convert` does not support yet.
func readmeUnsupported(readme string) map[string]bool {
	_, rest, ok := strings.Cut(readme, "\nNot supported yet")
	if !ok {
		return nil
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	words := map[string]bool{}
	for _, row := range strings.Split(rest, "\n") {
		// The table's first column names keepalived's keywords; the
		// second says what to do instead.
		cells := strings.Split(row, "|")
		if len(cells) < 3 {
			continue
		}
		for _, span := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
			for _, w := range keywordWord.FindAllString(span[1], -1) {
				words[w] = true
			}
		}
	}
	return words
}

// checkers are the keepalived blocks that check a real server.
var checkers = map[string]bool{
	"HTTP_GET": true, "SSL_GET": true, "TCP_CHECK": true, "SMTP_CHECK": true, "MISC_CHECK": true,
	"DNS_CHECK": true, "UDP_CHECK": true, "PING_CHECK": true, "BFD_CHECK": true, "FILE_CHECK": true,
}

// stripCheckers removes every checker block from a keepalived.conf:
// keepalived counts a real server without a checker as up.
func stripCheckers(src []byte) []byte {
	var out []string
	depth := -1 // > -1 while inside a checker block
	opened := false
	for _, line := range strings.Split(string(src), "\n") {
		code := line
		if i := strings.IndexAny(code, "!#"); i >= 0 {
			code = code[:i]
		}
		if depth < 0 {
			if f := strings.Fields(code); len(f) > 0 && checkers[f[0]] {
				depth, opened = 0, false
			} else {
				out = append(out, line)
				continue
			}
		}
		for _, c := range code {
			switch c {
			case '{':
				depth++
				opened = true
			case '}':
				depth--
			}
		}
		if opened && depth <= 0 {
			depth = -1
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// oracleNS is a fresh network namespace with loopback up and a dummy
// device, up, for each interface a keepalived.conf names.
type oracleNS struct{ name string }

var oracleNSCount atomic.Int64

func newOracleNS(t *testing.T, ifaces []string) *oracleNS {
	t.Helper()
	n := &oracleNS{name: fmt.Sprintf("oracle%d.%d", os.Getpid(), oracleNSCount.Add(1))}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v: %s", n.name, err, out)
		}
	})
	// IPVS takes no destination in a namespace whose loopback is down.
	// keepalived disables an instance on an interface without multicast,
	// and both send adverts from an address of the interface: each gets
	// one of its own from a documentation range no file uses.
	batch := []string{"link set lo up"}
	for i, name := range ifaces {
		batch = append(batch,
			"link add "+name+" type dummy",
			"link set "+name+" multicast on up",
			fmt.Sprintf("addr add 203.0.113.%d/32 dev %s", i+1, name))
	}
	// One process (each is slow to start in the emulated guest; busybox
	// sh would run its own ip applet before iproute2): IPv6
	// addresses usable at once, without duplicate address detection,
	// then the links.
	script := "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && " +
		"echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad && /sbin/ip -batch -"
	cmd := n.command("sh", "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(batch, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setting up namespace %s: %v: %s", n.name, err, out)
	}
	return n
}

// command runs argv inside the namespace.
func (n *oracleNS) command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name}, argv...)...)
}

func (n *oracleNS) ipvsadmSave(t *testing.T) string {
	t.Helper()
	out, err := n.command("ipvsadm", "-S", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -S -n: %v: %s", err, out)
	}
	return string(out)
}

// oracleProc is keepalived or lvsd running in a host, its output in a
// file (kept out of the test log: keepalived's dump is long).
type oracleProc struct {
	cmd    *exec.Cmd
	out    string
	exited chan error
}

func startOracleProc(t *testing.T, h *oracleNS, out string, env []string, argv ...string) *oracleProc {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &oracleProc{cmd: h.command(argv...), out: out, exited: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", argv[0], err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *oracleProc) output() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// running returns the process's exit error once it has exited.
func (p *oracleProc) running() error {
	select {
	case err := <-p.exited:
		p.exited <- err
		if err == nil {
			err = fmt.Errorf("exited")
		}
		return err
	default:
		return nil
	}
}

// stop kills the process group and waits for the process. The tables
// are taken before: how keepalived or lvsd clean up on a stop is not
// what the oracle compares, and a graceful stop costs seconds.
func (p *oracleProc) stop(t *testing.T) {
	if p.running() != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
		p.exited <- nil
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not end within 10s of SIGKILL", p.cmd.Args[4])
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Section headers of keepalived's configuration dump (-d): the checker
// process prints its LVS topology after it has programmed IPVS, the VRRP
// process its instances.
const (
	kaLVSDump  = "------< LVS Topology >------"
	kaVRRPDump = "------< VRRP Topology >------"
)

// runKeepalived runs keepalived on the file with its checkers removed,
// waits until its IPVS table is complete and stable, and returns the table
// and the VRRP instances keepalived dumped.
func runKeepalived(t *testing.T, h *oracleNS, dir, file string) (string, []oracleVRRP) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, stripCheckers(src), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, _ := keepalived.Load(file, keepalived.OSFS{})
	// The checker (-C) and VRRP (-P) subsystems run as two keepalived
	// processes with outputs of their own: one process's two children
	// would interleave their dumps line by line.
	type part struct {
		flag, marker string
		p            *oracleProc
	}
	var parts []*part
	if hasStmt(parsed, "virtual_server") {
		parts = append(parts, &part{flag: "-C", marker: kaLVSDump})
	}
	if hasStmt(parsed, "vrrp_instance") {
		parts = append(parts, &part{flag: "-P", marker: kaVRRPDump})
	}
	started := time.Now()
	for _, pt := range parts {
		d := filepath.Join(dir, "keepalived"+pt.flag)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		pt.p = startOracleProc(t, h, filepath.Join(d, "out"), nil,
			"keepalived", pt.flag, "-n", "-l", "-G", "-d", "-f", conf,
			"-p", filepath.Join(d, "keepalived.pid"), "-r", filepath.Join(d, "vrrp.pid"),
			"-c", filepath.Join(d, "checkers.pid"), "-b", filepath.Join(d, "bfd.pid"))
	}
	deadline := started.Add(30 * time.Second)
	for _, pt := range parts {
		for !strings.Contains(pt.p.output(), pt.marker) {
			if err := pt.p.running(); err != nil {
				t.Fatalf("keepalived %s: %v; its output ends:\n%s", pt.flag, err, tail(pt.p.output(), 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("keepalived %s has not dumped %q within 30s; its output ends:\n%s", pt.flag, pt.marker, tail(pt.p.output(), 30))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dumped := time.Since(started)
	table := stableTable(t, h)
	t.Logf("keepalived: dumped its configuration after %v, table stable after %v", dumped.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	var vrrp []oracleVRRP
	for _, pt := range parts {
		if err := pt.p.running(); err != nil {
			t.Fatalf("keepalived %s: %v; its output ends:\n%s", pt.flag, err, tail(pt.p.output(), 30))
		}
		if pt.flag == "-P" {
			vrrp = parseKeepalivedDump(pt.p.output())
		}
		pt.p.stop(t)
	}
	return table, vrrp
}

func hasStmt(f *keepalived.File, key string) bool {
	return f != nil && slices.ContainsFunc(f.Stmts, func(s *keepalived.Stmt) bool { return s.Key.Text == key })
}

// stableTable waits until the namespace's IPVS table, read through
// lvsd's netlink client (cheaper than running ipvsadm in the emulated
// guest), is the same in five reads 100 ms apart, then returns what
// ipvsadm -S -n shows.
func stableTable(t *testing.T, h *oracleNS) string {
	t.Helper()
	// Dialled inside the namespace, the client's socket stays there.
	var c *ipvs.Client
	err := (&lab.Host{NS: h.name}).Do(func() error {
		var err error
		c, err = ipvs.Dial()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	last, same := "", 0
	for same < 5 {
		services, err := c.Services()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := ipvs.WriteSave(&b, services); err != nil {
			t.Fatal(err)
		}
		if b.String() == last {
			same++
		} else {
			last, same = b.String(), 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("the IPVS table still changes after 30s; last:\n%s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return h.ipvsadmSave(t)
}

// runLVSD runs `lvsd run` on the converted file with its health checks
// removed until it is ready (READY=1 on a stand-in NOTIFY_SOCKET: the
// first reconcile is done), and returns `ipvsadm -S -n` and the resolved
// configuration of its node.
func runLVSD(t *testing.T, h *oracleNS, bin, dir string, src []byte) (string, *config.Config) {
	t.Helper()
	file := filepath.Join(dir, "run.hcl")
	stripped := stripHealthChecks(t, src)
	if err := os.WriteFile(file, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	f, diags := config.NewLoader().Parse(file, stripped)
	if diags.HasErrors() {
		t.Fatalf("the converted file does not parse: %v", diags)
	}
	node := ""
	if names := f.NodeNames(); len(names) > 0 {
		node = names[0]
	}
	cfg, diags := f.Resolve(node)
	if diags.HasErrors() {
		t.Fatalf("the converted file does not resolve for %q: %v", node, diags)
	}

	sock := filepath.Join(dir, "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := notify.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
				close(ready)
				return
			}
		}
	}()
	args := []string{bin, "run", "-c", file, "--socket", filepath.Join(dir, "lvsd.sock")}
	if node != "" {
		args = append(args, "--node", node)
	}
	p := startOracleProc(t, h, filepath.Join(dir, "lvsd.out"), []string{"NOTIFY_SOCKET=" + sock}, args...)
	started := time.Now()
	select {
	case <-ready:
		t.Logf("lvsd: ready after %v", time.Since(started).Round(time.Millisecond))
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("lvsd run exited before it was ready: %v; its output ends:\n%s", err, tail(p.output(), 30))
	case <-time.After(30 * time.Second):
		t.Fatalf("lvsd run not ready within 30s; its output ends:\n%s", tail(p.output(), 30))
	}
	table := h.ipvsadmSave(t)
	p.stop(t)
	return table, cfg
}

// stripHealthChecks removes every health_check block of the cluster file:
// a real server of a service without checks is healthy from the start.
func stripHealthChecks(t *testing.T, src []byte) []byte {
	t.Helper()
	f, diags := hclwrite.ParseConfig(src, "lvsd.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("the converted file: %v", diags)
	}
	for _, vs := range f.Body().Blocks() {
		if vs.Type() != "virtual_server" {
			continue
		}
		for _, b := range vs.Body().Blocks() {
			switch b.Type() {
			case "health_check":
				vs.Body().RemoveBlock(b)
			case "real_server":
				for _, c := range b.Body().Blocks() {
					if c.Type() == "health_check" {
						b.Body().RemoveBlock(c)
					}
				}
			}
		}
	}
	return f.Bytes()
}

func sortedLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// oracleVRRP is what the comparison covers of one VRRP instance.
type oracleVRRP struct {
	Name, Interface string
	VRID, Version   int
	Priority        int
	AdvertInterval  time.Duration
	Preempt         bool
	PreemptDelay    time.Duration
	Auth            string // "" or the password
	VIPs            []string
	UnicastPeers    []string
}

// kaDumpLine strips the time stamp of a line keepalived logs to the
// console ("Sun Dec  6 07:07:26 2026: ").
var kaDumpLine = regexp.MustCompile(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: `)

// parseKeepalivedDump reads the VRRP instances from keepalived's -d dump.
func parseKeepalivedDump(out string) []oracleVRRP {
	var res []oracleVRRP
	var cur *oracleVRRP
	list := "" // the address list being read
	inVRRP := false
	src := map[int]string{} // unicast_src_ip by instance
	for _, raw := range strings.Split(out, "\n") {
		line := kaDumpLine.ReplaceAllString(raw, "")
		if strings.HasPrefix(line, "------<") {
			inVRRP = line == kaVRRPDump
			cur, list = nil, ""
			continue
		}
		if !inVRRP {
			continue
		}
		text := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(text, "VRRP Instance = "); ok && strings.HasPrefix(line, " VRRP") {
			res = append(res, oracleVRRP{Name: name, Preempt: true})
			cur, list = &res[len(res)-1], ""
			continue
		}
		if cur == nil {
			continue
		}
		key, val, isField := strings.Cut(text, " = ")
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if list != "" && indent > 3 && !isField {
			addr := strings.Fields(text)[0]
			if list == "peer" {
				cur.UnicastPeers = append(cur.UnicastPeers, addr)
			} else {
				cur.VIPs = append(cur.VIPs, fullPrefix(addr))
			}
			continue
		}
		list = ""
		switch {
		case strings.HasPrefix(text, "Virtual IP (") || text == "Virtual IP Excluded :":
			list = "vip"
		case text == "Unicast Peer :":
			list = "peer"
		case !isField:
		case key == "VRRP Version":
			cur.Version, _ = strconv.Atoi(val)
		case key == "Interface" && cur.Interface == "":
			cur.Interface, _, _ = strings.Cut(val, ",")
		case key == "Virtual Router ID":
			cur.VRID, _ = strconv.Atoi(val)
		case key == "Priority":
			cur.Priority, _ = strconv.Atoi(val)
		case key == "Advert interval":
			n, unit, _ := strings.Cut(val, " ")
			v, _ := strconv.Atoi(n)
			if unit == "sec" {
				cur.AdvertInterval = time.Duration(v) * time.Second
			} else {
				cur.AdvertInterval = time.Duration(v) * time.Millisecond
			}
		case key == "Preempt":
			cur.Preempt = val == "enabled"
		case key == "Preempt delay":
			s, _ := strconv.ParseFloat(strings.TrimSuffix(val, " secs"), 64)
			cur.PreemptDelay = time.Duration(s * float64(time.Second))
		case key == "Password":
			cur.Auth = val
		case key == "Using src_ip" && strings.HasSuffix(val, " (from configuration)"):
			src[len(res)-1] = strings.TrimSuffix(val, " (from configuration)")
		}
	}
	for i := range res {
		// lvsd's unicast_peers list every director's address, its own
		// included; keepalived names its own apart.
		if len(res[i].UnicastPeers) > 0 && src[i] != "" {
			res[i].UnicastPeers = append(res[i].UnicastPeers, src[i])
		}
		slices.Sort(res[i].VIPs)
		slices.Sort(res[i].UnicastPeers)
	}
	slices.SortFunc(res, func(a, b oracleVRRP) int { return strings.Compare(a.Name, b.Name) })
	return res
}

// fullPrefix writes keepalived's address (no length for a host address)
// as a prefix.
func fullPrefix(s string) string {
	if strings.Contains(s, "/") {
		return netip.MustParsePrefix(s).String()
	}
	a := netip.MustParseAddr(s)
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// lvsdVRRP is the converted file's VRRP instances, as oracleVRRP.
func lvsdVRRP(cfg *config.Config) []oracleVRRP {
	var res []oracleVRRP
	for _, in := range cfg.VRRPInstances {
		o := oracleVRRP{
			Name: in.Name, Interface: in.Interface, VRID: int(in.VRID), Version: in.Version,
			Priority: int(in.Priority), AdvertInterval: in.AdvertInterval,
			Preempt: in.Preempt, PreemptDelay: in.PreemptDelay, Auth: in.AuthPass,
		}
		for _, p := range in.VirtualIPs {
			o.VIPs = append(o.VIPs, p.String())
		}
		for _, a := range in.UnicastPeers {
			o.UnicastPeers = append(o.UnicastPeers, a.String())
		}
		slices.Sort(o.VIPs)
		slices.Sort(o.UnicastPeers)
		res = append(res, o)
	}
	slices.SortFunc(res, func(a, b oracleVRRP) int { return strings.Compare(a.Name, b.Name) })
	return res
}
