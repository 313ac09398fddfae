//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"math"
	"simd/archsimd"
	"testing"
)

func needAVX512(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("CPU has no AVX-512")
	}
}

func TestHalvesMatchesF16ToF32(t *testing.T) {
	needAVX512(t)
	var in [16]uint32
	var out [16]float32
	for base := 0; base < 1<<16; base += 16 {
		for j := range in {
			in[j] = uint32(base + j)
		}
		halves(archsimd.LoadUint32x16(&in)).Store(&out)
		for j, v := range out {
			if got, want := math.Float32bits(v), math.Float32bits(F16ToF32(uint16(base+j))); got != want {
				t.Fatalf("halves(%#04x) = %#08x, F16ToF32 %#08x", base+j, got, want)
			}
		}
	}
}

// TestAVX512MatchesScalar compares every vector kernel with the portable one
// on the same rows, including blocks with zero, subnormal and huge scales.
func TestAVX512MatchesScalar(t *testing.T) {
	needAVX512(t)
	for _, dt := range []DType{F16, BF16, Q4_0, Q4_1, Q8_0} { // the types with vector kernels; F32 below
		vk, ok := quantKernelFor(dt)
		if !ok {
			t.Fatalf("%s: no vector kernel", dt)
		}
		for _, cols := range []int{32, 96, 576, 608, 1536} {
			m := randMatrix(t, dt, 6, cols, uint64(cols))
			oddScales(m)
			x := randFloats(uint64(cols)+3, 4*cols, 1)
			compareKernels(t, fmt.Sprintf("%s cols=%d", dt, cols), m, vk, x)
		}
	}
	fk := floatKernelFor()
	for _, cols := range []int{1, 15, 16, 17, 64, 100, 576} {
		w, x := randFloats(1, cols, 1), randFloats(2, cols, 1)
		got, want := fk.dot1(w, x), dotF32(w, x)
		if d := math.Abs(float64(got - want)); d > 1e-5*absDot(w, x) {
			t.Errorf("F32 cols=%d: vector %g, scalar %g", cols, got, want)
		}
	}
}

// oddScales sets the scales of a few blocks of row 0 to 0, a subnormal and
// a large value.
func oddScales(m *Matrix) {
	if m.Type.BlockSize() != QK {
		return
	}
	bb := m.Type.BlockBytes()
	for i, h := range []uint16{0x0000, 0x0003, 0x8201, 0x7800} {
		if (i+1)*bb <= m.RowBytes() {
			m.Data[i*bb], m.Data[i*bb+1] = byte(h), byte(h>>8)
		}
	}
}

func compareKernels(t *testing.T, what string, m *Matrix, vk quantKernel, x []float32) {
	t.Helper()
	sk, ok := scalarQuantKernel(m.Type)
	var tab *table
	if ok {
		tab = sk.table()
	}
	xs := blockSums(x, 4, m.Cols)
	nb := sumsLen(m.Cols / QK)
	for r := range m.Rows {
		row := m.row(r)
		w := make([]float32, m.Cols)
		m.Row(r, w)
		var xv, sv [4][]float32
		var o [4]float32
		for k := range 4 {
			xv[k] = x[k*m.Cols : (k+1)*m.Cols]
			if vk.sums {
				sv[k] = xs[k*nb : (k+1)*nb]
			}
		}
		vk.dot4(row, &xv, &sv, &o, nil)
		for k := range 4 {
			got := vk.dot1(row, xv[k], sv[k], nil)
			if math.Float32bits(got) != math.Float32bits(o[k]) {
				t.Fatalf("%s row %d: dot1 %g, dot4 %g", what, r, got, o[k])
			}
			want := dotF32(w, xv[k])
			if ok {
				want = sk.dot1(row, xv[k], sv[k], tab)
			}
			if d := math.Abs(float64(got - want)); d > 2e-6*absDot(w, xv[k]) {
				t.Fatalf("%s row %d vector %d: AVX-512 %g, scalar %g", what, r, k, got, want)
			}
		}
	}
}

func absDot(w, x []float32) float64 {
	var s float64
	for i := range w {
		s += math.Abs(float64(w[i]) * float64(x[i]))
	}
	return s
}
