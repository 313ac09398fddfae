package tensor

import (
	"fmt"
	"math"
)

// Kernels of encoder layers (BERT) besides the matrix multiplies: the exact
// GELU, layer normalization after a residual addition, and the softmax of
// attention scores.

// Abramowitz and Stegun 7.1.26: erfc(z) ≈ t·(a1 + t·(a2 + t·(a3 + t·(a4 +
// t·a5))))·exp(-z²) with t = 1/(1 + geluP·z), z ≥ 0, absolute error below
// 1.5e-7.
const (
	geluP  = 0.3275911
	geluA1 = 0.254829592
	geluA2 = -0.284496736
	geluA3 = 1.421413741
	geluA4 = -1.453152027
	geluA5 = 1.061405429
)

// GELU sets each v[i] to v[i]·Φ(v[i]), the GELU in its exact erf form
// (Φ(x) = (1 + erf(x/√2))/2), with erf from Abramowitz and Stegun 7.1.26
// and the exponential of Exp. Φ of negative inputs is computed as
// erfc(|x|/√2)/2 directly, so small values keep their relative precision.
func GELU(v []float32) { vecGELU(v) }

// geluGo is the portable GELU of one value: the same operations as the
// vector kernel (which fuses the polynomial's multiply-adds).
func geluGo(x float32) float32 {
	e := expGo(float32(-0.5*x) * x)
	z := float32(math.Abs(float64(x))) * (1 / math.Sqrt2)
	t := 1 / (1 + float32(geluP*z))
	q := float32(geluA5*t) + geluA4
	q = float32(q*t) + geluA3
	q = float32(q*t) + geluA2
	q = float32(q*t) + geluA1
	half := float32(float32(q*t)*e) * 0.5 // erfc(|z|)/2
	if x < 0 {
		return x * half
	}
	return x * (1 - half)
}

func geluSliceGo(v []float32) {
	for i, x := range v {
		v[i] = geluGo(x)
	}
}

// AddLayerNorm sets each vector of x (len(weight) values, one after the
// other) to LayerNorm(x + y): (s − mean(s))/√(var(s) + eps)·weight + bias
// with s = x + y (y nil: s = x), the mean and variance over the vector's
// values. bias holds len(weight) values and y, when not nil, len(x). It
// panics when len(x) is not a multiple of len(weight).
func AddLayerNorm(x, y, weight, bias []float32, eps float32) {
	h := len(weight)
	if h == 0 || len(x)%h != 0 {
		panic(fmt.Sprintf("tensor.AddLayerNorm: %d values in vectors of %d", len(x), h))
	}
	bias = bias[:h]
	if y != nil {
		y = y[:len(x)]
	}
	vecAddLayerNorm(x, y, weight, bias, eps)
}

// addLayerNormGo is the portable AddLayerNorm.
func addLayerNormGo(x, y, weight, bias []float32, eps float32) {
	h := len(weight)
	for t := 0; t < len(x); t += h {
		var yt []float32
		if y != nil {
			yt = y[t : t+h]
		}
		addLayerNormRow(x[t:t+h], yt, weight, bias, eps)
	}
}

// addLayerNormRow is the portable AddLayerNorm of one vector, its sums in
// float64.
func addLayerNormRow(x, y, weight, bias []float32, eps float32) {
	var sum, sq float64
	for i := range x {
		if y != nil {
			x[i] += y[i]
		}
		sum += float64(x[i])
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	for i, v := range x {
		x[i] = float32((float64(v)-mean)*inv)*weight[i] + bias[i]
	}
}

// ScaledSoftmax sets each row of v (n values, one after the other) to
// softmax(scale·row) (attention scores, scale = 1/√d), normalizing by one
// reciprocal of the sum. A row of -Inf becomes zeros. It panics unless
// n > 0 and len(v) is a multiple of n.
func ScaledSoftmax(v []float32, n int, scale float32) {
	if n <= 0 || len(v)%n != 0 {
		panic(fmt.Sprintf("tensor.ScaledSoftmax: %d values in rows of %d", len(v), n))
	}
	vecScaledSoftmax(v, n, scale)
}

// CausalSoftmax is ScaledSoftmax over the rows of a causal attention, in
// one call: v holds rows of keys values; row t keeps its first first+t+1
// values, set as ScaledSoftmax sets a row of that many (the same bits), and
// the rest of the row becomes 0. It panics unless keys > 0, len(v) is a
// multiple of keys, first ≥ 0 and every row's values fit in it (first plus
// the number of rows at most keys).
func CausalSoftmax(v []float32, keys, first int, scale float32) {
	if keys <= 0 || len(v)%keys != 0 {
		panic(fmt.Sprintf("tensor.CausalSoftmax: %d values in rows of %d", len(v), keys))
	}
	if rows := len(v) / keys; first < 0 || first+rows > keys {
		panic(fmt.Sprintf("tensor.CausalSoftmax: %d rows of %d keys after %d earlier positions", rows, keys, first))
	}
	vecCausalSoftmax(v, keys, first, scale)
}

func causalSoftmaxGo(v []float32, keys, first int, scale float32) {
	for seen := first + 1; len(v) > 0; seen++ {
		scaledSoftmaxRow(v[:seen], scale)
		clear(v[seen:keys])
		v = v[keys:]
	}
}

func scaledSoftmaxGo(v []float32, n int, scale float32) {
	for ; len(v) > 0; v = v[n:] {
		scaledSoftmaxRow(v[:n], scale)
	}
}

func scaledSoftmaxRow(v []float32, scale float32) {
	negInf := float32(math.Inf(-1))
	top := negInf
	for i, x := range v {
		v[i] = float32(x * scale)
		top = max(top, v[i])
	}
	if top == negInf {
		clear(v)
		return
	}
	var sum float32
	for i, x := range v {
		v[i] = expGo(x - top)
		sum += v[i]
	}
	inv := 1 / sum
	for i := range v {
		v[i] *= inv
	}
}
