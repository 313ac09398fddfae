package tensor

// rowTile is how many weight rows stay hot in cache while all vectors of a
// batch pass over them.
const rowTile = 16

// rowSource gives the dot products of weight rows with activation vectors.
// dot1 and dot4 must do the same arithmetic per vector, so that a result
// does not depend on how many vectors were multiplied together.
type rowSource interface {
	// tile prepares rows [r0,r1) (F16/BF16 decode them here).
	tile(r0, r1 int)
	dot1(r int, x, xs []float32) float32
	dot4(r int, x, xs *[4][]float32, o *[4]float32)
}

// vecs holds the activation vectors of a MulRows call and, for kernels that
// need them, their per-block sums.
type vecs struct {
	x, xs     []float32
	cols, nxs int
}

func (v *vecs) at(b int) (x, xs []float32) {
	x = v.x[b*v.cols : (b+1)*v.cols]
	if v.xs != nil {
		xs = v.xs[b*v.nxs : (b+1)*v.nxs]
	}
	return x, xs
}

// sumsLen is the length of one vector's block sums for nb blocks: padded
// with zeros to a multiple of 16, so vector kernels can load whole lanes.
func sumsLen(nb int) int { return (nb + 15) / 16 * 16 }

// blockSums returns, for each of the n vectors, the sums of each run of QK
// values, sumsLen(cols/QK) floats per vector.
func blockSums(x []float32, n, cols int) []float32 {
	nb, stride := cols/QK, sumsLen(cols/QK)
	out := make([]float32, n*stride)
	for b := range n {
		for i := range nb {
			out[b*stride+i] = sum32((*[QK]float32)(x[b*cols+i*QK:]))
		}
	}
	return out
}

// sum32 adds 32 floats in a fixed order.
func sum32(x *[QK]float32) float32 {
	var a0, a1, a2, a3 float32
	for j := 0; j < QK; j += 4 {
		a0 += x[j]
		a1 += x[j+1]
		a2 += x[j+2]
		a3 += x[j+3]
	}
	return (a0 + a1) + (a2 + a3)
}

// drive runs the loop nest shared by all types: row tiles outside, groups of
// four vectors inside, so a tile of weights is read from memory once.
func drive(src rowSource, v *vecs, out []float32, rows, n, r0, r1 int) {
	for t := r0; t < r1; t += rowTile {
		te := min(t+rowTile, r1)
		src.tile(t, te)
		b := 0
		for ; b+4 <= n; b += 4 {
			drive4(src, v, out, rows, b, t, te)
		}
		for ; b < n; b++ {
			x, xs := v.at(b)
			o := out[b*rows : (b+1)*rows]
			for r := t; r < te; r++ {
				o[r] = src.dot1(r, x, xs)
			}
		}
	}
}

func drive4(src rowSource, v *vecs, out []float32, rows, b, t, te int) {
	var x, xs [4][]float32
	for k := range 4 {
		x[k], xs[k] = v.at(b + k)
	}
	for r := t; r < te; r++ {
		var o [4]float32
		src.dot4(r, &x, &xs, &o)
		for k := range 4 {
			out[(b+k)*rows+r] = o[k]
		}
	}
}

// floatRows serves F32 matrices (and decoded F16/BF16 tiles).
type floatRows struct {
	w    []float32
	cols int
	base int // row number of w[0:cols]
	k    floatKernel
}

func (f *floatRows) tile(r0, r1 int) {}

func (f *floatRows) rowAt(r int) []float32 {
	i := (r - f.base) * f.cols
	return f.w[i : i+f.cols]
}

func (f *floatRows) dot1(r int, x, _ []float32) float32 { return f.k.dot1(f.rowAt(r), x) }

func (f *floatRows) dot4(r int, x, _ *[4][]float32, o *[4]float32) { f.k.dot4(f.rowAt(r), x, o) }

// decodedRows decodes each tile of an F16/BF16 matrix into float32 first.
type decodedRows struct {
	floatRows
	m *Matrix
}

func (d *decodedRows) tile(r0, r1 int) {
	d.base = r0
	d.w = d.w[:cap(d.w)][:(r1-r0)*d.cols]
	rb := d.m.RowBytes()
	dequantRow(d.m.Type, d.m.Data[r0*rb:r1*rb], d.w)
}

// quantRows serves the block-quantized formats.
type quantRows struct {
	data []byte
	rb   int
	k    quantKernel
	t    *table
}

func (q *quantRows) tile(r0, r1 int) {}

func (q *quantRows) dot1(r int, x, xs []float32) float32 {
	return q.k.dot1(q.data[r*q.rb:(r+1)*q.rb], x, xs, q.t)
}

func (q *quantRows) dot4(r int, x, xs *[4][]float32, o *[4]float32) {
	q.k.dot4(q.data[r*q.rb:(r+1)*q.rb], x, xs, o, q.t)
}

func mulFloat(w []float32, rows, cols int, out, x []float32, n, r0, r1 int) {
	src := &floatRows{w: w, cols: cols, k: floatKernelFor()}
	drive(src, &vecs{x: x, cols: cols}, out, rows, n, r0, r1)
}

func (m *Matrix) mulDecoded(out, x []float32, n, r0, r1 int) {
	buf := make([]float32, min(rowTile, r1-r0)*m.Cols)
	src := &decodedRows{floatRows: floatRows{w: buf, cols: m.Cols, k: floatKernelFor()}, m: m}
	drive(src, &vecs{x: x, cols: m.Cols}, out, m.Rows, n, r0, r1)
}

// mulQuant runs the row kernels of m's type; it reports false when there
// are none (float formats without vector kernels).
func (m *Matrix) mulQuant(out []float32, in *Vectors, r0, r1 int) bool {
	k, ok := quantKernelFor(m.Type)
	if !ok {
		return false
	}
	v := &vecs{x: in.x, cols: m.Cols}
	if k.sums {
		v.xs, v.nxs = in.blockSums(), sumsLen(m.Cols/QK)
	}
	src := &quantRows{data: m.Data, rb: m.RowBytes(), k: k}
	if k.table != nil {
		src.t = k.table()
	}
	drive(src, v, out, m.Rows, in.n, r0, r1)
	return true
}

// floatKernel multiplies float32 rows.
type floatKernel struct {
	dot1 func(w, x []float32) float32
	dot4 func(w []float32, x *[4][]float32, o *[4]float32)
}

// quantKernel multiplies one row stored as bytes. xs holds the vector's
// block sums (see blockSums) when sums is set; t is the lookup table made by
// table, if any.
type quantKernel struct {
	dot1  func(row []byte, x, xs []float32, t *table) float32
	dot4  func(row []byte, x, xs *[4][]float32, o *[4]float32, t *table)
	sums  bool
	table func() *table
}
