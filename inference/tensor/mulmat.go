package tensor

import "sync"

// Batched matrix multiply for prompt prefill. MulMat decodes a tile of
// matTile weight rows once into float32 scratch and then multiplies it with
// every activation vector, four rows by four vectors at a time. Each product
// is computed the same way wherever its row and vector fall in the tiling
// (edge tiles repeat a row or vector instead of taking another path), so
// results do not depend on the row range, on n or on how callers split rows
// across goroutines.

// matTile is the number of weight rows decoded together; the vector
// kernel's results for a tile are one 16-lane vector per activation vector.
const matTile = 16

// matScratch is the per-call working memory of MulMat, kept in matPool.
type matScratch struct {
	w  []float32 // matTile decoded rows, stride floats apart
	xp []float32 // activations copied to stride, when cols%16 != 0
	// fold holds the permutation indices of the vector kernel's lane
	// reduction, built once in plain Go so the vector code loads them.
	fold [8][16]uint32
	// jobs and parts serve the vector kernel: for each row quad of a tile
	// and each quad of vectors, the vectors and their partly reduced sums
	// (per vector, 4 rows × 4 lanes).
	jobs  []quadJob
	parts [][4][16]float32
	init  bool
	// wp, panels and ps serve the AVX2 path (mulMatPanels): decoded rows,
	// their panel and the panel kernel's scratch.
	wp     []float32
	panels Panels
	ps     PanelScratch
}

// quadJob is one call's worth of work for the vector kernel: four vectors
// and where their partial sums go. The layout is known to assembly.
type quadJob struct {
	x    [4]*float32
	part *[4][16]float32
}

// matPool recycles MulMat scratch buffers between calls.
var matPool = sync.Pool{New: func() any { return new(matScratch) }}

// matStride is the distance between decoded rows: cols rounded up to a
// whole number of 16-float vectors.
func matStride(cols int) int { return (cols + 15) / 16 * 16 }

// MulMat computes the same products as MulRows, for b in [0,n) and r in
// [r0,r1):
//
//	out[b*m.Rows+r] = dot(row r, x[b*m.Cols:(b+1)*m.Cols])
//
// It is built for many vectors (prompt prefill): weights are decoded to
// float32 once per call and the products run as a blocked matrix multiply,
// so the results may differ from MulRows' in the last bits (another
// summation order) but are as accurate. The result for a vector and a row
// does not depend on n, on the row range or on other vectors. Callers split
// [0,Rows) across goroutines, preferably at multiples of 16 rows. It panics
// when the arguments do not fit the matrix, like MulRows.
func (m *Matrix) MulMat(out, x []float32, n, r0, r1 int) {
	m.checkMul(out, x, n, r0, r1)
	if n == 0 || r0 == r1 {
		return
	}
	if m.Cols == 0 {
		for b := range n {
			clear(out[b*m.Rows+r0 : b*m.Rows+r1])
		}
		return
	}
	s := matPool.Get().(*matScratch)
	defer matPool.Put(s)
	s.prepare(m.Cols, n)
	xs := x[:n*m.Cols]
	if stride := matStride(m.Cols); stride != m.Cols {
		padRows(s.xp, xs, m.Cols, stride)
		xs = s.xp
	}
	if !mulMatVector(m, s, out, xs, n, r0, r1) {
		mulMatScalar(m, s, out, xs, n, r0, r1)
	}
}

// prepare sizes the scratch buffers for cols columns and n vectors.
func (s *matScratch) prepare(cols, n int) {
	stride := matStride(cols)
	s.w = resize(s.w, matTile*stride)
	if stride != cols {
		s.xp = resize(s.xp, n*stride)
	}
	if !s.init {
		s.fold = foldIndices()
		s.init = true
	}
}

// resize returns s with length n, reusing its memory when it has room.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// padRows copies rows of cols floats to rows stride floats apart, zeroing
// the padding.
func padRows(dst, src []float32, cols, stride int) {
	for i := 0; i*cols < len(src); i++ {
		d := dst[i*stride : (i+1)*stride]
		copy(d, src[i*cols:(i+1)*cols])
		clear(d[cols:])
	}
}

// decodeTile decodes rows [t,te) of m into w, rows stride floats apart,
// with zeros after the last column. It returns the rows to multiply: w, or
// the matrix's own data for F32 matrices whose rows need no padding.
func (m *Matrix) decodeTile(w []float32, t, te, stride int) []float32 {
	if m.Type == F32 && stride == m.Cols {
		return floats(m.Data)[t*stride : te*stride]
	}
	rb := m.RowBytes()
	for r := t; r < te; r++ {
		d := w[(r-t)*stride : (r-t+1)*stride]
		dequantRow(m.Type, m.Data[r*rb:(r+1)*rb], d[:m.Cols])
		clear(d[m.Cols:])
	}
	return w[:(te-t)*stride]
}

// foldIndices returns the permutations of the lane reduction, two per
// level (see the vector kernel): at level l, each input vector holds 1<<l
// sums spread over groups of g = 16>>l lanes; the two permutations pick,
// from the concatenation of two such vectors, the first and the second half
// of every group, so that adding them halves the groups and doubles their
// number.
func foldIndices() [8][16]uint32 {
	var idx [8][16]uint32
	for l := range 4 {
		g := 16 >> l
		half, groups := g/2, 1<<l
		for lane := range 16 {
			grp, i := lane/half, lane%half
			src := grp*g + i
			if grp >= groups {
				src = 16 + (grp-groups)*g + i
			}
			idx[2*l][lane] = uint32(src)
			idx[2*l+1][lane] = uint32(src + half)
		}
	}
	return idx
}

// mulMatScalar is the portable MulMat: the same tiling, with each product
// summed in two interleaved float32 accumulators over the padded row.
func mulMatScalar(m *Matrix, s *matScratch, out, x []float32, n, r0, r1 int) {
	stride := matStride(m.Cols)
	for t := r0; t < r1; t += matTile {
		te := min(t+matTile, r1)
		w := m.decodeTile(s.w, t, te, stride)
		for b := 0; b < n; b += 2 {
			b1 := min(b+1, n-1)
			x0, x1 := x[b*stride:(b+1)*stride], x[b1*stride:(b1+1)*stride]
			for r := t; r < te; r += 2 {
				ra := min(r+1, te-1)
				w0, w1 := w[(r-t)*stride:(r-t+1)*stride], w[(ra-t)*stride:(ra-t+1)*stride]
				var o [4]float32
				dot2x2(w0, w1, x0, x1, &o)
				out[b*m.Rows+r], out[b*m.Rows+ra] = o[0], o[1]
				out[b1*m.Rows+r], out[b1*m.Rows+ra] = o[2], o[3]
			}
		}
	}
}

// dot2x2 sets o to the dot products of rows w0, w1 with x0 and x1 (in the
// order w0·x0, w1·x0, w0·x1, w1·x1). len(w0) is even.
func dot2x2(w0, w1, x0, x1 []float32, o *[4]float32) {
	k := len(w0)
	w1, x0, x1 = w1[:k], x0[:k], x1[:k]
	var a0, a1, b0, b1, c0, c1, d0, d1 float32
	for i := 0; i+1 < k; i += 2 {
		a0 += w0[i] * x0[i]
		a1 += w0[i+1] * x0[i+1]
		b0 += w1[i] * x0[i]
		b1 += w1[i+1] * x0[i+1]
		c0 += w0[i] * x1[i]
		c1 += w0[i+1] * x1[i+1]
		d0 += w1[i] * x1[i]
		d1 += w1[i+1] * x1[i+1]
	}
	*o = [4]float32{a0 + a1, b0 + b1, c0 + c1, d0 + d1}
}
