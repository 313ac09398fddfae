package tensor

import (
	"fmt"
	"slices"
)

// Vectors is n activation vectors of cols values prepared for MulVectors:
// their per-block sums, which the Q4_1 kernels need, are computed once, so
// the matrices that share an input (q, k and v; gate and up) and the
// workers that split their rows do not each compute them again. It refers
// to the vectors without copying them: they must not change while the
// Vectors are in use. It is a small value; its copies share the sums.
type Vectors struct {
	x       []float32
	n, cols int
	sums    []float32 // sumsLen(cols/QK) per vector; nil until prepared
	a       []int8    // int8 pieces for the interleaved Q4_1 kernel (pieces.go); nil until prepared
	sc      []float32 // their scales
}

// PrepareVectors prepares the n vectors of cols values at the start of x for
// the matrices ms, or for any matrix when none is named: the int8 pieces
// only Q4_1's interleaved kernel reads are made only where it is among them.
// It panics when n or cols is negative or x holds fewer than n·cols values
// (a programming error).
func PrepareVectors(x []float32, n, cols int, ms ...*Matrix) Vectors {
	if n < 0 || cols < 0 || len(x) < n*cols {
		panic(fmt.Sprintf("tensor.PrepareVectors: %d floats for %d vectors of %d", len(x), n, cols))
	}
	v := Vectors{x: x[:n*cols], n: n, cols: cols}
	if n > 0 && cols > 0 && cols%QK == 0 {
		v.sums = blockSums(v.x, n, cols)
		if rows16CPU() && (len(ms) == 0 || slices.ContainsFunc(ms, readsPieces)) {
			v.a, v.sc = int8Pieces(v.x, n, cols)
		}
	}
	return v
}

// readsPieces reports whether m's kernel reads the vectors' int8 pieces.
func readsPieces(m *Matrix) bool { return m.Type == Q4_1 && m.rows16 != nil }

// MulVectors is MulRows of prepared vectors, with the same bits: for b in
// [0,n) and r in [r0,r1), out[b*m.Rows+r] = dot(row r, vector b). It
// panics when the vectors' length is not m.Cols or the arguments do not
// fit the matrix, as MulRows does.
func (m *Matrix) MulVectors(out []float32, v Vectors, r0, r1 int) {
	if v.cols != m.Cols {
		panic(fmt.Sprintf("tensor.Matrix.MulVectors: vectors of %d values for a matrix of %d columns", v.cols, m.Cols))
	}
	m.mulVectors(out, &v, r0, r1)
}

// pieces returns the vectors' int8 pieces and their scales: the prepared
// ones, else made now.
func (v *Vectors) pieces() ([]int8, []float32) {
	if v.a != nil {
		return v.a, v.sc
	}
	return int8Pieces(v.x[:v.n*v.cols], v.n, v.cols)
}

// blockSums returns the vectors' block sums (see blockSums): the prepared
// ones, else computed now.
func (v *Vectors) blockSums() []float32 {
	if v.sums != nil {
		return v.sums
	}
	return blockSums(v.x[:v.n*v.cols], v.n, v.cols)
}
