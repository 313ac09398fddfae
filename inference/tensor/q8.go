package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// Int8 activations. The matrix multiplies of Q4_1 and Q8_0 weights can take
// their input vectors quantized, as llama.cpp does: each run of QK values
// becomes QK int8 values q and a float32 scale d (value ≈ d·q), plus
// s = d·Σq for Q4_1's offset term. A block's product is then an exact int32
// dot product of the weight and activation bytes (AVX-512 VNNI, VPDPBUSD)
// times the two scales, instead of float32 multiply-adds. The results
// differ from the float32 path by the rounding of the activations
// (relative error ≈ 1/254 per value), so the float32 path stays the exact
// one; these kernels exist where the CPU has AVX-512 VNNI or AVX2
// (Q8Supported).

// q8Pad is how many bytes past the last vector the kernels may read: they
// load two blocks at a time.
const q8Pad = QK

// q8Group is the number of vectors interleaved together for MulMatQ8: one
// per lane of a 16-lane vector.
const q8Group = 16

// Q8Vectors is n activation vectors of Cols values quantized to Q8 blocks,
// made by QuantizeQ8 for MulRowsQ8 and MulMatQ8.
type Q8Vectors struct {
	N, Cols int
	q       []int8    // vector b at q[b*Cols:(b+1)*Cols], q8Pad bytes after the last
	d, s    []float32 // vector b's block scales and d·Σq at [b*stride:], stride sumsLen(Cols/QK)
	tiled   bool      // laid out for MulMatQ8 too (Reset)
	tiles   q8Tiles   // that layout, where the kernel takes one (q8Interleaved)
}

// q8Tiles holds the vectors in groups of q8Group, interleaved for the
// prefill kernel: per group, per block, per four columns, the four bytes of
// every vector of the group (each q+128, as unsigned bytes), then per group
// and block the 16 vectors' d and s. Lanes past the last vector hold q = 0,
// d = s = 0. Only the VNNI tile kernel reads it (q8Interleaved); for the
// AVX2 one, which reads the vectors as they are, it stays empty.
type q8Tiles struct {
	q    []byte
	d, s []float32
}

// QuantizeRowQ8 quantizes one vector x (a multiple of QK values) into q
// (len(x) int8), and per block d[i] = max|x|/127 and s[i] = d[i]·Σq: each
// q = round(x/d) (to even), clamped to ±127; a block of zeros gets d = 0.
// It panics when the slices are too short (a programming error).
func QuantizeRowQ8(x []float32, q []int8, d, s []float32) {
	nb := len(x) / QK
	if len(x)%QK != 0 || len(q) < len(x) || len(d) < nb || len(s) < nb {
		panic(fmt.Sprintf("tensor.QuantizeRowQ8: %d values into %d bytes, %d scales, %d sums", len(x), len(q), len(d), len(s)))
	}
	if quantizeRowQ8Vector(x, q, d, s) {
		return
	}
	for i := range nb {
		d[i], s[i] = quantBlockQ8((*[QK]float32)(x[i*QK:]), (*[QK]int8)(q[i*QK:]))
	}
}

// quantBlockQ8 quantizes one block and returns its d and s.
func quantBlockQ8(x *[QK]float32, q *[QK]int8) (d, s float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d = amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	var sum int32
	for j, v := range x {
		r := math.RoundToEven(float64(v * id))
		r = max(-127, min(127, r))
		q[j] = int8(r)
		sum += int32(r)
	}
	return d, d * float32(sum)
}

// QuantizeQ8 quantizes n vectors of cols values (cols a multiple of QK)
// from x for MulRowsQ8; with tiled set it also lays them out for MulMatQ8.
// It panics when x is too short or cols is not a multiple of QK.
func QuantizeQ8(x []float32, n, cols int, tiled bool) *Q8Vectors {
	v := new(Q8Vectors)
	v.Reset(n, cols, tiled)
	v.Fill(x, 0, n)
	return v
}

// Reset sizes v for n vectors of cols values (a multiple of QK), reusing
// its memory; Fill then quantizes them. With tiled set Fill also lays them
// out for MulMatQ8. It panics when cols is not a multiple of QK.
func (v *Q8Vectors) Reset(n, cols int, tiled bool) {
	if n < 0 || cols < 0 || cols%QK != 0 {
		panic(fmt.Sprintf("tensor.Q8Vectors.Reset: %d vectors of %d", n, cols))
	}
	nb, stride := cols/QK, sumsLen(cols/QK)
	v.N, v.Cols = n, cols
	v.q = resize(v.q, n*cols+q8Pad)
	clear(v.q[n*cols:])
	v.d, v.s = resize(v.d, n*stride), resize(v.s, n*stride)
	for b := range n { // the padding past each vector's blocks
		clear(v.d[b*stride+nb : (b+1)*stride])
		clear(v.s[b*stride+nb : (b+1)*stride])
	}
	v.tiled = tiled
	if tiled && q8Interleaved() {
		v.tiles.reset(n, nb)
	}
}

// Fill quantizes vectors [lo,hi) of x (which holds all v.N vectors, v.Cols
// values each). Calls on disjoint ranges may run at once.
func (v *Q8Vectors) Fill(x []float32, lo, hi int) {
	if lo < 0 || hi > v.N || lo > hi || len(x) < v.N*v.Cols {
		panic(fmt.Sprintf("tensor.Q8Vectors.Fill: vectors [%d,%d) of %d, %d floats", lo, hi, v.N, len(x)))
	}
	stride := sumsLen(v.Cols / QK)
	for b := lo; b < hi; b++ {
		QuantizeRowQ8(x[b*v.Cols:(b+1)*v.Cols], v.q[b*v.Cols:], v.d[b*stride:], v.s[b*stride:])
		if v.tiled && q8Interleaved() {
			v.interleaveVector(b)
		}
	}
}

// vector returns vector b's bytes, scales and sums.
func (v *Q8Vectors) vector(b int) (q []int8, d, s []float32) {
	nb, stride := v.Cols/QK, sumsLen(v.Cols/QK)
	return v.q[b*v.Cols : (b+1)*v.Cols+q8Pad], v.d[b*stride : b*stride+nb], v.s[b*stride : b*stride+nb]
}

// reset sizes the MulMatQ8 layout for n vectors of nb blocks and fills the
// lanes past the last vector with zeros (q+128 = 128, d = s = 0).
func (t *q8Tiles) reset(n, nb int) {
	groups := (n + q8Group - 1) / q8Group
	t.q = resize(t.q, groups*nb*QK*q8Group)
	t.d, t.s = resize(t.d, groups*nb*q8Group), resize(t.s, groups*nb*q8Group)
	for lane := n % q8Group; lane > 0 && lane < q8Group; lane++ {
		g := groups - 1
		for i := range nb {
			blk := (g*nb + i) * QK * q8Group
			for j := 0; j < QK; j += 4 {
				binary.LittleEndian.PutUint32(t.q[blk+j*q8Group+4*lane:], 0x80808080)
			}
			t.d[(g*nb+i)*q8Group+lane], t.s[(g*nb+i)*q8Group+lane] = 0, 0
		}
	}
}

// interleaveVector writes vector b's lane of the MulMatQ8 layout (see
// q8Tiles).
func (v *Q8Vectors) interleaveVector(b int) {
	t, nb := &v.tiles, v.Cols/QK
	g, lane := b/q8Group, b%q8Group
	q, d, s := v.vector(b)
	qb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(q))), len(q))
	for i := range nb {
		blk := (g*nb + i) * QK * q8Group
		for j := 0; j < QK; j += 4 {
			o := blk + j*q8Group + 4*lane
			binary.LittleEndian.PutUint32(t.q[o:], binary.LittleEndian.Uint32(qb[i*QK+j:])^0x80808080)
		}
		t.d[(g*nb+i)*q8Group+lane] = d[i]
		t.s[(g*nb+i)*q8Group+lane] = s[i]
	}
}

// Q8Supported reports whether MulRowsQ8 and MulMatQ8 can multiply matrices
// of type t on this CPU (and in this build).
func Q8Supported(t DType) bool {
	return (t == Q4_1 || t == Q8_0) && q8CPU()
}

// MulRowsQ8 is MulRows with quantized input vectors (decoding): for b in
// [0,x.N) and r in [r0,r1), out[b*m.Rows+r] = dot(row r, vector b). Each
// product is the same bits whatever n and the row range. It panics when the
// arguments do not fit the matrix or Q8Supported(m.Type) is false.
func (m *Matrix) MulRowsQ8(out []float32, x *Q8Vectors, r0, r1 int) {
	if m.int8 != nil {
		m.int8.MulRowsQ8(out, x, r0, r1)
		return
	}
	m.checkQ8(out, x, r0, r1, "MulRowsQ8")
	if q8Rows16() && m.quadsCopy() {
		m.mulRows16Q8(out, x, r0, r1)
		return
	}
	rb, tile := m.RowBytes(), rowTile
	if x.N == 1 {
		tile = max(1, r1-r0) // no tile to keep in cache for other vectors: the rows in one call, which the kernels may read as several streams
	}
	for t := r0; t < r1; t += tile {
		te := min(t+tile, r1)
		for b := 0; b < x.N; {
			if k := q8RowsN(m.Type, m.Data[t*rb:te*rb], out[b*m.Rows+t:b*m.Rows+te], m.Rows, x, b); k > 0 {
				b += k
				continue
			}
			q, d, s := x.vector(b)
			q8Rows(m.Type, m.Data[t*rb:te*rb], out[b*m.Rows+t:b*m.Rows+te], q, d, s)
			b++
		}
	}
}

// q8TileBatch is the fewest vectors that MulRowsQ8 multiplies with a Q4_1
// matrix's interleaved copy through the tile kernel, which unpacks each
// group into a tile of bytes once for all of them, rather than through the
// row kernels, which split a group's nibbles in registers for each four
// vectors.
var q8TileBatch = 16

// rows16Chunk is about how many bytes of an interleaved copy the row
// kernels take at a time for every four vectors in turn: they stay in the
// core's second-level cache meanwhile, and the copy is read from memory
// once.
const rows16Chunk = 64 << 10

// mulRows16Q8 is MulRowsQ8 over the interleaved copy of a Q4_1 or Q8_0
// matrix (AVX2): through the row kernels, up to four vectors at a time (a
// group's weights loaded, and Q4_1's split into nibbles, once for them;
// each vector with the one-vector kernel's bits), and for Q4_1 from
// q8TileBatch vectors on through the tile kernel; a group only partly
// inside [r0,r1) is computed whole and the rows wanted are copied.
func (m *Matrix) mulRows16Q8(out []float32, x *Q8Vectors, r0, r1 int) {
	if m.Type == Q4_1 && x.N >= q8TileBatch {
		m.mulMatQ8Lanes(out, x, r0, r1, rowsOrder)
		return
	}
	nb := m.Cols / QK
	gb, kernel := nb*rows16Bytes(m.Type), q8Rows16KernelN
	if m.Type == Q8_0 {
		kernel = q80QuadsKernelN
	}
	chunk := max(1, rows16Chunk/gb)
	if x.N <= 4 {
		chunk = math.MaxInt // one pass over the rows: no other vectors to keep them for
	}
	groupsInRange(out, x.N, m.Rows, r0/16, (r1+15)/16, r0, r1, func(g, count int, o []float32, os int) {
		for c := 0; c < count; c += chunk {
			w, groups := m.rows16[(g+c)*gb:], min(chunk, count-c)
			for b := 0; b < x.N; b += 4 {
				kernel(w, nb, groups, x, b, min(4, x.N-b), o[b*os+16*c:], os)
			}
		}
	})
}

func (m *Matrix) checkQ8(out []float32, x *Q8Vectors, r0, r1 int, fn string) {
	switch {
	case !Q8Supported(m.Type):
		panic(fmt.Sprintf("tensor.Matrix.%s: no int8 kernels for %s on this CPU", fn, m.Type))
	case x.Cols != m.Cols:
		panic(fmt.Sprintf("tensor.Matrix.%s: vectors of %d for a %d×%d matrix", fn, x.Cols, m.Rows, m.Cols))
	case r0 < 0 || r1 < r0 || r1 > m.Rows:
		panic(fmt.Sprintf("tensor.Matrix.%s: rows [%d,%d) of %d", fn, r0, r1, m.Rows))
	case x.N > 0 && len(out) < (x.N-1)*m.Rows+r1:
		panic(fmt.Sprintf("tensor.Matrix.%s: out has %d floats, need %d×%d", fn, len(out), x.N, m.Rows))
	}
}

// MulMatQ8 is MulMat with quantized input vectors (prefill), x made by
// QuantizeQ8 with tiled set: tiles of 16 weight rows are unpacked to bytes
// once and multiplied with 16 vectors at a time (where the CPU's tile kernel
// takes m's type; else it is MulRowsQ8, whose row tiles also stay in cache
// while every vector passes). The result for a vector and
// a row does not depend on n, on the row range or on other vectors; it may
// differ from MulRowsQ8's in the last bits (another summation order).
// Callers split [0,Rows) across goroutines, preferably at multiples of 16
// rows. It panics when the arguments do not fit, like MulRowsQ8, or when x
// is not tiled.
func (m *Matrix) MulMatQ8(out []float32, x *Q8Vectors, r0, r1 int) {
	if m.int8 != nil {
		m.int8.MulMatQ8(out, x, r0, r1)
		return
	}
	m.checkQ8(out, x, r0, r1, "MulMatQ8")
	if !x.tiled {
		panic("tensor.Matrix.MulMatQ8: vectors not quantized with tiled set")
	}
	if x.N == 0 || r0 == r1 {
		return
	}
	if !q8Tiled(m.Type) {
		m.MulRowsQ8(out, x, r0, r1)
		return
	}
	if !q8Interleaved() {
		m.mulMatQ8Lanes(out, x, r0, r1, promptOrder)
		return
	}
	nb := m.Cols / QK
	w := newQ8WeightTile(nb)
	var res [q8Group][q8Group]float32
	groups := (x.N + q8Group - 1) / q8Group
	for t := r0; t < r1; t += q8Group {
		te := min(t+q8Group, r1)
		w.unpack(m, t, te)
		for g := range groups {
			q8TileKernel(w, &x.tiles, g, nb, &res)
			for lane := range min(q8Group, x.N-g*q8Group) {
				o := out[(g*q8Group+lane)*m.Rows+t : (g*q8Group+lane)*m.Rows+te]
				for i := range o {
					o[i] = res[i][lane]
				}
			}
		}
	}
}

// mulMatQ8Lanes is MulMatQ8 on the AVX2 tile kernels, which keep the 16
// rows of a tile in lanes and take four or two vectors at a time, as they
// are (the last one of an odd count twice), writing each vector's 16
// results in place: a vector's results do not depend on its partners.
// Tiles are the matrix's groups of 16 rows (those of its interleaved copy);
// a group only partly inside [r0,r1) is computed whole and the rows wanted
// are copied (groupsInRange). In rowsOrder it computes per row and vector
// what q41Rows16Q8AVX2 does, in the same order, so MulRowsQ8 takes it for
// batches too (mulRows16Q8); prompts take promptOrder, which adds the Q4_1
// blocks' offset terms after the scaled dot products (see q8TileAVX2).
//
// Long prompts go through in passes of lanesVectors(x.Cols) vectors, each
// over all the tiles (unpacked again for each pass), so that a pass's
// vectors stay in the core's second-level cache while the tiles go by.
func (m *Matrix) mulMatQ8Lanes(out []float32, x *Q8Vectors, r0, r1 int, o lanesOrder) {
	w := getQ8WeightTile(m.Cols / QK)
	defer q8TilePool.Put(w)
	pass := lanesVectors(x.Cols)
	groupsInRange(out, x.N, m.Rows, r0/q8Group, (r1+q8Group-1)/q8Group, r0, r1, func(g, count int, dst []float32, ds int) {
		for b0 := 0; b0 < x.N; b0 += pass {
			b1 := min(b0+pass, x.N)
			for k := range count {
				t := (g + k) * q8Group
				w.unpackQuads(m, t, min(t+q8Group, m.Rows))
				q8LanesRange(w, x, b0, b1, dst[k*q8Group:], ds, o)
			}
		}
	})
}

// lanesBytes is about how many bytes of int8 vectors one pass of
// mulMatQ8Lanes multiplies with each tile: well inside a core's
// second-level cache (512 KiB and more on CPUs with AVX2), beside the tile.
var lanesBytes = 128 << 10

// lanesVectors is the number of vectors of cols values in one pass of
// mulMatQ8Lanes: a multiple of four, at least four.
func lanesVectors(cols int) int {
	return max(4, lanesBytes/max(1, cols)/4*4)
}

// lanesOrder is the summation order of the AVX2 tile kernels: the row
// kernels' (each block's offset term right after its dot product) or a
// prompt's (the offset terms after all the dot products).
type lanesOrder bool

const (
	rowsOrder   lanesOrder = false
	promptOrder lanesOrder = true
)

// q8LanesRange multiplies the unpacked tile w with vectors [b0,b1) of x,
// vector b's 16 results at out[b*ostride:]: four at a time, then two (the
// last one of an odd count twice).
func q8LanesRange(w *q8WeightTile, x *Q8Vectors, b0, b1 int, out []float32, ostride int, o lanesOrder) {
	q8Lanes4Kernel(w, x, b0, (b1-b0)/4, out[b0*ostride:], ostride, o)
	for b := b0 + (b1-b0)/4*4; b < b1; b += 2 {
		b2 := min(b+1, b1-1)
		q8LanesKernel(w, x, b, b2, out[b*ostride:b*ostride+q8Group], out[b2*ostride:b2*ostride+q8Group], o)
	}
}

// q8TilePool keeps weight tiles between calls: a generated token's matrix
// multiplies would otherwise allocate one each.
var q8TilePool = sync.Pool{New: func() any { return new(q8WeightTile) }}

// getQ8WeightTile returns a tile of nb blocks from the pool.
func getQ8WeightTile(nb int) *q8WeightTile {
	w := q8TilePool.Get().(*q8WeightTile)
	if cap(w.d) < nb*q8Group {
		*w = *newQ8WeightTile(nb)
		return w
	}
	w.w, w.c = w.w[:nb*QK*q8Group], w.c[:nb*q8Group]
	w.d, w.mn = w.d[:nb*q8Group], w.mn[:nb*q8Group]
	return w
}

// q8WeightTile is 16 weight rows unpacked for the prefill kernel: per
// block, the 16 rows' QK signed bytes (Q4_1 nibbles 0…15, Q8_0 values),
// each row's bytes together (VNNI), or per four columns the 16 rows' four
// bytes (AVX2: quads), and per block the 16 rows' c = -128·Σw (which
// cancels the +128 of the VNNI kernel's activation bytes), scale d and
// offset m (0 for Q8_0). Rows past the matrix's are zero.
type q8WeightTile struct {
	w     []byte
	c     []int32
	d, mn []float32
}

func newQ8WeightTile(nb int) *q8WeightTile {
	return &q8WeightTile{w: make([]byte, nb*QK*q8Group), c: make([]int32, nb*q8Group),
		d: make([]float32, nb*q8Group), mn: make([]float32, nb*q8Group)}
}

// unpack fills the tile with rows [t,te) of m.
func (w *q8WeightTile) unpack(m *Matrix, t, te int) {
	nb := m.Cols / QK
	rb := m.RowBytes()
	for r := range q8Group {
		if t+r >= te {
			w.zeroRow(r, nb)
			continue
		}
		row := m.Data[(t+r)*rb : (t+r+1)*rb]
		for i := range nb {
			k := i*q8Group + r
			dst := (*[QK]byte)(w.w[k*QK:])
			switch m.Type {
			case Q4_1:
				w.d[k], w.mn[k], w.c[k] = unpackQ41((*[q41Bytes]byte)(row[i*q41Bytes:]), dst)
			case Q8_0:
				w.d[k], w.c[k] = unpackQ80((*[q80Bytes]byte)(row[i*q80Bytes:]), dst)
				w.mn[k] = 0
			}
		}
	}
}

func (w *q8WeightTile) zeroRow(r, nb int) {
	for i := range nb {
		k := i*q8Group + r
		clear(w.w[k*QK : (k+1)*QK])
		w.c[k], w.d[k], w.mn[k] = 0, 0, 0
	}
}

// unpackQuads fills the tile with Q4_1 rows [t,te) of m in column quads
// (the AVX2 tile): from the interleaved copy where there is one and t
// starts a group, else from the rows.
func (w *q8WeightTile) unpackQuads(m *Matrix, t, te int) {
	if m.rows16 != nil && t%16 == 0 {
		nb := m.Cols / QK
		unpackRows16(m.rows16[t/16*nb*q41Rows16Bytes:], nb, w.w, w.d, w.mn)
		return
	}
	w.unpackQ41Quads(m, t, te)
}

// unpackQ41Quads is unpack of Q4_1 rows in quads (the AVX2 tile): each
// row's nibbles go straight to their four-byte places, and c, which that
// kernel does not use, is left alone.
func (w *q8WeightTile) unpackQ41Quads(m *Matrix, t, te int) {
	const low = 0x0f0f0f0f0f0f0f0f
	nb, rb := m.Cols/QK, m.RowBytes()
	for r := range q8Group {
		if t+r >= te {
			for i := range nb {
				blk := w.w[i*QK*q8Group:]
				for k := range QK / 4 {
					binary.LittleEndian.PutUint32(blk[k*4*q8Group+4*r:], 0)
				}
				w.d[i*q8Group+r], w.mn[i*q8Group+r] = 0, 0
			}
			continue
		}
		row := m.Data[(t+r)*rb : (t+r+1)*rb]
		for i := range nb {
			src := (*[q41Bytes]byte)(row[i*q41Bytes:])
			a, b := binary.LittleEndian.Uint64(src[4:]), binary.LittleEndian.Uint64(src[12:])
			blk := (*[QK * q8Group]byte)(w.w[i*QK*q8Group:])
			o := 4 * r
			for k, v := range [4]uint64{a & low, b & low, (a >> 4) & low, (b >> 4) & low} {
				binary.LittleEndian.PutUint32(blk[o+2*k*4*q8Group:], uint32(v))
				binary.LittleEndian.PutUint32(blk[o+(2*k+1)*4*q8Group:], uint32(v>>32))
			}
			w.d[i*q8Group+r], w.mn[i*q8Group+r] = half(src[0:]), half(src[2:])
		}
	}
}

// unpackQ41 writes a Q4_1 block's 32 nibbles as bytes (low nibbles first)
// and returns d, m and -128·Σq.
func unpackQ41(blk *[q41Bytes]byte, dst *[QK]byte) (d, m float32, c int32) {
	const low = 0x0f0f0f0f0f0f0f0f
	a, b := binary.LittleEndian.Uint64(blk[4:]), binary.LittleEndian.Uint64(blk[12:])
	lo0, lo1 := a&low, b&low
	hi0, hi1 := (a>>4)&low, (b>>4)&low
	binary.LittleEndian.PutUint64(dst[0:], lo0)
	binary.LittleEndian.PutUint64(dst[8:], lo1)
	binary.LittleEndian.PutUint64(dst[16:], hi0)
	binary.LittleEndian.PutUint64(dst[24:], hi1)
	sum := byteSum(lo0) + byteSum(lo1) + byteSum(hi0) + byteSum(hi1)
	return half(blk[0:]), half(blk[2:]), -128 * int32(sum)
}

// byteSum adds the eight bytes of v, each at most 31.
func byteSum(v uint64) uint64 { return (v * 0x0101010101010101) >> 56 }

// unpackQ80 copies a Q8_0 block's values and returns d and -128·Σq.
func unpackQ80(blk *[q80Bytes]byte, dst *[QK]byte) (d float32, c int32) {
	copy(dst[:], blk[2:])
	var sum int32
	for _, b := range blk[2:] {
		sum += int32(int8(b))
	}
	return half(blk[0:]), -128 * sum
}
