//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"math"
	"simd/archsimd"
	"testing"
)

// TestAsmMatchesVector checks the assembly Q4_1 and Q8_0 kernels against
// the archsimd kernels bit for bit, one and four vectors at a time, for
// rows of 1 to 48 blocks (partial and whole scale chunks, odd and even
// block counts) with zero, subnormal and large scales.
func TestAsmMatchesVector(t *testing.T) {
	needAVX512(t)
	kernels := []struct {
		dt       DType
		asm, ref quantKernel
	}{
		{Q4_1, quantKernel{dot1: dotQ41Asm, dot4: dot4Q41Asm}, quantKernel{dot1: dotQ41AVX512, dot4: dot4Q41AVX512}},
		{Q8_0, quantKernel{dot1: dotQ80Asm, dot4: dot4Q80Asm}, quantKernel{dot1: dotQ80AVX512, dot4: dot4Q80AVX512}},
	}
	for _, k := range kernels {
		for nb := 1; nb <= 48; nb++ {
			cols := nb * QK
			m := randMatrix(t, k.dt, 3, cols, uint64(nb))
			oddScales(m)
			x := randFloats(uint64(nb)+7, 4*cols, 1)
			compareBits(t, fmt.Sprintf("%s cols=%d", k.dt, cols), m, k.asm, k.ref, x)
		}
	}
}

func compareBits(t *testing.T, what string, m *Matrix, got, want quantKernel, x []float32) {
	t.Helper()
	xs := blockSums(x, 4, m.Cols)
	ns := sumsLen(m.Cols / QK)
	var xv, sv [4][]float32
	for k := range 4 {
		xv[k] = x[k*m.Cols : (k+1)*m.Cols]
		sv[k] = xs[k*ns : (k+1)*ns]
	}
	for r := range m.Rows {
		row := m.row(r)
		var g4, w4 [4]float32
		got.dot4(row, &xv, &sv, &g4, nil)
		want.dot4(row, &xv, &sv, &w4, nil)
		for k := range 4 {
			g1, w1 := got.dot1(row, xv[k], sv[k], nil), want.dot1(row, xv[k], sv[k], nil)
			for _, c := range [][2]float32{{g1, w1}, {g4[k], w4[k]}, {g1, g4[k]}} {
				if math.Float32bits(c[0]) != math.Float32bits(c[1]) {
					t.Fatalf("%s row %d vector %d: assembly %g, archsimd %g (dot1 %g, dot4 %g)", what, r, k, g1, w1, g1, g4[k])
				}
			}
		}
	}
}

// TestAsmEmptyRow checks that rows shorter than a block give 0.
func TestAsmEmptyRow(t *testing.T) {
	needAVX512(t)
	x := [4][]float32{}
	var o [4]float32
	if s := dotQ41Asm(nil, nil, nil, nil); s != 0 {
		t.Errorf("dotQ41Asm(empty) = %g", s)
	}
	if s := dotQ80Asm(make([]byte, q80Bytes-1), nil, nil, nil); s != 0 {
		t.Errorf("dotQ80Asm(short) = %g", s)
	}
	o = [4]float32{1, 2, 3, 4}
	dot4Q41Asm(nil, &x, &x, &o, nil)
	if o != ([4]float32{}) {
		t.Errorf("dot4Q41Asm(empty) = %v", o)
	}
	o = [4]float32{1, 2, 3, 4}
	dot4Q80Asm(nil, &x, &x, &o, nil)
	if o != ([4]float32{}) {
		t.Errorf("dot4Q80Asm(empty) = %v", o)
	}
}

// BenchmarkRowKernels compares the assembly row kernels with the archsimd
// ones on 1024 rows of 576 columns (one and four vectors), reporting
// weight bytes per second.
func BenchmarkRowKernels(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("CPU has no AVX-512")
	}
	kernels := []struct {
		name string
		dt   DType
		k    quantKernel
	}{
		{"Q4_1/asm", Q4_1, quantKernel{dot1: dotQ41Asm, dot4: dot4Q41Asm}},
		{"Q4_1/archsimd", Q4_1, quantKernel{dot1: dotQ41AVX512, dot4: dot4Q41AVX512}},
		{"Q8_0/asm", Q8_0, quantKernel{dot1: dotQ80Asm, dot4: dot4Q80Asm}},
		{"Q8_0/archsimd", Q8_0, quantKernel{dot1: dotQ80AVX512, dot4: dot4Q80AVX512}},
	}
	const rows, cols = 1024, 576
	x := randFloats(5, 4*cols, 1)
	xs := blockSums(x, 4, cols)
	ns := sumsLen(cols / QK)
	var xv, sv [4][]float32
	for k := range 4 {
		xv[k], sv[k] = x[k*cols:(k+1)*cols], xs[k*ns:(k+1)*ns]
	}
	for _, kk := range kernels {
		m := randMatrix(b, kk.dt, rows, cols, 1)
		rb := m.RowBytes()
		b.Run(kk.name+"/dot1", func(b *testing.B) {
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				for r := range rows {
					kk.k.dot1(m.Data[r*rb:(r+1)*rb], xv[0], sv[0], nil)
				}
			}
		})
		b.Run(kk.name+"/dot4", func(b *testing.B) {
			b.SetBytes(int64(len(m.Data)))
			var o [4]float32
			for b.Loop() {
				for r := range rows {
					kk.k.dot4(m.Data[r*rb:(r+1)*rb], &xv, &sv, &o, nil)
				}
			}
		})
	}
}

// TestAVX2RowKernels checks the AVX2 Q4_1 and Q8_0 kernels (float32
// vectors) wherever the CPU has AVX2: one- and four-vector results equal
// bit for bit, and within float32 rounding of the float64 products of the
// decoded weights, for rows of 1 to 48 blocks with odd scales.
func TestAVX2RowKernels(t *testing.T) {
	if k, _ := quantKernelAVX2(Q4_1); k.dot1 == nil || !fmaAVX2 {
		t.Skip("CPU has no AVX2")
	}
	for _, dt := range []DType{Q4_1, Q8_0} {
		k, _ := quantKernelAVX2(dt)
		for nb := 1; nb <= 48; nb++ {
			cols := nb * QK
			m := randMatrix(t, dt, 3, cols, uint64(nb))
			oddScales(m)
			w := m.Float32()
			x := randFloats(uint64(nb)+7, 4*cols, 1)
			xs := blockSums(x, 4, cols)
			ns := sumsLen(nb)
			var xv, sv [4][]float32
			for v := range 4 {
				xv[v], sv[v] = x[v*cols:(v+1)*cols], xs[v*ns:(v+1)*ns]
			}
			for r := range m.Rows {
				var o4 [4]float32
				k.dot4(m.row(r), &xv, &sv, &o4, nil)
				for v := range 4 {
					o1 := k.dot1(m.row(r), xv[v], sv[v], nil)
					if math.Float32bits(o1) != math.Float32bits(o4[v]) {
						t.Fatalf("%s cols=%d row %d vector %d: dot1 %g, dot4 %g", dt, cols, r, v, o1, o4[v])
					}
					var want, mag float64
					for c := range cols {
						p := float64(w[r*cols+c]) * float64(xv[v][c])
						want, mag = want+p, mag+math.Abs(p)
					}
					if math.Abs(float64(o1)-want) > 1e-5*mag {
						t.Fatalf("%s cols=%d row %d vector %d: %g, want %g", dt, cols, r, v, o1, want)
					}
				}
			}
		}
	}
}
