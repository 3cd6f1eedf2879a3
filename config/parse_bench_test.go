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
	for _, n := range []int{1000, 20000} {
		src := bigConfig(n)
		at := bytes.Index(src, []byte("weight = 1"))
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
				next[at+len("weight = ")] = byte('2' + i%8)
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
