//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
)

// AVX-512 versions of the vector kernels (AVX2 ones in vec_avx2_amd64.go). A slice is processed 16 elements
// at a time; the last, partial vector is loaded and stored with a mask, so
// every element goes through the same instructions. Horizontal sums and
// maxima stay in vector registers, and constants are broadcast from integer
// registers: the vector sections contain no scalar SSE instruction (see
// kernels_simd_amd64.go), and each kernel ends with
// archsimd.ClearAVXUpperBits.

func vecDot(a, b []float32) float32 {
	if archsimd.X86.AVX512() {
		return dotAVX512(a, b)
	}
	if fmaAVX2 {
		return dotAVX2(a, b)
	}
	return dotGo(a, b)
}

func vecAxpy(y []float32, a float32, x []float32) {
	if archsimd.X86.AVX512() {
		axpyAVX512(y, a, x)
		return
	}
	if fmaAVX2 {
		axpyAVX2(y, a, x)
		return
	}
	axpyGo(y, a, x)
}

func vecExp(v []float32) {
	if archsimd.X86.AVX512() {
		expAVX512(v)
		return
	}
	if fmaAVX2 {
		expAVX2(v)
		return
	}
	expSliceGo(v)
}

func vecSoftmax(v []float32) {
	if archsimd.X86.AVX512() {
		softmaxAVX512(v)
		return
	}
	if fmaAVX2 {
		softmaxAVX2(v)
		return
	}
	softmaxGo(v)
}

func vecRope(v []float32, d int, angles []float32, pairs bool) {
	if fmaAVX2 && (d%8 == 0 && pairs || d%16 == 0) {
		ropeAVX2(v, d, angles, pairs)
		return
	}
	ropeGo(v, d, angles, pairs)
}

func vecSiLUMul(g, u []float32) {
	if archsimd.X86.AVX512() {
		siluMulAVX512(g, u)
		return
	}
	if fmaAVX2 {
		siluMulAVX2(g, u)
		return
	}
	siluMulGo(g, u)
}

// splat broadcasts the float32 with the given bits.
func splat(bits uint32) archsimd.Float32x16 {
	return archsimd.BroadcastUint32x16(bits).AsFloat32x16()
}

// tailMask selects the first n < 16 lanes.
func tailMask(n int) archsimd.Mask32x16 {
	return archsimd.Mask32x16FromBits(uint16(1)<<n - 1)
}

// expConsts are the broadcast constants of the exponential; the kernels
// make them once per call because the compiler does not hoist them. They
// are set in place: copying the struct would use SSE moves.
type expConsts struct {
	lo, hi, log2e, negC1, negC2, p0, p1, p2, p3, p4, p5, one archsimd.Float32x16
}

func (c *expConsts) init() {
	b := &expBits
	c.lo, c.hi, c.log2e = splat(b[0]), splat(b[1]), splat(b[2])
	c.negC1, c.negC2 = splat(b[3]), splat(b[4])
	c.p0, c.p1, c.p2, c.p3, c.p4, c.p5 = splat(b[5]), splat(b[6]), splat(b[7]), splat(b[8]), splat(b[9]), splat(b[10])
	c.one = splat(b[11])
}

// expBits holds the bits of exp16's constants, converted once: converting
// floats to bits is scalar float code, slow between AVX-512 instructions.
var expBits = [12]uint32{
	math.Float32bits(expLo), math.Float32bits(expHi), math.Float32bits(expLog2e),
	math.Float32bits(-expC1), math.Float32bits(-expC2),
	math.Float32bits(expP0), math.Float32bits(expP1), math.Float32bits(expP2),
	math.Float32bits(expP3), math.Float32bits(expP4), math.Float32bits(expP5),
	math.Float32bits(1),
}

// exp16 is expGo on 16 lanes, with fused multiply-adds.
func exp16(x archsimd.Float32x16, c *expConsts) archsimd.Float32x16 {
	nan := x.IsNaN()
	t := x.Max(c.lo).Min(c.hi)
	n := t.Mul(c.log2e).RoundToEvenScaled(0)
	r := n.MulAdd(c.negC1, t)
	r = n.MulAdd(c.negC2, r)
	q := c.p0.MulAdd(r, c.p1)
	q = q.MulAdd(r, c.p2)
	q = q.MulAdd(r, c.p3)
	q = q.MulAdd(r, c.p4)
	q = q.MulAdd(r, c.p5)
	y := q.MulAdd(r.Mul(r), r).Add(c.one).Scale(n)
	return x.Merge(y, nan)
}

func expAVX512(v []float32) {
	var c expConsts
	c.init()
	for len(v) >= 16 {
		exp16(load16(v), &c).Store((*[16]float32)(v))
		v = v[16:]
	}
	if len(v) > 0 {
		exp16(archsimd.LoadFloat32x16SlicePart(v), &c).StoreSlicePart(v)
	}
	archsimd.ClearAVXUpperBits()
}

func dotAVX512(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x16
	for len(a) >= 64 && len(b) >= 64 {
		s0 = load16(a).MulAdd(load16(b), s0)
		s1 = load16(a[16:]).MulAdd(load16(b[16:]), s1)
		s2 = load16(a[32:]).MulAdd(load16(b[32:]), s2)
		s3 = load16(a[48:]).MulAdd(load16(b[48:]), s3)
		a, b = a[64:], b[64:]
	}
	for len(a) >= 16 && len(b) >= 16 {
		s0 = load16(a).MulAdd(load16(b), s0)
		a, b = a[16:], b[16:]
	}
	if len(a) > 0 {
		x := archsimd.LoadFloat32x16SlicePart(a)
		s1 = x.MulAdd(archsimd.LoadFloat32x16SlicePart(b), s1)
	}
	s := hsum(s0.Add(s1).Add(s2.Add(s3))).GetElem(0)
	archsimd.ClearAVXUpperBits()
	return s
}

// hsum returns the sum of the 16 lanes in every lane of a 4-lane vector,
// adding in a fixed order.
func hsum(v archsimd.Float32x16) archsimd.Float32x4 {
	h := v.GetLo().Add(v.GetHi())
	q := h.GetLo().Add(h.GetHi())
	q = q.AddPairs(q)
	return q.AddPairs(q)
}

// hmax returns the largest of the 16 lanes in every lane of a 4-lane vector.
func hmax(v archsimd.Float32x16) archsimd.Float32x4 {
	h := v.GetLo().Max(v.GetHi())
	q := h.GetLo().Max(h.GetHi())
	q = q.Max(q.SelectFromPair(2, 3, 4, 5, q))
	return q.Max(q.SelectFromPair(1, 0, 7, 6, q))
}

func axpyAVX512(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	av := archsimd.BroadcastUint32x16(math.Float32bits(a)).AsFloat32x16()
	for len(y) >= 16 && len(x) >= 16 {
		yy := (*[16]float32)(y)
		load16(x).MulAdd(av, archsimd.LoadFloat32x16(yy)).Store(yy)
		x, y = x[16:], y[16:]
	}
	if len(y) > 0 {
		xv := archsimd.LoadFloat32x16SlicePart(x)
		xv.MulAdd(av, archsimd.LoadFloat32x16SlicePart(y)).StoreSlicePart(y)
	}
	archsimd.ClearAVXUpperBits()
}

func softmaxAVX512(v []float32) {
	var c expConsts
	c.init()
	negInf := archsimd.BroadcastUint32x16(0xff800000).AsFloat32x16()
	var zero archsimd.Float32x16
	top := negInf
	w := v
	for len(w) >= 16 {
		top = top.Max(load16(w))
		w = w[16:]
	}
	tail := tailMask(len(w))
	if len(w) > 0 {
		top = top.Max(archsimd.LoadFloat32x16SlicePart(w).Merge(negInf, tail))
	}
	top = hmax(top).Broadcast1To16()
	// A row of -Inf: subtract 0 instead, so that every exp is 0.
	top = zero.Merge(top, top.Equal(negInf))
	var sum archsimd.Float32x16
	for w = v; len(w) >= 16; w = w[16:] {
		e := exp16(load16(w).Sub(top), &c)
		e.Store((*[16]float32)(w))
		sum = sum.Add(e)
	}
	if len(w) > 0 {
		e := exp16(archsimd.LoadFloat32x16SlicePart(w).Sub(top), &c)
		e.StoreSlicePart(w)
		sum = sum.Add(e.Masked(tail))
	}
	total := hsum(sum).Broadcast1To16()
	// Only a row of -Inf sums to 0: divide its zeros by 1.
	total = c.one.Merge(total, total.Equal(zero))
	for w = v; len(w) >= 16; w = w[16:] {
		load16(w).Div(total).Store((*[16]float32)(w))
	}
	if len(w) > 0 {
		archsimd.LoadFloat32x16SlicePart(w).Div(total).StoreSlicePart(w)
	}
	archsimd.ClearAVXUpperBits()
}

func siluMulAVX512(g, u []float32) {
	u = u[:len(g)]
	var c expConsts
	c.init()
	for len(g) >= 16 && len(u) >= 16 {
		gg := (*[16]float32)(g)
		x := archsimd.LoadFloat32x16(gg)
		silu16(x, load16(u), &c).Store(gg)
		g, u = g[16:], u[16:]
	}
	if len(g) > 0 {
		x := archsimd.LoadFloat32x16SlicePart(g)
		silu16(x, archsimd.LoadFloat32x16SlicePart(u), &c).StoreSlicePart(g)
	}
	archsimd.ClearAVXUpperBits()
}

// silu16 is x/(1+exp(-x))·u on 16 lanes.
func silu16(x, u archsimd.Float32x16, c *expConsts) archsimd.Float32x16 {
	var zero archsimd.Float32x16
	e := exp16(zero.Sub(x), c)
	return x.Div(c.one.Add(e)).Mul(u)
}

//go:noescape
func dotRows64(out, q, rows *float32, stride, n int, scale float32)

//go:noescape
func addRows64(o, w, rows *float32, stride, n int)

//go:noescape
func dotRows64AVX2(out, q, rows *float32, stride, n int, scale float32)

//go:noescape
func addRows64AVX2(o, w, rows *float32, stride, n int)

// dotRowsVector is DotRows for 64 values a row (a common attention head
// size) with AVX-512, or AVX2 and FMA (rowsdot_amd64.s): the query stays
// in registers.
func dotRowsVector(out, q, rows []float32, stride int, scale float32) bool {
	kernel := dotRows64
	switch {
	case len(q) != 64:
		return false
	case archsimd.X86.AVX512():
	case fmaAVX2:
		kernel = dotRows64AVX2
	default:
		return false
	}
	if len(out) > 0 {
		kernel(&out[0], &q[0], &rows[0], 4*stride, len(out), scale)
	}
	return true
}

// addRowsVector is AddRows for 64 values a row with AVX-512, or AVX2 and
// FMA, the sums kept in registers.
func addRowsVector(o, w, rows []float32, stride int) bool {
	kernel := addRows64
	switch {
	case len(o) != 64:
		return false
	case archsimd.X86.AVX512():
	case fmaAVX2:
		kernel = addRows64AVX2
	default:
		return false
	}
	if len(w) == 0 {
		clear(o)
		return true
	}
	kernel(&o[0], &w[0], &rows[0], 4*stride, len(w))
	return true
}

// vecSumSquares sums x² in four 16-lane accumulators, whole vectors first,
// then the tail, then the lanes (hsum).
func vecSumSquares(x []float32) float32 {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			return sumSquaresAVX2(x)
		}
		return sumSquaresGo(x)
	}
	var s0, s1, s2, s3 archsimd.Float32x16
	for ; len(x) >= 64; x = x[64:] {
		a, b, c, d := load16(x), load16(x[16:]), load16(x[32:]), load16(x[48:])
		s0, s1, s2, s3 = a.MulAdd(a, s0), b.MulAdd(b, s1), c.MulAdd(c, s2), d.MulAdd(d, s3)
	}
	for ; len(x) >= 16; x = x[16:] {
		a := load16(x)
		s0 = a.MulAdd(a, s0)
	}
	if len(x) > 0 {
		a := archsimd.LoadFloat32x16SlicePart(x)
		s1 = a.MulAdd(a, s1)
	}
	sum := hsum(s0.Add(s1).Add(s2.Add(s3))).GetElem(0)
	archsimd.ClearAVXUpperBits()
	return sum
}

func vecScaleMul(out, x, w []float32, inv float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			scaleMulAVX2(out, x, w, inv)
			return
		}
		scaleMulGo(out, x, w, inv)
		return
	}
	iv := archsimd.BroadcastUint32x16(math.Float32bits(inv)).AsFloat32x16()
	for ; len(x) >= 16; x, w, out = x[16:], w[16:], out[16:] {
		load16(w).Mul(load16(x).Mul(iv)).Store((*[16]float32)(out))
	}
	if len(x) > 0 {
		a := archsimd.LoadFloat32x16SlicePart(x).Mul(iv)
		archsimd.LoadFloat32x16SlicePart(w).Mul(a).StoreSlicePart(out[:len(x)])
	}
	archsimd.ClearAVXUpperBits()
}

func vecAdd(dst, src []float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			addAVX2(dst, src)
			return
		}
		addGo(dst, src)
		return
	}
	for ; len(dst) >= 16; dst, src = dst[16:], src[16:] {
		load16(dst).Add(load16(src)).Store((*[16]float32)(dst))
	}
	if len(dst) > 0 {
		archsimd.LoadFloat32x16SlicePart(dst).Add(archsimd.LoadFloat32x16SlicePart(src)).StoreSlicePart(dst)
	}
	archsimd.ClearAVXUpperBits()
}
