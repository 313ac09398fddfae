//go:build goexperiment.simd && amd64

package tensor

import "golang.org/x/sys/cpu"

// halfAVX2 reports whether the float16 row kernels (halfrows_amd64.s, AVX2,
// FMA and F16C) run here; they also serve CPUs with AVX-512.
var halfAVX2 = fmaAVX2 && cpu.X86.HasF16C

//go:noescape
func dotRows64F16AVX2(out, q *float32, rows *uint16, stride, n int, scale float32)

//go:noescape
func addRows64F16AVX2(o, w *float32, rows *uint16, stride, n int)

//go:noescape
func toF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func fromF16AVX2(dst *float32, src *uint16, n int)

// dotRowsF16Vector is DotRowsF16 for 64 values a row: dotRows64AVX2's
// operations on the rows as they are widened, so its bits.
func dotRowsF16Vector(out, q []float32, rows []uint16, stride int, scale float32) bool {
	if len(q) != 64 || !halfAVX2 {
		return false
	}
	if len(out) > 0 {
		dotRows64F16AVX2(&out[0], &q[0], &rows[0], 2*stride, len(out), scale)
	}
	return true
}

// addRowsF16Vector is AddRowsF16 for 64 values a row, with
// addRows64AVX2's operations.
func addRowsF16Vector(o, w []float32, rows []uint16, stride int) bool {
	if len(o) != 64 || !halfAVX2 {
		return false
	}
	if len(w) == 0 {
		clear(o)
		return true
	}
	addRows64F16AVX2(&o[0], &w[0], &rows[0], 2*stride, len(w))
	return true
}

// toF16Vector converts the first multiple of 8 values and returns how many.
func toF16Vector(dst []uint16, src []float32) int {
	n := len(src) / 8 * 8
	if !halfAVX2 || n == 0 {
		return 0
	}
	toF16AVX2(&dst[0], &src[0], n)
	return n
}

// fromF16Vector widens the first multiple of 8 values and returns how many.
func fromF16Vector(dst []float32, src []uint16) int {
	n := len(dst) / 8 * 8
	if !halfAVX2 || n == 0 {
		return 0
	}
	fromF16AVX2(&dst[0], &src[0], n)
	return n
}

//go:noescape
func dotRows64F16x3AVX2(out, q *float32, rows *uint16, stride, n, outStride int, scale float32, next *uint16)

//go:noescape
func addRows64F16x3AVX2(o, w *float32, rows *uint16, stride, n, wStride, half int)

//go:noescape
func addRows64F16HalfAVX2(o, w *float32, rows *uint16, stride, n, half int)

// groupedF16 reports whether the grouped kernels take groups of heads
// queries of d values (three at a time, the rest one at a time).
func groupedF16(d, heads int) bool { return d == 64 && heads >= 3 && halfAVX2 }

// dotRowsF16HeadsVector is DotRowsF16Heads for 64 values a row, three
// queries at a time; it returns how many queries it did, a multiple of 3.
func dotRowsF16HeadsVector(out []float32, outStride int, q []float32, heads, n int, rows []uint16, stride int, scale float32, next []uint16) int {
	if len(q) != 64*heads || !halfAVX2 || n == 0 {
		return 0
	}
	ahead := &rows[0]
	if len(next) > 0 {
		ahead = &next[0]
	}
	h := 0
	for ; h+3 <= heads; h += 3 {
		dotRows64F16x3AVX2(&out[h*outStride], &q[h*64], &rows[0], 2*stride, n, 4*outStride, scale, ahead)
		ahead = &rows[0] // next is on its way by now
	}
	return h
}

// addRowsF16HeadsVector is AddRowsF16Heads for 64 values a row, three
// queries at a time and the rest one at a time; it returns how many
// queries it did (all of them, or none).
func addRowsF16HeadsVector(o, w []float32, wStride, heads, n int, rows []uint16, stride, half int) int {
	if len(o) != 64*heads || !halfAVX2 || n == 0 {
		return 0
	}
	h := 0
	for ; h+3 <= heads; h += 3 {
		addRows64F16x3AVX2(&o[h*64], &w[h*wStride], &rows[0], 2*stride, n, 4*wStride, half)
	}
	for ; h < heads; h++ {
		addRows64F16HalfAVX2(&o[h*64], &w[h*wStride], &rows[0], 2*stride, n, half)
	}
	return h
}
