package tensor

// Portable kernels. Every quantized kernel computes, per block,
// s = Σ q·x with four accumulators in a fixed order, then adds d·s (and, for
// Q4_1, m·Σx) to the row sum, so the one-vector and four-vector variants give
// identical results (explicit float32 conversions keep the compiler from
// fusing some of these operations into FMAs and not others). Byte values are decoded through a per-call table
// instead of integer-to-float conversions, which are slower.

// table maps a byte to its decoded values: for the Q4 formats the low and
// high nibble (minus the format's offset), for Q8_0 the signed byte (in [0]).
type table [256][2]float32

func nibbleTable(off int32) *table {
	var t table
	for b := range t {
		t[b] = [2]float32{float32(int32(b&15) - off), float32(int32(b>>4) - off)}
	}
	return &t
}

func int8Table() *table {
	var t table
	for b := range t {
		t[b][0] = float32(int8(b))
	}
	return &t
}

func scalarFloatKernel() floatKernel {
	return floatKernel{dot1: dotF32, dot4: dot4F32}
}

// scalarQuantKernel returns the portable kernels for the block formats; ok
// is false for the float formats, which are decoded to float32 first.
func scalarQuantKernel(t DType) (k quantKernel, ok bool) {
	switch t {
	case Q4_0:
		return quantKernel{dot1: dotQ40, dot4: dot4Q40, table: func() *table { return nibbleTable(8) }}, true
	case Q4_1:
		return quantKernel{dot1: dotQ41, dot4: dot4Q41, sums: true, table: func() *table { return nibbleTable(0) }}, true
	case Q8_0:
		return quantKernel{dot1: dotQ80, dot4: dot4Q80, table: int8Table}, true
	}
	return quantKernel{}, false
}

func dotF32(w, x []float32) float32 {
	x = x[:len(w)]
	var a0, a1, a2, a3 float32
	for len(w) >= 4 && len(x) >= 4 {
		a0 += w[0] * x[0]
		a1 += w[1] * x[1]
		a2 += w[2] * x[2]
		a3 += w[3] * x[3]
		w, x = w[4:], x[4:]
	}
	for i := range w {
		a0 += w[i] * x[i]
	}
	return (a0 + a1) + (a2 + a3)
}

func dot4F32(w []float32, x *[4][]float32, o *[4]float32) {
	for k := range 4 {
		o[k] = dotF32(w, x[k])
	}
}

// dotBlock is Σ q[j]·x[j] over one block of decoded values.
func dotBlock(q, x *[QK]float32) float32 {
	var a0, a1, a2, a3 float32
	for j := 0; j < QK/2; j += 2 {
		a0 += q[j] * x[j]
		a1 += q[j+1] * x[j+1]
		a2 += q[j+16] * x[j+16]
		a3 += q[j+17] * x[j+17]
	}
	return (a0 + a1) + (a2 + a3)
}

// nibblesQ4 decodes the 32 nibbles of a Q4 block through t.
func nibblesQ4(qs *[QK / 2]byte, t *table, q *[QK]float32) {
	for j, b := range qs {
		q[j], q[j+16] = t[b][0], t[b][1]
	}
}

func dotQ40(row []byte, x, _ []float32, t *table) float32 {
	x = x[:len(row)/q40Bytes*QK]
	var sum float32
	for len(row) >= q40Bytes && len(x) >= QK {
		blk, xb := (*[q40Bytes]byte)(row), (*[QK]float32)(x)
		qs := (*[QK / 2]byte)(blk[2:])
		// dotBlock of the decoded nibbles, written out: same arithmetic,
		// no call and no intermediate array.
		var a0, a1, a2, a3 float32
		for j := 0; j < QK/2; j += 2 {
			p0, p1 := &t[qs[j]], &t[qs[j+1]]
			a0 += p0[0] * xb[j]
			a1 += p1[0] * xb[j+1]
			a2 += p0[1] * xb[j+16]
			a3 += p1[1] * xb[j+17]
		}
		sum += float32(half(blk[0:2]) * ((a0 + a1) + (a2 + a3)))
		row, x = row[q40Bytes:], x[QK:]
	}
	return sum
}

func dot4Q40(row []byte, x, _ *[4][]float32, o *[4]float32, t *table) {
	var q [QK]float32
	var sum [4]float32
	for i := range len(row) / q40Bytes {
		blk := (*[q40Bytes]byte)(row[i*q40Bytes:])
		nibblesQ4((*[QK / 2]byte)(blk[2:]), t, &q)
		d := half(blk[0:2])
		for k := range 4 {
			sum[k] += float32(d * dotBlock(&q, (*[QK]float32)(x[k][i*QK:])))
		}
	}
	*o = sum
}

func dotQ41(row []byte, x, xs []float32, t *table) float32 {
	nb := len(row) / q41Bytes
	x, xs = x[:nb*QK], xs[:nb]
	var sum float32
	for i := 0; len(row) >= q41Bytes && len(x) >= QK && i < len(xs); i++ {
		blk, xb := (*[q41Bytes]byte)(row), (*[QK]float32)(x)
		qs := (*[QK / 2]byte)(blk[4:])
		var a0, a1, a2, a3 float32 // as in dotQ40
		for j := 0; j < QK/2; j += 2 {
			p0, p1 := &t[qs[j]], &t[qs[j+1]]
			a0 += p0[0] * xb[j]
			a1 += p1[0] * xb[j+1]
			a2 += p0[1] * xb[j+16]
			a3 += p1[1] * xb[j+17]
		}
		s := (a0 + a1) + (a2 + a3)
		// The conversions stop fusion, keeping dot1 and dot4 identical.
		sum += float32(half(blk[0:2])*s) + float32(half(blk[2:4])*xs[i])
		row, x = row[q41Bytes:], x[QK:]
	}
	return sum
}

func dot4Q41(row []byte, x, xs *[4][]float32, o *[4]float32, t *table) {
	var q [QK]float32
	var sum [4]float32
	for i := range len(row) / q41Bytes {
		blk := (*[q41Bytes]byte)(row[i*q41Bytes:])
		nibblesQ4((*[QK / 2]byte)(blk[4:]), t, &q)
		d, m := half(blk[0:2]), half(blk[2:4])
		for k := range 4 {
			s := dotBlock(&q, (*[QK]float32)(x[k][i*QK:]))
			sum[k] += float32(d*s) + float32(m*xs[k][i])
		}
	}
	*o = sum
}

func dotQ80(row []byte, x, _ []float32, t *table) float32 {
	x = x[:len(row)/q80Bytes*QK]
	var sum float32
	for len(row) >= q80Bytes && len(x) >= QK {
		blk, xb := (*[q80Bytes]byte)(row), (*[QK]float32)(x)
		qs := (*[QK]byte)(blk[2:])
		var a0, a1, a2, a3 float32 // dotBlock of the decoded bytes
		for j := 0; j < QK/2; j += 2 {
			a0 += t[qs[j]][0] * xb[j]
			a1 += t[qs[j+1]][0] * xb[j+1]
			a2 += t[qs[j+16]][0] * xb[j+16]
			a3 += t[qs[j+17]][0] * xb[j+17]
		}
		sum += float32(half(blk[0:2]) * ((a0 + a1) + (a2 + a3)))
		row, x = row[q80Bytes:], x[QK:]
	}
	return sum
}

func dot4Q80(row []byte, x, _ *[4][]float32, o *[4]float32, t *table) {
	var q [QK]float32
	var sum [4]float32
	for i := range len(row) / q80Bytes {
		blk := (*[q80Bytes]byte)(row[i*q80Bytes:])
		for j, b := range (*[QK]byte)(blk[2:]) {
			q[j] = t[b][0]
		}
		d := half(blk[0:2])
		for k := range 4 {
			sum[k] += float32(d * dotBlock(&q, (*[QK]float32)(x[k][i*QK:])))
		}
	}
	*o = sum
}
