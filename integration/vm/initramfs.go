package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// baseFormat changes whenever the layout of the base image changes, so a
// cached image of an older layout is not reused.
const baseFormat = "lvsd-vm-base-4"

// GuestPATH is the PATH of the init script and everything it starts. The
// full iproute2 and the other host binaries come before busybox's applets.
const GuestPATH = "/usr/local/bin:/sbin:/usr/sbin:/bin:/usr/bin"

// initScript mounts the usual file systems, runs the caller's script from
// /lvsd/script.sh, prints its exit status and powers off. Its markers are
// how the host knows the guest booted and how the script ended.
const initScript = `#!/bin/sh
export PATH=` + GuestPATH + `
export HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns
/sbin/ip link set lo up
hostname lvsd-vm
[ -f /lvsd/env ] && . /lvsd/env
echo
echo "` + startMarker + `"
cd /root
/bin/sh /lvsd/script.sh
rc=$?
sync
echo
echo "` + exitMarker + `$rc"
poweroff -f
`

const (
	startMarker = "LVSD-VM-START"
	exitMarker  = "LVSD-VM-EXIT="
)

// hostPrograms go into every image, with the libraries they link.
// tcpdump is not among them: its libraries (OpenSSL, libpcap's D-Bus and
// systemd) would double the image and the boot time; ask for it with
// Config.Binaries.
var hostPrograms = []struct {
	name     string
	optional bool
}{
	{"ip", false}, // busybox's ip cannot make netns or veth
	{"ipvsadm", false},
}

// guestEtc are the few files a minimal system needs (tcpdump and ping look
// users up; resolvers read hosts).
var guestEtc = map[string]string{
	"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\ntcpdump:x:102:105::/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"etc/group":         "root:x:0:\ntcpdump:x:105:\nnogroup:x:65534:\n",
	"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
	"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}

// findProgram looks a program up on $PATH, then in the system directories
// a root shell would have on $PATH.
func findProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %s not found", name)
}

// isStatic reports whether an ELF executable has no program interpreter.
func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// parseLDD returns the files an ldd listing names: the libraries after
// "=>" and the dynamic loader given by absolute path. The vDSO has no file.
func parseLDD(out string) ([]string, error) {
	var files []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.Contains(line, "not a dynamic executable") || strings.HasPrefix(line, "statically linked") {
			continue
		}
		if lib, target, ok := strings.Cut(line, "=>"); ok {
			target = strings.TrimSpace(target)
			if strings.HasPrefix(target, "not found") {
				return nil, fmt.Errorf("library %s not found", strings.TrimSpace(lib))
			}
			if f := strings.Fields(target); len(f) > 0 && strings.HasPrefix(f[0], "/") {
				files = append(files, f[0])
			}
			continue
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			files = append(files, f[0])
		}
	}
	return files, sc.Err()
}

// libraries returns the shared libraries of a dynamic executable, by ldd.
func libraries(p string) ([]string, error) {
	static, err := isStatic(p)
	if err != nil || static {
		return nil, err
	}
	out, err := output(exec.Command("ldd", p))
	if err != nil {
		return nil, err
	}
	libs, err := parseLDD(out)
	if err != nil {
		return nil, fmt.Errorf("libraries of %s: %w", p, err)
	}
	return libs, nil
}

// baseInputs are the host files a base image is made of: guest path ->
// host path, plus the busybox applets to link.
type baseInputs struct {
	files   map[string]string
	applets []string
}

// collectBase finds busybox, the host programs (and extra ones the caller
// asks for) and their libraries.
func collectBase(k *Kernel, extra []string) (*baseInputs, error) {
	in := &baseInputs{files: map[string]string{}}
	bb, err := findProgram("busybox")
	if err != nil {
		return nil, fmt.Errorf("%w (install busybox-static)", err)
	}
	static, err := isStatic(bb)
	if err != nil {
		return nil, err
	}
	if !static {
		return nil, fmt.Errorf("%s is dynamically linked: install busybox-static", bb)
	}
	in.files["bin/busybox"] = bb
	// --list-full gives each applet's usual directory: the kernel runs
	// /sbin/modprobe to load schedulers on demand.
	list, err := output(exec.Command(bb, "--list-full"))
	if err != nil {
		return nil, err
	}
	in.applets = strings.Fields(list)

	progs := map[string]string{} // guest path -> host path
	for _, p := range hostPrograms {
		hp, err := findProgram(p.name)
		if err != nil {
			if p.optional {
				continue
			}
			return nil, err
		}
		progs["sbin/"+p.name] = hp
	}
	for _, e := range extra {
		hp := e
		if !strings.Contains(e, "/") {
			if hp, err = findProgram(e); err != nil {
				return nil, err
			}
		}
		progs["usr/sbin/"+filepath.Base(hp)] = hp
	}
	for g, hp := range progs {
		in.files[g] = hp
		libs, err := libraries(hp)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			in.files[strings.TrimPrefix(l, "/")] = l
		}
	}

	mods, err := moduleList(k.Root)
	if err != nil {
		return nil, fmt.Errorf("listing cached modules: %w", err)
	}
	for _, m := range mods {
		in.files[m] = filepath.Join(k.Root, m)
	}
	return in, nil
}

// key identifies a base image by its layout and the identity of every
// input file, so an upgraded host package or kernel yields a new image.
func (in *baseInputs) key(k *Kernel) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", baseFormat, k.Version)
	for _, g := range sortedKeys(in.files) {
		st, err := os.Stat(in.files[g])
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", in.files[g], err)
		}
		fmt.Fprintf(h, "%s %s %d %d\n", g, in.files[g], st.Size(), st.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// write writes the base image as a gzipped cpio archive.
func (in *baseInputs) write(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := newCPIOWriter(zw)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "mnt", "lvsd", "usr/local/bin", "var/log", "lib64", "etc"} {
		c.Dir(d, 0o755)
	}
	c.Symlink("var/run", "/run")
	for _, g := range sortedKeys(in.files) {
		data, err := os.ReadFile(in.files[g])
		if err != nil {
			return fmt.Errorf("reading %s: %w", in.files[g], err)
		}
		perm := uint32(0o644)
		if st, err := os.Stat(in.files[g]); err == nil && st.Mode()&0o111 != 0 {
			perm = 0o755
		}
		c.File(g, perm, data)
	}
	real := map[string]bool{}
	for g := range in.files {
		if d := path.Dir(g); d == "sbin" || d == "usr/sbin" || d == "bin" || d == "usr/bin" {
			real[path.Base(g)] = true
		}
	}
	for _, a := range in.applets {
		// A real program of the same name wins: busybox's ip lacks netns.
		if real[path.Base(a)] {
			continue
		}
		c.Symlink(a, "/bin/busybox")
	}
	for _, g := range sortedKeys(guestEtc) {
		c.File(g, 0o644, []byte(guestEtc[g]))
	}
	c.File("init", 0o755, []byte(initScript))
	if err := c.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// baseImage returns the path of the cached base image for these inputs,
// building it when it is missing. The caller holds the cache lock.
func baseImage(cache string, k *Kernel, extra []string) (string, error) {
	in, err := collectBase(k, extra)
	if err != nil {
		return "", err
	}
	key, err := in.key(k)
	if err != nil {
		return "", err
	}
	p := filepath.Join(cache, "initrd", "base-"+key+".cpio.gz")
	defer pruneBases(filepath.Dir(p), p)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	var buf bytes.Buffer
	if err := in.write(&buf); err != nil {
		return "", fmt.Errorf("building base image: %w", err)
	}
	if err := writeFileAtomic(p, buf.Bytes()); err != nil {
		return "", err
	}
	return p, nil
}

// baseMaxAge is how long an unused base image stays in the cache. Images
// are keyed by their inputs, so every host package upgrade leaves one
// behind.
const baseMaxAge = 14 * 24 * time.Hour

// pruneBases marks the image in use as fresh and removes base images
// unused for baseMaxAge.
func pruneBases(dir, inUse string) {
	now := time.Now()
	_ = os.Chtimes(inUse, now, now)
	old, _ := filepath.Glob(filepath.Join(dir, "base-*.cpio.gz"))
	for _, p := range old {
		if st, err := os.Stat(p); err == nil && p != inUse && now.Sub(st.ModTime()) > baseMaxAge {
			_ = os.Remove(p)
		}
	}
}

// overlay is what one run adds on top of the base image: the caller's
// files, its script and its environment.
type overlay struct {
	files  map[string]string // guest path -> host path
	dirs   map[string]string // guest dir -> host dir, copied recursively
	script string
	env    map[string]string
}

// write writes the overlay as a second gzipped cpio archive; the kernel
// unpacks concatenated archives in order, later entries replacing earlier.
func (o *overlay) write(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := newCPIOWriter(zw)
	for _, g := range sortedKeys(o.files) {
		if err := addHostFile(c, g, o.files[g]); err != nil {
			return err
		}
	}
	for _, g := range sortedKeys(o.dirs) {
		root := o.dirs[g]
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			gp := path.Join(g, filepath.ToSlash(rel))
			switch {
			case d.IsDir():
				c.Dir(gp, 0o755)
				return nil
			case d.Type().IsRegular():
				return addHostFile(c, gp, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("adding %s: %w", root, err)
		}
	}
	var env strings.Builder
	keys := make([]string, 0, len(o.env))
	for k := range o.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&env, "export %s=%s\n", k, shellQuote(o.env[k]))
	}
	c.File("lvsd/env", 0o644, []byte(env.String()))
	c.File("lvsd/script.sh", 0o755, []byte(o.script))
	if err := c.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func addHostFile(c *cpioWriter, guest, host string) error {
	st, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("adding %s: %w", host, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("adding %s: not a regular file", host)
	}
	data, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("adding %s: %w", host, err)
	}
	c.File(guest, uint32(st.Mode().Perm()), data)
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var errNoExitMarker = errors.New("guest ended without reporting an exit status")
