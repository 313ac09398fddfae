//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
)

// AVX-512 GELU, layer normalization and scaled softmax, 16 values at a
// time, the last partial vector masked; as in vec_simd_amd64.go, the vector
// sections hold no scalar float code. The row kernels take many rows per
// call, so that the switch out of vector code happens once.

func vecGELU(v []float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			geluAVX2(v)
			return
		}
		geluSliceGo(v)
		return
	}
	var c geluConsts
	c.init()
	for len(v) >= 16 {
		gelu16(load16(v), &c).Store((*[16]float32)(v))
		v = v[16:]
	}
	if len(v) > 0 {
		gelu16(archsimd.LoadFloat32x16SlicePart(v), &c).StoreSlicePart(v)
	}
	archsimd.ClearAVXUpperBits()
}

// geluConsts are GELU's broadcast constants, set in place (see expConsts).
type geluConsts struct {
	exp                             expConsts
	negHalf, half, abs, invSqrt2, p archsimd.Float32x16
	a1, a2, a3, a4, a5              archsimd.Float32x16
}

func (c *geluConsts) init() {
	c.exp.init()
	c.negHalf = splat(math.Float32bits(-0.5))
	c.half = splat(math.Float32bits(0.5))
	c.abs = splat(0x7fffffff)
	c.invSqrt2 = splat(math.Float32bits(1 / math.Sqrt2))
	c.p = splat(math.Float32bits(geluP))
	c.a1 = splat(math.Float32bits(geluA1))
	c.a2 = splat(math.Float32bits(geluA2))
	c.a3 = splat(math.Float32bits(geluA3))
	c.a4 = splat(math.Float32bits(geluA4))
	c.a5 = splat(math.Float32bits(geluA5))
}

// gelu16 is geluGo on 16 lanes.
func gelu16(x archsimd.Float32x16, c *geluConsts) archsimd.Float32x16 {
	e := exp16(x.Mul(c.negHalf).Mul(x), &c.exp)
	z := x.AsUint32x16().And(c.abs.AsUint32x16()).AsFloat32x16().Mul(c.invSqrt2)
	t := c.exp.one.Div(c.p.MulAdd(z, c.exp.one))
	q := c.a5.MulAdd(t, c.a4)
	q = q.MulAdd(t, c.a3)
	q = q.MulAdd(t, c.a2)
	q = q.MulAdd(t, c.a1)
	half := q.Mul(t).Mul(e).Mul(c.half)
	var zero archsimd.Float32x16
	phi := half.Merge(c.exp.one.Sub(half), x.Less(zero))
	return x.Mul(phi)
}

func vecAddLayerNorm(x, y, weight, bias []float32, eps float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			addLayerNormAVX2(x, y, weight, bias, eps)
			return
		}
		addLayerNormGo(x, y, weight, bias, eps)
		return
	}
	h := len(weight)
	c := normConsts{
		invN: splat(math.Float32bits(1 / float32(h))),
		eps:  splat(math.Float32bits(eps)),
		one:  splat(math.Float32bits(1)),
	}
	for t := 0; t < len(x); t += h {
		var yt []float32
		if y != nil {
			yt = y[t : t+h]
		}
		normRow(x[t:t+h], yt, weight, bias, &c)
	}
	archsimd.ClearAVXUpperBits()
}

// normConsts are AddLayerNorm's broadcast constants: 1/len(weight), eps
// and 1.
type normConsts struct {
	invN, eps, one archsimd.Float32x16
}

// normRow is AddLayerNorm of one vector.
func normRow(x, y, weight, bias []float32, c *normConsts) {
	mean := hsum(addSum(x, y)).Broadcast1To16().Mul(c.invN)
	variance := hsum(sqDiff(x, mean)).Broadcast1To16().Mul(c.invN)
	inv := c.one.Div(variance.Add(c.eps).Sqrt())
	for len(x) >= 16 && len(weight) >= 16 && len(bias) >= 16 {
		xx := (*[16]float32)(x)
		d := archsimd.LoadFloat32x16(xx).Sub(mean).Mul(inv)
		d.MulAdd(load16(weight), load16(bias)).Store(xx)
		x, weight, bias = x[16:], weight[16:], bias[16:]
	}
	if len(x) > 0 {
		d := archsimd.LoadFloat32x16SlicePart(x).Sub(mean).Mul(inv)
		w, b := archsimd.LoadFloat32x16SlicePart(weight), archsimd.LoadFloat32x16SlicePart(bias)
		d.MulAdd(w, b).StoreSlicePart(x)
	}
}

// addSum adds y to x (y nil: nothing) and returns the lanes' sums of x.
func addSum(x, y []float32) archsimd.Float32x16 {
	var s0, s1 archsimd.Float32x16
	for len(x) >= 16 {
		xx := (*[16]float32)(x)
		v := archsimd.LoadFloat32x16(xx)
		if y != nil {
			v = v.Add(load16(y))
			v.Store(xx)
			y = y[16:]
		}
		s0, s1 = s1, s0.Add(v)
		x = x[16:]
	}
	if len(x) > 0 {
		v := archsimd.LoadFloat32x16SlicePart(x)
		if y != nil {
			v = v.Add(archsimd.LoadFloat32x16SlicePart(y))
			v.StoreSlicePart(x)
		}
		s0 = s0.Add(v)
	}
	return s0.Add(s1)
}

// sqDiff returns the lanes' sums of (x − mean)².
func sqDiff(x []float32, mean archsimd.Float32x16) archsimd.Float32x16 {
	var s0, s1 archsimd.Float32x16
	for len(x) >= 16 {
		d := load16(x).Sub(mean)
		s0, s1 = s1, d.MulAdd(d, s0)
		x = x[16:]
	}
	if len(x) > 0 {
		d := archsimd.LoadFloat32x16SlicePart(x).Sub(mean).Masked(tailMask(len(x)))
		s0 = d.MulAdd(d, s0)
	}
	return s0.Add(s1)
}

func vecScaledSoftmax(v []float32, n int, scale float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			scaledSoftmaxAVX2(v, n, scale)
			return
		}
		scaledSoftmaxGo(v, n, scale)
		return
	}
	bits := math.Float32bits(scale) // scalar float code before the vector code
	var c expConsts
	c.init()
	sc := splat(bits)
	for ; len(v) > 0; v = v[n:] {
		softmaxRow(v[:n], sc, &c)
	}
	archsimd.ClearAVXUpperBits()
}

func vecCausalSoftmax(v []float32, keys, first int, scale float32) {
	if !archsimd.X86.AVX512() {
		if fmaAVX2 {
			causalSoftmaxAVX2(v, keys, first, scale)
			return
		}
		causalSoftmaxGo(v, keys, first, scale)
		return
	}
	bits := math.Float32bits(scale) // scalar float code before the vector code
	var c expConsts
	c.init()
	sc := splat(bits)
	for seen := first + 1; len(v) > 0; seen++ {
		softmaxRow(v[:seen], sc, &c)
		zeroFloats(v[seen:keys])
		v = v[keys:]
	}
	archsimd.ClearAVXUpperBits()
}

// zeroFloats sets v to zeros with vector stores.
func zeroFloats(v []float32) {
	var zero archsimd.Float32x16
	for ; len(v) >= 16; v = v[16:] {
		zero.Store((*[16]float32)(v))
	}
	if len(v) > 0 {
		zero.StoreSlicePart(v)
	}
}

// softmaxRow is ScaledSoftmax of one row.
func softmaxRow(v []float32, sc archsimd.Float32x16, c *expConsts) {
	top := scaleMax(v, sc)
	var zero archsimd.Float32x16
	// A row of -Inf: subtract 0 instead, so that every exp is 0.
	top = zero.Merge(top, top.Equal(splat(0xff800000)))
	var s0, s1 archsimd.Float32x16
	w := v
	for ; len(w) >= 16; w = w[16:] {
		e := exp16(load16(w).Sub(top), c)
		e.Store((*[16]float32)(w))
		s0, s1 = s1, s0.Add(e)
	}
	if len(w) > 0 {
		e := exp16(archsimd.LoadFloat32x16SlicePart(w).Sub(top), c)
		e.StoreSlicePart(w)
		s0 = s0.Add(e.Masked(tailMask(len(w))))
	}
	total := hsum(s0.Add(s1)).Broadcast1To16()
	// Only a row of -Inf sums to 0: multiply its zeros by 1.
	inv := c.one.Div(c.one.Merge(total, total.Equal(zero)))
	for w = v; len(w) >= 16; w = w[16:] {
		load16(w).Mul(inv).Store((*[16]float32)(w))
	}
	if len(w) > 0 {
		archsimd.LoadFloat32x16SlicePart(w).Mul(inv).StoreSlicePart(w)
	}
}

// scaleMax multiplies v by sc and returns its largest value in every lane.
func scaleMax(v []float32, sc archsimd.Float32x16) archsimd.Float32x16 {
	negInf := splat(0xff800000)
	t0, t1 := negInf, negInf
	for ; len(v) >= 16; v = v[16:] {
		x := load16(v).Mul(sc)
		x.Store((*[16]float32)(v))
		t0, t1 = t1, t0.Max(x)
	}
	if len(v) > 0 {
		x := archsimd.LoadFloat32x16SlicePart(v).Mul(sc)
		x.StoreSlicePart(v)
		t0 = t0.Max(x.Merge(negInf, tailMask(len(v))))
	}
	return hmax(t0.Max(t1)).Broadcast1To16()
}
