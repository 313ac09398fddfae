//go:build goexperiment.simd && amd64

package tensor

import (
	"simd/archsimd"

	"golang.org/x/sys/cpu"
)

// The int8 kernels, in two sets: AVX-512 VNNI (dotq8_amd64.s) and AVX2
// (dotq8avx2_amd64.s). Row kernels (decode) multiply a row's blocks with one
// quantized vector: the VNNI set two blocks per 64-byte vector, the weights
// as unsigned bytes (Q4_1 nibbles; for Q8_0 |w|, with w's sign moved onto
// the activation byte), one VPDPBUSD into 16 int32 lanes (8 per block); the
// AVX2 set one block per 32-byte vector, VPMADDUBSW and VPMADDWD in place of
// VPDPBUSD. Each block's int32 sum is converted and multiplied by the
// blocks' d_w·d_x. The tile kernels (prefill) multiply 16 unpacked weight
// rows with several vectors: the VNNI one with 16 interleaved vectors, one
// lane per vector, the activations as unsigned bytes (q+128, the offset
// cancelled by the tile's c); the AVX2 one with two vectors as they are,
// one lane per row, the Q4 nibbles as the unsigned operand, so it serves
// Q4_1 only (Q8_0 prompts take the row kernel there, row tile by row tile).
// Decoding on AVX2 reads the matrices' interleaved copies (rows16.go), 16
// rows in lanes: Q4_1's nibbles, and Q8_0's |w| against the activation
// bytes given w's signs (VPSIGNB).

//go:noescape
func q8Quantize(x *float32, nb int, q *int8, d, s *float32)

//go:noescape
func q41DotQ8(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q80DotQ8(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q8Tile(w *byte, c *int32, dw, mw *float32, xq *byte, xd, xs *float32, nb int, out *[q8Group][q8Group]float32)

//go:noescape
func q8QuantizeAVX2(x *float32, nb int, q *int8, d, s *float32)

//go:noescape
func q41DotQ8AVX2(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q80DotQ8AVX2(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q41Rows16Q8AVX2(w *byte, nb, groups int, x *int8, d, s *float32, out *float32)

//go:noescape
func q41Rows16Q8S4AVX2(w *byte, nb, q int, x *int8, d, s *float32, out *float32)

//go:noescape
func q80DotQ8S4AVX2(row *byte, q, nb int, x *int8, d *float32, out *float32)

//go:noescape
func unpackRows16AVX2(src *byte, nb int, dst *byte, d, mn *float32)

//go:noescape
func q80Quads1AVX2(w *byte, nb, groups int, x *int8, d *float32, out *float32)

//go:noescape
func q80QuadsS4AVX2(w *byte, nb, q int, x *int8, d *float32, out *float32)

//go:noescape
func q80Quads2AVX2(w *byte, nb, groups int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

//go:noescape
func q80Quads3AVX2(w *byte, nb, groups int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

//go:noescape
func q80Quads4AVX2(w *byte, nb, groups int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

// unpackRows16 writes nb blocks of an interleaved Q4_1 group (src) to a
// tile in column quads: quad c's low nibbles are quad c, its high ones
// quad c+4; d and mn get the 16 rows' scales and offsets (VCVTPH2PS gives
// F16ToF32's values). Only the AVX2 kernel set, which needs F16C, reads
// such tiles.
func unpackRows16(src []byte, nb int, dst []byte, d, mn []float32) {
	if nb == 0 {
		return
	}
	src, dst = src[:nb*q41Rows16Bytes], dst[:nb*QK*q8Group]
	d, mn = d[:nb*q8Group], mn[:nb*q8Group]
	unpackRows16AVX2(&src[0], nb, &dst[0], &d[0], &mn[0])
}

//go:noescape
func q41Rows16Q8x2AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)

//go:noescape
func q41Rows16Q8x3AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)

//go:noescape
func q41Rows16Q8x4AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)

//go:noescape
func q80Dot2Q8AVX2(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

//go:noescape
func q80Dot3Q8AVX2(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

//go:noescape
func q80Dot4Q8AVX2(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)

//go:noescape
func q8Tile4AVX2(w *byte, dw, mw *float32, nb int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride, groups int)

//go:noescape
func q8Tile4PromptAVX2(w *byte, dw, mw *float32, nb int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride, groups int)

//go:noescape
func q8TileAVX2(w *byte, dw, mw *float32, nb int, xa, xb *int8, da, db, sa, sb *float32, oa, ob *float32)

//go:noescape
func q8TilePromptAVX2(w *byte, dw, mw *float32, nb int, xa, xb *int8, da, db, sa, sb *float32, oa, ob *float32)

// q8Kernels is one instruction set's int8 kernels: a 16-vector tile kernel
// over interleaved vectors (VNNI), or none and the AVX2 two-vector one.
type q8Kernels struct {
	name     string
	quantize func(x *float32, nb int, q *int8, d, s *float32)
	q41, q80 func(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)
	// q80xN[k] is q80 for k vectors at once (k = 2, 3, 4), with q80's bits
	// for each; nil where the set has none.
	q80xN [5]func(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)
	tile  func(w *q8WeightTile, x *q8Tiles, qo, so, nb int, res *[q8Group][q8Group]float32)
}

var q8VNNIKernels = &q8Kernels{name: "avx512vnni", quantize: q8Quantize, q41: q41DotQ8, q80: q80DotQ8,
	tile: func(w *q8WeightTile, x *q8Tiles, qo, so, nb int, res *[q8Group][q8Group]float32) {
		q8Tile(&w.w[0], &w.c[0], &w.d[0], &w.mn[0], &x.q[qo], &x.d[so], &x.s[so], nb, res)
	}}

var q8AVX2Kernels = &q8Kernels{name: "avx2", quantize: q8QuantizeAVX2, q41: q41DotQ8AVX2, q80: q80DotQ8AVX2,
	q80xN: [5]func(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int){
		2: q80Dot2Q8AVX2, 3: q80Dot3Q8AVX2, 4: q80Dot4Q8AVX2}}

// q8Available lists the kernel sets this CPU runs, the fastest first.
func q8Available() []*q8Kernels {
	var ks []*q8Kernels
	if archsimd.X86.AVX512() && archsimd.X86.AVX512VNNI() {
		ks = append(ks, q8VNNIKernels)
	}
	if archsimd.X86.AVX2() && archsimd.X86.FMA() && cpu.X86.HasF16C {
		ks = append(ks, q8AVX2Kernels)
	}
	return ks
}

// q8Active is the kernel set in use, nil when the CPU has none.
var q8Active = func() *q8Kernels {
	if ks := q8Available(); len(ks) > 0 {
		return ks[0]
	}
	return nil
}()

func q8CPU() bool { return q8Active != nil }

// q8Rows16 reports whether MulRowsQ8 decodes Q4_1 matrices from their
// interleaved copy (the AVX2 set; the VNNI one keeps its row kernels).
func q8Rows16() bool { return q8Active == q8AVX2Kernels }

// q8Rows16Kernel runs groups [0,groups) of w, an interleaved Q4_1 copy from
// a group on, against one quantized vector into out (16·groups floats).
func q8Rows16Kernel(w []byte, nb, groups int, q []int8, d, s []float32, out []float32) {
	w, out = w[:groups*nb*q41Rows16Bytes], out[:16*groups]
	q, d, s = q[:nb*QK], d[:nb], s[:nb]
	if n := fourStreams(groups); n > 0 {
		q41Rows16Q8S4AVX2(&w[0], nb, n/4, &q[0], &d[0], &s[0], &out[0])
		w, out, groups = w[n*nb*q41Rows16Bytes:], out[16*n:], groups-n
	}
	if groups > 0 {
		q41Rows16Q8AVX2(&w[0], nb, groups, &q[0], &d[0], &s[0], &out[0])
	}
}

// fourStreams is how many of n groups (rows for Q8_0) the one-vector
// kernels read as four streams: a multiple of four, none below eight. Two
// cores get about a fifth to a third more of the memory's bandwidth from
// four streams each than from one.
func fourStreams(n int) int {
	if n < 8 {
		return 0
	}
	return n / 4 * 4
}

// q8Rows16KernelN is q8Rows16Kernel for vectors b…b+n-1 of x at once (n is
// 1 to 4), vector b+k's results at out[k*ostride:], with that kernel's
// bits for each.
func q8Rows16KernelN(w []byte, nb, groups int, x *Q8Vectors, b, n int, out []float32, ostride int) {
	if n == 1 {
		q, d, s := x.vector(b)
		q8Rows16Kernel(w, nb, groups, q, d, s, out)
		return
	}
	stride := sumsLen(nb)
	w, out = w[:groups*nb*q41Rows16Bytes], out[:(n-1)*ostride+16*groups]
	q, d, s := x.q[b*x.Cols:(b+n)*x.Cols], x.d[b*stride:(b+n-1)*stride+nb], x.s[b*stride:(b+n-1)*stride+nb]
	kernel := [...]func(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int){
		2: q41Rows16Q8x2AVX2, 3: q41Rows16Q8x3AVX2, 4: q41Rows16Q8x4AVX2,
	}[n]
	kernel(&w[0], nb, groups, &q[0], x.Cols, &d[0], &s[0], stride, &out[0], ostride)
}

// q80QuadsKernel runs groups [0,groups) of w, a Q8_0 matrix's interleaved
// copy from a group on (rows in lanes, rows16.go), against one quantized
// vector into out (16·groups floats): four streams where there are enough
// groups, the same bits either way.
func q80QuadsKernel(w []byte, nb, groups int, q []int8, d []float32, out []float32) {
	w, out = w[:groups*nb*q80Rows16Bytes], out[:16*groups]
	q, d = q[:nb*QK], d[:nb]
	if n := fourStreams(groups); n > 0 {
		q80QuadsS4AVX2(&w[0], nb, n/4, &q[0], &d[0], &out[0])
		w, out, groups = w[n*nb*q80Rows16Bytes:], out[16*n:], groups-n
	}
	if groups > 0 {
		q80Quads1AVX2(&w[0], nb, groups, &q[0], &d[0], &out[0])
	}
}

// q80QuadsKernelN is q80QuadsKernel for vectors b…b+n-1 of x at once (n is
// 1 to 4), vector b+k's results at out[k*ostride:], with that kernel's bits
// for each.
func q80QuadsKernelN(w []byte, nb, groups int, x *Q8Vectors, b, n int, out []float32, ostride int) {
	if n == 1 {
		q, d, _ := x.vector(b)
		q80QuadsKernel(w, nb, groups, q, d, out)
		return
	}
	stride := sumsLen(nb)
	w, out = w[:groups*nb*q80Rows16Bytes], out[:(n-1)*ostride+16*groups]
	q, d := x.q[b*x.Cols:(b+n)*x.Cols], x.d[b*stride:(b+n-1)*stride+nb]
	kernel := [...]func(w *byte, nb, groups int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int){
		2: q80Quads2AVX2, 3: q80Quads3AVX2, 4: q80Quads4AVX2,
	}[n]
	kernel(&w[0], nb, groups, &q[0], x.Cols, &d[0], stride, &out[0], ostride)
}

// q8Interleaved reports whether the tile kernel takes interleaved vectors.
func q8Interleaved() bool { return q8Active != nil && q8Active.tile != nil }

// q8Tiled reports whether a tile kernel takes weights of type t.
func q8Tiled(t DType) bool { return q8Active != nil && (t == Q4_1 || q8Interleaved()) }

func quantizeRowQ8Vector(x []float32, q []int8, d, s []float32) bool {
	nb := len(x) / QK
	if !q8CPU() || nb == 0 {
		return false
	}
	q8Active.quantize(&x[0], nb, &q[0], &d[0], &s[0])
	return true
}

// q8Rows sets out[i] to row i of rows (consecutive rows of m's type, a
// type Q8Supported accepts) times one vector; q has q8Pad bytes past the
// row's columns and d, s the padding of sumsLen.
func q8Rows(t DType, rows []byte, out []float32, q []int8, d, s []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	rb := len(rows) / n
	kernel, bb := q8Active.q41, q41Bytes
	if t == Q8_0 {
		kernel, bb = q8Active.q80, q80Bytes
	}
	nb := rb / bb
	if nb == 0 {
		clear(out)
		return
	}
	q, d, s = q[:nb*QK+q8Pad], d[:sumsLen(nb)], s[:sumsLen(nb)]
	if k := fourStreams(n); t == Q8_0 && q8Active == q8AVX2Kernels && k > 0 && rb == nb*q80Bytes {
		q80DotQ8S4AVX2(&rows[0], k/4, nb, &q[0], &d[0], &out[0])
		rows, out, n = rows[k*rb:], out[k:], n-k
	}
	if n > 0 {
		kernel(&rows[0], rb, n, nb, &q[0], &d[0], &s[0], &out[0])
	}
}

// q8TileKernel multiplies the unpacked tile w with group g of the vectors:
// res[r][lane] is row r times vector 16g+lane.
func q8TileKernel(w *q8WeightTile, x *q8Tiles, g, nb int, res *[q8Group][q8Group]float32) {
	if nb == 0 {
		*res = [q8Group][q8Group]float32{}
		return
	}
	q8Active.tile(w, x, g*nb*QK*q8Group, g*nb*q8Group, nb, res)
}

// Int8Preferred reports whether int8 activations are this CPU's fast path
// by far: it has the int8 kernels but not the AVX-512 float32 ones (the
// float32 matrix multiplies run in plain Go there).
func Int8Preferred() bool { return q8CPU() && !archsimd.X86.AVX512() }

// Int8PromptPreferred reports whether int8 activations are this CPU's fast
// path for prompts only: it has AVX-512 (whose float32 kernels decode
// faster than the int8 ones) and the VNNI tile kernel, but no AMX tiles
// (which take float32 prompts faster still).
func Int8PromptPreferred() bool { return Int8Tiles() && archsimd.X86.AVX512() && !amxCPU() }

// Int8Tiles reports whether this CPU has the AVX-512 VNNI int8 tile kernel,
// which multiplies a prompt's quantized vectors 16 at a time.
func Int8Tiles() bool { return q8Interleaved() }

// q8LanesKernel multiplies the tile w (unpacked in quads) with vectors b
// and b2 of x into oa and ob (16 floats each), in the row kernels' order or
// in a prompt's (o, see q8TileAVX2).
func q8LanesKernel(w *q8WeightTile, x *Q8Vectors, b, b2 int, oa, ob []float32, o lanesOrder) {
	nb := x.Cols / QK
	qa, da, sa := x.vector(b)
	qb, db, sb := x.vector(b2)
	oa, ob = oa[:q8Group], ob[:q8Group]
	if nb == 0 {
		clear(oa)
		clear(ob)
		return
	}
	tile := q8TileAVX2
	if o == promptOrder {
		tile = q8TilePromptAVX2
	}
	tile(&w.w[0], &w.d[0], &w.mn[0], nb, &qa[0], &qb[0], &da[0], &db[0], &sa[0], &sb[0], &oa[0], &ob[0])
}

// q8Lanes4Kernel multiplies the tile w (unpacked in quads) with vectors
// b…b+4·groups-1 of x: vector b+k's 16 results go to out[k*ostride:]. Each
// vector gets q8LanesKernel's bits.
func q8Lanes4Kernel(w *q8WeightTile, x *Q8Vectors, b, groups int, out []float32, ostride int, o lanesOrder) {
	if groups == 0 {
		return
	}
	n, nb, stride := 4*groups, x.Cols/QK, sumsLen(x.Cols/QK)
	out = out[:(n-1)*ostride+q8Group]
	if nb == 0 {
		for k := range n {
			clear(out[k*ostride : k*ostride+q8Group])
		}
		return
	}
	q, d, s := x.q[b*x.Cols:(b+n)*x.Cols], x.d[b*stride:(b+n-1)*stride+nb], x.s[b*stride:(b+n-1)*stride+nb]
	tile := q8Tile4AVX2
	if o == promptOrder {
		tile = q8Tile4PromptAVX2
	}
	tile(&w.w[0], &w.d[0], &w.mn[0], nb, &q[0], x.Cols, &d[0], &s[0], stride, &out[0], ostride, groups)
}

// q8RowsN is q8Rows for vectors b…b+k-1 of x at once, k the most (up to
// four, at least two) that the kernel set takes for t and that x has from
// b on; it returns k, 0 where it did nothing. Vector b+j's results go to
// out[j*ostride:], len(out) rows each, with q8Rows's bits.
func q8RowsN(t DType, rows []byte, out []float32, ostride int, x *Q8Vectors, b int) int {
	n, k := len(out), min(4, x.N-b)
	nb, stride := x.Cols/QK, sumsLen(x.Cols/QK)
	if t != Q8_0 || k < 2 || q8Active.q80xN[k] == nil || n == 0 || nb == 0 {
		return 0
	}
	rb := len(rows) / n
	q, d := x.q[b*x.Cols:(b+k)*x.Cols], x.d[b*stride:(b+k-1)*stride+nb]
	out = out[:(k-1)*ostride+n]
	q8Active.q80xN[k](&rows[0], rb, n, nb, &q[0], x.Cols, &d[0], stride, &out[0], ostride)
	return k
}
