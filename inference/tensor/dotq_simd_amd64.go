//go:build goexperiment.simd && amd64

package tensor

// Q4_1 and Q8_0 row kernels in assembly (dotq_amd64.s). They do the same
// operations in the same order as the archsimd kernels they replaced (kept
// as the tests' reference in kernels_ref_simd_amd64_test.go), so their
// results are identical, and like those the one-vector and four-vector
// variants agree bit for bit. They leave each vector's 16 lanes in l;
// laneSum adds them.

//go:noescape
func q41Dot1(row *byte, nb int, x, xs *float32, l *[16]float32)

//go:noescape
func q41Dot4(row *byte, nb int, x, xs *[4]*float32, l *[4][16]float32)

//go:noescape
func q80Dot1(row *byte, nb int, x *float32, l *[16]float32)

//go:noescape
func q80Dot4(row *byte, nb int, x *[4]*float32, l *[4][16]float32)

func dotQ41Asm(row []byte, x, xs []float32, _ *table) float32 {
	nb := len(row) / q41Bytes
	if nb == 0 {
		return 0
	}
	x, xs = x[:nb*QK], xs[:sumsLen(nb)]
	var l [16]float32
	q41Dot1(&row[0], nb, &x[0], &xs[0], &l)
	return laneSum(&l)
}

func dot4Q41Asm(row []byte, x, xs *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q41Bytes
	if nb == 0 {
		*o = [4]float32{}
		return
	}
	ns := sumsLen(nb)
	var xp, sp [4]*float32
	for k := range 4 {
		xp[k], sp[k] = &x[k][:nb*QK][0], &xs[k][:ns][0]
	}
	var l [4][16]float32
	q41Dot4(&row[0], nb, &xp, &sp, &l)
	for k := range 4 {
		o[k] = laneSum(&l[k])
	}
}

func dotQ80Asm(row []byte, x, _ []float32, _ *table) float32 {
	nb := len(row) / q80Bytes
	if nb == 0 {
		return 0
	}
	x = x[:nb*QK]
	var l [16]float32
	q80Dot1(&row[0], nb, &x[0], &l)
	return laneSum(&l)
}

func dot4Q80Asm(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q80Bytes
	if nb == 0 {
		*o = [4]float32{}
		return
	}
	var xp [4]*float32
	for k := range 4 {
		xp[k] = &x[k][:nb*QK][0]
	}
	var l [4][16]float32
	q80Dot4(&row[0], nb, &xp, &l)
	for k := range 4 {
		o[k] = laneSum(&l[k])
	}
}

// The AVX2 row kernels of dotqavx2_amd64.s (CPUs without AVX-512): each
// vector's eight lanes and, for Q4_1, its m·Σx sum in l[8]; lanes9 adds
// them. The one- and four-vector kernels agree bit for bit.

//go:noescape
func q41Dot1AVX2(row *byte, nb int, x, xs *float32, l *[9]float32)

//go:noescape
func q41Dot4AVX2(row *byte, nb int, x, xs *[4]*float32, l *[4][9]float32)

//go:noescape
func q80Dot1AVX2(row *byte, nb int, x *float32, l *[9]float32)

//go:noescape
func q80Dot4AVX2(row *byte, nb int, x *[4]*float32, l *[4][9]float32)

// lanes9 adds eight lanes in a fixed order, then the ninth value.
func lanes9(l *[9]float32) float32 {
	return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + l[8]
}

func dotQ41AVX2(row []byte, x, xs []float32, _ *table) float32 {
	nb := len(row) / q41Bytes
	if nb == 0 {
		return 0
	}
	x, xs = x[:nb*QK], xs[:nb]
	var l [9]float32
	q41Dot1AVX2(&row[0], nb, &x[0], &xs[0], &l)
	return lanes9(&l)
}

func dot4Q41AVX2(row []byte, x, xs *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q41Bytes
	if nb == 0 {
		*o = [4]float32{}
		return
	}
	var xp, sp [4]*float32
	for k := range 4 {
		xp[k], sp[k] = &x[k][:nb*QK][0], &xs[k][:nb][0]
	}
	var l [4][9]float32
	q41Dot4AVX2(&row[0], nb, &xp, &sp, &l)
	for k := range 4 {
		o[k] = lanes9(&l[k])
	}
}

func dotQ80AVX2(row []byte, x, _ []float32, _ *table) float32 {
	nb := len(row) / q80Bytes
	if nb == 0 {
		return 0
	}
	x = x[:nb*QK]
	var l [9]float32
	q80Dot1AVX2(&row[0], nb, &x[0], &l)
	return lanes9(&l)
}

func dot4Q80AVX2(row []byte, x, _ *[4][]float32, o *[4]float32, _ *table) {
	nb := len(row) / q80Bytes
	if nb == 0 {
		*o = [4]float32{}
		return
	}
	var xp [4]*float32
	for k := range 4 {
		xp[k] = &x[k][:nb*QK][0]
	}
	var l [4][9]float32
	q80Dot4AVX2(&row[0], nb, &xp, &l)
	for k := range 4 {
		o[k] = lanes9(&l[k])
	}
}
