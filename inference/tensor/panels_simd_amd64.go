//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"simd/archsimd"
)

// panelKernel runs the AVX-512 kernel of panels_amd64.s where the CPU has
// AVX-512, else the AVX2 one of panels_avx2_amd64.s where it has AVX2 and
// FMA (the same bits), after checking that every slice holds what it reads
// or writes.
func panelKernel(x []float32, xs int, w []float32, k int, b []float32, out []float32, os int) {
	asm := panelAsm
	switch {
	case archsimd.X86.AVX512():
	case fmaAVX2:
		asm = panelAVX2
	default:
		panelKernelGo(x, xs, w, k, b, out, os)
		return
	}
	last := PanelGroup - 1
	if k <= 0 || len(x) < last*xs+k || len(w) < k*PanelRows || len(b) < PanelRows || len(out) < last*os+PanelRows {
		panic(fmt.Sprintf("tensor: panel kernel: x %d (stride %d), w %d, k %d, bias %d, out %d (stride %d)", len(x), xs, len(w), k, len(b), len(out), os))
	}
	asm(&x[0], xs, &w[0], k, &b[0], &out[0], os)
}

// panelAsm is in panels_amd64.s.
//
//go:noescape
func panelAsm(x *float32, xs int, w *float32, k int, b *float32, out *float32, os int)

// panelAVX2 is in panels_avx2_amd64.s.
//
//go:noescape
func panelAVX2(x *float32, xs int, w *float32, k int, b *float32, out *float32, os int)

// transposeRows packs the first rows of packPanel's row-major case
// (element (r, k) = w[r*rs+k]) by 16×16 transposes: all of them when cols
// is a multiple of 16, in blocks of 16 rows. It returns how many rows it
// packed.
func transposeRows(dst, w []float32, rows, cols, rs int) int {
	if !archsimd.X86.AVX512() || cols%16 != 0 || rows < 16 {
		return 0
	}
	idx := transposeLanes()
	done := rows / 16 * 16
	for r := 0; r < done; r += 16 {
		for k := 0; k < cols; k += 16 {
			transpose16(dst[k*PanelRows+r:], w[r*rs+k:], rs, &idx)
		}
	}
	archsimd.ClearAVXUpperBits()
	return done
}

// transposeLanes returns the permutations of transpose16's rounds, two
// per round: for rows paired b = 8, 4, 2, 1 apart, the lanes that take,
// from the concatenation of the two rows, the first (then the second) b
// lanes of every group of 2b lanes of the first row, then of the second.
// TestTransposeLanes derives them.
func transposeLanes() [8][16]uint32 {
	return [8][16]uint32{
		{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
		{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
		{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
		{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
		{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
		{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
		{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
		{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
	}
}

// transpose16 writes the 16×16 block of rows src[i*ss:i*ss+16] to
// dst[j*32+i]: four rounds pair rows 8, 4, 2 and 1 apart, each exchanging
// blocks of that many lanes.
func transpose16(dst, src []float32, ss int, idx *[8][16]uint32) {
	r0, r1, r2, r3 := row16(src, 0, ss), row16(src, 1, ss), row16(src, 2, ss), row16(src, 3, ss)
	r4, r5, r6, r7 := row16(src, 4, ss), row16(src, 5, ss), row16(src, 6, ss), row16(src, 7, ss)
	r8, r9, r10, r11 := row16(src, 8, ss), row16(src, 9, ss), row16(src, 10, ss), row16(src, 11, ss)
	r12, r13, r14, r15 := row16(src, 12, ss), row16(src, 13, ss), row16(src, 14, ss), row16(src, 15, ss)
	lo, hi := archsimd.LoadUint32x16(&idx[0]), archsimd.LoadUint32x16(&idx[1])
	r0, r8 = r0.ConcatPermute(r8, lo), r0.ConcatPermute(r8, hi)
	r1, r9 = r1.ConcatPermute(r9, lo), r1.ConcatPermute(r9, hi)
	r2, r10 = r2.ConcatPermute(r10, lo), r2.ConcatPermute(r10, hi)
	r3, r11 = r3.ConcatPermute(r11, lo), r3.ConcatPermute(r11, hi)
	r4, r12 = r4.ConcatPermute(r12, lo), r4.ConcatPermute(r12, hi)
	r5, r13 = r5.ConcatPermute(r13, lo), r5.ConcatPermute(r13, hi)
	r6, r14 = r6.ConcatPermute(r14, lo), r6.ConcatPermute(r14, hi)
	r7, r15 = r7.ConcatPermute(r15, lo), r7.ConcatPermute(r15, hi)
	lo, hi = archsimd.LoadUint32x16(&idx[2]), archsimd.LoadUint32x16(&idx[3])
	r0, r4 = r0.ConcatPermute(r4, lo), r0.ConcatPermute(r4, hi)
	r1, r5 = r1.ConcatPermute(r5, lo), r1.ConcatPermute(r5, hi)
	r2, r6 = r2.ConcatPermute(r6, lo), r2.ConcatPermute(r6, hi)
	r3, r7 = r3.ConcatPermute(r7, lo), r3.ConcatPermute(r7, hi)
	r8, r12 = r8.ConcatPermute(r12, lo), r8.ConcatPermute(r12, hi)
	r9, r13 = r9.ConcatPermute(r13, lo), r9.ConcatPermute(r13, hi)
	r10, r14 = r10.ConcatPermute(r14, lo), r10.ConcatPermute(r14, hi)
	r11, r15 = r11.ConcatPermute(r15, lo), r11.ConcatPermute(r15, hi)
	lo, hi = archsimd.LoadUint32x16(&idx[4]), archsimd.LoadUint32x16(&idx[5])
	r0, r2 = r0.ConcatPermute(r2, lo), r0.ConcatPermute(r2, hi)
	r1, r3 = r1.ConcatPermute(r3, lo), r1.ConcatPermute(r3, hi)
	r4, r6 = r4.ConcatPermute(r6, lo), r4.ConcatPermute(r6, hi)
	r5, r7 = r5.ConcatPermute(r7, lo), r5.ConcatPermute(r7, hi)
	r8, r10 = r8.ConcatPermute(r10, lo), r8.ConcatPermute(r10, hi)
	r9, r11 = r9.ConcatPermute(r11, lo), r9.ConcatPermute(r11, hi)
	r12, r14 = r12.ConcatPermute(r14, lo), r12.ConcatPermute(r14, hi)
	r13, r15 = r13.ConcatPermute(r15, lo), r13.ConcatPermute(r15, hi)
	lo, hi = archsimd.LoadUint32x16(&idx[6]), archsimd.LoadUint32x16(&idx[7])
	r0, r1 = r0.ConcatPermute(r1, lo), r0.ConcatPermute(r1, hi)
	r2, r3 = r2.ConcatPermute(r3, lo), r2.ConcatPermute(r3, hi)
	r4, r5 = r4.ConcatPermute(r5, lo), r4.ConcatPermute(r5, hi)
	r6, r7 = r6.ConcatPermute(r7, lo), r6.ConcatPermute(r7, hi)
	r8, r9 = r8.ConcatPermute(r9, lo), r8.ConcatPermute(r9, hi)
	r10, r11 = r10.ConcatPermute(r11, lo), r10.ConcatPermute(r11, hi)
	r12, r13 = r12.ConcatPermute(r13, lo), r12.ConcatPermute(r13, hi)
	r14, r15 = r14.ConcatPermute(r15, lo), r14.ConcatPermute(r15, hi)
	dst = dst[:15*PanelRows+16]
	store16(dst, 0, r0)
	store16(dst, 1, r1)
	store16(dst, 2, r2)
	store16(dst, 3, r3)
	store16(dst, 4, r4)
	store16(dst, 5, r5)
	store16(dst, 6, r6)
	store16(dst, 7, r7)
	store16(dst, 8, r8)
	store16(dst, 9, r9)
	store16(dst, 10, r10)
	store16(dst, 11, r11)
	store16(dst, 12, r12)
	store16(dst, 13, r13)
	store16(dst, 14, r14)
	store16(dst, 15, r15)
}

// store16 stores v at column j of a panel.
func store16(dst []float32, j int, v archsimd.Float32x16) {
	v.Store((*[16]float32)(dst[j*PanelRows : j*PanelRows+16]))
}

// row16 loads the 16 floats of row i.
func row16(src []float32, i, ss int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(src[i*ss : i*ss+16]))
}
