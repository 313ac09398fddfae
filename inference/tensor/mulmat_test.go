package tensor

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

// mulMatTol is the allowed error of MulMat relative to Σ|w·x|, the scale
// of the float64 reference's terms.
const mulMatTol = 1e-6

// checkMulTol is checkMul with a tolerance relative to Σ|w·x|; it also
// returns the largest relative error seen.
func checkMulTol(t *testing.T, what string, out []float32, want, mag []float64, rows int, rr [2]int, tol float64) float64 {
	t.Helper()
	var worst float64
	for i, got := range out {
		r := i % rows
		if r < rr[0] || r >= rr[1] {
			if got != sentinel {
				t.Fatalf("%s: wrote out[%d] (row %d) outside the range", what, i, r)
			}
			continue
		}
		d := math.Abs(float64(got) - want[i])
		if d > tol*mag[i]+1e-30 {
			t.Fatalf("%s: out[%d] = %g, reference %g (diff %g, scale %g)", what, i, got, want[i], d, mag[i])
		}
		if mag[i] > 0 {
			worst = max(worst, d/mag[i])
		}
	}
	return worst
}

func filled(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = sentinel
	}
	return out
}

func TestMulMatMatchesNaive(t *testing.T) {
	const rows = 37
	for _, dt := range allTypes {
		for _, cols := range []int{96, 576} {
			m := randMatrix(t, dt, rows, cols, uint64(dt)+uint64(cols))
			var worst float64
			for _, n := range []int{1, 3, 4, 17, 64, 200} {
				x := randFloats(uint64(n)+100, n*cols, 1)
				want, mag := naiveMul(m, x, n)
				for _, rr := range [][2]int{{0, rows}, {3, 20}, {5, 6}, {17, 37}, {9, 9}, {0, 16}, {16, 33}} {
					out := filled(n * rows)
					m.MulMat(out, x, n, rr[0], rr[1])
					what := fmt.Sprintf("%s cols=%d n=%d rows [%d,%d)", dt, cols, n, rr[0], rr[1])
					worst = max(worst, checkMulTol(t, what, out, want, mag, rows, rr, mulMatTol))
				}
			}
			t.Logf("%s cols=%d: largest error %.3g of Σ|w·x|", dt, cols, worst)
		}
	}
}

// TestMulMatOddColumns covers the float formats with rows that are not
// whole vectors, where rows and activations are padded.
func TestMulMatOddColumns(t *testing.T) {
	for _, dt := range []DType{F32, F16, BF16} {
		for _, cols := range []int{1, 7, 16, 53, 100, 161} {
			const rows = 19
			m := randMatrix(t, dt, rows, cols, uint64(cols))
			for _, n := range []int{1, 5, 9} {
				x := randFloats(uint64(cols+n), n*cols, 1)
				want, mag := naiveMul(m, x, n)
				out := filled(n * rows)
				m.MulMat(out, x, n, 1, rows)
				checkMulTol(t, fmt.Sprintf("%s cols=%d n=%d", dt, cols, n), out, want, mag, rows, [2]int{1, rows}, mulMatTol)
			}
		}
	}
}

// TestMulMatDeterministic checks that every result is the same bits
// whatever the row split, the number of goroutines and the batch.
func TestMulMatDeterministic(t *testing.T) {
	const rows, cols, n = 53, 160, 23
	for _, dt := range allTypes {
		m := randMatrix(t, dt, rows, cols, 11)
		x := randFloats(12, n*cols, 1)
		ref := make([]float32, n*rows)
		m.MulMat(ref, x, n, 0, rows)
		for _, split := range [][]int{{0, 1, rows}, {0, 5, 21, 22, 40, rows}, {0, 16, 32, 48, rows}, {0, 37, rows}} {
			out := filled(n * rows)
			var wg sync.WaitGroup
			for i := 0; i+1 < len(split); i++ {
				wg.Go(func() { m.MulMat(out, x, n, split[i], split[i+1]) })
			}
			wg.Wait()
			sameBits(t, fmt.Sprintf("%s split %v", dt, split), out, ref)
		}
		for _, sub := range [][2]int{{0, 1}, {5, 6}, {3, 10}, {7, n}} {
			nb := sub[1] - sub[0]
			out := make([]float32, nb*rows)
			m.MulMat(out, x[sub[0]*cols:sub[1]*cols], nb, 0, rows)
			sameBits(t, fmt.Sprintf("%s vectors [%d,%d), against the whole-matrix call", dt, sub[0], sub[1]), out, ref[sub[0]*rows:sub[1]*rows])
		}
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: out[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// TestMulMatScalarMatchesNaive runs the portable path directly, so it is
// tested in vector builds too.
func TestMulMatScalarMatchesNaive(t *testing.T) {
	const rows, cols, n = 21, 96, 9
	for _, dt := range allTypes {
		m := randMatrix(t, dt, rows, cols, 4)
		x := randFloats(5, n*cols, 1)
		want, mag := naiveMul(m, x, n)
		out := filled(n * rows)
		s := new(matScratch)
		s.prepare(cols, n)
		mulMatScalar(m, s, out, x, n, 2, 19)
		checkMulTol(t, dt.String(), out, want, mag, rows, [2]int{2, 19}, mulMatTol)
	}
}

func TestMulMatPanicsOnBadArguments(t *testing.T) {
	m := randMatrix(t, Q8_0, 4, 32, 1)
	for _, c := range []struct{ out, x, n, r0, r1 int }{
		{8, 64, 2, 0, 5}, {8, 63, 2, 0, 4}, {7, 64, 2, 0, 4}, {8, 64, 2, 3, 2}, {8, 64, -1, 0, 4},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MulMat(%+v) did not panic", c)
				}
			}()
			m.MulMat(make([]float32, c.out), make([]float32, c.x), c.n, c.r0, c.r1)
		}()
	}
}

// TestMulMatRowsStayApart multiplies rows of powers of two with a vector
// of ones: any mix-up of rows or vectors in the lane reduction shows.
func TestMulMatRowsStayApart(t *testing.T) {
	const rows, cols, n = 20, 16, 5
	w := make([]float32, rows*cols)
	for r := range rows {
		for c := range cols {
			w[r*cols+c] = float32(int(1) << r)
		}
	}
	x := make([]float32, n*cols)
	for b := range n {
		for c := range cols {
			x[b*cols+c] = float32(b + 1)
		}
	}
	out := make([]float32, n*rows)
	F32Matrix(rows, cols, w).MulMat(out, x, n, 0, rows)
	for b := range n {
		for r := range rows {
			if want := float32(cols * (b + 1) * (1 << r)); out[b*rows+r] != want {
				t.Fatalf("vector %d row %d: %g, want %g", b, r, out[b*rows+r], want)
			}
		}
	}
}
