package vm

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks into its
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte ASCII header, the NUL-terminated name padded to four bytes,
// then the data padded to four bytes, closed by a "TRAILER!!!" entry.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	err  error
	n    int64
	seen map[string]bool
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, seen: map[string]bool{}}
}

const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
)

// Dir adds a directory and any missing parents.
func (c *cpioWriter) Dir(name string, perm uint32) {
	name = cleanName(name)
	if name == "" || name == "." || c.seen[name] {
		return
	}
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeDir|perm, nil, "")
}

// File adds a regular file, creating missing parent directories.
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	name = cleanName(name)
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeFile|perm, data, "")
}

// Symlink adds a symbolic link name pointing at target.
func (c *cpioWriter) Symlink(name, target string) {
	name = cleanName(name)
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeSymlink|0o777, nil, target)
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0)
	return c.err
}

func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte, link string) {
	if name == "" {
		return
	}
	c.seen[name] = true
	body := data
	if mode&0o170000 == modeSymlink {
		body = []byte(link)
	}
	c.ino++
	c.header(name, c.ino, mode, len(body))
	c.write(body)
	c.pad()
}

func (c *cpioWriter) header(name string, ino, mode uint32, size int) {
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize (with NUL), check.
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(h))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// sortedKeys returns the keys of m in order, so archives are reproducible.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
