package config

import (
	"bytes"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A cluster file is parsed in pieces. The nesting scanner, which reads
// every byte before HCL does (limits.go), also notes where a top-level
// item ends; the file is cut at some of those ends, chosen by the items'
// own text (cutAfter), into pieces of about pieceSize bytes: a block or
// two each. A piece that did not change since the last load is not parsed
// again (Loader), even when an edit above it moved it, and a virtual
// server is built again only when its piece changed (build.go).
//
// The pieces to parse are parsed in batches of consecutive pieces of up
// to batchSize bytes, each batch by HCL on its own, from its own line,
// and decoded at once, on as many cores as there are; a batch's items are
// then shared out to its pieces by their positions. So the syntax tree of
// only a few batches is alive at a time and HCL's token list never grows
// past a batch's.
//
// A piece that HCL finds broken sends the whole file through HCL in one
// go, so a syntax error is reported exactly as before, with nothing that
// only cutting the file could cause.
const (
	pieceSize = 512
	batchSize = 4 << 10
)

// pieceKey identifies a piece for the cache: the same text (by its
// sum) in the same file decodes to the same blocks, wherever it is; only
// their positions differ (parsed.move). nth tells apart pieces of the
// same text in one file.
type pieceKey struct {
	file string
	sum  pieceSum
	nth  int
}

// pieceSum is a piece's text hashed twice, with two seeds drawn at the
// process's start: 128 bits, so that two different texts in the cache of
// a process have the same sum with a chance of about 2^-128 per pair.
// The cache lives in memory only, so the sum need not be the same from
// one process to the next; a cryptographic hash would cost far more (a
// SHA-256 of a file of 5,000 services took 55 ms in the lab VM, whose
// emulated CPU has no SHA instructions, against under 1 ms for these).
type pieceSum [2]uint64

var pieceSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func sumPiece(text []byte) pieceSum {
	return pieceSum{maphash.Bytes(pieceSeeds[0], text), maphash.Bytes(pieceSeeds[1], text)}
}

// parsed is one piece (or a batch of them, or one whole file) decoded:
// the top-level items it holds. It is kept small: a large file has
// thousands.
type parsed struct {
	attrs  []topAttr
	blocks []topBlock // in file order within each kind
	bad    attrSet    // top-level attributes present but invalid
	diags  Diagnostics
	syntax bool    // HCL found a syntax error: there are no items
	start  hcl.Pos // where the piece starts in its file, which its ranges follow
}

// topAttr is a top-level attribute, at its index in the top level's spec.
type topAttr struct {
	i int
	v *value
}

// topBlock is a top-level block and its kind.
type topBlock struct {
	spec *blockSpec
	b    *block
}

// itemsOf lists the items of a decoded top level.
func itemsOf(root *block, diags Diagnostics, start hcl.Pos) *parsed {
	p := &parsed{bad: root.bad, diags: diags, start: start}
	for i, v := range root.attrs {
		if v != nil {
			p.attrs = append(p.attrs, topAttr{i, v})
		}
	}
	for _, bs := range root.spec.Blocks {
		for _, c := range root.blocks[bs.Name] {
			p.blocks = append(p.blocks, topBlock{bs, c})
		}
	}
	return p
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
	// Pieces of the same text are rare (a valid file has no two blocks
	// alike): half of the sum tells them apart well enough, and a false
	// match only costs a cache miss.
	seen := make(map[uint64]int, len(keys))
	line := 1
	for i := range keys {
		a, b := bounds[i], bounds[i+1]
		sum := sumPiece(src[a:b])
		keys[i] = pieceKey{file: filename, sum: sum, nth: seen[sum[0]]}
		seen[sum[0]]++
		starts[i] = hcl.Pos{Line: line, Column: 1, Byte: a}
		line += bytes.Count(src[a:b], []byte{'\n'})
	}

	pieces := make([]*parsed, len(keys))
	cacheable := make([]bool, len(keys)) // pieces of their own, for used
	var batches [][2]int                 // [first, end) of the pieces to parse
	for i, k := range keys {
		if p := cache[k]; p != nil {
			p.move(starts[i])
			pieces[i], cacheable[i] = p, true
			continue
		}
		n += bounds[i+1] - bounds[i]
		if last := len(batches) - 1; last >= 0 && batches[last][1] == i && bounds[i+1]-bounds[batches[last][0]] <= batchSize {
			batches[last][1] = i + 1
		} else {
			batches = append(batches, [2]int{i, i + 1})
		}
	}
	parseAll(len(batches), func(j int) {
		a, b := batches[j][0], batches[j][1]
		p := parsePiece(filename, src[bounds[a]:bounds[b]], starts[a], spec)
		if b-a > 1 && p.shareOut(pieces[a:b], bounds[a:b+1], starts[a:b]) {
			for i := a; i < b; i++ {
				cacheable[i] = true
			}
			return
		}
		// A batch with a mistake is kept whole (this load keeps no
		// piece then), the first piece standing for it.
		pieces[a], cacheable[a] = p, b-a == 1
	})

	root, diags, ok := merge(pieces, spec)
	if !ok {
		// Cutting the file can neither hide nor add a syntax error:
		// parse it whole, as HCL alone would.
		root, diags = parseWhole(filename, src, spec)
		return root, diags, len(src)
	}
	for i, k := range keys {
		if cacheable[i] {
			used[k] = pieces[i]
		}
	}
	return root, diags, n
}

// shareOut gives each of pieces the items of the batch p that lie between
// its bounds, starting at its start. It refuses, leaving pieces as they
// were, when p has a mistake: a mistake's diagnostic has no piece.
func (p *parsed) shareOut(pieces []*parsed, bounds []int, starts []hcl.Pos) bool {
	if p.syntax || len(p.diags) > 0 || p.bad != 0 {
		return false
	}
	for i := range pieces {
		pieces[i] = &parsed{start: starts[i]}
	}
	at := func(r hcl.Range) *parsed {
		i, found := slices.BinarySearch(bounds, r.Start.Byte)
		if !found {
			i--
		}
		return pieces[i]
	}
	for _, a := range p.attrs {
		q := at(a.v.nameRng)
		q.attrs = append(q.attrs, a)
	}
	for _, tb := range p.blocks {
		q := at(tb.b.typeRng)
		q.blocks = append(q.blocks, tb)
	}
	return true
}

// parseAll calls parse(i) for each i below n, on up to GOMAXPROCS
// goroutines.
func parseAll(n int, parse func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
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
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func parsePiece(filename string, src []byte, start hcl.Pos, spec *blockSpec) *parsed {
	if root, ok := readPlain(filename, src, start, spec); ok {
		return itemsOf(root, nil, start)
	}
	root, diags, ok := parseAt(filename, src, start, spec)
	if !ok {
		return &parsed{syntax: true, diags: diags, start: start}
	}
	return itemsOf(root, diags, start)
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
	for _, a := range p.attrs {
		a.v.move(dl, db)
	}
	for _, tb := range p.blocks {
		tb.b.move(dl, db)
	}
}

// parseWhole parses and decodes src in one piece.
func parseWhole(filename string, src []byte, spec *blockSpec) (*block, Diagnostics) {
	root, diags, _ := parseAt(filename, src, hcl.InitialPos, spec)
	return root, diags
}

// parseAt parses src, which starts at start in its file, and decodes its
// top level; after a syntax error root is nil and ok false.
func parseAt(filename string, src []byte, start hcl.Pos, spec *blockSpec) (root *block, diags Diagnostics, ok bool) {
	hf, hd := hclsyntax.ParseConfig(src, filename, start)
	if hd.HasErrors() {
		return nil, fromHCL(hd), false
	}
	body, native := hf.Body.(*hclsyntax.Body)
	if !native {
		return nil, Diagnostics{{Filename: filename, Message: "not an HCL native syntax file"}}, false
	}
	d := &decoder{}
	root = &block{}
	root.init(spec)
	d.decodeItems(body, spec, root)
	return root, d.diags, true
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
		if p == nil {
			continue // part of a batch kept whole
		}
		if p.syntax {
			return nil, nil, false
		}
		for _, a := range p.attrs {
			if root.attr(spec.Attrs[a.i].Name) != nil || root.bad.has(a.i) {
				return nil, nil, false
			}
			root.set(a.i, a.v)
		}
		if root.bad&p.bad != 0 {
			return nil, nil, false
		}
		for i := range spec.Attrs {
			if p.bad.has(i) && root.attr(spec.Attrs[i].Name) != nil {
				return nil, nil, false
			}
		}
		root.bad |= p.bad
		d.diags = append(d.diags, p.diags...)
		// A block of a kind the top level has once was checked against
		// the others of its piece when the piece was decoded.
		for _, tb := range p.blocks {
			if !d.duplicate(root, tb.spec, tb.b.typeRng) {
				root.addChild(tb.spec.Name, tb.b)
			}
		}
	}
	return root, d.diags, true
}
