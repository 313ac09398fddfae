//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"math"
	"testing"
)

// TestDecodeTileAVX512MatchesDequantize checks that the vector decoders
// give dequantRow's bits, zero and subnormal scales included.
func TestDecodeTileAVX512MatchesDequantize(t *testing.T) {
	needAVX512(t)
	for _, dt := range allTypes {
		for _, cols := range []int{32, 576, 100} {
			if dt.BlockSize() == QK && cols%QK != 0 {
				continue
			}
			const rows = 5
			m := randMatrix(t, dt, rows, cols, uint64(cols)+7)
			oddScales(m)
			stride := matStride(cols)
			w := make([]float32, rows*stride)
			for i := range w {
				w[i] = sentinel
			}
			got := m.decodeTileAVX512(w, 1, rows, stride)
			want := m.Float32()
			for r := 1; r < rows; r++ {
				for c := range stride {
					g, wv := got[(r-1)*stride+c], float32(0)
					if c < cols {
						wv = want[r*cols+c]
					}
					if math.Float32bits(g) != math.Float32bits(wv) {
						t.Fatalf("%s cols=%d row %d col %d: decoded %g, Dequantize %g", dt, cols, r, c, g, wv)
					}
				}
			}
		}
	}
}

// TestMulMatAVX512MatchesScalar compares the vector and portable MulMat.
func TestMulMatAVX512MatchesScalar(t *testing.T) {
	needAVX512(t)
	const rows = 45
	for _, dt := range allTypes {
		for _, cols := range []int{64, 1536} {
			m := randMatrix(t, dt, rows, cols, 21)
			oddScales(m)
			const n = 13
			x := randFloats(22, n*cols, 1)
			_, mag := naiveMul(m, x, n)
			vec, sc := make([]float32, n*rows), make([]float32, n*rows)
			s := new(matScratch)
			s.prepare(cols, n)
			if !mulMatVector(m, s, vec, x, n, 3, rows) {
				t.Fatal("no vector MulMat")
			}
			mulMatScalar(m, s, sc, x, n, 3, rows)
			for i := range vec {
				if i%rows < 3 {
					continue
				}
				if d := math.Abs(float64(vec[i] - sc[i])); d > mulMatTol*mag[i] {
					t.Fatalf("%s: out[%d]: AVX-512 %g, scalar %g (scale %g)", dt, i, vec[i], sc[i], mag[i])
				}
			}
		}
	}
}

// TestMulMatPanelsMatchesNaive runs the AVX2 MulMat (mulMatPanels)
// directly wherever the CPU has AVX2, AVX-512 machines included: within
// rounding of the float64 products, each result the same bits for any row
// range and batch.
func TestMulMatPanelsMatchesNaive(t *testing.T) {
	if !fmaAVX2 {
		t.Skip("CPU has no AVX2 and FMA")
	}
	const rows = 45
	for _, dt := range allTypes {
		for _, cols := range []int{64, 100, 1536} {
			if cols%dt.BlockSize() != 0 {
				continue // block formats take whole blocks
			}
			m := randMatrix(t, dt, rows, cols, 23)
			const n = 17
			x := randFloats(24, n*cols, 1)
			want, mag := naiveMul(m, x, n)
			stride := matStride(cols)
			xp := make([]float32, n*stride)
			padRows(xp, x, cols, stride)
			s := new(matScratch)
			s.prepare(cols, n)
			all := make([]float32, n*rows)
			mulMatPanels(m, s, all, xp, n, 0, rows)
			checkMulTol(t, fmt.Sprintf("%s cols=%d", dt, cols), all, want, mag, rows, [2]int{0, rows}, mulMatTol)
			part := make([]float32, rows)
			mulMatPanels(m, s, part, xp[(n-1)*stride:], 1, 16, rows)
			for r := 16; r < rows; r++ {
				if math.Float32bits(part[r]) != math.Float32bits(all[(n-1)*rows+r]) {
					t.Fatalf("%s cols=%d row %d: %g alone from row 16, %g in the batch", dt, cols, r, part[r], all[(n-1)*rows+r])
				}
			}
		}
	}
}
