package main

import (
	"bytes"
	"errors"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hclChild parses file with HCL's syntax parser alone, in pieces of
// about 4 KiB cut where a top-level block ends, one after the other, and
// keeps nothing: the least that reading the file through HCL costs, with
// none of lvsd's decoding, checks or retained tree, and the garbage of
// each piece collected in a heap that stays small.
func hclChild(file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pos := hcl.InitialPos
	for len(src) > 0 {
		n := len(src)
		if len(src) > 4<<10 {
			if i := bytes.Index(src[4<<10:], []byte("\n}\n")); i >= 0 {
				n = 4<<10 + i + 3
			}
		}
		if _, diags := hclsyntax.ParseConfig(src[:n], file, pos); diags.HasErrors() {
			return errors.New(diags.Error())
		}
		pos.Line += bytes.Count(src[:n], []byte{'\n'})
		pos.Byte += n
		src = src[n:]
	}
	return nil
}
