//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

//go:noescape
func q41Rows16(w *byte, nb, groups int, a *int8, sc, sx, out *float32)

//go:noescape
func splitPiecesAsm(x *float32, nb int, a *int8, sc *float32)

//go:noescape
func q80Rows16(w *byte, nb, groups int, x, out *float32)

//go:noescape
func interleaveBlocks(j *interleaveJob)

func rows16CPU() bool {
	return archsimd.X86.AVX512() && archsimd.X86.AVX512VBMI() && archsimd.X86.AVX512VNNI()
}

// splitPieces is splitPiecesGo on the vector units (AVX-512), with the
// same bits.
func splitPieces(x []float32, a []int8, sc []float32) {
	if !archsimd.X86.AVX512() {
		splitPiecesGo(x, a, sc)
		return
	}
	if nb := len(x) / QK; nb > 0 {
		splitPiecesAsm(&x[0], nb, &a[0], &sc[0])
	}
}

// interleaveJob is one group's interleaving; the layout is known to
// interleaveBlocks.
type interleaveJob struct {
	rows *[16]uintptr // each row's first byte, or a zero row past the matrix
	nb   int
	bb   int // bytes of a source block
	kind int // 1 for Q4_1, 0 for Q8_0
	dst  *byte
	idx  *[128]byte
}

// interleaveIndex holds the two byte permutations of the 16×16 transpose
// of Q8_0's bytes: within a vector of 4 rows × 16 bytes, byte 16r+4c+j goes
// to 16c+4j+r; in the gathered vector, byte 16a+4j+r goes to 16j+4a+r.
// interleaveIndexQ41 has the same first permutation and, for Q4_1's bytes
// four at a time, the second one: byte 16a+4j+r goes to 16a+4r+j.
var interleaveIndex, interleaveIndexQ41 = func() (idx, q41 [128]byte) {
	for c := range 4 {
		for j := range 4 {
			for r := range 4 {
				idx[16*c+4*j+r] = byte(16*r + 4*c + j)
				idx[64+16*j+4*c+r] = byte(16*c + 4*j + r)
				q41[16*c+4*j+r] = byte(16*r + 4*c + j)
				q41[64+16*c+4*r+j] = byte(16*c + 4*j + r)
			}
		}
	}
	return idx, q41
}()

// interleaveGroup writes group g of the interleaved copy.
func (m *Matrix) interleaveGroup(g int, zeros []byte) {
	nb, bb := m.Cols/QK, rows16Bytes(m.Type)
	var rows [16]uintptr
	m.rowPointers(&rows, 16*g, m.Rows, zeros)
	j := interleaveJob{rows: &rows, nb: nb, bb: q80Bytes, dst: &m.rows16[g*nb*bb], idx: &interleaveIndex}
	if m.Type == Q4_1 {
		j.bb, j.kind, j.idx = q41Bytes, 1, &interleaveIndexQ41
	}
	interleaveBlocks(&j)
}

// rows16Kernel runs groups [g, g+count) for one vector x (with its block
// sums and, for Q4_1, its int8 pieces) into out (16·count floats).
func (m *Matrix) rows16Kernel(g, count int, x []float32, p vecPieces, out []float32) {
	nb := m.Cols / QK
	bb := rows16Bytes(m.Type)
	w := m.rows16[g*nb*bb : (g+count)*nb*bb]
	out = out[:16*count]
	switch m.Type {
	case Q4_1:
		q41Rows16(&w[0], nb, count, &p.a[0], &p.sc[0], &p.sums[0], &out[0])
	case Q8_0:
		q80Rows16(&w[0], nb, count, &x[0], &out[0])
	}
}
