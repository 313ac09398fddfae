package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// pieceBlocks returns blocks of values that test the split: random ones of
// several sizes, zeros, one large value among small ones, values that land
// halfway between two integers, and the extremes of float32.
func pieceBlocks() []float32 {
	r := rand.New(rand.NewPCG(11, 12))
	var x []float32
	for _, scale := range []float64{1, 1e-3, 1e4, 1e-30, 1e30} {
		for range 4 * QK {
			x = append(x, float32(r.NormFloat64()*scale))
		}
	}
	x = append(x, make([]float32, QK)...) // zeros
	spike := make([]float32, QK)
	for j := range spike {
		spike[j] = float32(r.NormFloat64() * 1e-6)
	}
	spike[7] = 3
	x = append(x, spike...)
	halves := make([]float32, QK)
	for j := range halves {
		halves[j] = (float32(j) - 15.5) / 2
	}
	x = append(x, halves...)
	extremes := make([]float32, QK)
	for j := range extremes {
		extremes[j] = [...]float32{math.MaxFloat32, -math.MaxFloat32, 1e-45, -1e-40, 0, 1}[j%6]
	}
	return append(x, extremes...)
}

// TestSplitPiecesMatchesGo checks the split of this build (vector units
// where there are) against splitPiecesGo, bit for bit.
func TestSplitPiecesMatchesGo(t *testing.T) {
	x := pieceBlocks()
	nb := len(x) / QK
	a, sc := make([]int8, nb*piecesBytes), make([]float32, nb*piecesScales)
	wa, wsc := make([]int8, len(a)), make([]float32, len(sc))
	splitPieces(x, a, sc)
	splitPiecesGo(x, wa, wsc)
	for i := range a {
		if a[i] != wa[i] {
			t.Fatalf("block %d piece %d value %d (x = %g): %d, want %d", i/piecesBytes, i%piecesBytes/QK, i%QK, x[i/piecesBytes*QK+i%QK], a[i], wa[i])
		}
	}
	for i := range sc {
		if math.Float32bits(sc[i]) != math.Float32bits(wsc[i]) {
			t.Fatalf("block %d scale %d: %g, want %g", i/piecesScales, i%piecesScales, sc[i], wsc[i])
		}
	}
}

// TestPiecesRebuildValues checks that s₁a₁ + s₂a₂ + s₃a₃ is each value to
// within 6.2e-8 of its block's largest magnitude.
func TestPiecesRebuildValues(t *testing.T) {
	x := pieceBlocks()
	nb := len(x) / QK
	a, sc := make([]int8, nb*piecesBytes), make([]float32, nb*piecesScales)
	splitPieces(x, a, sc)
	checked := 0
	for i := range nb {
		block := x[i*QK : (i+1)*QK]
		var amax float64
		for _, v := range block {
			amax = max(amax, math.Abs(float64(v)))
		}
		if amax > 1e38 || amax < 1e-37 {
			continue // past the pieces' range: only the bits are checked
		}
		checked++
		for j, v := range block {
			var got float64
			for p := range 3 {
				got += float64(sc[i*piecesScales+p]) * float64(a[i*piecesBytes+p*QK+j])
			}
			if d := math.Abs(got - float64(v)); d > 6.2e-8*amax {
				t.Fatalf("block %d value %d: %g rebuilt as %g (error %.3g of the block's max %g)", i, j, v, got, d/amax, amax)
			}
		}
	}
	if checked < 16 {
		t.Fatalf("only %d blocks checked", checked)
	}
}

// TestInterleavedQ4_1IsFloat32Accurate checks the interleaved Q4_1 kernel
// (int8 pieces) against a float64 reference more tightly than checkMul:
// within 1e-6 of Σ|w·x|, float32 rounding's order for these lengths.
func TestInterleavedQ4_1IsFloat32Accurate(t *testing.T) {
	for _, cols := range []int{64, 576, 1536} {
		m := randMatrix(t, Q4_1, 48, cols, uint64(cols))
		if !m.Interleave() {
			t.Skip("no interleaved-row kernels in this build or on this CPU")
		}
		for _, scale := range []float32{1, 1e-3, 300} {
			x := randFloats(uint64(cols)+3, 2*cols, scale)
			want, mag := naiveMul(m, x, 2)
			out := make([]float32, 2*m.Rows)
			m.MulRows(out, x, 2, 0, m.Rows)
			checkMulTol(t, fmt.Sprintf("%d columns, scale %g", cols, scale), out, want, mag, m.Rows, [2]int{0, m.Rows}, 1e-6)
		}
	}
}
