package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// Matrix is a rows×cols row-major weight matrix in one storage format. Data
// is usually a slice of a memory-mapped file and must not be modified while
// the matrix is in use.
type Matrix struct {
	Type       DType
	Rows, Cols int
	Data       []byte
	rows16     []byte  // interleaved copy for decoding, when made (Interleave)
	int8       *Matrix // the int8 kernels' copy of a format they do not take (SetInt8Form)
	isForm     bool    // this matrix is such a copy (NewInt8Form)
	float32Too bool    // an int8 form the float32 kernels multiply too (MultiplyInFloat32)
}

// NewMatrix checks that data holds exactly rows×cols elements of type t and
// wraps it without copying (except float32 data that is not 4-byte aligned,
// which is copied to an aligned buffer).
func NewMatrix(t DType, rows, cols int, data []byte) (*Matrix, error) {
	if !t.Supported() {
		return nil, &UnsupportedError{Type: t}
	}
	if rows < 0 || cols < 0 {
		return nil, fmt.Errorf("tensor: invalid %s matrix shape %d×%d", t, rows, cols)
	}
	rb, err := RowBytes(t, cols)
	if err != nil {
		return nil, err
	}
	if rb > 0 && rows > math.MaxInt/rb {
		return nil, fmt.Errorf("tensor: %s matrix %d×%d is too large", t, rows, cols)
	}
	if len(data) != rows*rb {
		return nil, fmt.Errorf("tensor: %s matrix %d×%d needs %d bytes, got %d", t, rows, cols, rows*rb, len(data))
	}
	if t == F32 && len(data) > 0 && uintptr(unsafe.Pointer(&data[0]))%4 != 0 {
		data = alignedCopy(data)
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// alignedCopy copies b into memory allocated as float32s.
func alignedCopy(b []byte) []byte {
	f := make([]float32, (len(b)+3)/4)
	out := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), len(b))
	copy(out, b)
	return out
}

// F32Matrix wraps rows×cols float32 values without copying. It panics if v
// does not hold exactly rows×cols values.
func F32Matrix(rows, cols int, v []float32) *Matrix {
	if rows < 0 || cols < 0 || len(v) != rows*cols {
		panic(fmt.Sprintf("tensor.F32Matrix: %d values for a %d×%d matrix", len(v), rows, cols))
	}
	return &Matrix{Type: F32, Rows: rows, Cols: cols, Data: floatBytes(v)}
}

func floatBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// floats views F32 matrix data as float32s (aligned by NewMatrix).
func floats(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// RowBytes is the storage size of one row.
func (m *Matrix) RowBytes() int {
	return m.Cols / m.Type.BlockSize() * m.Type.BlockBytes()
}

// row returns the storage of row r.
func (m *Matrix) row(r int) []byte {
	rb := m.RowBytes()
	return m.Data[r*rb : (r+1)*rb]
}

// Row dequantizes row r into dst[:Cols]. It panics if r is out of range or
// dst is shorter than Cols.
func (m *Matrix) Row(r int, dst []float32) {
	if r < 0 || r >= m.Rows || len(dst) < m.Cols {
		panic(fmt.Sprintf("tensor.Matrix.Row: row %d of %d into %d floats (%d columns)", r, m.Rows, len(dst), m.Cols))
	}
	dequantRow(m.Type, m.row(r), dst[:m.Cols])
}

// Float32 returns the whole matrix dequantized, row-major, in a new slice.
func (m *Matrix) Float32() []float32 {
	out := make([]float32, m.Rows*m.Cols)
	dequantRow(m.Type, m.Data, out)
	return out
}

// MulRows computes, for b in [0,n) and r in [r0,r1):
//
//	out[b*m.Rows+r] = dot(row r, x[b*m.Cols:(b+1)*m.Cols])
//
// Each weight row is decoded once and used for all n vectors (batched
// prefill); the result for a vector does not depend on n or on the row
// range. Callers split [0,Rows) across goroutines. It panics when the
// arguments do not fit the matrix (a programming error, like an index out of
// range).
//
// Several matrices or row ranges multiplying the same vectors can share the
// vectors' preparation through PrepareVectors and MulVectors.
func (m *Matrix) MulRows(out, x []float32, n, r0, r1 int) {
	m.mulVectors(out, &Vectors{x: x, n: n, cols: m.Cols}, r0, r1)
}

// mulVectors checks the arguments and multiplies; v's block sums are
// computed where the kernels need them unless prepared.
func (m *Matrix) mulVectors(out []float32, v *Vectors, r0, r1 int) {
	x, n := v.x, v.n
	m.checkMul(out, x, n, r0, r1)
	if n == 0 || r0 == r1 {
		return
	}
	switch {
	case m.rows16 != nil && rows16CPU():
		m.mulRows16(out, v, r0, r1)
	case m.Type == F32:
		mulFloat(floats(m.Data), m.Rows, m.Cols, out, x, n, r0, r1)
	case !m.mulQuant(out, v, r0, r1):
		m.mulDecoded(out, x, n, r0, r1)
	}
}

func (m *Matrix) checkMul(out, x []float32, n, r0, r1 int) {
	switch {
	case n < 0 || r0 < 0 || r1 < r0 || r1 > m.Rows:
		panic(fmt.Sprintf("tensor.Matrix.MulRows: rows [%d,%d) of %d, n=%d", r0, r1, m.Rows, n))
	case len(x) < n*m.Cols:
		panic(fmt.Sprintf("tensor.Matrix.MulRows: x has %d floats, need %d×%d", len(x), n, m.Cols))
	case n > 0 && len(out) < (n-1)*m.Rows+r1:
		panic(fmt.Sprintf("tensor.Matrix.MulRows: out has %d floats, need %d×%d", len(out), n, m.Rows))
	}
}
