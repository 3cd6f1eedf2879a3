package config

import (
	"bytes"
	"crypto/sha256"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A large cluster file is parsed in pieces. The nesting scanner, which
// reads every byte before HCL does (limits.go), also notes where a
// top-level item ends; the file is cut at some of those ends, chosen by
// the items' own text (cutAfter), into pieces of about pieceSize bytes,
// and each piece is parsed by HCL on its own, from its own line, and
// decoded at once, on as many cores as there are. So the syntax tree of
// only a few pieces is alive at a time, HCL's token list never grows past
// a piece's, and a piece that did not change since the last load is not
// parsed again (Loader), even when an edit above it moved it.
//
// A piece that HCL finds broken sends the whole file through HCL in one
// go, so a syntax error is reported exactly as before, with nothing that
// only cutting the file could cause.
const pieceSize = 2 << 10

// pieceKey identifies a piece for the cache: the same text (by its
// SHA-256) in the same file decodes to the same blocks, wherever it is;
// only their positions differ (parsed.move). nth tells apart pieces of
// the same text in one file.
type pieceKey struct {
	file string
	sum  [sha256.Size]byte
	nth  int
}

// parsed is one piece (or one whole file) decoded: the top-level items
// it holds, in a block of the top level's spec.
type parsed struct {
	root   *block
	diags  Diagnostics
	syntax bool    // HCL found a syntax error: root is nil
	start  hcl.Pos // where the piece starts in its file, which its ranges follow
}

// parseSource parses src, checked by the limits first, and decodes its top
// level with spec. cache holds the pieces of earlier loads; the pieces of
// this one are added to used. n is the bytes parsed, those of the pieces
// not in cache.
func parseSource(filename string, src []byte, spec *blockSpec, cache, used map[pieceKey]*parsed) (root *block, diags Diagnostics, n int) {
	d, cuts := scanFile(filename, src, pieceSize)
	if d != nil {
		return nil, Diagnostics{d}, 0
	}
	bounds := append(append(make([]int, 0, len(cuts)+2), 0), cuts...)
	bounds = append(bounds, len(src))
	keys := make([]pieceKey, len(bounds)-1)
	starts := make([]hcl.Pos, len(keys))
	seen := make(map[[sha256.Size]byte]int, len(keys))
	line := 1
	for i := range keys {
		a, b := bounds[i], bounds[i+1]
		sum := sha256.Sum256(src[a:b])
		keys[i] = pieceKey{file: filename, sum: sum, nth: seen[sum]}
		seen[sum]++
		starts[i] = hcl.Pos{Line: line, Column: 1, Byte: a}
		line += bytes.Count(src[a:b], []byte{'\n'})
	}

	pieces := make([]*parsed, len(keys))
	var todo []int
	for i, k := range keys {
		if p := cache[k]; p != nil {
			p.move(starts[i])
			pieces[i] = p
		} else {
			todo = append(todo, i)
			n += bounds[i+1] - bounds[i]
		}
	}
	parseAll(todo, func(i int) {
		pieces[i] = parsePiece(filename, src[bounds[i]:bounds[i+1]], starts[i], spec)
	})

	root, diags, ok := merge(pieces, spec)
	if !ok {
		// Cutting the file can neither hide nor add a syntax error:
		// parse it whole, as HCL alone would.
		root, diags = parseWhole(filename, src, spec)
		return root, diags, len(src)
	}
	for i, k := range keys {
		used[k] = pieces[i]
	}
	return root, diags, n
}

// parseAll calls parse(i) for each of todo, on up to GOMAXPROCS
// goroutines.
func parseAll(todo []int, parse func(int)) {
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if workers <= 1 {
		for _, i := range todo {
			parse(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				parse(i)
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
}

func parsePiece(filename string, src []byte, start hcl.Pos, spec *blockSpec) *parsed {
	hf, hd := hclsyntax.ParseConfig(src, filename, start)
	if hd.HasErrors() {
		return &parsed{syntax: true, diags: fromHCL(hd), start: start}
	}
	p := decodeTop(filename, hf, spec)
	p.start = start
	return p
}

// move brings the positions of a cached piece to where it now starts: an
// edit above it moved it by whole lines. The caller holds the Loader's
// lock, as every reader of the blocks does.
func (p *parsed) move(to hcl.Pos) {
	dl, db := to.Line-p.start.Line, to.Byte-p.start.Byte
	if dl == 0 && db == 0 {
		return
	}
	p.start = to
	for _, d := range p.diags {
		if d.Line > 0 {
			d.Line += dl
			d.EndLine += dl
		}
	}
	if p.root != nil {
		p.root.move(dl, db)
	}
}

// parseWhole parses and decodes src in one piece.
func parseWhole(filename string, src []byte, spec *blockSpec) (*block, Diagnostics) {
	p := parsePiece(filename, src, hcl.InitialPos, spec)
	if p.syntax {
		return nil, p.diags
	}
	return p.root, p.diags
}

func decodeTop(filename string, hf *hcl.File, spec *blockSpec) *parsed {
	body, ok := hf.Body.(*hclsyntax.Body)
	if !ok {
		return &parsed{syntax: true, diags: Diagnostics{{Filename: filename, Message: "not an HCL native syntax file"}}}
	}
	d := &decoder{}
	root := &block{}
	root.init(spec)
	d.decodeItems(body, spec, root)
	return &parsed{root: root, diags: d.diags}
}

// merge joins the decoded pieces of a file into one top-level block. It
// fails when a piece has a syntax error, or when two pieces set the same
// attribute, which HCL reports when it parses the file whole.
func merge(pieces []*parsed, spec *blockSpec) (*block, Diagnostics, bool) {
	// root is new even for one piece: a cached piece is never changed.
	d := &decoder{}
	root := &block{}
	root.init(spec)
	for _, p := range pieces {
		if p.syntax {
			return nil, nil, false
		}
		for i, v := range p.root.attrs {
			if v == nil {
				continue
			}
			if root.attr(spec.Attrs[i].Name) != nil || root.bad.has(i) {
				return nil, nil, false
			}
			root.set(i, v)
		}
		if root.bad&p.root.bad != 0 {
			return nil, nil, false
		}
		for i := range spec.Attrs {
			if p.root.bad.has(i) && root.attr(spec.Attrs[i].Name) != nil {
				return nil, nil, false
			}
		}
		root.bad |= p.root.bad
		root.used |= p.root.used
		d.diags = append(d.diags, p.diags...)
		for _, bs := range spec.Blocks {
			children := p.root.blocks[bs.Name]
			if len(children) == 0 {
				continue
			}
			if d.duplicate(root, bs, children[0].typeRng) {
				continue
			}
			for _, c := range children {
				root.addChild(bs.Name, c)
			}
		}
	}
	return root, d.diags, true
}
