package config

import (
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
