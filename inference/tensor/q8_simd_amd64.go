//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

// The int8 kernels of dotq8_amd64.s (AVX-512 VNNI). Row kernels (decode)
// take two blocks per 64-byte vector: the weights as unsigned bytes (Q4_1
// nibbles; for Q8_0 |w|, with w's sign moved onto the activation byte), one
// VPDPBUSD into 16 int32 lanes (8 per block), converted and multiplied by
// the blocks' d_w·d_x. The tile kernel (prefill) multiplies 16 unpacked
// weight rows with 16 interleaved vectors, one lane per vector.

//go:noescape
func q8Quantize(x *float32, nb int, q *int8, d, s *float32)

//go:noescape
func q41DotQ8(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q80DotQ8(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)

//go:noescape
func q8Tile(w *byte, c *int32, dw, mw *float32, xq *byte, xd, xs *float32, nb int, out *[q8Group][q8Group]float32)

func q8CPU() bool { return archsimd.X86.AVX512() && archsimd.X86.AVX512VNNI() }

func quantizeRowQ8Vector(x []float32, q []int8, d, s []float32) bool {
	nb := len(x) / QK
	if !q8CPU() || nb == 0 {
		return false
	}
	q8Quantize(&x[0], nb, &q[0], &d[0], &s[0])
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
	kernel, bb := q41DotQ8, q41Bytes
	if t == Q8_0 {
		kernel, bb = q80DotQ8, q80Bytes
	}
	nb := rb / bb
	if nb == 0 {
		clear(out)
		return
	}
	q, d, s = q[:nb*QK+q8Pad], d[:sumsLen(nb)], s[:sumsLen(nb)]
	kernel(&rows[0], rb, n, nb, &q[0], &d[0], &s[0], &out[0])
}

// q8TileKernel multiplies the unpacked tile w with group g of the vectors:
// res[r][lane] is row r times vector 16g+lane.
func q8TileKernel(w *q8WeightTile, x *q8Tiles, g, nb int, res *[q8Group][q8Group]float32) {
	if nb == 0 {
		*res = [q8Group][q8Group]float32{}
		return
	}
	qo, so := g*nb*QK*q8Group, g*nb*q8Group
	q8Tile(&w.w[0], &w.c[0], &w.d[0], &w.mn[0], &x.q[qo], &x.d[so], &x.s[so], nb, res)
}
