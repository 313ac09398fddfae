//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"sync"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

// AMX prefill. Intel's Advanced Matrix Extensions multiply 16×32 bfloat16
// tiles in one instruction (TDPBF16PS), summing exact products in float32.
// Q4_0 and Q4_1 weights are small integers times a block scale, and
// integers up to 256 are exact in bfloat16; an activation is split into
// two bfloat16 pieces, hi (rounded to nearest) and lo (the rest, rounded
// again), within 2⁻¹⁷ of it. So a block's dot product Σq·x is computed from
// exact products of the pieces, summed in float32, and scaled as
// d·Σq·x + m·Σx: within about 2⁻¹⁷ of MulMat's dequantize-then-multiply
// (the activations' 16 bits against float32's 24; llama.cpp rounds them to
// 8), at the tile units' speed. The kernels are in amx_amd64.s.

// amxReady reports whether the CPU has AMX tiles with bfloat16 and the
// kernel lets this process use them (Linux asks each process to request
// the tile state: arch_prctl ARCH_REQ_XCOMP_PERM).
var amxReady = sync.OnceValue(func() bool {
	if !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 || !cpu.X86.HasAVX512BW || !cpu.X86.HasAVX512BF16 {
		return false
	}
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := unix.Syscall(unix.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
})

// amxConfig is the tile configuration every kernel call loads: palette 1,
// eight tiles of 16 rows × 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := range 8 {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// amxBF16Ints holds the bfloat16 bits of 0…15, the nibble lookup table.
var amxBF16Ints = func() (t [32]uint16) {
	for i := 1; i < 16; i++ {
		t[i] = uint16(math.Float32bits(float32(i)) >> 16)
	}
	return t
}()

// amxJob is one kernel call; the layout is known to amxMul.
type amxJob struct {
	cfg *[64]byte
	w   *uint32  // per block: two weight tiles (rows t…t+15, t+16…t+31)
	dm  *float32 // per block: d and m of the first tile's rows, then the second's
	xa  *uint16  // per block, per group: the two pieces' tiles
	sx  *float32 // per block, per group: the 16 vectors' Σx
	nb  int
	ng  int
	c   *float32 // scratch for the two result tiles, twice (one group's while the next computes)
	acc *float32 // per group: its 16 vectors' 32 results, one vector after another
}

// amxUnpack is one weight tile's unpack; the layout is known to
// amxUnpackQ4.
type amxUnpack struct {
	rows  *[amxGroup]uintptr // each row's first byte (a zero row past the matrix)
	nb    int
	bb    int // bytes of a block
	qoff  int // offset of the nibbles in a block
	w     *uint32
	dm    *float32
	kind  int // 1 for Q4_1 (m stored), 0 for Q4_0 (m = −8d)
	table *[32]uint16
}

//go:noescape
func amxMul(j *amxJob)

//go:noescape
func amxSplitGroup(x *float32, xstride, lanes, nb int, xa *uint16, bstride int, sx *float32, sstride int)

//go:noescape
func amxUnpackQ4(j *amxUnpack)

//go:noescape
func amxCopyOut(dst *float32, stride int, src *float32, n int)

//go:noescape
func amxUnpackRows16(src *byte, nb int, w *uint32, dm *float32, table *[32]uint16)

func amxCPU() bool { return amxReady() }

// split fills the pieces and sums of vectors [lo,hi) from x, one group
// (or the part of a group in the range) at a time, each block's tiles in
// order; lanes outside [lo,hi) are not written.
func (v *AMXVectors) split(x []float32, lo, hi int) {
	if v.nb == 0 {
		return
	}
	bstride := v.ng * 2 * amxTileBytes // bytes between one block's pieces and the next's
	sstride := v.ng * amxGroup * 4     // bytes between one block's sums and the next's
	for b := lo; b < hi; {
		g, lane := b/amxGroup, b%amxGroup
		lanes := min(hi-b, amxGroup-lane)
		xa := &v.xa[(g*2*amxTileBytes+lane*64)/2]
		sx := &v.sx[g*amxGroup+lane]
		amxSplitGroup(&x[b*v.Cols], v.Cols*4, lanes, v.nb, xa, bstride, sx, sstride)
		b += lanes
	}
}

// amxScratch is MulMatAMX's per-call memory, kept in amxPool.
type amxScratch struct {
	w     []uint32
	dm    []float32
	c     [4 * amxGroup * amxGroup]float32
	acc   []float32 // per group: its 16 vectors' results for 32 rows, copied to out after each pass
	zeros []byte
	rows  [2][amxGroup]uintptr
}

var amxPool = sync.Pool{New: func() any { return new(amxScratch) }}

func (s *amxScratch) prepare(nb, ng, rowBytes int) {
	s.w = resize(s.w, nb*2*amxTileBytes/4)
	s.dm = resize(s.dm, nb*4*amxGroup)
	s.acc = resize(s.acc, ng*amxGroup*2*amxGroup)
	if len(s.zeros) < rowBytes+64 {
		s.zeros = make([]byte, rowBytes+64)
	}
}

// mulMatAMX runs rows [r0,r1) of m against x, 32 rows at a time.
func mulMatAMX(m *Matrix, out []float32, x *AMXVectors, r0, r1 int) {
	s := amxPool.Get().(*amxScratch)
	defer amxPool.Put(s)
	s.prepare(x.nb, x.ng, m.RowBytes())
	job := amxJob{cfg: &amxConfig, w: &s.w[0], dm: &s.dm[0], xa: &x.xa[0], sx: &x.sx[0],
		nb: x.nb, ng: x.ng, c: &s.c[0], acc: &s.acc[0]}
	for t := r0; t < r1; t += 2 * amxGroup {
		te := min(t+2*amxGroup, r1)
		s.unpack(m, 0, t, min(t+amxGroup, r1))
		s.unpack(m, 1, t+amxGroup, te)
		amxMul(&job)
		s.copyOut(out, x.N, m.Rows, t, te)
	}
}

// copyOut copies the accumulated results of rows [t,te) into out. The
// kernel accumulates in acc, not in out: there the 16 vectors' rows would
// be a whole output row apart, and for 1536 rows (6 KiB) every vector's
// lines fall in the same few first-level cache sets, where a block's
// read-modify-writes evicted each other (measured: 1536×576 multiplies
// 1.1–1.6× faster this way, 576×1536 1.0–1.2×).
func (s *amxScratch) copyOut(out []float32, n, rows, t, te int) {
	if te-t == 2*amxGroup {
		_ = out[(n-1)*rows+te-1] // the kernel's last write
		amxCopyOut(&out[t], rows*4, &s.acc[0], n)
		return
	}
	for b := range n {
		copy(out[b*rows+t:b*rows+te], s.acc[b*2*amxGroup:][:te-t])
	}
}

// unpack fills weight tile half (0 or 1) of the scratch with rows [t,te)
// of m; rows past te read a block of zeros. A Q4_1 matrix's 16 rows that
// are one group of its interleaved copy are read from there: one stream
// of 320-byte blocks instead of 16 rows, no gathers, no transposes.
func (s *amxScratch) unpack(m *Matrix, half, t, te int) {
	if m.rows16 != nil && m.Type == Q4_1 && t%amxGroup == 0 && t < m.Rows && te == min(t+amxGroup, m.Rows) {
		nb := m.Cols / QK
		src := m.rows16[t/amxGroup*nb*q41Rows16Bytes:]
		amxUnpackRows16(&src[0], nb, &s.w[half*amxTileBytes/4], &s.dm[half*2*amxGroup], &amxBF16Ints)
		return
	}
	rows := &s.rows[half]
	m.rowPointers(rows, t, te, s.zeros)
	j := amxUnpack{rows: rows, nb: m.Cols / QK, bb: q40Bytes, qoff: 2,
		w: &s.w[half*amxTileBytes/4], dm: &s.dm[half*2*amxGroup], table: &amxBF16Ints}
	if m.Type == Q4_1 {
		j.bb, j.qoff, j.kind = q41Bytes, 4, 1
	}
	amxUnpackQ4(&j)
}
