package tensor

import (
	"fmt"
	"math"
	"testing"
)

// vectorsMatrices returns a 37×96 matrix of each type and, where this build
// and CPU interleave, the interleaved Q4_1 and Q8_0 ones too.
func vectorsMatrices(t *testing.T) map[string]*Matrix {
	ms := map[string]*Matrix{}
	for _, dt := range allTypes {
		ms[dt.String()] = randMatrix(t, dt, 37, 96, uint64(dt)+7)
		if m := randMatrix(t, dt, 37, 96, uint64(dt)+7); m.Interleave() {
			ms[dt.String()+" interleaved"] = m
		}
	}
	return ms
}

// offsetVectors returns n random vectors of cols values, vector b shifted
// by b+1 so that each vector's block sums are far from the others'.
func offsetVectors(seed uint64, n, cols int) []float32 {
	x := randFloats(seed, n*cols, 1)
	for i := range x {
		x[i] += float32(i/cols + 1)
	}
	return x
}

// TestMulVectorsMatchesMulRows checks that prepared vectors give MulRows's
// bits, for every type and row split.
func TestMulVectorsMatchesMulRows(t *testing.T) {
	for name, m := range vectorsMatrices(t) {
		for _, n := range []int{1, 3, 5} {
			x := offsetVectors(uint64(n), n, m.Cols)
			ref := make([]float32, n*m.Rows)
			m.MulRows(ref, x, n, 0, m.Rows)
			v := PrepareVectors(x, n, m.Cols)
			for _, split := range [][]int{{0, m.Rows}, {0, 5, 21, 22, m.Rows}, {0, 16, 32, m.Rows}} {
				out := filled(n * m.Rows)
				for i := 0; i+1 < len(split); i++ {
					m.MulVectors(out, v, split[i], split[i+1])
				}
				sameBits(t, fmt.Sprintf("%s n=%d split %v", name, n, split), out, ref)
			}
		}
	}
}

// TestMulVectorsTakesPreparedSums checks, on the Q4_1 paths, that the block
// sums come from the preparation (a changed sum changes that vector's
// results only) and that vectors prepared again after their values changed
// give the new values' results, not the old ones.
func TestMulVectorsTakesPreparedSums(t *testing.T) {
	for name, m := range vectorsMatrices(t) {
		if m.Type != Q4_1 {
			continue
		}
		const n = 2
		x := offsetVectors(9, n, m.Cols)
		v := PrepareVectors(x, n, m.Cols)
		before := make([]float32, n*m.Rows)
		m.MulVectors(before, v, 0, m.Rows)

		v.sums[1] += 1 // vector 0, block 1
		bent := make([]float32, n*m.Rows)
		m.MulVectors(bent, v, 0, m.Rows)
		if changed := differ(bent[:m.Rows], before[:m.Rows]); changed == 0 {
			t.Errorf("%s: a changed block sum of vector 0 changed none of its results", name)
		}
		sameBits(t, name+": vector 1 after vector 0's sum changed", bent[m.Rows:], before[m.Rows:])

		for i := range x {
			x[i] += 0.25
		}
		again := PrepareVectors(x, n, m.Cols)
		got, want := make([]float32, n*m.Rows), make([]float32, n*m.Rows)
		m.MulVectors(got, again, 0, m.Rows)
		m.MulRows(want, x, n, 0, m.Rows)
		sameBits(t, name+": vectors prepared again", got, want)
		if differ(got, before) < len(got)/2 {
			t.Errorf("%s: shifted vectors gave mostly the old results", name)
		}
	}
}

// differ counts the values of a and b with different bits.
func differ(a, b []float32) int {
	d := 0
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			d++
		}
	}
	return d
}

func TestMulVectorsRefusesOtherShapes(t *testing.T) {
	m := randMatrix(t, Q4_1, 16, 64, 1)
	for name, f := range map[string]func(){
		"short x":        func() { PrepareVectors(make([]float32, 63), 1, 64) },
		"other length":   func() { v := PrepareVectors(make([]float32, 96), 1, 96); m.MulVectors(make([]float32, 16), v, 0, 16) },
		"rows past":      func() { v := PrepareVectors(make([]float32, 64), 1, 64); m.MulVectors(make([]float32, 16), v, 0, 17) },
		"negative count": func() { PrepareVectors(nil, -1, 64) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// The int8 pieces are made only for matrices whose kernel reads them (Q4_1 with an interleaved
// copy), or for any matrix when none is named.
func TestPrepareVectorsMakesPiecesOnlyWhereRead(t *testing.T) {
	q41, q80 := randMatrix(t, Q4_1, 32, 64, 1), randMatrix(t, Q8_0, 32, 64, 2)
	if !rows16CPU() || !q41.Interleave() || !q80.Interleave() {
		t.Skip("no AVX-512 interleaved-row kernels in this build or on this CPU")
	}
	x := randFloats(3, 2*64, 1)
	for _, c := range []struct {
		ms   []*Matrix
		want bool
	}{{nil, true}, {[]*Matrix{q80}, false}, {[]*Matrix{q80, q41}, true}, {[]*Matrix{randMatrix(t, Q4_1, 32, 64, 4)}, false}} {
		if v := PrepareVectors(x, 2, 64, c.ms...); (v.a != nil) != c.want {
			t.Errorf("%d matrices: pieces made %v, want %v", len(c.ms), v.a != nil, c.want)
		}
	}
}
