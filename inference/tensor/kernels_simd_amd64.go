//go:build goexperiment.simd && amd64

package tensor

import (
	"encoding/binary"
	"simd/archsimd"

	"golang.org/x/sys/cpu"
)

// AVX-512 kernels. A row is processed in chunks of up to 16 blocks: the
// chunk's fp16 scales are converted together in one vector, then each block
// contributes d·(q_lo·x_lo + q_hi·x_hi) to one of two vector accumulators
// (by block parity). For Q4_1 the m·Σx terms of a chunk are one more fused
// multiply-add. Lanes are summed once per row, after
// archsimd.ClearAVXUpperBits: scalar SSE instructions between AVX-512 ones
// are slow, so the vector sections contain none (no scalar float math, no
// array zeroing or copying). The four-vector variants do the same
// operations per vector, so results do not depend on batching. Q4_1 and
// Q8_0, the formats of decoding's big matrices, use the assembly kernels of
// dotq_amd64.s, which do the same arithmetic faster.

// chunk is the number of blocks whose scales are converted together.
const chunk = 16

func floatKernelFor() floatKernel {
	if archsimd.X86.AVX512() {
		return floatKernel{dot1: dotF32AVX512, dot4: dot4F32AVX512}
	}
	if fmaAVX2 {
		return floatKernel{dot1: dotAVX2, dot4: dot4F32AVX2}
	}
	return scalarFloatKernel()
}

func quantKernelFor(t DType) (quantKernel, bool) {
	if !archsimd.X86.AVX512() {
		return quantKernelAVX2(t)
	}
	switch t {
	case Q4_0:
		return quantKernel{dot1: dotQ40AVX512, dot4: dot4Q40AVX512}, true
	case Q4_1:
		return quantKernel{dot1: dotQ41Asm, dot4: dot4Q41Asm, sums: true}, true
	case Q8_0:
		return quantKernel{dot1: dotQ80Asm, dot4: dot4Q80Asm}, true
	case F16:
		return quantKernel{dot1: dotF16AVX512, dot4: dot4F16AVX512}, true
	case BF16:
		return quantKernel{dot1: dotBF16AVX512, dot4: dot4BF16AVX512}, true
	}
	return quantKernel{}, false
}

// quantKernelAVX2 returns the AVX2 kernels for Q4_1 and Q8_0 where the CPU
// has AVX2, FMA and F16C, else the portable ones.
func quantKernelAVX2(t DType) (quantKernel, bool) {
	if !fmaAVX2 || !cpu.X86.HasF16C {
		return scalarQuantKernel(t)
	}
	switch t {
	case Q4_1:
		return quantKernel{dot1: dotQ41AVX2, dot4: dot4Q41AVX2, sums: true}, true
	case Q8_0:
		return quantKernel{dot1: dotQ80AVX2, dot4: dot4Q80AVX2}, true
	}
	return scalarQuantKernel(t)
}

// laneSum adds 16 floats in a fixed order.
func laneSum(l *[16]float32) float32 {
	var s0, s1, s2, s3 float32
	for j := 0; j < 16; j += 4 {
		s0 += l[j]
		s1 += l[j+1]
		s2 += l[j+2]
		s3 += l[j+3]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF32AVX512(w, x []float32) float32 {
	x = x[:len(w)]
	var a0, a1, a2, a3 archsimd.Float32x16
	for len(w) >= 64 && len(x) >= 64 {
		a0 = load16(w).MulAdd(load16(x), a0)
		a1 = load16(w[16:]).MulAdd(load16(x[16:]), a1)
		a2 = load16(w[32:]).MulAdd(load16(x[32:]), a2)
		a3 = load16(w[48:]).MulAdd(load16(x[48:]), a3)
		w, x = w[64:], x[64:]
	}
	for len(w) >= 16 && len(x) >= 16 {
		a0 = load16(w).MulAdd(load16(x), a0)
		w, x = w[16:], x[16:]
	}
	var l [16]float32
	a0.Add(a2).Add(a1.Add(a3)).Store(&l)
	archsimd.ClearAVXUpperBits()
	s := laneSum(&l)
	for i := range w {
		s += w[i] * x[i]
	}
	return s
}

func dot4F32AVX512(w []float32, x *[4][]float32, o *[4]float32) {
	for k := range 4 {
		o[k] = dotF32AVX512(w, x[k])
	}
}

func load16(v []float32) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(v))
}

// halves converts 16 fp16 values (one per uint32 lane) to float32, exactly
// as F16ToF32 does.
func halves(h archsimd.Uint32x16) archsimd.Float32x16 {
	c := archsimd.BroadcastUint32x16
	mag := h.And(c(0x7fff)).ShiftLeft(c(13))
	sign := h.And(c(0x8000)).ShiftLeft(c(16))
	special := h.And(c(0x7c00)).Add(c(0x400)).ShiftRight(c(15)) // 1 for Inf, NaN
	exp := c(0).Sub(special).And(c(0x7f800000))
	b := mag.Or(sign).Or(exp).AsFloat32x16()
	return b.Mul(archsimd.BroadcastFloat32x16(0x1p112))
}

// gather copies the first four bytes of each of the first (up to chunk)
// blocks (of size bb) into raw, zeroing the lanes past the last block: the
// low half is the block's fp16 scale d (halves ignores the high half), the
// high half is Q4_1's m. The kernels gather a chunk ahead of converting it:
// loading the vector right after the narrow stores would stall on store
// forwarding.
func gather(blocks []byte, bb int, raw *[chunk]uint32) {
	j := 0
	for ; j < chunk && len(blocks) >= bb; j++ {
		raw[j] = binary.LittleEndian.Uint32(blocks)
		blocks = blocks[bb:]
	}
	for ; j < chunk; j++ {
		raw[j] = 0
	}
}

// masks returns the constants of the Q4 decoders; the kernels make them
// once per row because the compiler does not hoist them out of loops.
func masks() (low, shift, eight archsimd.Uint32x16) {
	c := archsimd.BroadcastUint32x16
	return c(15), c(4), c(8)
}

// nibbles returns the low and high nibbles of a Q4 block as int32 lanes.
// It shifts by a vector of counts: ShiftAllRight loads its count with a
// non-VEX MOVQ.
func nibbles(qs *[QK / 2]byte, low, shift archsimd.Uint32x16) (lo, hi archsimd.Int32x16) {
	w := archsimd.LoadUint8x16(qs).ExtendToUint32()
	return w.And(low).AsInt32x16(), w.ShiftRight(shift).AsInt32x16()
}

// q40Lanes decodes the Q4_0 block at the start of b to q-8 as floats.
func q40Lanes(b []byte, low, shift, eight archsimd.Uint32x16) (lo, hi archsimd.Float32x16) {
	l, h := nibbles((*[QK / 2]byte)(b[2:q40Bytes]), low, shift)
	e := eight.AsInt32x16()
	return l.Sub(e).ConvertToFloat32(), h.Sub(e).ConvertToFloat32()
}

func q41Lanes(b []byte, low, shift, _ archsimd.Uint32x16) (lo, hi archsimd.Float32x16) {
	l, h := nibbles((*[QK / 2]byte)(b[4:q41Bytes]), low, shift)
	return l.ConvertToFloat32(), h.ConvertToFloat32()
}

func q80Lanes(b []byte, _, _, _ archsimd.Uint32x16) (lo, hi archsimd.Float32x16) {
	l := archsimd.LoadUint8x16((*[16]uint8)(b[2:18])).AsInt8x16().ExtendToInt32()
	h := archsimd.LoadUint8x16((*[16]uint8)(b[18:34])).AsInt8x16().ExtendToInt32()
	return l.ConvertToFloat32(), h.ConvertToFloat32()
}

// term is acc + d·(lo·x[:16] + hi·x[16:32]).
func term(lo, hi, d archsimd.Float32x16, x []float32, acc archsimd.Float32x16) archsimd.Float32x16 {
	xb := (*[QK]float32)(x)
	t := lo.Mul(archsimd.LoadFloat32x16((*[16]float32)(xb[:16])))
	t = hi.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(xb[16:])), t)
	return t.MulAdd(d, acc)
}

func bcast(v float32) archsimd.Float32x16 { return archsimd.BroadcastFloat32x16(v) }

func dotQ40AVX512(row []byte, x, _ []float32, _ *table) float32 {
	nb := len(row) / q40Bytes
	x = x[:nb*QK]
	low, shift, eight := masks()
	var a0, a1 archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q40Bytes, &raw)
	for len(row) >= q40Bytes {
		k := min(chunk, len(row)/q40Bytes)
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		b, xx, d := row[:k*q40Bytes], x[:k*QK], ds[:k]
		row, x = row[k*q40Bytes:], x[k*QK:]
		gather(row, q40Bytes, &raw)
		for len(b) >= 2*q40Bytes && len(xx) >= 2*QK && len(d) >= 2 {
			lo, hi := q40Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
			lo, hi = q40Lanes(b[q40Bytes:], low, shift, eight)
			a1 = term(lo, hi, bcast(d[1]), xx[QK:], a1)
			b, xx, d = b[2*q40Bytes:], xx[2*QK:], d[2:]
		}
		if len(b) >= q40Bytes && len(xx) >= QK && len(d) >= 1 {
			lo, hi := q40Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
		}
	}
	var l [16]float32
	a0.Add(a1).Store(&l)
	archsimd.ClearAVXUpperBits()
	return laneSum(&l)
}

func dot4Q40AVX512(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q40Bytes
	x0, x1, x2, x3 := x[0][:nb*QK], x[1][:nb*QK], x[2][:nb*QK], x[3][:nb*QK]
	low, shift, eight := masks()
	var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q40Bytes, &raw)
	for off := 0; off < nb; off += chunk {
		k := min(chunk, nb-off)
		blocks := row[off*q40Bytes : (off+k)*q40Bytes]
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		next := row[(off+k)*q40Bytes:]
		gather(next, q40Bytes, &raw)
		for j, d := range ds[:k] {
			lo, hi := q40Lanes(blocks[j*q40Bytes:], low, shift, eight)
			dv := bcast(d)
			i := (off + j) * QK
			if j&1 == 0 {
				a00 = term(lo, hi, dv, x0[i:], a00)
				a10 = term(lo, hi, dv, x1[i:], a10)
				a20 = term(lo, hi, dv, x2[i:], a20)
				a30 = term(lo, hi, dv, x3[i:], a30)
			} else {
				a01 = term(lo, hi, dv, x0[i:], a01)
				a11 = term(lo, hi, dv, x1[i:], a11)
				a21 = term(lo, hi, dv, x2[i:], a21)
				a31 = term(lo, hi, dv, x3[i:], a31)
			}
		}
	}
	var l [4][16]float32
	a00.Add(a01).Store(&l[0])
	a10.Add(a11).Store(&l[1])
	a20.Add(a21).Store(&l[2])
	a30.Add(a31).Store(&l[3])
	archsimd.ClearAVXUpperBits()
	for k := range 4 {
		o[k] = laneSum(&l[k])
	}
}

// f16Lanes decodes 16 fp16 values.
func f16Lanes(row []byte) archsimd.Float32x16 {
	return halves(archsimd.LoadUint8x32((*[32]uint8)(row)).AsUint16x16().ExtendToUint32())
}

// bf16Lanes decodes 16 bfloat16 values.
func bf16Lanes(row []byte) archsimd.Float32x16 {
	w := archsimd.LoadUint8x32((*[32]uint8)(row)).AsUint16x16().ExtendToUint32()
	return w.ShiftLeft(archsimd.BroadcastUint32x16(16)).AsFloat32x16()
}

// dotF16AVX512 multiplies a F16 row; the last cols%16 elements are done in
// scalar code after the vector part.
func dotF16AVX512(row []byte, x, _ []float32, _ *table) float32 {
	n := len(row) / 2
	x = x[:n]
	var a0, a1 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		a0 = f16Lanes(row[2*i:]).MulAdd(load16(x[i:]), a0)
		a1 = f16Lanes(row[2*i+32:]).MulAdd(load16(x[i+16:]), a1)
	}
	if i+16 <= n {
		a0 = f16Lanes(row[2*i:]).MulAdd(load16(x[i:]), a0)
		i += 16
	}
	var l [16]float32
	a0.Add(a1).Store(&l)
	archsimd.ClearAVXUpperBits()
	return laneSum(&l) + F16Tail(row[2*i:], x[i:])
}

func dot4F16AVX512(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	n := len(row) / 2
	x0, x1, x2, x3 := x[0][:n], x[1][:n], x[2][:n], x[3][:n]
	var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		w := f16Lanes(row[2*i:])
		a00 = w.MulAdd(load16(x0[i:]), a00)
		a10 = w.MulAdd(load16(x1[i:]), a10)
		a20 = w.MulAdd(load16(x2[i:]), a20)
		a30 = w.MulAdd(load16(x3[i:]), a30)
		w = f16Lanes(row[2*i+32:])
		a01 = w.MulAdd(load16(x0[i+16:]), a01)
		a11 = w.MulAdd(load16(x1[i+16:]), a11)
		a21 = w.MulAdd(load16(x2[i+16:]), a21)
		a31 = w.MulAdd(load16(x3[i+16:]), a31)
	}
	if i+16 <= n {
		w := f16Lanes(row[2*i:])
		a00 = w.MulAdd(load16(x0[i:]), a00)
		a10 = w.MulAdd(load16(x1[i:]), a10)
		a20 = w.MulAdd(load16(x2[i:]), a20)
		a30 = w.MulAdd(load16(x3[i:]), a30)
		i += 16
	}
	var l [4][16]float32
	a00.Add(a01).Store(&l[0])
	a10.Add(a11).Store(&l[1])
	a20.Add(a21).Store(&l[2])
	a30.Add(a31).Store(&l[3])
	archsimd.ClearAVXUpperBits()
	for k := range 4 {
		o[k] = laneSum(&l[k]) + F16Tail(row[2*i:], x[k][i:])
	}
}

func F16Tail(row []byte, x []float32) float32 {
	var s float32
	for j := range len(row) / 2 {
		s += F16ToF32(binary.LittleEndian.Uint16(row[2*j:])) * x[j]
	}
	return s
}

// dotBF16AVX512 multiplies a BF16 row; the last cols%16 elements are done in
// scalar code after the vector part.
func dotBF16AVX512(row []byte, x, _ []float32, _ *table) float32 {
	n := len(row) / 2
	x = x[:n]
	var a0, a1 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		a0 = bf16Lanes(row[2*i:]).MulAdd(load16(x[i:]), a0)
		a1 = bf16Lanes(row[2*i+32:]).MulAdd(load16(x[i+16:]), a1)
	}
	if i+16 <= n {
		a0 = bf16Lanes(row[2*i:]).MulAdd(load16(x[i:]), a0)
		i += 16
	}
	var l [16]float32
	a0.Add(a1).Store(&l)
	archsimd.ClearAVXUpperBits()
	return laneSum(&l) + BF16Tail(row[2*i:], x[i:])
}

func dot4BF16AVX512(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	n := len(row) / 2
	x0, x1, x2, x3 := x[0][:n], x[1][:n], x[2][:n], x[3][:n]
	var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		w := bf16Lanes(row[2*i:])
		a00 = w.MulAdd(load16(x0[i:]), a00)
		a10 = w.MulAdd(load16(x1[i:]), a10)
		a20 = w.MulAdd(load16(x2[i:]), a20)
		a30 = w.MulAdd(load16(x3[i:]), a30)
		w = bf16Lanes(row[2*i+32:])
		a01 = w.MulAdd(load16(x0[i+16:]), a01)
		a11 = w.MulAdd(load16(x1[i+16:]), a11)
		a21 = w.MulAdd(load16(x2[i+16:]), a21)
		a31 = w.MulAdd(load16(x3[i+16:]), a31)
	}
	if i+16 <= n {
		w := bf16Lanes(row[2*i:])
		a00 = w.MulAdd(load16(x0[i:]), a00)
		a10 = w.MulAdd(load16(x1[i:]), a10)
		a20 = w.MulAdd(load16(x2[i:]), a20)
		a30 = w.MulAdd(load16(x3[i:]), a30)
		i += 16
	}
	var l [4][16]float32
	a00.Add(a01).Store(&l[0])
	a10.Add(a11).Store(&l[1])
	a20.Add(a21).Store(&l[2])
	a30.Add(a31).Store(&l[3])
	archsimd.ClearAVXUpperBits()
	for k := range 4 {
		o[k] = laneSum(&l[k]) + BF16Tail(row[2*i:], x[k][i:])
	}
}

func BF16Tail(row []byte, x []float32) float32 {
	var s float32
	for j := range len(row) / 2 {
		s += BF16ToF32(binary.LittleEndian.Uint16(row[2*j:])) * x[j]
	}
	return s
}
