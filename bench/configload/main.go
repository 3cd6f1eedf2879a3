// Command configload measures what a user waits for while lvsd reads its
// cluster file, and prints the "Config load" section of BENCHMARKS.md:
//
//   - start: the CPU time (user and system apart) and the peak memory of
//     `lvsd validate` and `lvsd plan` against `keepalived -t` on the
//     equivalent keepalived.conf, at several numbers of services; the runs
//     alternate, lvsd first in odd rounds, keepalived first in even ones;
//   - reload: the CPU time of reading the files again as the daemon does
//     on a reload (a config.Loader kept from the start), with the files
//     unchanged and with one real server's weight changed, and the
//     process's memory after the start and after the reloads.
//
// It needs keepalived on PATH; it builds lvsd itself. From the module's
// root:
//
//	go run ./bench/configload [-n 1000,5000,20000,40000] [-nodes 4000] [-runs 5] [-write BENCHMARKS.md]
//
// -nodes also times `lvsd validate` of a file of that many node blocks.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	gen := flag.String("gen", "", "only write lvsd.hcl and keepalived.conf for the first -n into this directory")
	sizes := flag.String("n", "1000,5000,20000,40000", "numbers of services, comma-separated")
	nodes := flag.Int("nodes", 4000, "also time lvsd validate of a file of this many node blocks (0: not)")
	runs := flag.Int("runs", 5, "runs of each command at each size")
	reloads := flag.Int("reloads", 5, "reloads of each kind at each size")
	write := flag.String("write", "", "put the section in this markdown file (BENCHMARKS.md)")
	child := flag.String("reload-child", "", "internal: measure reloads of this cluster file in this process")
	hclOnly := flag.String("hcl-child", "", "internal: parse this cluster file with HCL's syntax parser alone")
	flag.Parse()
	if *hclOnly != "" {
		if err := hclChild(*hclOnly); err != nil {
			fmt.Fprintln(os.Stderr, "configload:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*gen, *sizes, *nodes, *runs, *reloads, *write, *child); err != nil {
		fmt.Fprintln(os.Stderr, "configload:", err)
		os.Exit(1)
	}
}

func run(gen, sizeList string, nodes, runs, reloads int, write, child string) error {
	if child != "" {
		return reloadChild(child, reloads)
	}
	var sizes []int
	for _, s := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -n %q", sizeList)
		}
		sizes = append(sizes, n)
	}
	if gen != "" {
		return generate(gen, sizes[0], 1)
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "configload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	lvsd := filepath.Join(tmp, "lvsd")
	self := filepath.Join(tmp, "configload")
	for _, b := range [][2]string{{lvsd, "./cmd/lvsd"}, {self, "./bench/configload"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir, cmd.Stderr = root, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", b[1], err)
		}
	}
	r := report{Date: time.Now().UTC(), Runs: runs, Reloads: reloads, Load: loadavg(), Commit: commit(root)}
	if nodes > 0 {
		file := filepath.Join(tmp, "nodes.hcl")
		if err := os.WriteFile(file, nodesHCL(nodes), 0o644); err != nil {
			return err
		}
		var got []sample
		for range runs {
			s, err := measure([]string{lvsd, "validate", "-c", file})
			if err != nil {
				return fmt.Errorf("lvsd validate of %d node blocks: %w", nodes, err)
			}
			got = append(got, s)
		}
		r.Nodes = &nodesRow{Nodes: nodes, Bytes: fileSize(file), Validate: summarise("lvsd validate", got)}
		fmt.Fprintf(os.Stderr, "configload: %d node blocks done\n", nodes)
	}
	for _, n := range sizes {
		dir := filepath.Join(tmp, strconv.Itoa(n))
		if err := generate(dir, n, 1); err != nil {
			return err
		}
		hcl, kconf := filepath.Join(dir, "lvsd.hcl"), filepath.Join(dir, "keepalived.conf")
		cmds := []struct {
			name string
			argv []string
		}{
			{"lvsd validate", []string{lvsd, "validate", "-c", hcl}},
			{"lvsd plan", []string{lvsd, "plan", "-c", hcl, "--node", "director-a"}},
			{"keepalived -t", []string{"keepalived", "-t", "-f", kconf}},
			{"HCL syntax alone", []string{self, "-hcl-child", hcl}},
		}
		got := make([][]sample, len(cmds))
		for i := range runs {
			order := []int{0, 1, 2, 3}
			if i%2 == 1 {
				order = []int{2, 3, 0, 1}
			}
			for _, c := range order {
				s, err := measure(cmds[c].argv)
				if err != nil {
					return fmt.Errorf("%s at %d services: %w", cmds[c].name, n, err)
				}
				got[c] = append(got[c], s)
			}
		}
		size := sizeRow{Services: n, HCLBytes: fileSize(hcl), KeepalivedBytes: fileSize(kconf)}
		for c := range cmds {
			size.Commands = append(size.Commands, summarise(cmds[c].name, got[c]))
		}
		out, err := exec.Command(self, "-reload-child", hcl, "-reloads", strconv.Itoa(reloads)).Output()
		if err != nil {
			return fmt.Errorf("reloads at %d services: %w", n, err)
		}
		if err := json.Unmarshal(out, &size.Reload); err != nil {
			return fmt.Errorf("reloads at %d services: %w", n, err)
		}
		r.Sizes = append(r.Sizes, size)
		fmt.Fprintf(os.Stderr, "configload: %d services done\n", n)
	}
	sec := r.markdown()
	fmt.Print(sec)
	if write != "" {
		path, err := benchrun.WriteSection(root, write, sec)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "configload: wrote", path)
	}
	return nil
}

// sample is one finished process: its wall time from its start to its
// exit, its CPU times and its peak resident memory, as the kernel
// accounts them (getrusage of the reaped child).
type sample struct {
	Wall, User, Sys time.Duration
	PeakKiB         int64
}

func measure(argv []string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, fmt.Errorf("no resource usage for %s", argv[0])
	}
	return sample{
		Wall:    wall,
		User:    time.Duration(ru.Utime.Nano()),
		Sys:     time.Duration(ru.Stime.Nano()),
		PeakKiB: ru.Maxrss,
	}, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// loadavg is the host's load average before the runs.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
