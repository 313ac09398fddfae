//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
)

// AVX2 versions of the vector kernels, for CPUs with AVX2 and FMA but no
// AVX-512: the AVX-512 kernels' operations on 8 lanes, the last partial
// vector loaded and stored with a mask. The exponential scales by 2ⁿ in two
// exact steps and one rounding (scale2), which gives the bits of AVX-512's
// VSCALEFPS, so both kernels agree.

// fmaAVX2 reports whether the CPU has AVX2 and FMA.
var fmaAVX2 = archsimd.X86.AVX2() && archsimd.X86.FMA()

// load8 loads the first 8 floats of v.
func load8(v []float32) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(v))
}

func splat8(bits uint32) archsimd.Float32x8 {
	return archsimd.BroadcastUint32x8(bits).AsFloat32x8()
}

// expConsts8 are expConsts on 8 lanes.
type expConsts8 struct {
	lo, hi, log2e, negC1, negC2, p0, p1, p2, p3, p4, p5, one archsimd.Float32x8
	bias                                                     archsimd.Int32x8
}

func (c *expConsts8) init() {
	b := &expBits
	c.lo, c.hi, c.log2e = splat8(b[0]), splat8(b[1]), splat8(b[2])
	c.negC1, c.negC2 = splat8(b[3]), splat8(b[4])
	c.p0, c.p1, c.p2, c.p3, c.p4, c.p5 = splat8(b[5]), splat8(b[6]), splat8(b[7]), splat8(b[8]), splat8(b[9]), splat8(b[10])
	c.one = splat8(b[11])
	c.bias = archsimd.BroadcastInt32x8(127)
}

// exp8 is exp16 on 8 lanes.
func exp8(x archsimd.Float32x8, c *expConsts8) archsimd.Float32x8 {
	nan := x.IsNaN()
	t := x.Max(c.lo).Min(c.hi)
	n := t.Mul(c.log2e).RoundToEven()
	r := n.MulAdd(c.negC1, t)
	r = n.MulAdd(c.negC2, r)
	q := c.p0.MulAdd(r, c.p1)
	q = q.MulAdd(r, c.p2)
	q = q.MulAdd(r, c.p3)
	q = q.MulAdd(r, c.p4)
	q = q.MulAdd(r, c.p5)
	y := q.MulAdd(r.Mul(r), r).Add(c.one)
	// y·2ⁿ as scale2 does: n1 = ⌊n/2⌋ keeps y·2^n1 exact and normal,
	// the second factor rounds once.
	ni := n.ConvertToInt32()
	n1 := ni.ShiftAllRight(1)
	n2 := ni.Sub(n1)
	y = y.Mul(pow2x8(n1, c))
	y = y.Mul(pow2x8(n2, c))
	return x.Merge(y, nan)
}

// exp8x2 is exp8 of two vectors, their operations interleaved: one
// vector's chain of dependent steps leaves the cores' floating-point units
// idle most of the time (0.76× the time of exp8 twice, alternating).
func exp8x2(x, z archsimd.Float32x8, c *expConsts8) (archsimd.Float32x8, archsimd.Float32x8) {
	nanX, nanZ := x.IsNaN(), z.IsNaN()
	tx, tz := x.Max(c.lo).Min(c.hi), z.Max(c.lo).Min(c.hi)
	nx, nz := tx.Mul(c.log2e).RoundToEven(), tz.Mul(c.log2e).RoundToEven()
	rx, rz := nx.MulAdd(c.negC1, tx), nz.MulAdd(c.negC1, tz)
	rx, rz = nx.MulAdd(c.negC2, rx), nz.MulAdd(c.negC2, rz)
	qx, qz := c.p0.MulAdd(rx, c.p1), c.p0.MulAdd(rz, c.p1)
	qx, qz = qx.MulAdd(rx, c.p2), qz.MulAdd(rz, c.p2)
	qx, qz = qx.MulAdd(rx, c.p3), qz.MulAdd(rz, c.p3)
	qx, qz = qx.MulAdd(rx, c.p4), qz.MulAdd(rz, c.p4)
	qx, qz = qx.MulAdd(rx, c.p5), qz.MulAdd(rz, c.p5)
	yx, yz := qx.MulAdd(rx.Mul(rx), rx).Add(c.one), qz.MulAdd(rz.Mul(rz), rz).Add(c.one)
	nix, niz := nx.ConvertToInt32(), nz.ConvertToInt32()
	n1x, n1z := nix.ShiftAllRight(1), niz.ShiftAllRight(1)
	n2x, n2z := nix.Sub(n1x), niz.Sub(n1z)
	yx, yz = yx.Mul(pow2x8(n1x, c)), yz.Mul(pow2x8(n1z, c))
	yx, yz = yx.Mul(pow2x8(n2x, c)), yz.Mul(pow2x8(n2z, c))
	return x.Merge(yx, nanX), z.Merge(yz, nanZ)
}

// pow2x8 is 2ⁿ for exponents n in float32's normal range.
func pow2x8(n archsimd.Int32x8, c *expConsts8) archsimd.Float32x8 {
	return n.Add(c.bias).ShiftAllLeft(23).AsFloat32x8()
}

func expAVX2(v []float32) {
	var c expConsts8
	c.init()
	for len(v) >= 16 {
		a, b := exp8x2(load8(v), load8(v[8:]), &c)
		a.Store((*[8]float32)(v))
		b.Store((*[8]float32)(v[8:]))
		v = v[16:]
	}
	if len(v) >= 8 {
		exp8(load8(v), &c).Store((*[8]float32)(v))
		v = v[8:]
	}
	if len(v) > 0 {
		exp8(archsimd.LoadFloat32x8SlicePart(v), &c).StoreSlicePart(v)
	}
	archsimd.ClearAVXUpperBits()
}

// hsum8 returns the sum of the 8 lanes, adding in a fixed order.
func hsum8(v archsimd.Float32x8) float32 {
	q := v.GetLo().Add(v.GetHi())
	q = q.AddPairs(q)
	return q.AddPairs(q).GetElem(0)
}

// hmax8 returns the largest of the 8 lanes in every lane.
func hmax8(v archsimd.Float32x8) archsimd.Float32x8 {
	q := v.GetLo().Max(v.GetHi())
	q = q.Max(q.SelectFromPair(2, 3, 4, 5, q))
	return q.Max(q.SelectFromPair(1, 0, 7, 6, q)).Broadcast1To8()
}

func softmaxAVX2(v []float32) {
	var c expConsts8
	c.init()
	negInf := splat8(0xff800000)
	var zero archsimd.Float32x8
	top := negInf
	w := v
	for ; len(w) >= 8; w = w[8:] {
		top = top.Max(load8(w))
	}
	tail := len(w)
	if tail > 0 {
		part := archsimd.LoadFloat32x8SlicePart(w)
		top = top.Max(part.Merge(negInf, tailMask8(tail)))
	}
	top = hmax8(top)
	// A row of -Inf: subtract 0 instead, so that every exp is 0.
	top = zero.Merge(top, top.Equal(negInf))
	var sum archsimd.Float32x8
	for w = v; len(w) >= 16; w = w[16:] {
		e, f := exp8x2(load8(w).Sub(top), load8(w[8:]).Sub(top), &c)
		e.Store((*[8]float32)(w))
		f.Store((*[8]float32)(w[8:]))
		sum = sum.Add(e).Add(f)
	}
	if len(w) >= 8 {
		e := exp8(load8(w).Sub(top), &c)
		e.Store((*[8]float32)(w))
		sum = sum.Add(e)
		w = w[8:]
	}
	if tail > 0 {
		e := exp8(archsimd.LoadFloat32x8SlicePart(w).Sub(top), &c)
		e.StoreSlicePart(w)
		sum = sum.Add(e.Masked(tailMask8(tail)))
	}
	total := archsimd.BroadcastFloat32x8(hsum8(sum))
	// Only a row of -Inf sums to 0: divide its zeros by 1.
	total = c.one.Merge(total, total.Equal(zero))
	for w = v; len(w) >= 8; w = w[8:] {
		load8(w).Div(total).Store((*[8]float32)(w))
	}
	if tail > 0 {
		archsimd.LoadFloat32x8SlicePart(w).Div(total).StoreSlicePart(w)
	}
	archsimd.ClearAVXUpperBits()
}

// tailMask8 selects the first n < 8 lanes.
func tailMask8(n int) archsimd.Mask32x8 {
	return archsimd.BroadcastInt32x8(int32(n)).Greater(archsimd.LoadInt32x8(&laneIndex8))
}

// laneIndex8 holds each lane's number.
var laneIndex8 = [8]int32{0, 1, 2, 3, 4, 5, 6, 7}

func siluMulAVX2(g, u []float32) {
	u = u[:len(g)]
	var c expConsts8
	c.init()
	var zero archsimd.Float32x8
	for len(g) >= 16 && len(u) >= 16 {
		x, y := load8(g), load8(g[8:])
		e, f := exp8x2(zero.Sub(x), zero.Sub(y), &c)
		x.Div(c.one.Add(e)).Mul(load8(u)).Store((*[8]float32)(g))
		y.Div(c.one.Add(f)).Mul(load8(u[8:])).Store((*[8]float32)(g[8:]))
		g, u = g[16:], u[16:]
	}
	for len(g) >= 8 && len(u) >= 8 {
		gg := (*[8]float32)(g)
		x := archsimd.LoadFloat32x8(gg)
		e := exp8(zero.Sub(x), &c)
		x.Div(c.one.Add(e)).Mul(load8(u)).Store(gg)
		g, u = g[8:], u[8:]
	}
	if len(g) > 0 {
		x := archsimd.LoadFloat32x8SlicePart(g)
		e := exp8(zero.Sub(x), &c)
		x.Div(c.one.Add(e)).Mul(archsimd.LoadFloat32x8SlicePart(u)).StoreSlicePart(g)
	}
	archsimd.ClearAVXUpperBits()
}

func dotAVX2(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x8
	for len(a) >= 32 && len(b) >= 32 {
		s0 = load8(a).MulAdd(load8(b), s0)
		s1 = load8(a[8:]).MulAdd(load8(b[8:]), s1)
		s2 = load8(a[16:]).MulAdd(load8(b[16:]), s2)
		s3 = load8(a[24:]).MulAdd(load8(b[24:]), s3)
		a, b = a[32:], b[32:]
	}
	for len(a) >= 8 && len(b) >= 8 {
		s0 = load8(a).MulAdd(load8(b), s0)
		a, b = a[8:], b[8:]
	}
	if len(a) > 0 {
		x := archsimd.LoadFloat32x8SlicePart(a)
		s1 = x.MulAdd(archsimd.LoadFloat32x8SlicePart(b), s1)
	}
	s := hsum8(s0.Add(s1).Add(s2.Add(s3)))
	archsimd.ClearAVXUpperBits()
	return s
}

func dot4F32AVX2(w []float32, x *[4][]float32, o *[4]float32) {
	for k := range 4 {
		o[k] = dotAVX2(w, x[k])
	}
}

func axpyAVX2(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	av := archsimd.BroadcastFloat32x8(a)
	for len(y) >= 8 && len(x) >= 8 {
		yy := (*[8]float32)(y)
		load8(x).MulAdd(av, archsimd.LoadFloat32x8(yy)).Store(yy)
		x, y = x[8:], y[8:]
	}
	if len(y) > 0 {
		xv := archsimd.LoadFloat32x8SlicePart(x)
		xv.MulAdd(av, archsimd.LoadFloat32x8SlicePart(y)).StoreSlicePart(y)
	}
	archsimd.ClearAVXUpperBits()
}

// scaledSoftmaxAVX2 is vecScaledSoftmax on 8 lanes.
func scaledSoftmaxAVX2(v []float32, n int, scale float32) {
	var c expConsts8
	c.init()
	sc := archsimd.BroadcastFloat32x8(scale)
	for ; len(v) > 0; v = v[n:] {
		softmaxRow8(v[:n], sc, &c)
	}
	archsimd.ClearAVXUpperBits()
}

// causalSoftmaxAVX2 is vecCausalSoftmax on 8 lanes.
func causalSoftmaxAVX2(v []float32, keys, first int, scale float32) {
	var c expConsts8
	c.init()
	sc := archsimd.BroadcastFloat32x8(scale)
	var zero archsimd.Float32x8
	for seen := first + 1; len(v) > 0; seen++ {
		softmaxRow8(v[:seen], sc, &c)
		w := v[seen:keys]
		for ; len(w) >= 8; w = w[8:] {
			zero.Store((*[8]float32)(w))
		}
		clear(w)
		v = v[keys:]
	}
	archsimd.ClearAVXUpperBits()
}

// softmaxRow8 is softmaxRow on 8 lanes.
func softmaxRow8(v []float32, sc archsimd.Float32x8, c *expConsts8) {
	top := scaleMax8(v, sc)
	var zero archsimd.Float32x8
	// A row of -Inf: subtract 0 instead, so that every exp is 0.
	top = zero.Merge(top, top.Equal(splat8(0xff800000)))
	// Even vectors add up in s0, odd ones in s1 (the partial last one as
	// its index says).
	var s0, s1 archsimd.Float32x8
	w := v
	for ; len(w) >= 16; w = w[16:] {
		e, f := exp8x2(load8(w).Sub(top), load8(w[8:]).Sub(top), c)
		e.Store((*[8]float32)(w))
		f.Store((*[8]float32)(w[8:]))
		s0, s1 = s0.Add(e), s1.Add(f)
	}
	odd := false
	if len(w) >= 8 {
		e := exp8(load8(w).Sub(top), c)
		e.Store((*[8]float32)(w))
		s0, odd = s0.Add(e), true
		w = w[8:]
	}
	if len(w) > 0 {
		e := exp8(archsimd.LoadFloat32x8SlicePart(w).Sub(top), c)
		e.StoreSlicePart(w)
		if e = e.Masked(tailMask8(len(w))); odd {
			s1 = s1.Add(e)
		} else {
			s0 = s0.Add(e)
		}
	}
	total := archsimd.BroadcastFloat32x8(hsum8(s0.Add(s1)))
	// Only a row of -Inf sums to 0: multiply its zeros by 1.
	inv := c.one.Div(c.one.Merge(total, total.Equal(zero)))
	for w = v; len(w) >= 8; w = w[8:] {
		load8(w).Mul(inv).Store((*[8]float32)(w))
	}
	if len(w) > 0 {
		archsimd.LoadFloat32x8SlicePart(w).Mul(inv).StoreSlicePart(w)
	}
}

// scaleMax8 multiplies v by sc and returns its largest value in every lane.
func scaleMax8(v []float32, sc archsimd.Float32x8) archsimd.Float32x8 {
	negInf := splat8(0xff800000)
	t0, t1 := negInf, negInf
	for ; len(v) >= 8; v = v[8:] {
		x := load8(v).Mul(sc)
		x.Store((*[8]float32)(v))
		t0, t1 = t1, t0.Max(x)
	}
	if len(v) > 0 {
		x := archsimd.LoadFloat32x8SlicePart(v).Mul(sc)
		x.StoreSlicePart(v)
		t0 = t0.Max(x.Merge(negInf, tailMask8(len(v))))
	}
	return hmax8(t0.Max(t1))
}

// geluAVX2 is vecGELU on 8 lanes (gelu16's operations).
func geluAVX2(v []float32) {
	var c expConsts8
	c.init()
	k := [7]archsimd.Float32x8{
		archsimd.BroadcastFloat32x8(-0.5), archsimd.BroadcastFloat32x8(0.5),
		archsimd.BroadcastFloat32x8(1 / math.Sqrt2), archsimd.BroadcastFloat32x8(geluP),
		archsimd.BroadcastFloat32x8(geluA1), archsimd.BroadcastFloat32x8(geluA2), archsimd.BroadcastFloat32x8(geluA3),
	}
	a4, a5 := archsimd.BroadcastFloat32x8(geluA4), archsimd.BroadcastFloat32x8(geluA5)
	abs := archsimd.BroadcastUint32x8(0x7fffffff)
	var zero archsimd.Float32x8
	gelu := func(x archsimd.Float32x8) archsimd.Float32x8 {
		e := exp8(x.Mul(k[0]).Mul(x), &c)
		z := x.AsUint32x8().And(abs).AsFloat32x8().Mul(k[2])
		t := c.one.Div(k[3].MulAdd(z, c.one))
		q := a5.MulAdd(t, a4)
		q = q.MulAdd(t, k[6])
		q = q.MulAdd(t, k[5])
		q = q.MulAdd(t, k[4])
		half := q.Mul(t).Mul(e).Mul(k[1])
		return x.Mul(half.Merge(c.one.Sub(half), x.Less(zero)))
	}
	for len(v) >= 8 {
		gelu(load8(v)).Store((*[8]float32)(v))
		v = v[8:]
	}
	if len(v) > 0 {
		gelu(archsimd.LoadFloat32x8SlicePart(v)).StoreSlicePart(v)
	}
	archsimd.ClearAVXUpperBits()
}

// addLayerNormAVX2 is vecAddLayerNorm on 8 lanes.
func addLayerNormAVX2(x, y, weight, bias []float32, eps float32) {
	h := len(weight)
	invN := archsimd.BroadcastFloat32x8(1 / float32(h))
	epsv := archsimd.BroadcastFloat32x8(eps)
	one := archsimd.BroadcastFloat32x8(1)
	for t := 0; t < len(x); t += h {
		var yt []float32
		if y != nil {
			yt = y[t : t+h]
		}
		normRow8(x[t:t+h], yt, weight, bias, invN, epsv, one)
	}
	archsimd.ClearAVXUpperBits()
}

// normRow8 is normRow on 8 lanes.
func normRow8(x, y, weight, bias []float32, invN, eps, one archsimd.Float32x8) {
	var s0, s1 archsimd.Float32x8
	w := x
	for ; len(w) >= 8; w = w[8:] {
		v := load8(w)
		if y != nil {
			v = v.Add(load8(y))
			v.Store((*[8]float32)(w))
			y = y[8:]
		}
		s0, s1 = s1, s0.Add(v)
	}
	if len(w) > 0 {
		v := archsimd.LoadFloat32x8SlicePart(w)
		if y != nil {
			v = v.Add(archsimd.LoadFloat32x8SlicePart(y))
			v.StoreSlicePart(w)
		}
		s0 = s0.Add(v)
	}
	mean := archsimd.BroadcastFloat32x8(hsum8(s0.Add(s1))).Mul(invN)
	s0, s1 = archsimd.Float32x8{}, archsimd.Float32x8{}
	for w = x; len(w) >= 8; w = w[8:] {
		d := load8(w).Sub(mean)
		s0, s1 = s1, d.MulAdd(d, s0)
	}
	if len(w) > 0 {
		d := archsimd.LoadFloat32x8SlicePart(w).Sub(mean).Masked(tailMask8(len(w)))
		s0 = d.MulAdd(d, s0)
	}
	variance := archsimd.BroadcastFloat32x8(hsum8(s0.Add(s1))).Mul(invN)
	inv := one.Div(variance.Add(eps).Sqrt())
	for len(x) >= 8 && len(weight) >= 8 && len(bias) >= 8 {
		xx := (*[8]float32)(x)
		d := archsimd.LoadFloat32x8(xx).Sub(mean).Mul(inv)
		d.MulAdd(load8(weight), load8(bias)).Store(xx)
		x, weight, bias = x[8:], weight[8:], bias[8:]
	}
	if len(x) > 0 {
		d := archsimd.LoadFloat32x8SlicePart(x).Sub(mean).Mul(inv)
		wv, bv := archsimd.LoadFloat32x8SlicePart(weight), archsimd.LoadFloat32x8SlicePart(bias)
		d.MulAdd(wv, bv).StoreSlicePart(x)
	}
}

// sumSquaresAVX2 is vecSumSquares on 8 lanes.
func sumSquaresAVX2(x []float32) float32 {
	var s0, s1, s2, s3 archsimd.Float32x8
	for ; len(x) >= 32; x = x[32:] {
		a, b, c, d := load8(x), load8(x[8:]), load8(x[16:]), load8(x[24:])
		s0, s1, s2, s3 = a.MulAdd(a, s0), b.MulAdd(b, s1), c.MulAdd(c, s2), d.MulAdd(d, s3)
	}
	for ; len(x) >= 8; x = x[8:] {
		a := load8(x)
		s0 = a.MulAdd(a, s0)
	}
	if len(x) > 0 {
		a := archsimd.LoadFloat32x8SlicePart(x)
		s1 = a.MulAdd(a, s1)
	}
	sum := hsum8(s0.Add(s1).Add(s2.Add(s3)))
	archsimd.ClearAVXUpperBits()
	return sum
}

// scaleMulAVX2 is vecScaleMul on 8 lanes.
func scaleMulAVX2(out, x, w []float32, inv float32) {
	iv := archsimd.BroadcastFloat32x8(inv)
	for ; len(x) >= 8; x, w, out = x[8:], w[8:], out[8:] {
		load8(w).Mul(load8(x).Mul(iv)).Store((*[8]float32)(out))
	}
	if len(x) > 0 {
		a := archsimd.LoadFloat32x8SlicePart(x).Mul(iv)
		archsimd.LoadFloat32x8SlicePart(w).Mul(a).StoreSlicePart(out[:len(x)])
	}
	archsimd.ClearAVXUpperBits()
}

// addAVX2 is vecAdd on 8 lanes.
func addAVX2(dst, src []float32) {
	for ; len(dst) >= 8; dst, src = dst[8:], src[8:] {
		load8(dst).Add(load8(src)).Store((*[8]float32)(dst))
	}
	if len(dst) > 0 {
		archsimd.LoadFloat32x8SlicePart(dst).Add(archsimd.LoadFloat32x8SlicePart(src)).StoreSlicePart(dst)
	}
	archsimd.ClearAVXUpperBits()
}

// ropeAVX2 is ropeGo on 8 lanes (d a multiple of 8 for pairs, of 16 for
// halves): the same products and
// sums (a·sin + b·cos added as b·cos + a·sin, the same sum), no fused
// multiply-add.
func ropeAVX2(v []float32, d int, angles []float32, pairs bool) {
	half := d / 2
	for h := 0; h < len(v); h += d {
		head := v[h : h+d : h+d]
		if pairs {
			ropePairs8(head, angles)
			continue
		}
		for i := 0; i < half; i += 8 {
			// Angles i…i+7: (c s) pairs in two vectors, split into cosines
			// and sines (in the order 0 1 4 5 2 3 6 7, put right by Permute).
			a0, a1 := load8(angles[2*i:]), load8(angles[2*i+8:])
			c := a0.SelectFromPairGrouped(0, 2, 4, 6, a1).Permute(ropeOrder)
			s := a0.SelectFromPairGrouped(1, 3, 5, 7, a1).Permute(ropeOrder)
			x0, x1 := load8(head[i:]), load8(head[half+i:])
			x0.Mul(c).Sub(x1.Mul(s)).Store((*[8]float32)(head[i:]))
			x0.Mul(s).Add(x1.Mul(c)).Store((*[8]float32)(head[half+i:]))
		}
	}
	archsimd.ClearAVXUpperBits()
}

// ropeOrder puts lanes 0 1 4 5 2 3 6 7 back in order.
var ropeOrder = archsimd.LoadUint32x8(&[8]uint32{0, 1, 4, 5, 2, 3, 6, 7})

// ropePairs8 rotates the adjacent pairs of one head, four pairs a vector:
// x·(c c) and swap(x)·(s s), then even lanes subtract and odd lanes add.
func ropePairs8(head, angles []float32) {
	for i := 0; i+8 <= len(head); i += 8 {
		x, a := load8(head[i:]), load8(angles[i:])
		c := a.SelectFromPairGrouped(0, 0, 2, 2, a)
		s := a.SelectFromPairGrouped(1, 1, 3, 3, a)
		swapped := x.SelectFromPairGrouped(1, 0, 3, 2, x)
		x.Mul(c).AddSub(swapped.Mul(s)).Store((*[8]float32)(head[i:]))
	}
}
