// Package vm boots a small virtual machine on Debian's cloud kernel, which
// has IPVS, for the integration tests that need a real IPVS kernel when the
// host's has none.
//
// The kernel package is fetched with apt once per machine and cached with
// the few modules the lab needs (IPVS and its schedulers, conntrack, veth,
// bridge, IPIP) in CacheDir. Each run boots qemu without KVM on an
// initramfs made of a cached base (static busybox, iproute2's ip, ipvsadm,
// tcpdump, their libraries, the modules) and an overlay with the caller's
// files and script. /init runs the script, prints its exit status on the
// serial console and powers the machine off; the console is streamed to
// the test log.
//
// Tests that need IPVS are ordinary Go tests in a package built with the
// "vm" tag; GoTests.Run builds such a package's test binary statically and
// runs it inside one VM.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/lab"
)

// UserNetHost is the address through which a guest run with
// Config.UserNet reaches the host's loopback (qemu's user-mode network
// maps it to 127.0.0.1); UserNetGuest is the guest's own address there.
const (
	UserNetHost  = "10.0.2.2"
	UserNetGuest = "10.0.2.15"
)

// Config describes one run of the VM.
type Config struct {
	// Files are copied into the guest: guest path -> host path. Executable
	// bits are kept. Go programs must be static (CGO_ENABLED=0).
	Files map[string]string
	// Dirs are host directories copied recursively: guest dir -> host dir.
	Dirs map[string]string
	// Binaries names extra dynamically linked host programs ("keepalived"
	// or an absolute path) to install in /usr/sbin with their libraries.
	Binaries []string
	// Env is exported to the script.
	Env map[string]string
	// Script is run by busybox's sh as root once the guest is up. Its exit
	// status is the run's. busybox sh prefers its own applets to $PATH:
	// call iproute2 as /sbin/ip.
	Script string
	// Timeout bounds the VM's run from qemu's start to its exit (not the
	// one-time preparation of the cache); 3 minutes if zero.
	Timeout time.Duration
	// MemoryMB is the guest's memory; 512 if zero.
	MemoryMB int
	// CPUs is the number of virtual CPUs; 2 if zero.
	CPUs int
	// TSC makes the guest read its clock from the CPU's time-stamp
	// counter, as a director on real hardware does, rather than from the
	// emulated HPET it picks by default, where each reading is an exit to
	// qemu: a program that reads the clock often (the Go runtime does on
	// every scheduling pass) would be charged for the emulator's clock.
	TSC bool
	// UserNet gives the guest a network card (virtio-net, driver
	// virtio_net, to load with modprobe) on qemu's user-mode network:
	// the guest is 10.0.2.15/24 and a connection to UserNetHost:PORT
	// reaches the host's 127.0.0.1:PORT, made by qemu's own TCP stack in
	// the host's qemu process. The guest's kernel then does only its own
	// side of each TCP exchange, as with a machine across a network.
	UserNet bool
	// Log receives every console line; the test log if nil.
	Log func(line string)
}

// Result is what a run produced.
type Result struct {
	// Output is the console output, one line per line, carriage returns
	// and control characters removed.
	Output string
	// ExitCode is the script's exit status.
	ExitCode int
	// Boot is the time from starting qemu to the init script's first line.
	Boot time.Duration
	// Total is the time from starting qemu to its exit.
	Total time.Duration
}

// Require ends the test through lab.Missing unless everything a VM run
// needs is installed.
func Require(t testing.TB) {
	t.Helper()
	lab.RequireRoot(t, "qemu-system-x86_64", "busybox", "ipvsadm", "ip",
		"depmod", "modinfo", "dpkg-deb", "apt-get", "ldd")
}

// Run boots the VM, runs cfg.Script in it and returns the result. An error
// means the run itself failed (no kernel, qemu failed, timeout, no exit
// status); a script that fails is a Result with a non-zero ExitCode.
func Run(ctx context.Context, t testing.TB, cfg Config) (*Result, error) {
	t.Helper()
	Require(t)
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 512
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.Log == nil {
		cfg.Log = func(line string) { t.Log("vm| " + line) }
	}

	k, base, err := prepare(cfg.Binaries, func(format string, args ...any) { t.Logf(format, args...) })
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(t.TempDir(), "initrd.gz")
	if err := writeInitrd(initrd, base, &overlay{files: cfg.Files, dirs: cfg.Dirs, script: cfg.Script, env: cfg.Env}); err != nil {
		return nil, err
	}
	return boot(ctx, k, initrd, cfg)
}

// prepare returns the kernel and the base image, making them under the
// cache lock if the cache lacks them.
func prepare(binaries []string, logf func(string, ...any)) (*Kernel, string, error) {
	cache := CacheDir()
	unlock, err := lockCache(cache)
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	k, err := prepareKernel(cache, logf)
	if err != nil {
		return nil, "", fmt.Errorf("preparing kernel: %w", err)
	}
	base, err := baseImage(cache, k, binaries)
	if err != nil {
		return nil, "", err
	}
	return k, base, nil
}

// writeInitrd concatenates the base image and the run's overlay.
func writeInitrd(p, base string, o *overlay) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("creating initrd: %w", err)
	}
	defer f.Close()
	b, err := os.Open(base)
	if err != nil {
		return fmt.Errorf("opening base image: %w", err)
	}
	defer b.Close()
	if _, err := io.Copy(f, b); err != nil {
		return fmt.Errorf("writing initrd: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := o.write(w); err != nil {
		return fmt.Errorf("writing initrd overlay: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing initrd: %w", err)
	}
	return f.Close()
}

// tscArgs are the kernel arguments of Config.TSC: qemu's TSC follows the
// host's clock, but the guest kernel does not trust an emulated one
// without being told.
func tscArgs(on bool) string {
	if !on {
		return ""
	}
	return " clocksource=tsc tsc=reliable"
}

// exitRE finds the exit marker; kernel messages may share its line.
var exitRE = regexp.MustCompile(exitMarker + `(\d+)$`)

// boot runs qemu and follows the console until it exits.
func boot(ctx context.Context, k *Kernel, initrd string, cfg Config) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	args := []string{
		"-m", strconv.Itoa(cfg.MemoryMB),
		"-smp", strconv.Itoa(cfg.CPUs),
		// No KVM: the guest hangs at "Booting from ROM" with it on these
		// machines. No default devices: fewer to probe under emulation.
		"-nodefaults", "-nographic", "-no-reboot",
		"-serial", "stdio",
		"-kernel", k.Image,
		"-initrd", initrd,
		// mitigations=off: page-table isolation would flush the emulated
		// TLB on every system call, which costs seconds under emulation.
		"-append", "console=ttyS0 quiet panic=-1 mitigations=off" + tscArgs(cfg.TSC),
	}
	if cfg.UserNet {
		// romfile=: no option ROM to load (network boot), which the
		// direct kernel boot does not need.
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=")
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	// If the test binary dies, so does qemu. Pdeathsig follows the thread
	// that started the child: start and wait on one locked thread.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}

	res := &Result{ExitCode: -1}
	var out strings.Builder
	start := time.Now()
	started := make(chan error, 1)
	waited := make(chan error, 1)
	var lines sync.WaitGroup
	lines.Add(1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			lines.Done()
			return
		}
		started <- nil
		go func() {
			defer lines.Done()
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
			for sc.Scan() {
				line := cleanLine(sc.Text())
				out.WriteString(line)
				out.WriteByte('\n')
				if strings.HasSuffix(line, startMarker) && res.Boot == 0 {
					res.Boot = time.Since(start)
				}
				if m := exitRE.FindStringSubmatch(line); m != nil {
					res.ExitCode, _ = strconv.Atoi(m[1])
				}
				cfg.Log(line)
			}
		}()
		lines.Wait()
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting qemu: %w", err)
	}
	werr := <-waited
	res.Total = time.Since(start)
	res.Output = out.String()
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("vm did not finish within %v: %w", cfg.Timeout, ctx.Err())
	case werr != nil:
		return res, fmt.Errorf("qemu: %w: %s", werr, bytes.TrimSpace(stderr.Bytes()))
	case res.ExitCode < 0:
		return res, errNoExitMarker
	}
	return res, nil
}

// cleanLine drops carriage returns and terminal control sequences that the
// firmware and the serial console emit.
func cleanLine(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r >= ' ' && r != 0x7f {
			return r
		}
		return -1
	}, s)
}

var ansiRE = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|c|[()][0-9A-Za-z])`)

// Must is Run for tests: it fails the test when the run fails, and returns
// the result (whose ExitCode the test still has to check).
func Must(t testing.TB, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), t, cfg)
	if err != nil {
		if res != nil {
			t.Fatalf("vm: %v (after %v)", err, res.Total.Round(time.Millisecond))
		}
		t.Fatalf("vm: %v", err)
	}
	t.Logf("vm: booted in %v, powered off after %v, exit status %d",
		res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond), res.ExitCode)
	return res
}
