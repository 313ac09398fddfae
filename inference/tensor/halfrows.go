package tensor

// Attention over a key/value cache kept in float16 (half the bytes a
// generated token's attention reads): the rows are widened to float32 as
// they are read, so each function gives the bits of its float32 version
// over the widened values.

// DotRowsF16 is DotRows over rows stored as float16 (rows[j*stride:] the
// j-th row's first value): out[j] has the bits of DotRows over the rows'
// float32 values.
func DotRowsF16(out, q []float32, rows []uint16, stride int, scale float32) {
	if len(out) > 0 {
		_ = rows[(len(out)-1)*stride+len(q)-1]
	}
	if dotRowsF16Vector(out, q, rows, stride, scale) {
		return
	}
	row := make([]float32, len(q))
	for j := range out {
		FromF16(row, rows[j*stride:])
		out[j] = Dot(q, row) * scale
	}
}

// AddRowsF16 is AddRows over rows stored as float16, with the bits of
// AddRows over their float32 values.
func AddRowsF16(o, w []float32, rows []uint16, stride int) {
	if len(w) > 0 {
		_ = rows[(len(w)-1)*stride+len(o)-1]
	}
	if addRowsF16Vector(o, w, rows, stride) {
		return
	}
	clear(o)
	row := make([]float32, len(o))
	for j, a := range w {
		FromF16(row, rows[j*stride:])
		Axpy(o, a, row)
	}
}

// ToF16 rounds src to float16 into dst (to nearest even, as F32ToF16).
func ToF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := toF16Vector(dst, src)
	for i := n; i < len(src); i++ {
		dst[i] = F32ToF16(src[i])
	}
}

// FromF16 widens float16 values into dst (len(dst) of them), exactly.
func FromF16(dst []float32, src []uint16) {
	src = src[:len(dst)]
	n := fromF16Vector(dst, src)
	for i := n; i < len(dst); i++ {
		dst[i] = F16ToF32(src[i])
	}
}
