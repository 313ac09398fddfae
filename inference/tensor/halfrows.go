package tensor

// Attention over a key/value cache kept in float16 (half the bytes a
// generated token's attention reads): the rows are widened to float32 as
// they are read, so each function gives the bits of its float32 version
// over the widened values.

// DotRowsF16 is DotRows over rows stored as float16 (rows[j*stride:] the
// j-th row's first value): out[j] has the bits of DotRows over the rows'
// float32 values — on CPUs with AVX-512, of the AVX2 float32 kernel, since
// DotRows there sums a row's sixteen lanes in another order.
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

// GroupedF16 reports whether DotRowsF16Heads and AddRowsF16Heads read each
// row once for every three queries of a group of heads queries of d values
// here (else they take the queries one at a time, AddRowsF16Heads a whole
// output for each half).
func GroupedF16(d, heads int) bool { return groupedF16(d, heads) }

// DotRowsF16Heads is DotRowsF16 for the queries that share key-value rows
// (grouped-query attention): query h, q[h*d:(h+1)*d] with d = len(q)/heads,
// against n rows, its scores at out[h*outStride:][:n], each with the bits of
// DotRowsF16 for that query alone. Each row is read once for every three
// queries. next, when not empty, holds rows to be read later (the values
// after the keys): one of them for each row read is asked of the memory on
// the way, into the second-level cache.
func DotRowsF16Heads(out []float32, outStride int, q []float32, heads, n int, rows []uint16, stride int, scale float32, next []uint16) {
	d := len(q) / heads
	if n > 0 {
		_ = rows[(n-1)*stride+d-1]
		_ = out[(heads-1)*outStride+n-1]
	}
	for h := dotRowsF16HeadsVector(out, outStride, q, heads, n, rows, stride, scale, next); h < heads; h++ {
		DotRowsF16(out[h*outStride:][:n], q[h*d:(h+1)*d], rows, stride, scale)
	}
}

// AddRowsF16Heads is AddRowsF16 for several weightings of the same rows,
// half of each output at a time: query h's output o[h*d:(h+1)*d] (d =
// len(o)/heads, even) gets its values half·d/2 … (half+1)·d/2−1 (half 0 or
// 1) of the rows weighted by w[h*wStride:][:n], with AddRowsF16's bits.
func AddRowsF16Heads(o, w []float32, wStride, heads, n int, rows []uint16, stride, half int) {
	d := len(o) / heads
	if n > 0 {
		_ = rows[(n-1)*stride+d-1]
		_ = w[(heads-1)*wStride+n-1]
	}
	h := addRowsF16HeadsVector(o, w, wStride, heads, n, rows, stride, half)
	if h == heads {
		return
	}
	whole := make([]float32, d)
	for ; h < heads; h++ {
		AddRowsF16(whole, w[h*wStride:][:n], rows, stride)
		copy(o[h*d+half*d/2:(h+1)*d-(1-half)*d/2], whole[half*d/2:])
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
