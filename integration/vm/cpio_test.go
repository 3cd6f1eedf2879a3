package vm

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cpioEntry is one entry of a newc archive as a reader sees it.
type cpioEntry struct {
	Name string
	Mode uint32
	Data string
}

// readCPIO parses a newc archive up to its trailer.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at offset %d", off)
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		name := string(b[off+110 : off+110+namesize-1])
		off += 110 + namesize
		align()
		data := string(b[off : off+size])
		off += size
		align()
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, data})
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	c := newCPIOWriter(&buf)
	c.File("/usr/sbin/tool", 0o755, []byte("abcde"))
	c.Symlink("bin/sh", "busybox")
	c.Dir("usr", 0o755) // already made as a parent: not repeated
	c.File("etc/hosts", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := []cpioEntry{
		{"usr", modeDir | 0o755, ""},
		{"usr/sbin", modeDir | 0o755, ""},
		{"usr/sbin/tool", modeFile | 0o755, "abcde"},
		{"bin", modeDir | 0o755, ""},
		{"bin/sh", modeSymlink | 0o777, "busybox"},
		{"etc", modeDir | 0o755, ""},
		{"etc/hosts", modeFile | 0o644, ""},
	}
	if diff := cmp.Diff(want, readCPIO(t, buf.Bytes())); diff != "" {
		t.Errorf("archive entries (-want +got):\n%s", diff)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", buf.Len())
	}

	// GNU cpio, when present, is an independent reader.
	if _, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command("cpio", "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -it: %v", err)
		}
		var names []string
		for _, e := range want {
			names = append(names, e.Name)
		}
		if diff := cmp.Diff(strings.Join(names, "\n")+"\n", string(out)); diff != "" {
			t.Errorf("cpio -it listing (-want +got):\n%s", diff)
		}
	}
}

func TestParseLDD(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{
			name: "ipvsadm",
			in: "\tlinux-vdso.so.1 (0x00007ffd)\n" +
				"\tlibnl-genl-3.so.200 => /lib/x86_64-linux-gnu/libnl-genl-3.so.200 (0x00007f)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n",
			want: []string{"/lib/x86_64-linux-gnu/libnl-genl-3.so.200", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{name: "static", in: "\tnot a dynamic executable\n"},
		{name: "missing", in: "\tlibfoo.so.1 => not found\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLDD(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKernelPackage(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)", want: "linux-image-6.1.0-56-cloud-amd64=6.1.192-2"},
		{in: "linux-image-6.12.9-cloud-amd64", want: "linux-image-6.12.9-cloud-amd64"},
		{in: "initramfs-tools, linux-image-6.1.0-9-cloud-amd64 (= 6.1.27-1)", want: "linux-image-6.1.0-9-cloud-amd64=6.1.27-1"},
		{in: "libc6", wantErr: true},
	}
	for _, tt := range tests {
		got, err := kernelPackage(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("kernelPackage(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestModuleNames(t *testing.T) {
	tests := []struct {
		file, name, plain string
		ok                bool
	}{
		{"kernel/net/netfilter/ipvs/ip_vs_rr.ko", "ip_vs_rr", "kernel/net/netfilter/ipvs/ip_vs_rr.ko", true},
		{"kernel/lib/libcrc32c.ko.xz", "libcrc32c", "kernel/lib/libcrc32c.ko", true},
		{"kernel/net/ipv6/ip6-tunnel.ko.zst", "ip6_tunnel", "kernel/net/ipv6/ip6-tunnel.ko", true},
		{"modules.order", "", "modules.order", false},
	}
	for _, tt := range tests {
		name, ok := moduleName(tt.file)
		if name != tt.name || ok != tt.ok {
			t.Errorf("moduleName(%q) = %q, %v; want %q, %v", tt.file, name, ok, tt.name, tt.ok)
		}
		if got := stripCompression(tt.file); got != tt.plain {
			t.Errorf("stripCompression(%q) = %q, want %q", tt.file, got, tt.plain)
		}
	}
}

func TestCleanLineAndExitMarker(t *testing.T) {
	tests := []struct {
		in, want string
		exit     int
	}{
		{in: "\x1bc\x1b[?7lSeaBIOS (version 1.16)\r", want: "SeaBIOS (version 1.16)", exit: -1},
		{in: exitMarker + "0\r", want: exitMarker + "0", exit: 0},
		{in: "[    4.1] random: crng init done" + exitMarker + "3", want: "[    4.1] random: crng init done" + exitMarker + "3", exit: 3},
		{in: "echo " + exitMarker + "1 is not the end", want: "echo " + exitMarker + "1 is not the end", exit: -1},
	}
	for _, tt := range tests {
		got := cleanLine(tt.in)
		if got != tt.want {
			t.Errorf("cleanLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
		exit := -1
		if m := exitRE.FindStringSubmatch(got); m != nil {
			exit, _ = strconv.Atoi(m[1])
		}
		if exit != tt.exit {
			t.Errorf("exit status in %q = %d, want %d", got, exit, tt.exit)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "it's", "a b$c`d`", ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("sh read %s as %q, want %q", shellQuote(s), out, s)
		}
	}
}
