//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"testing"
)

// int8Form converts the whole matrix, or skips when this CPU has no int8
// kernels (no int8 forms then).
func int8Form(t *testing.T, m *Matrix) *Matrix {
	t.Helper()
	f := m.NewInt8Form()
	if f == nil {
		if !Q8Supported(Q8_0) {
			t.Skip("no int8 kernels on this CPU or build")
		}
		t.Fatalf("%s: no int8 form", m.Type)
	}
	m.ConvertRows(f, 0, m.Rows/2)
	m.ConvertRows(f, m.Rows/2, m.Rows)
	return f
}

// TestInt8FormsExact checks that Q4_0 and Q5_0 matrices' int8 forms hold
// the same values.
func TestInt8FormsExact(t *testing.T) {
	for _, c := range []struct {
		dt, form DType
		odd      bool
	}{{Q4_0, Q4_1, false}, {Q4_0, Q8_0, true}, {Q5_0, Q8_0, false}, {Q5_0, Q8_0, true}, {IQ4_NL, Q8_0, false}} {
		dt := c.dt
		var m *Matrix
		if dt == IQ4_NL {
			m = randKMatrix(t, dt, 9, 96, 5)
		} else {
			m = randMatrix(t, dt, 9, 96, 5)
		}
		if c.odd {
			oddScales(m) // zero, subnormal and negative scales
			bb := dt.BlockBytes()
			m.Data[2*m.RowBytes()+bb], m.Data[2*m.RowBytes()+bb+1] = 0x00, 0x70 // 8192: -8 times it is past float16
		}
		f := int8Form(t, m)
		if f.Type != c.form {
			t.Fatalf("%s (odd scales %v): int8 form %s, want %s", dt, c.odd, f.Type, c.form)
		}
		want, got := m.Float32(), f.Float32()
		for i := range want {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) { // a Q4_0 zero may be -0, its Q4_1 form's +0
				t.Fatalf("%s as %s: value %d is %g, was %g", dt, f.Type, i, got[i], want[i])
			}
		}
	}
}

// TestInt8FormsNear checks the other formats' int8 forms against their
// bounds: Q4_K's scales and offsets rounded to float16, the rest
// requantized to 8 bits per 32 values.
func TestInt8FormsNear(t *testing.T) {
	ms := []*Matrix{randMatrix(t, Q5_1, 7, 96, 3)}
	for _, dt := range kTypes {
		if dt != IQ4_NL { // exact: TestInt8FormsExact
			ms = append(ms, randKMatrix(t, dt, 7, 512, uint64(dt)))
		}
	}
	for _, m := range ms {
		f := int8Form(t, m)
		want, got := m.Float32(), f.Float32()
		var worst float64
		for b := 0; b < len(want); b += QK {
			var amax float64
			for _, v := range want[b : b+QK] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			bound := amax / 127 * 0.57 // half a step, and the step's float16 rounding times 127
			if m.Type == Q4_K || m.Type == IQ4_XS {
				bound = 2 * amax * math.Pow(2, -11)
			}
			for i := b; i < b+QK; i++ {
				e := math.Abs(float64(got[i] - want[i]))
				worst = math.Max(worst, e/math.Max(amax, 1e-30))
				if e > bound+1e-12 {
					t.Fatalf("%s as %s: value %d is %g, was %g (error %g > %g)", m.Type, f.Type, i, got[i], want[i], e, bound)
				}
			}
		}
		t.Logf("%s as %s: largest error %.2e of its 32 values' largest", m.Type, f.Type, worst)
	}
}

// TestInt8FormTypes lists which formats get a form, and in what.
func TestInt8FormTypes(t *testing.T) {
	if !Q8Supported(Q8_0) {
		t.Skip("no int8 kernels on this CPU or build")
	}
	want := map[DType]DType{Q4_0: Q4_1, Q4_K: Q4_1, Q5_0: Q8_0, Q5_1: Q8_0, Q2_K: Q8_0, Q3_K: Q8_0, Q5_K: Q8_0, Q6_K: Q8_0, IQ4_NL: Q8_0, IQ4_XS: Q8_0}
	for _, dt := range []DType{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS} {
		m := &Matrix{Type: dt, Rows: 1, Cols: 256}
		got, ok := m.Int8FormType()
		if w, has := want[dt]; ok != has || got != w {
			t.Errorf("%s: int8 form %v %v, want %v %v", dt, got, ok, w, has)
		}
	}
}

// TestInt8FormInterleavesForInt8Kernels checks that an int8 form gets an
// interleaved copy only where MulRowsQ8 reads one (the AVX2 set; the VNNI
// one reads the rows), whatever the float32 kernels would do with it.
func TestInt8FormInterleavesForInt8Kernels(t *testing.T) {
	f := int8Form(t, randKMatrix(t, Q6_K, 16, 256, 2))
	if got := f.Interleavable(); got != q8Rows16() {
		t.Errorf("int8 form interleavable %v, want %v (the int8 kernels read interleaved copies: %v)", got, q8Rows16(), q8Rows16())
	}
	f.MultiplyInFloat32()
	if want := q8Rows16() || rows16CPU(); f.Interleavable() != want {
		t.Errorf("int8 form the float32 kernels multiply: interleavable %v, want %v (they read interleaved copies: %v)", f.Interleavable(), want, rows16CPU())
	}
	if !f.Interleavable() {
		return
	}
	if f.Interleaved() || !f.Interleave() || !f.Interleaved() {
		t.Fatal("Interleaved does not report the copy Interleave makes")
	}
	x := randFloats(3, 2*f.Cols, 1)
	got, want := make([]float32, 2*f.Rows), make([]float32, 2*f.Rows)
	f.MulVectors(got, PrepareVectors(x, 2, f.Cols, f), 0, f.Rows)
	plain := &Matrix{Type: f.Type, Rows: f.Rows, Cols: f.Cols, Data: f.Data}
	plain.MulRows(want, x, 2, 0, f.Rows)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("output %d: %g through the interleaved copy, %g through the rows", i, got[i], want[i])
		}
	}
}
