package config

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkParse times Parse and Resolve of a generated file of n virtual
// servers with two real servers and an HTTP check each: what `lvsd plan`
// and a director's start spend on the file.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		src := bigConfig(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				f, diags := Parse("big.hcl", src)
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				if _, diags := f.Resolve("a"); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		})
	}
}

// BenchmarkReloadOneWeight times a Loader's parse of a file of n virtual
// servers in which one real server's weight changed since its last parse:
// what a reload costs the config package.
func BenchmarkReloadOneWeight(b *testing.B) {
	benchReload(b, 0)
}

// BenchmarkReloadOnePercent is BenchmarkReloadOneWeight with one virtual
// server in a hundred changed (a real server's weight in each).
func BenchmarkReloadOnePercent(b *testing.B) {
	benchReload(b, 100)
}

// benchReload times a reload of files of 1,000 and 20,000 virtual servers
// in which a real server's weight changed since the last parse: in the
// first virtual server and every step-th after it, or with step 0 in the
// first alone.
func benchReload(b *testing.B, step int) {
	for _, n := range []int{1000, 20000} {
		src := bigConfig(n)
		// Each virtual server has two real servers, so two weights.
		var at []int
		for i, off := 0, 0; ; i++ {
			j := bytes.Index(src[off:], []byte("weight = 1"))
			if j < 0 || (step == 0 && i > 0) {
				break
			}
			if step == 0 || i%(2*step) == 0 {
				at = append(at, off+j)
			}
			off += j + 1
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			l := NewLoader()
			if _, diags := l.Parse("big.hcl", src); diags.HasErrors() {
				b.Fatal(diags)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A reload reads the file into a new buffer.
				next := bytes.Clone(src)
				for _, a := range at {
					next[a+len("weight = ")] = byte('2' + i%8)
				}
				i++
				f, diags := l.Parse("big.hcl", next)
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				if _, diags := f.Resolve("a"); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		})
	}
}
