package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileRefusesNonFiles checks that ReadFile refuses at once what
// is not a cluster file: nothing may block, nor read without end.
func TestReadFileRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	tests := []struct{ file, want string }{
		{"/dev/zero", "reading config: is a device, not a regular file"},
		{fifo, "reading config: is a FIFO, not a regular file"},
		{dir, "reading config: is a directory, not a regular file"},
		{big, fmt.Sprintf("reading config: the file is %d bytes, more than the 64 MiB a cluster file may have", MaxFileSize+1)},
		{filepath.Join(dir, "missing.hcl"), "reading config: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			done := make(chan Diagnostics, 1)
			go func() {
				_, diags := ReadFile(tt.file)
				done <- diags
			}()
			select {
			case diags := <-done:
				if len(diags) != 1 || diags[0].Filename != tt.file || diags[0].Message != tt.want || diags[0].Line != 0 {
					t.Errorf("diagnostics %v, want %s: %s", diags, tt.file, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked")
			}
		})
	}
}

// TestReadFileCapsGrowingFile checks the read stops one byte past the
// limit whatever the file says of its size (as /proc files say 0).
func TestReadFileCapsGrowingFile(t *testing.T) {
	r := strings.NewReader(strings.Repeat("x", 100))
	got, err := readAtMost(r, make([]byte, 0, 1), 11)
	if err != nil || len(got) != 11 {
		t.Errorf("readAtMost = %d bytes, %v; want 11", len(got), err)
	}
	src, diags := ReadFile("/proc/self/status")
	if diags.HasErrors() || !bytes.Contains(src, []byte("Name:")) {
		t.Errorf("ReadFile(/proc/self/status) = %q, %v", src, diags)
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // several chunks
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, big, 0o644); err != nil {
		t.Fatal(err)
	}
	lastDiffers := bytes.Clone(big)
	lastDiffers[len(big)-1] = 'x'
	for _, tc := range []struct {
		name string
		want []byte
		same bool
	}{
		{"same", big, true},
		{"last byte differs", lastDiffers, false},
		{"shorter", big[:len(big)-1], false},
		{"longer", append(bytes.Clone(big), '\n'), false},
		{"empty", nil, false},
	} {
		if got := sameFile(name, tc.want); got != tc.same {
			t.Errorf("%s: sameFile = %v, want %v", tc.name, got, tc.same)
		}
	}
	if sameFile(filepath.Join(dir, "missing"), nil) {
		t.Error("a missing file is the same as an empty one")
	}
	if sameFile(dir, nil) {
		t.Error("a directory is the same as an empty file")
	}
}
