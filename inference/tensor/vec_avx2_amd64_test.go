//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
	"slices"
	"testing"
)

// The AVX2 vector kernels join the tables of vec_test.go and
// encoder_test.go wherever the CPU has AVX2 and FMA, AVX-512 machines
// included.
func init() {
	if !fmaAVX2 {
		return
	}
	moreExpKernels = append(moreExpKernels, namedKernel{"expAVX2", expAVX2})
	moreSoftmaxKernels = append(moreSoftmaxKernels, namedKernel{"softmaxAVX2", softmaxAVX2})
	moreSiLUKernels = append(moreSiLUKernels, namedPair{"siluMulAVX2", siluMulAVX2})
	moreDotKernels = append(moreDotKernels, namedDot{"dotAVX2", dotAVX2})
	moreScaledSoftmax = map[string]func([]float32, int, float32){"avx2": scaledSoftmaxAVX2}
	moreCausalSoftmax = map[string]causalPair{"avx2": {causalSoftmaxAVX2, scaledSoftmaxAVX2}}
	moreGELUKernels = append(moreGELUKernels, namedKernel{"geluAVX2", geluAVX2})
	moreLayerNorms = map[string]func(x, y, w, b []float32, eps float32){"avx2": addLayerNormAVX2}
}

// TestAVX2ExpAndSiLUMatchAVX512 checks that the AVX2 exponential (and the
// SiLU built on it) gives the AVX-512 kernels' bits where the CPU has both.
func TestAVX2ExpAndSiLUMatchAVX512(t *testing.T) {
	if !fmaAVX2 || !archsimd.X86.AVX512() {
		t.Skip("CPU lacks AVX2+FMA or AVX-512")
	}
	in := expInputs()
	for _, x := range []float32{-150, -104, -100, -90, -87.5, 89, float32(math.NaN()), float32(math.Inf(-1))} {
		in = append(in, x)
	}
	a, b := slices.Clone(in), slices.Clone(in)
	expAVX2(a)
	expAVX512(b)
	u := make([]float32, len(in))
	for i := range u {
		u[i] = 0.75
	}
	c, d := slices.Clone(in), slices.Clone(in)
	siluMulAVX2(c, u)
	siluMulAVX512(d, u)
	for i, x := range in {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(math.IsNaN(float64(a[i])) && math.IsNaN(float64(b[i]))) {
			t.Fatalf("exp(%v): %v with AVX2, %v with AVX-512", x, a[i], b[i])
		}
		if math.Float32bits(c[i]) != math.Float32bits(d[i]) && !(math.IsNaN(float64(c[i])) && math.IsNaN(float64(d[i]))) {
			t.Fatalf("silu(%v)·0.75: %v with AVX2, %v with AVX-512", x, c[i], d[i])
		}
	}
}

// TestAVX2NormKernels checks the AVX2 sum of squares, scaled product and add
// (RMSNorm's and the residual's) directly against float64, tails included.
func TestAVX2NormKernels(t *testing.T) {
	if !fmaAVX2 {
		t.Skip("CPU has no AVX2 and FMA")
	}
	for _, n := range []int{1, 7, 8, 15, 33, 100, 576} {
		x, w := randFloats(uint64(n), n, 3), randFloats(uint64(n)+1, n, 1)
		var want float64
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		if got := sumSquaresAVX2(x); math.Abs(float64(got)-want) > 1e-6*want {
			t.Fatalf("n=%d: sum of squares %g, want %g", n, got, want)
		}
		out := make([]float32, n+1)
		scaleMulAVX2(out[:n], x, w, 0.25)
		for i := range x {
			if out[i] != w[i]*(x[i]*0.25) {
				t.Fatalf("n=%d: scaled product %d is %g, want %g", n, i, out[i], w[i]*(x[i]*0.25))
			}
		}
		if out[n] != 0 {
			t.Fatalf("n=%d: wrote %g past the end", n, out[n])
		}
		dst := append([]float32(nil), x...)
		addAVX2(dst, w)
		for i := range dst {
			if dst[i] != x[i]+w[i] {
				t.Fatalf("n=%d: sum %d is %g, want %g", n, i, dst[i], x[i]+w[i])
			}
		}
	}
}

// TestAVX2Rows64 runs the AVX2 attention kernels for 64-value rows
// directly: the bits of dotAVX2 (times the scale) and of axpyAVX2 row by
// row, wherever the CPU has AVX2.
func TestAVX2Rows64(t *testing.T) {
	if !fmaAVX2 {
		t.Skip("CPU has no AVX2 and FMA")
	}
	const stride, n = 72, 23 // two groups of eight rows and seven after them
	rows := randFloats(1, n*stride, 2)
	q, w := randFloats(2, 64, 1), randFloats(3, n, 1)
	out := make([]float32, n)
	dotRows64AVX2(&out[0], &q[0], &rows[0], 4*stride, n, 0.125)
	o := make([]float32, 64)
	addRows64AVX2(&o[0], &w[0], &rows[0], 4*stride, n)
	want := make([]float32, 64)
	for j := range n {
		row := rows[j*stride : j*stride+64]
		if d := dotAVX2(q, row) * 0.125; math.Float32bits(out[j]) != math.Float32bits(d) {
			t.Fatalf("row %d: %g, dotAVX2 %g", j, out[j], d)
		}
		axpyAVX2(want, w[j], row)
	}
	if !equalBits(o, want) {
		t.Fatalf("weighted rows %v, axpyAVX2 %v", o[:4], want[:4])
	}
}
