//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

// The archsimd Q4_1 and Q8_0 kernels that the assembly ones (dotq_amd64.s)
// replaced. They stay as the tests' reference: the assembly kernels must
// give the same bits.

// highHalves converts the high fp16 of each lane.
func highHalves(raw *[chunk]uint32) archsimd.Float32x16 {
	return halves(archsimd.LoadUint32x16(raw).ShiftRight(archsimd.BroadcastUint32x16(16)))
}

func dotQ41AVX512(row []byte, x, xs []float32, _ *table) float32 {
	nb := len(row) / q41Bytes
	x = x[:nb*QK]
	xs = xs[:sumsLen(nb)]
	low, shift, eight := masks()
	var a0, a1, am archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q41Bytes, &raw)
	for len(row) >= q41Bytes {
		k := min(chunk, len(row)/q41Bytes)
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		m := highHalves(&raw)
		am = m.MulAdd(load16(xs), am)
		xs = xs[k:]
		b, xx, d := row[:k*q41Bytes], x[:k*QK], ds[:k]
		row, x = row[k*q41Bytes:], x[k*QK:]
		gather(row, q41Bytes, &raw)
		for len(b) >= 2*q41Bytes && len(xx) >= 2*QK && len(d) >= 2 {
			lo, hi := q41Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
			lo, hi = q41Lanes(b[q41Bytes:], low, shift, eight)
			a1 = term(lo, hi, bcast(d[1]), xx[QK:], a1)
			b, xx, d = b[2*q41Bytes:], xx[2*QK:], d[2:]
		}
		if len(b) >= q41Bytes && len(xx) >= QK && len(d) >= 1 {
			lo, hi := q41Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
		}
	}
	var l [16]float32
	a0.Add(a1).Add(am).Store(&l)
	archsimd.ClearAVXUpperBits()
	return laneSum(&l)
}

func dot4Q41AVX512(row []byte, x, xs *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q41Bytes
	x0, x1, x2, x3 := x[0][:nb*QK], x[1][:nb*QK], x[2][:nb*QK], x[3][:nb*QK]
	ns := sumsLen(nb)
	s0, s1, s2, s3 := xs[0][:ns], xs[1][:ns], xs[2][:ns], xs[3][:ns]
	low, shift, eight := masks()
	var a00, a01, a10, a11, a20, a21, a30, a31, m0, m1, m2, m3 archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q41Bytes, &raw)
	for off := 0; off < nb; off += chunk {
		k := min(chunk, nb-off)
		blocks := row[off*q41Bytes : (off+k)*q41Bytes]
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		m := highHalves(&raw)
		m0 = m.MulAdd(load16(s0[off:]), m0)
		m1 = m.MulAdd(load16(s1[off:]), m1)
		m2 = m.MulAdd(load16(s2[off:]), m2)
		m3 = m.MulAdd(load16(s3[off:]), m3)
		next := row[(off+k)*q41Bytes:]
		gather(next, q41Bytes, &raw)
		for j, d := range ds[:k] {
			lo, hi := q41Lanes(blocks[j*q41Bytes:], low, shift, eight)
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
	a00.Add(a01).Add(m0).Store(&l[0])
	a10.Add(a11).Add(m1).Store(&l[1])
	a20.Add(a21).Add(m2).Store(&l[2])
	a30.Add(a31).Add(m3).Store(&l[3])
	archsimd.ClearAVXUpperBits()
	for k := range 4 {
		o[k] = laneSum(&l[k])
	}
}

func dotQ80AVX512(row []byte, x, _ []float32, _ *table) float32 {
	nb := len(row) / q80Bytes
	x = x[:nb*QK]
	low, shift, eight := masks()
	var a0, a1 archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q80Bytes, &raw)
	for len(row) >= q80Bytes {
		k := min(chunk, len(row)/q80Bytes)
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		b, xx, d := row[:k*q80Bytes], x[:k*QK], ds[:k]
		row, x = row[k*q80Bytes:], x[k*QK:]
		gather(row, q80Bytes, &raw)
		for len(b) >= 2*q80Bytes && len(xx) >= 2*QK && len(d) >= 2 {
			lo, hi := q80Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
			lo, hi = q80Lanes(b[q80Bytes:], low, shift, eight)
			a1 = term(lo, hi, bcast(d[1]), xx[QK:], a1)
			b, xx, d = b[2*q80Bytes:], xx[2*QK:], d[2:]
		}
		if len(b) >= q80Bytes && len(xx) >= QK && len(d) >= 1 {
			lo, hi := q80Lanes(b, low, shift, eight)
			a0 = term(lo, hi, bcast(d[0]), xx, a0)
		}
	}
	var l [16]float32
	a0.Add(a1).Store(&l)
	archsimd.ClearAVXUpperBits()
	return laneSum(&l)
}

func dot4Q80AVX512(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q80Bytes
	x0, x1, x2, x3 := x[0][:nb*QK], x[1][:nb*QK], x[2][:nb*QK], x[3][:nb*QK]
	low, shift, eight := masks()
	var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x16
	var raw [chunk]uint32
	var ds [chunk]float32
	gather(row, q80Bytes, &raw)
	for off := 0; off < nb; off += chunk {
		k := min(chunk, nb-off)
		blocks := row[off*q80Bytes : (off+k)*q80Bytes]
		halves(archsimd.LoadUint32x16(&raw)).Store(&ds)
		next := row[(off+k)*q80Bytes:]
		gather(next, q80Bytes, &raw)
		for j, d := range ds[:k] {
			lo, hi := q80Lanes(blocks[j*q80Bytes:], low, shift, eight)
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
