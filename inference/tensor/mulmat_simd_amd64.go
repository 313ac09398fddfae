//go:build goexperiment.simd && amd64

package tensor

import (
	"encoding/binary"
	"simd/archsimd"
)

// AVX-512 MulMat. For each tile of 16 decoded rows, each quad of four rows
// runs against the vectors, four at a time, in dot4xV (assembly: 16 vector
// accumulators, one lane per column modulo 16, 8 loads per 16 fused
// multiply-adds; the compiler allocates only 15 vector registers). The
// lanes are then summed by a fixed tree of permutes and adds (see
// foldIndices) that leaves, for each vector, the 16 rows' sums in one
// vector, stored straight into out. Every product goes through the same
// accumulator and tree, wherever it lies in the tile. As in
// kernels_simd_amd64.go, the vector sections contain no scalar float code.

// vecBlock is the number of vectors that all row quads of a tile multiply
// before the next vectors are loaded.
const vecBlock = 32

// mulMatVector runs MulMat with AVX-512, or on the AVX2 panel kernel
// (mulMatPanels); it reports false when the CPU has neither.
func mulMatVector(m *Matrix, s *matScratch, out, x []float32, n, r0, r1 int) bool {
	if !archsimd.X86.AVX512() {
		if !fmaAVX2 {
			return false
		}
		mulMatPanels(m, s, out, x, n, r0, r1)
		return true
	}
	stride := matStride(m.Cols)
	nq := (n + 3) / 4
	s.setJobs(x, n, stride)
	defer clear(s.jobs)
	var wp [4][4]*float32
	for t := r0; t < r1; t += matTile {
		te := min(t+matTile, r1)
		w := m.decodeTileAVX512(s.w, t, te, stride)
		quads := (te - t + 3) / 4
		for q := range quads {
			for i := range wp[q] {
				wp[q][i] = &w[min(4*q+i, te-t-1)*stride]
			}
		}
		// A block of vectors stays in cache while the row quads pass.
		for j := 0; j < nq; j += vecBlock / 4 {
			nj := min(vecBlock/4, nq-j)
			for q := range quads {
				dot4xV(&wp[q], &s.jobs[q*nq+j], nj, stride, (*[4][16]uint32)(s.fold[:4]))
			}
		}
		s.finish(out, n, m.Rows, t, te)
	}
	archsimd.ClearAVXUpperBits()
	return true
}

// setJobs points the jobs of each row quad at the vectors, four per job
// (the last vector repeated to fill the last job), and at their part of
// s.parts.
func (s *matScratch) setJobs(x []float32, n, stride int) {
	nq := (n + 3) / 4
	if cap(s.jobs) < 4*nq {
		s.jobs, s.parts = make([]quadJob, 4*nq), make([][4][16]float32, 4*nq)
	}
	s.jobs, s.parts = s.jobs[:4*nq], s.parts[:4*nq]
	for i := range s.jobs {
		j := &s.jobs[i]
		for v := range j.x {
			j.x[v] = &x[min(4*(i%nq)+v, n-1)*stride]
		}
		j.part = &s.parts[i]
	}
}

// finish sums the partial lanes of the row quads of tile [t,te) for each
// vector (reduction levels 2 and 3) and stores the rows' results. Lanes of
// quads past te hold stale sums; they stay in their own lanes and are not
// stored.
func (s *matScratch) finish(out []float32, n, rows, t, te int) {
	nq := (n + 3) / 4
	p := s.parts[:4*nq]
	lo2, hi2 := archsimd.LoadUint32x16(&s.fold[4]), archsimd.LoadUint32x16(&s.fold[5])
	lo3, hi3 := archsimd.LoadUint32x16(&s.fold[6]), archsimd.LoadUint32x16(&s.fold[7])
	for b := range n {
		j, v := b/4, b%4
		a := fold(archsimd.LoadFloat32x16(&p[j][v]), archsimd.LoadFloat32x16(&p[nq+j][v]), lo2, hi2)
		c := fold(archsimd.LoadFloat32x16(&p[2*nq+j][v]), archsimd.LoadFloat32x16(&p[3*nq+j][v]), lo2, hi2)
		fold(a, c, lo3, hi3).StoreSlicePart(out[b*rows+t : b*rows+te])
	}
}

// dot4xV is in mulmat_amd64.s.
//
//go:noescape
func dot4xV(w *[4]*float32, jobs *quadJob, njobs, k int, idx *[4][16]uint32)

// fold adds the first and second halves of the lane groups of u and w
// (see foldIndices).
func fold(u, w archsimd.Float32x16, lo, hi archsimd.Uint32x16) archsimd.Float32x16 {
	return u.ConcatPermute(w, lo).Add(u.ConcatPermute(w, hi))
}

// decodeTileAVX512 is decodeTile with vector decoders for the block
// formats and for F16/BF16 rows of whole vectors; the results are the same
// bits as dequantRow's.
func (m *Matrix) decodeTileAVX512(w []float32, t, te, stride int) []float32 {
	dec := rowDecoder(m.Type)
	if dec == nil || stride != m.Cols {
		archsimd.ClearAVXUpperBits()
		return m.decodeTile(w, t, te, stride)
	}
	rb := m.RowBytes()
	for r := t; r < te; r++ {
		dec(m.Data[r*rb:(r+1)*rb], w[(r-t)*stride:(r-t+1)*stride])
	}
	return w[:(te-t)*stride]
}

// rowDecoder returns the vector decoder of a type, nil for F32 (which
// needs no decoding).
func rowDecoder(t DType) func(row []byte, dst []float32) {
	switch t {
	case Q4_0:
		return decodeQ40
	case Q4_1:
		return decodeQ41
	case Q8_0:
		return decodeQ80
	case F16:
		return decodeF16
	case BF16:
		return decodeBF16
	}
	return nil
}

// scale broadcasts the fp16 value in the low half of raw.
func scale(raw uint32) archsimd.Float32x16 {
	return halves(archsimd.BroadcastUint32x16(raw))
}

// store32 stores a block's two halves at the start of dst.
func store32(lo, hi archsimd.Float32x16, dst []float32) {
	b := (*[QK]float32)(dst)
	lo.Store((*[16]float32)(b[:16]))
	hi.Store((*[16]float32)(b[16:]))
}

func decodeQ40(row []byte, dst []float32) {
	low, shift, eight := masks()
	for len(row) >= q40Bytes && len(dst) >= QK {
		d := scale(uint32(binary.LittleEndian.Uint16(row)))
		lo, hi := q40Lanes(row, low, shift, eight)
		store32(lo.Mul(d), hi.Mul(d), dst)
		row, dst = row[q40Bytes:], dst[QK:]
	}
}

func decodeQ41(row []byte, dst []float32) {
	low, shift, eight := masks()
	for len(row) >= q41Bytes && len(dst) >= QK {
		raw := binary.LittleEndian.Uint32(row)
		d, m := scale(raw), scale(raw>>16)
		lo, hi := q41Lanes(row, low, shift, eight)
		store32(lo.Mul(d).Add(m), hi.Mul(d).Add(m), dst)
		row, dst = row[q41Bytes:], dst[QK:]
	}
}

func decodeQ80(row []byte, dst []float32) {
	low, shift, eight := masks()
	for len(row) >= q80Bytes && len(dst) >= QK {
		d := scale(uint32(binary.LittleEndian.Uint16(row)))
		lo, hi := q80Lanes(row, low, shift, eight)
		store32(lo.Mul(d), hi.Mul(d), dst)
		row, dst = row[q80Bytes:], dst[QK:]
	}
}

func decodeF16(row []byte, dst []float32) {
	for len(row) >= 32 && len(dst) >= 16 {
		f16Lanes(row).Store((*[16]float32)(dst))
		row, dst = row[32:], dst[16:]
	}
}

func decodeBF16(row []byte, dst []float32) {
	for len(row) >= 32 && len(dst) >= 16 {
		bf16Lanes(row).Store((*[16]float32)(dst))
		row, dst = row[32:], dst[16:]
	}
}

// mulMatPanels is MulMat for CPUs with AVX2 but not AVX-512: tiles of 32
// decoded rows packed as one panel (Panels), multiplied with 14 vectors at
// a time by the panel kernel, each product the sum of its terms in column
// order by fused multiply-adds, wherever its row and vector fall.
func mulMatPanels(m *Matrix, s *matScratch, out, x []float32, n, r0, r1 int) {
	stride := matStride(m.Cols)
	s.wp = resize(s.wp, PanelRows*stride)
	for t := r0; t < r1; t += PanelRows {
		te := min(t+PanelRows, r1)
		w := m.decodeTile(s.wp, t, te, stride)
		s.panels.Pack(te-t, stride, w, stride, 1)
		s.panels.Mul(out[t:], m.Rows, x, stride, n, 0, te-t, nil, &s.ps)
	}
}
