package vm

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DefaultCacheDir holds the extracted kernel and the base initramfs unless
// LVSD_VM_CACHE names another directory.
const DefaultCacheDir = "/var/cache/lvsd-vm"

// kernelMeta is the Debian package that pulls in the current cloud kernel.
const kernelMeta = "linux-image-cloud-amd64"

// requiredModules are loaded by the lab inside the VM; a kernel without one
// of them is unusable. Every module under kernel/net/netfilter/ipvs is
// added too (the schedulers, ftp helper, SIP persistence engine).
var requiredModules = []string{
	"nf_conntrack", "nf_defrag_ipv4", "nf_defrag_ipv6", "libcrc32c",
	"veth", "bridge", "stp", "llc",
	// IPVS tunnel forwarding (IPIP encapsulation).
	"ipip", "tunnel4", "ip_tunnel",
}

// optionalModules are useful in tests but not every kernel has them.
var optionalModules = []string{
	"ip6_tunnel", "tunnel6", // IPv6-in-IPv6 real servers
	"dummy", "macvlan", "8021q",
	"sch_netem", // delayed or lossy links
	"nf_nat",
	"virtio_pci", "virtio_net", // the network card of Config.UserNet
}

// ipvsModuleDir is where the kernel tree keeps IPVS and its schedulers.
const ipvsModuleDir = "kernel/net/netfilter/ipvs"

// Kernel is an extracted kernel ready to boot: its image and a root holding
// lib/modules/<Version> with the selected modules and their modules.dep.
type Kernel struct {
	Version string
	Image   string
	Root    string
}

// CacheDir returns the cache directory: $LVSD_VM_CACHE or DefaultCacheDir.
func CacheDir() string {
	if d := os.Getenv("LVSD_VM_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// lockCache takes an exclusive lock on the cache so that test binaries
// running in parallel (go test runs packages at once) prepare it once.
func lockCache(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cache %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening cache lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking cache %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// cachedKernel returns the kernel recorded in the cache, if it is complete.
func cachedKernel(cache string) (*Kernel, bool) {
	b, err := os.ReadFile(filepath.Join(cache, "kernel", "current"))
	if err != nil {
		return nil, false
	}
	v := strings.TrimSpace(string(b))
	if v == "" || strings.ContainsAny(v, "/ ") {
		return nil, false
	}
	k := &Kernel{
		Version: v,
		Image:   filepath.Join(cache, "kernel", v, "vmlinuz"),
		Root:    filepath.Join(cache, "kernel", v, "root"),
	}
	for _, f := range []string{k.Image, filepath.Join(k.Root, "lib", "modules", v, "modules.dep")} {
		if _, err := os.Stat(f); err != nil {
			return nil, false
		}
	}
	// A kernel prepared for another selection of modules is prepared
	// again, so that a module added to the lists reaches every machine.
	if b, err := os.ReadFile(filepath.Join(cache, "kernel", v, wantedFile)); err != nil || string(b) != moduleSelection() {
		return nil, false
	}
	return k, true
}

// wantedFile records, beside a prepared kernel, the module selection it
// was prepared for.
const wantedFile = "modules.wanted"

// moduleSelection is the lists of modules a prepared kernel holds, as
// recorded in wantedFile.
func moduleSelection() string {
	return "required " + strings.Join(requiredModules, " ") + "\noptional " + strings.Join(optionalModules, " ") + "\n"
}

// prepareKernel returns the cached kernel, fetching and extracting Debian's
// cloud kernel first when the cache has none. The caller holds the lock.
func prepareKernel(cache string, logf func(string, ...any)) (*Kernel, error) {
	if k, ok := cachedKernel(cache); ok {
		return k, nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(cache, "tmp-")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	logf("vm: fetching %s (once per machine, cached in %s)", kernelMeta, cache)
	meta, err := aptDownload(tmp, kernelMeta)
	if err != nil {
		return nil, err
	}
	dep, err := output(exec.Command("dpkg-deb", "-f", meta, "Depends"))
	if err != nil {
		return nil, err
	}
	pkg, err := kernelPackage(dep)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Base(meta), err)
	}
	deb, err := aptDownload(tmp, pkg)
	if err != nil {
		return nil, err
	}
	x := filepath.Join(tmp, "x")
	if _, err := output(exec.Command("dpkg-deb", "-x", deb, x)); err != nil {
		return nil, err
	}
	version, srcMods, err := findModuleTree(x)
	if err != nil {
		return nil, err
	}

	dest := filepath.Join(cache, "kernel", version)
	stage := dest + ".new"
	_ = os.RemoveAll(stage)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", stage, err)
	}
	if err := copyFile(filepath.Join(x, "boot", "vmlinuz-"+version), filepath.Join(stage, "vmlinuz")); err != nil {
		return nil, err
	}
	dstMods := filepath.Join(stage, "root", "lib", "modules", version)
	n, err := copyModules(srcMods, dstMods)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		if err := copyFile(filepath.Join(srcMods, f), filepath.Join(dstMods, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if _, err := output(exec.Command("depmod", "-b", filepath.Join(stage, "root"), version)); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stage, wantedFile), []byte(moduleSelection()), 0o644); err != nil {
		return nil, err
	}
	dep, err = readString(filepath.Join(dstMods, "modules.dep"))
	if err != nil {
		return nil, err
	}
	if !strings.Contains(dep, "ip_vs.ko:") {
		return nil, fmt.Errorf("depmod wrote no ip_vs entry in %s", filepath.Join(dstMods, "modules.dep"))
	}

	_ = os.RemoveAll(dest)
	if err := os.Rename(stage, dest); err != nil {
		return nil, fmt.Errorf("installing kernel: %w", err)
	}
	// "current" is written last: a cache interrupted before this point is
	// simply prepared again.
	if err := writeFileAtomic(filepath.Join(cache, "kernel", "current"), []byte(version+"\n")); err != nil {
		return nil, err
	}
	logf("vm: kernel %s with %d modules ready in %v", version, n, time.Since(start).Round(time.Millisecond))
	k, ok := cachedKernel(cache)
	if !ok {
		return nil, fmt.Errorf("kernel cache %s incomplete after preparing it", cache)
	}
	return k, nil
}

// aptDownload fetches a package's .deb into dir and returns its path.
func aptDownload(dir, pkg string) (string, error) {
	name, _, _ := strings.Cut(pkg, "=")
	cmd := exec.Command("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg)
	cmd.Dir = dir
	if _, err := output(cmd); err != nil {
		return "", fmt.Errorf("%w (an \"apt-get update\" may be needed)", err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, name+"_*.deb"))
	if len(m) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d matching .deb files", pkg, len(m))
	}
	return m[0], nil
}

// kernelPackage picks the versioned kernel package out of the meta
// package's Depends field ("linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)").
func kernelPackage(depends string) (string, error) {
	for _, alt := range strings.Split(depends, ",") {
		alt = strings.TrimSpace(alt)
		name, rest, _ := strings.Cut(alt, " ")
		if !strings.HasPrefix(name, "linux-image-") || name == kernelMeta {
			continue
		}
		rest = strings.TrimSpace(rest)
		if v, ok := strings.CutPrefix(rest, "(= "); ok {
			return name + "=" + strings.TrimSuffix(v, ")"), nil
		}
		return name, nil
	}
	return "", fmt.Errorf("no linux-image package in Depends %q", depends)
}

// findModuleTree returns the kernel version and module directory of an
// extracted kernel package (lib/modules or, after the /usr merge,
// usr/lib/modules).
func findModuleTree(x string) (string, string, error) {
	for _, base := range []string{"lib/modules", "usr/lib/modules"} {
		entries, err := os.ReadDir(filepath.Join(x, base))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				v := e.Name()
				if _, err := os.Stat(filepath.Join(x, "boot", "vmlinuz-"+v)); err != nil {
					return "", "", fmt.Errorf("kernel package has modules for %s but no boot/vmlinuz-%s", v, v)
				}
				return v, filepath.Join(x, base, v), nil
			}
		}
	}
	return "", "", errors.New("no module tree in the kernel package")
}

var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// moduleName returns the module name of a file ("nf_conntrack" for
// nf_conntrack.ko.xz) with dashes folded to underscores as modprobe does.
func moduleName(file string) (string, bool) {
	base := filepath.Base(file)
	for _, s := range moduleSuffixes {
		if n, ok := strings.CutSuffix(base, s); ok {
			return strings.ReplaceAll(n, "-", "_"), true
		}
	}
	return "", false
}

// copyModules copies the lab's modules and everything they depend on from
// src to dst, decompressed (busybox's modprobe cannot read .ko.xz or
// .ko.zst), keeping their relative paths. It returns how many it copied.
func copyModules(src, dst string) (int, error) {
	byName := map[string]string{} // module name -> path relative to src
	var roots []string
	err := filepath.WalkDir(filepath.Join(src, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, ok := moduleName(p)
		if !ok {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		byName[name] = rel
		if filepath.Dir(rel) == ipvsModuleDir {
			roots = append(roots, name)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing modules: %w", err)
	}
	if len(roots) == 0 {
		return 0, fmt.Errorf("no IPVS modules under %s", filepath.Join(src, ipvsModuleDir))
	}
	for _, m := range requiredModules {
		if _, ok := byName[m]; !ok {
			return 0, fmt.Errorf("kernel lacks module %s", m)
		}
		roots = append(roots, m)
	}
	for _, m := range optionalModules {
		if _, ok := byName[m]; ok {
			roots = append(roots, m)
		}
	}

	done := map[string]bool{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if done[m] {
			continue
		}
		done[m] = true
		rel, ok := byName[m]
		if !ok {
			return 0, fmt.Errorf("module %s needed but not in the kernel package", m)
		}
		out := filepath.Join(dst, stripCompression(rel))
		if err := decompressModule(filepath.Join(src, rel), out); err != nil {
			return 0, err
		}
		deps, err := output(exec.Command("modinfo", "-F", "depends", out))
		if err != nil {
			return 0, err
		}
		for _, d := range strings.Split(strings.TrimSpace(deps), ",") {
			if d = strings.ReplaceAll(strings.TrimSpace(d), "-", "_"); d != "" && !done[d] {
				queue = append(queue, d)
			}
		}
	}
	return len(done), nil
}

func stripCompression(rel string) string {
	for _, s := range []string{".xz", ".zst", ".gz"} {
		if r, ok := strings.CutSuffix(rel, ".ko"+s); ok {
			return r + ".ko"
		}
	}
	return rel
}

func decompressModule(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	var data []byte
	var err error
	switch {
	case strings.HasSuffix(src, ".xz"):
		data, err = outputBytes(exec.Command("xz", "-dc", src))
	case strings.HasSuffix(src, ".zst"):
		data, err = outputBytes(exec.Command("zstd", "-dc", src))
	case strings.HasSuffix(src, ".gz"):
		data, err = gunzipFile(src)
	default:
		return copyFile(src, dst)
	}
	if err != nil {
		return fmt.Errorf("decompressing %s: %w", src, err)
	}
	return os.WriteFile(dst, data, 0o644)
}

func gunzipFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	return nil
}

func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

func readString(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading: %w", err)
	}
	return string(b), nil
}

// output runs cmd and returns its standard output; the error names the
// command and carries its standard error.
func output(cmd *exec.Cmd) (string, error) {
	b, err := outputBytes(cmd)
	return string(b), err
}

func outputBytes(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// moduleList returns the module files under root, relative to it, sorted.
func moduleList(root string) ([]string, error) {
	var mods []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		mods = append(mods, rel)
		return nil
	})
	sort.Strings(mods)
	return mods, err
}
