package tensor

import "fmt"

// AMXVectors is n activation vectors of Cols values prepared for
// MulMatAMX by PrepareAMX: in groups of 16, per block of QK columns, each
// vector as two bfloat16 pieces (x ≈ hi + lo, within 2⁻¹⁷), and its block
// sums.
type AMXVectors struct {
	N, Cols int
	nb, ng  int
	xa      []uint16  // per block, per group, per piece: 16 vectors × QK values
	sx      []float32 // per block, per group: 16 vectors' sums
	// Lanes past the last vector hold zeros or earlier vectors' values: a
	// tile product's row for one vector depends on that vector alone, and
	// those rows' results are never stored.
}

// amxGroup is the number of vectors in one tile's rows (and of weight rows
// in one tile's columns).
const amxGroup = 16

// amxTileBytes is the size of one tile: 16 rows of 64 bytes.
const amxTileBytes = 1024

// AMXSupported reports whether MulMatAMX can multiply matrices of type t on
// this machine: the CPU has AMX tiles with bfloat16 and AVX-512 BF16 (and
// the kernel grants the tiles' use), and t is Q4_0 or Q4_1.
func AMXSupported(t DType) bool {
	return (t == Q4_0 || t == Q4_1) && amxCPU()
}

// PrepareAMX prepares n vectors of cols values (x[b*cols:(b+1)*cols]) for
// MulMatAMX. cols must be a multiple of QK, and AMX supported (see
// AMXSupported); it panics otherwise (a programming error).
func PrepareAMX(x []float32, n, cols int) *AMXVectors {
	v := new(AMXVectors)
	v.Prepare(x, n, cols)
	return v
}

// Prepare is PrepareAMX into v, reusing its memory.
func (v *AMXVectors) Prepare(x []float32, n, cols int) {
	v.Reset(n, cols)
	v.Fill(x, 0, n)
}

// Reset sizes v for n vectors of cols values, reusing its memory; Fill then
// prepares them. It panics when cols is not a multiple of QK or AMX is not
// supported (a programming error).
func (v *AMXVectors) Reset(n, cols int) {
	if !amxCPU() || cols%QK != 0 || n < 0 {
		panic(fmt.Sprintf("tensor.PrepareAMX: %d vectors of %d columns, AMX %v", n, cols, amxCPU()))
	}
	ng := (n + amxGroup - 1) / amxGroup
	v.N, v.Cols, v.nb, v.ng = n, cols, cols/QK, ng
	v.xa = resize(v.xa, max(1, v.nb*ng*2*amxGroup*QK))
	v.sx = resize(v.sx, max(1, v.nb*ng*amxGroup))
}

// Fill prepares vectors [lo,hi) of x (which holds all v.N vectors, v.Cols
// values each). Calls on disjoint ranges may run at once.
func (v *AMXVectors) Fill(x []float32, lo, hi int) {
	if lo < 0 || hi > v.N || lo > hi || len(x) < v.N*v.Cols {
		panic(fmt.Sprintf("tensor.AMXVectors.Fill: vectors [%d,%d) of %d, %d floats", lo, hi, v.N, len(x)))
	}
	v.split(x, lo, hi)
}

// MulMatAMX computes what MulMat does, for the vectors of x and rows
// [r0,r1): out[b*m.Rows+r] = dot(row r, vector b). Each activation is two
// bfloat16 pieces, hi + lo, within 2⁻¹⁷ of it; each block's products of
// those with the weights' integers are exact and summed in float32, then
// scaled by the block's d and offset by m·Σx. So a result is within
// 3·10⁻⁵ of Σ|w·x| of MulMat's (tested; seen up to 1·10⁻⁵), finer than the
// weights' 4 bits by orders of magnitude. The result
// for a vector and a row does not depend on the other vectors, on x.N or on
// the row range. Callers split [0,Rows) across goroutines, preferably at
// multiples of 32 rows. It panics when the arguments do not fit or the type
// is not supported (see AMXSupported).
func (m *Matrix) MulMatAMX(out []float32, x *AMXVectors, r0, r1 int) {
	switch {
	case !AMXSupported(m.Type):
		panic(fmt.Sprintf("tensor.Matrix.MulMatAMX: %s weights, AMX %v", m.Type, amxCPU()))
	case x.Cols != m.Cols:
		panic(fmt.Sprintf("tensor.Matrix.MulMatAMX: vectors of %d columns, matrix has %d", x.Cols, m.Cols))
	case r0 < 0 || r1 < r0 || r1 > m.Rows:
		panic(fmt.Sprintf("tensor.Matrix.MulMatAMX: rows [%d,%d) of %d", r0, r1, m.Rows))
	case x.N > 0 && len(out) < (x.N-1)*m.Rows+r1:
		panic(fmt.Sprintf("tensor.Matrix.MulMatAMX: out has %d floats, need %d×%d", len(out), x.N, m.Rows))
	}
	if x.N == 0 || r0 == r1 {
		return
	}
	mulMatAMX(m, out, x, r0, r1)
}
