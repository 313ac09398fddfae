package tensor

import (
	"fmt"
	"math"
)

// Vector kernels for attention and activations: dot products, axpy, the
// exponential, softmax and the SwiGLU activation on float32 slices.
//
// The exponential is evaluated in float32 (Cephes' expf): x = n·ln2 + r with
// |r| ≤ ln2/2, exp(r) by a degree-7 polynomial, then scaled by 2ⁿ. Its
// relative error against the float64 math.Exp over [-87, 88] is below 9e-8
// (0.7 float32 ulp of 1; the tests allow 2e-7); inputs below
// about -103.3 give 0, above about 88.7 give +Inf, NaN gives NaN. Every
// kernel gives the same bits for the same input, whatever the alignment of
// the slices and wherever an element falls relative to the vector width.
// The AVX-512 and portable versions round differently (fused multiply-adds,
// summation order), so their results may differ in the last bits.

// Dot returns the dot product of a and b[:len(a)]; b must be at least as
// long as a.
func Dot(a, b []float32) float32 { return vecDot(a, b[:len(a)]) }

// Axpy adds a·x[i] to y[i] for every i < len(y); x must be at least as long
// as y.
func Axpy(y []float32, a float32, x []float32) { vecAxpy(y, a, x[:len(y)]) }

// DotRows sets out[j] = Dot(q, rows[j*stride:])·scale for every j <
// len(out): one query against the keys of an attention cache. Each result
// is the same bits as that Dot times scale.
func DotRows(out, q, rows []float32, stride int, scale float32) {
	if len(out) > 0 {
		_ = rows[(len(out)-1)*stride+len(q)-1]
	}
	if !dotRowsVector(out, q, rows, stride, scale) {
		for j := range out {
			out[j] = Dot(q, rows[j*stride:]) * scale
		}
	}
}

// AddRows sets o = Σ w[j]·rows[j*stride : j*stride+len(o)] over j <
// len(w), added in order from zero: the same bits as clearing o and calling
// Axpy for each row in turn (an attention's weighted values).
func AddRows(o, w, rows []float32, stride int) {
	if len(w) > 0 {
		_ = rows[(len(w)-1)*stride+len(o)-1]
	}
	if !addRowsVector(o, w, rows, stride) {
		clear(o)
		for j, a := range w {
			Axpy(o, a, rows[j*stride:])
		}
	}
}

// RMSNorm sets out[i] = w[i]·(x[i]·inv) for i < len(x), where inv =
// 1/√(Σx²/len(x) + eps): the RMS normalization of one row. out and w must
// be at least as long as x.
func RMSNorm(out, x, w []float32, eps float32) {
	out, w = out[:len(x)], w[:len(x)]
	sum := vecSumSquares(x)
	inv := float32(1 / math.Sqrt(float64(sum/float32(len(x))+eps)))
	vecScaleMul(out, x, w, inv)
}

// Add adds src[i] to dst[i] for every i < len(dst); src must be at least
// as long as dst.
func Add(dst, src []float32) { vecAdd(dst, src[:len(dst)]) }

// Exp replaces every element of v by its exponential.
func Exp(v []float32) { vecExp(v) }

// Softmax replaces v by exp(v[i]-max(v)) / Σ exp(v[j]-max(v)). Entries of
// -Inf (masked positions) become 0; a row with no entry above -Inf becomes
// all zeros. A NaN or +Inf entry makes the row NaN.
func Softmax(v []float32) { vecSoftmax(v) }

// Rope rotates every head of v (heads of d values) by the angles of one
// position: angles holds cos θ_i and sin θ_i interleaved for i < d/2, and
// pair i of a head is (2i, 2i+1) with pairs set (GGUF's layout), else
// (i, i+d/2). A pair (a, b) becomes (a·cos − b·sin, a·sin + b·cos), each
// product and sum rounded to float32 in turn.
func Rope(v []float32, d int, angles []float32, pairs bool) {
	if d%2 != 0 || len(v)%d != 0 || len(angles) < d {
		panic(fmt.Sprintf("tensor.Rope: %d values in heads of %d with %d angles", len(v), d, len(angles)))
	}
	vecRope(v, d, angles[:d], pairs)
}

func ropeGo(v []float32, d int, angles []float32, pairs bool) {
	half := d / 2
	for h := 0; h < len(v); h += d {
		head := v[h : h+d : h+d]
		for i := range half {
			c, s := angles[2*i], angles[2*i+1]
			a, b := i, i+half
			if pairs {
				a, b = 2*i, 2*i+1
			}
			x0, x1 := head[a], head[b]
			// The conversions keep each product rounded (no fused multiply-add).
			head[a], head[b] = float32(x0*c)-float32(x1*s), float32(x0*s)+float32(x1*c)
		}
	}
}

// SiLUMul replaces g[i] by SiLU(g[i])·u[i] = g[i]/(1+exp(-g[i]))·u[i], the
// SwiGLU activation; u must be at least as long as g. Large |g[i]| give
// g[i]·u[i] or ±0, never NaN; g[i] = -Inf gives NaN, as the formula does.
func SiLUMul(g, u []float32) { vecSiLUMul(g, u[:len(g)]) }

// Constants of the exponential (Cephes expf). ln2 is split into expC1, exact
// in 9 bits so that n·expC1 is exact, and expC2.
const (
	expLo    = -104 // exp(expLo) rounds to 0 in float32
	expHi    = 89   // exp(expHi) overflows to +Inf
	expLog2e = 1.44269504088896341
	expC1    = 0.693359375
	expC2    = -2.12194440e-4
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
	// roundMagic rounds a float32 below 2²² to an integer when added and
	// subtracted again.
	roundMagic = 12582912 // 1.5·2²³
)

// expGo is the portable float32 exponential. Each product is converted
// explicitly so that no platform fuses it into a multiply-add: the result
// is the same on every architecture.
func expGo(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expLo), expHi)
	n := float32(float32(x*expLog2e)+roundMagic) - roundMagic
	r := x - float32(n*expC1)
	r -= float32(n * expC2)
	q := float32(expP0*r) + expP1
	q = float32(q*r) + expP2
	q = float32(q*r) + expP3
	q = float32(q*r) + expP4
	q = float32(q*r) + expP5
	r2 := float32(r * r)
	y := float32(float32(q*r2)+r) + 1
	return scale2(y, int32(n))
}

// scale2 returns y·2ⁿ for -150 ≤ n ≤ 128 and y in [0.5, 2), rounding once:
// the first factor keeps y normal, the second rounds.
func scale2(y float32, n int32) float32 {
	n1 := n / 2
	n2 := n - n1
	y = float32(y * pow2(n1))
	return float32(y * pow2(n2))
}

// pow2 returns 2ⁿ for -126 ≤ n ≤ 127.
func pow2(n int32) float32 {
	return math.Float32frombits(uint32(n+127) << 23)
}

func expSliceGo(v []float32) {
	for i, x := range v {
		v[i] = expGo(x)
	}
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += float32(a[0] * b[0])
		s1 += float32(a[1] * b[1])
		s2 += float32(a[2] * b[2])
		s3 += float32(a[3] * b[3])
		a, b = a[4:], b[4:]
	}
	for i := range a {
		s0 += float32(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(a * x[i])
	}
}

func softmaxGo(v []float32) {
	negInf := float32(math.Inf(-1))
	top := negInf
	for _, x := range v {
		top = max(top, x)
	}
	if top == negInf {
		clear(v)
		return
	}
	var sum float32
	for i, x := range v {
		e := expGo(x - top)
		v[i] = e
		sum += e
	}
	for i := range v {
		v[i] /= sum
	}
}

func siluMulGo(g, u []float32) {
	u = u[:len(g)]
	for i, x := range g {
		g[i] = x / (1 + expGo(-x)) * u[i]
	}
}

func sumSquaresGo(x []float32) float32 {
	var sum float32
	for _, v := range x {
		sum += v * v
	}
	return sum
}

func scaleMulGo(out, x, w []float32, inv float32) {
	for i, v := range x {
		out[i] = w[i] * (v * inv)
	}
}

func addGo(dst, src []float32) {
	for i := range dst {
		dst[i] += src[i]
	}
}
