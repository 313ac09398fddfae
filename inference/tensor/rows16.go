package tensor

import (
	"encoding/binary"
	"unsafe"
)

// Interleaved rows for decoding. MulRows on a Q4_1 or Q8_0 matrix reads
// each row separately and sums 16 vector lanes per row; with one vector
// (decoding a token) that per-row work, not the weights' bytes, sets the
// speed. Interleave stores a second copy of the weights, 16 rows at a time
// and block by block: the 16 rows' scales, then their bytes side by side.
// A vector lane is then a row, and the rows' sums come out in one vector.
// Q8_0 takes one multiply-add per column; Q4_1 multiplies four columns a
// lane per instruction with the vector's int8 pieces (pieces.go).
//
// Per group of 16 rows and block of QK columns:
//
//	Q4_1: d (16 fp16), m (16 fp16), then for c in 0…3 the bytes 4c…4c+3 of
//	      each row (low nibbles columns 4c…4c+3, high nibbles columns
//	      16+4c…16+4c+3), one row's four after another's: 320 bytes;
//	Q8_0: d (16 fp16), then for j in 0…31 the byte j of each row: 544 bytes
//	      (AVX-512); on CPUs with the AVX2 int8 kernels instead, after d, for
//	      c in 0…7 the bytes 4c…4c+3 of each row, one row's four after
//	      another's (rows in lanes for VPMADDUBSW, as Q4_1's quads).
//
// Rows past the matrix's last are zeros.

const (
	q41Rows16Bytes = 2*32 + 16*16
	q80Rows16Bytes = 32 + 32*16
)

// rows16Bytes is the size of one interleaved block of 16 rows, 0 for types
// that are not interleaved.
func rows16Bytes(t DType) int {
	switch t {
	case Q4_1:
		return q41Rows16Bytes
	case Q8_0:
		return q80Rows16Bytes
	}
	return 0
}

// Interleave adds the interleaved copy of the weights that MulRows then
// decodes with, where this build and CPU have its kernels (AVX-512) and
// the type is Q4_1 or Q8_0 — and that MulRowsQ8 decodes with on CPUs
// with the AVX2 int8 kernels; it reports whether it did. The copy costs as
// much memory as the weights. Call it before the matrix is shared between
// goroutines.
func (m *Matrix) Interleave() bool {
	if !m.AllocInterleaved() {
		return false
	}
	m.InterleaveGroups(0, m.Groups())
	return true
}

// Interleavable reports whether Interleave would make an interleaved copy:
// for Q4_1 and Q8_0 where the CPU has the AVX-512 kernels or the AVX2 int8
// ones with int8 activations its default (MulRowsQ8 reads the copy there).
// An int8 form (NewInt8Form) interleaves only where MulRowsQ8 reads the
// copy, unless MultiplyInFloat32 said the float32 kernels multiply it too.
func (m *Matrix) Interleavable() bool {
	cpu := rows16CPU() || (q8Rows16() && Int8Preferred())
	if m.isForm {
		cpu = q8Rows16() || (m.float32Too && rows16CPU())
	}
	return rows16Bytes(m.Type) != 0 && cpu && m.Cols%QK == 0 && m.Cols > 0
}

// Interleaved reports whether m has its interleaved copy.
func (m *Matrix) Interleaved() bool { return m.rows16 != nil }

// Groups is the number of groups of 16 rows, the last one possibly partial.
func (m *Matrix) Groups() int { return (m.Rows + 15) / 16 }

// InterleaveGroups fills groups [g0,g1) of the interleaved copy. With
// AllocInterleaved it lets callers spread the copying over goroutines,
// each on its own groups.
func (m *Matrix) InterleaveGroups(g0, g1 int) {
	zeros := make([]byte, m.RowBytes()+16)
	for g := g0; g < g1; g++ {
		if rows16CPU() {
			m.interleaveGroup(g, zeros)
		} else {
			m.interleaveGroupQuads(g)
		}
	}
}

// quadsCopy reports whether m has an interleaved copy in the layout of the
// AVX2 int8 kernels (column quads): Q4_1's always is; Q8_0's is where the
// AVX-512 kernels, which read its columns, are not in use.
func (m *Matrix) quadsCopy() bool { return m.rows16 != nil && (m.Type == Q4_1 || !rows16CPU()) }

// interleaveGroupQuads writes group g of a Q4_1 or Q8_0 matrix's
// interleaved copy in plain Go, in the layout the AVX2 kernels read (and
// the AVX-512 ones for Q4_1): the 16 rows' fp16 fields (Q4_1's d and m,
// Q8_0's d), then the rows' column quads.
func (m *Matrix) interleaveGroupQuads(g int) {
	nb, rb := m.Cols/QK, m.RowBytes()
	bb, size, fields := q41Bytes, rows16Bytes(m.Type), 2 // fields: fp16 values a row
	if m.Type == Q8_0 {
		bb, fields = q80Bytes, 1
	}
	for i := range nb {
		dst := m.rows16[(g*nb+i)*size:][:size]
		for r := range 16 {
			if 16*g+r >= m.Rows {
				break // the copy starts zeroed
			}
			blk := m.Data[(16*g+r)*rb+i*bb:][:bb]
			for f := range fields {
				binary.LittleEndian.PutUint16(dst[32*f+2*r:], binary.LittleEndian.Uint16(blk[2*f:]))
			}
			quads, to := blk[2*fields:], dst[32*fields+4*r:]
			_, _ = quads[len(quads)-1], to[64*(len(quads)/4-1)+3] // the bounds, checked once
			for c := range len(quads) / 4 {
				*(*uint32)(unsafe.Pointer(&to[64*c])) = *(*uint32)(unsafe.Pointer(&quads[4*c]))
			}
		}
	}
}

// AllocInterleaved allocates the interleaved copy for InterleaveGroups to
// fill; it reports false when the matrix does not interleave.
func (m *Matrix) AllocInterleaved() bool {
	return m.UseInterleaved(make([]byte, m.InterleavedBytes()))
}

// InterleavedBytes is the size of the interleaved copy, 0 when the matrix
// does not interleave.
func (m *Matrix) InterleavedBytes() int {
	if !m.Interleavable() {
		return 0
	}
	return m.Groups() * (m.Cols / QK) * rows16Bytes(m.Type)
}

// UseInterleaved is AllocInterleaved into buf, InterleavedBytes long and
// zeroed, which the caller allocated (outside the Go heap, say) and must
// keep until the matrix is no longer used. It reports false, and keeps
// nothing, when the matrix does not interleave or buf has another length.
func (m *Matrix) UseInterleaved(buf []byte) bool {
	if n := m.InterleavedBytes(); n == 0 || len(buf) != n {
		return false
	}
	m.rows16 = buf
	return true
}

// mulRows16 is MulRows over the interleaved copy: groups of 16 rows, each
// vector in turn over a few groups while their weights are in cache. A
// group only partly inside [r0,r1), or past the end of out, is computed
// whole into a scratch vector and the rows wanted are copied.
func (m *Matrix) mulRows16(out []float32, v *Vectors, r0, r1 int) {
	x, n := v.x, v.n
	var sums, sc []float32 // Q8_0 has no use for them
	var a []int8
	if m.Type == Q4_1 {
		sums = v.blockSums()
		a, sc = v.pieces()
	}
	nb, stride := m.Cols/QK, sumsLen(m.Cols/QK)
	const chunk = 4 // groups per pass of the vectors
	for g0 := r0 / 16; g0*16 < r1; g0 += chunk {
		g1 := min(g0+chunk, (r1+15)/16)
		for b := range n {
			xb := x[b*m.Cols : (b+1)*m.Cols]
			var p vecPieces
			if sums != nil {
				p = vecPieces{a: a[b*nb*piecesBytes:], sc: sc[b*nb*piecesScales:], sums: sums[b*stride : (b+1)*stride]}
			}
			m.rows16Groups(out[b*m.Rows:(b+1)*m.Rows], xb, p, g0, g1, r0, r1)
		}
	}
}

// rows16Groups computes groups [g0,g1) for one vector into o (that
// vector's outputs), only rows [r0,r1).
func (m *Matrix) rows16Groups(o, x []float32, p vecPieces, g0, g1, r0, r1 int) {
	groupsInRange(o, 1, 0, g0, g1, r0, r1, func(g, count int, out []float32, _ int) { m.rows16Kernel(g, count, x, p, out[:16*count]) })
}

// groupsInRange runs kernel over groups [g0,g1) of 16 rows for n vectors
// whose outputs lie stride floats apart in o, writing only rows [r0,r1) of
// each: the groups wholly inside in one call straight into o, each group
// only partly inside into scratch whose rows wanted are copied.
// kernel(g, count, out, ostride) computes groups [g,g+count) into out, a
// vector's outputs ostride floats after the previous one's.
func groupsInRange(o []float32, n, stride, g0, g1, r0, r1 int, kernel func(g, count int, out []float32, ostride int)) {
	full0, full1 := g0, g1
	if g0*16 < r0 {
		full0++
	}
	if g1*16 > r1 {
		full1--
	}
	for g := g0; g < g1; g++ {
		if g >= full0 && g < full1 {
			continue
		}
		tmp := make([]float32, 16*n) // only here: a scratch passed to kernel is allocated
		kernel(g, 1, tmp, 16)
		lo, hi := max(r0, 16*g), min(r1, 16*g+16)
		for b := range n {
			copy(o[b*stride+lo:b*stride+hi], tmp[b*16+lo-16*g:b*16+hi-16*g])
		}
	}
	if full1 > full0 {
		kernel(full0, full1-full0, o[16*full0:], stride)
	}
}

// rowPointers sets dst[r] to the address of row first+r, or of zeros for
// rows from end on: the row table of the kernels that read 16 rows at once.
func (m *Matrix) rowPointers(dst *[16]uintptr, first, end int, zeros []byte) {
	rb := m.RowBytes()
	for r := range dst {
		p := unsafe.Pointer(&zeros[0])
		if first+r < end {
			p = unsafe.Pointer(&m.Data[(first+r)*rb])
		}
		dst[r] = uintptr(p)
	}
}
