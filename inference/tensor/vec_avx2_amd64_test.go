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
