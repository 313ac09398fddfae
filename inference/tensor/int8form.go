package tensor

import (
	"encoding/binary"
	"fmt"
)

// Int8 forms. The int8 kernels take Q4_1 and Q8_0 weights (Q8Supported);
// a matrix of another block format gets a copy in one of those for them,
// its int8 form:
//
//	Q4_0 → Q4_1 (or Q8_0 where a block's scale is so large that -8 times
//	  it overflows float16) and Q5_0 → Q8_0: exactly (the same values; a
//	  Q4_0 zero of a negative scale, -0, becomes +0 as Q4_1);
//	IQ4_NL → Q8_0: exactly (its levels are int8, its scale float16);
//	Q4_K → Q4_1 and IQ4_XS → Q8_0: each 32 values' scale (d·sc, and Q4_K's
//	  offset −dmin·m) rounded to float16 (a relative error of at most 2⁻¹¹);
//	Q5_1, Q2_K, Q3_K, Q5_K, Q6_K and the 1- to 3-bit IQ formats → Q8_0:
//	  each 32 values requantized from their exact values by ggml's Q8_0
//	  quantizer (an error of at most half a step of max|w|/127, plus 127
//	  times the step's float16 rounding).
//
// The float formats have none: their weights stay as they are. Once set
// (SetInt8Form), MulRowsQ8 and MulMatQ8 multiply with the int8 form; the
// float32 paths (MulRows, MulMat, Row) keep the matrix's own, exact values.

// HasInt8Form reports whether matrices of type t get an int8 form: a block
// format the int8 kernels do not take, where this build and CPU have them.
func HasInt8Form(t DType) bool {
	switch t {
	case Q4_0, Q4_K, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
		IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S:
		return Q8Supported(Q8_0) && Q8Supported(Q4_1)
	}
	return false
}

// Int8FormType is the format of m's int8 form, and false when m has none
// (its type is one the int8 kernels take, a float format, or this build or
// CPU has no int8 kernels). For Q4_0 it reads the blocks' scales.
func (m *Matrix) Int8FormType() (DType, bool) {
	if !HasInt8Form(m.Type) || m.Cols%QK != 0 {
		return 0, false
	}
	switch m.Type {
	case Q4_0:
		if q40HugeScale(m.Data) {
			return Q8_0, true
		}
		return Q4_1, true
	case Q4_K:
		return Q4_1, true
	}
	return Q8_0, true
}

// checkForm panics unless f is an int8 form made for m (NewInt8Form).
func (m *Matrix) checkForm(f *Matrix, fn string) {
	if !f.isForm || !HasInt8Form(m.Type) || f.Rows != m.Rows || f.Cols != m.Cols {
		panic(fmt.Sprintf("tensor.Matrix.%s: %s %d×%d is not an int8 form of %s %d×%d", fn, f.Type, f.Rows, f.Cols, m.Type, m.Rows, m.Cols))
	}
}

// NewInt8Form returns an empty matrix of m's shape in its int8 form's
// format, for ConvertRows to fill; nil when m has none.
func (m *Matrix) NewInt8Form() *Matrix {
	t, ok := m.Int8FormType()
	if !ok {
		return nil
	}
	rb, _ := RowBytes(t, m.Cols)
	return &Matrix{Type: t, Rows: m.Rows, Cols: m.Cols, Data: make([]byte, m.Rows*rb), isForm: true}
}

// ConvertRows writes rows [r0,r1) of m into dst, its int8 form (made by
// NewInt8Form). Callers may convert disjoint row ranges concurrently.
func (m *Matrix) ConvertRows(dst *Matrix, r0, r1 int) {
	m.checkForm(dst, "ConvertRows")
	values := make([]float32, m.Cols)
	for r := r0; r < r1; r++ {
		src, out := m.row(r), dst.row(r)
		switch {
		case m.Type == Q4_0 && dst.Type == Q4_1:
			q40AsQ41(src, out)
		case m.Type == Q4_0:
			q40AsQ80(src, out)
		case m.Type == Q5_0:
			q50AsQ80(src, out)
		case m.Type == Q4_K:
			q4KAsQ41(src, out)
		case m.Type == IQ4_NL:
			iq4NLAsQ80(src, out)
		case m.Type == IQ4_XS:
			iq4XSAsQ80(src, out)
		default:
			dequantRow(m.Type, src, values)
			requantQ80(values, out)
		}
	}
}

// requantQ80 quantizes values to Q8_0 blocks with ggml's quantizer.
func requantQ80(values []float32, out []byte) {
	for i := 0; i < len(values)/QK; i++ {
		quantQ80((*[QK]float32)(values[i*QK:]), (*[q80Bytes]byte)(out[i*q80Bytes:]))
	}
}

// q40AsQ41 rewrites Q4_0 blocks ((q-8)·d) as Q4_1 ones (q·d + m, m = -8d,
// exact in float16 as a power-of-two multiple) with the same nibbles.
func q40AsQ41(src, dst []byte) {
	for i := 0; i < len(src)/q40Bytes; i++ {
		s, d := src[i*q40Bytes:(i+1)*q40Bytes], dst[i*q41Bytes:(i+1)*q41Bytes]
		copy(d[0:2], s[0:2])
		putHalf(d[2:4], -8*half(s[0:2]))
		copy(d[4:], s[2:])
	}
}

// q40HugeScale reports whether a Q4_0 block's scale d has |8d| past
// float16's range (or is not finite).
func q40HugeScale(data []byte) bool {
	for i := 0; i+q40Bytes <= len(data); i += q40Bytes {
		if binary.LittleEndian.Uint16(data[i:])&0x7fff >= 0x6c00 { // |d| ≥ 4096
			return true
		}
	}
	return false
}

// q40AsQ80 rewrites Q4_0 blocks ((q-8)·d) as Q8_0 ones with the same d.
func q40AsQ80(src, dst []byte) {
	for i := 0; i < len(src)/q40Bytes; i++ {
		s, d := src[i*q40Bytes:(i+1)*q40Bytes], dst[i*q80Bytes:(i+1)*q80Bytes]
		copy(d[0:2], s[0:2])
		for j := 0; j < QK/2; j++ {
			d[2+j] = byte(int8(s[2+j]&15) - 8)
			d[2+j+QK/2] = byte(int8(s[2+j]>>4) - 8)
		}
	}
}

// q50AsQ80 rewrites Q5_0 blocks ((q-16)·d) as Q8_0 ones with the same d.
func q50AsQ80(src, dst []byte) {
	for i := 0; i < len(src)/q50Bytes; i++ {
		s, d := src[i*q50Bytes:(i+1)*q50Bytes], dst[i*q80Bytes:(i+1)*q80Bytes]
		copy(d[0:2], s[0:2])
		qh := binary.LittleEndian.Uint32(s[2:6])
		for j := 0; j < QK/2; j++ {
			h0, h1 := fifth(qh, j)
			q := s[6+j]
			d[2+j] = byte(int8(q&15|h0) - 16)
			d[2+j+QK/2] = byte(int8(q>>4|h1) - 16)
		}
	}
}

// q4KAsQ41 rewrites Q4_K super-blocks as eight Q4_1 blocks: sub-block j's
// scale d·sc_j and offset -dmin·m_j in float16, its nibbles reordered (a
// Q4_K byte holds elements l and l+32 of two sub-blocks, a Q4_1 byte
// elements l and l+16 of one).
func q4KAsQ41(src, dst []byte) {
	for i := 0; i < len(src)/q4KBytes; i++ {
		blk := src[i*q4KBytes : (i+1)*q4KBytes]
		d, dmin := half(blk[0:2]), half(blk[2:4])
		scales, qs := blk[4:16], blk[16:144]
		for j := range 8 {
			scale, offset := subScale(j, d, dmin, scales)
			out := dst[(i*8+j)*q41Bytes : (i*8+j+1)*q41Bytes]
			putHalf(out[0:2], scale)
			putHalf(out[2:4], -offset)
			q := qs[32*(j/2) : 32*(j/2)+32]
			shift := 4 * (j % 2)
			for l := range 16 {
				out[4+l] = q[l]>>shift&15 | (q[l+16]>>shift&15)<<4
			}
		}
	}
}

// SetInt8Form attaches f, m's int8 form filled by ConvertRows, for
// MulRowsQ8 and MulMatQ8 to use. Call it before the matrix is shared
// between goroutines.
func (m *Matrix) SetInt8Form(f *Matrix) {
	m.checkForm(f, "SetInt8Form")
	m.int8 = f
}

// MultiplyInFloat32 marks m, an int8 form, as one the float32 kernels
// multiply too (a model decoding over its int8 forms with float32
// activations), so that it interleaves where they read interleaved copies
// (Interleavable). Call it before Interleave.
func (m *Matrix) MultiplyInFloat32() { m.float32Too = true }

// Int8Form returns the int8 form set on m, or nil.
func (m *Matrix) Int8Form() *Matrix { return m.int8 }

// Q8Ready reports whether MulRowsQ8 and MulMatQ8 can multiply m: its type
// is one the int8 kernels take (Q8Supported), or it has an int8 form.
func (m *Matrix) Q8Ready() bool { return m.int8 != nil || Q8Supported(m.Type) }
