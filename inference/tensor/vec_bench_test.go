package tensor

import (
	"fmt"
	"math"
	"testing"
)

// The vector kernel benchmarks report ns/element at the SmolLM2-135M
// lengths: 64 (head size), 200 (attention row of a 200-token prompt) and
// 1536 (feed-forward width). Run with and without GOEXPERIMENT=simd.
func benchVec(b *testing.B, fn func(v, w []float32)) {
	for _, n := range []int{64, 200, 1536} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			v := make([]float32, n)
			w := make([]float32, n)
			for i := range v {
				v[i] = testInput(i) / 4
				w[i] = testInput(i + 7)
			}
			for b.Loop() {
				fn(v, w)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
		})
	}
}

// sink keeps Dot's result alive.
func sink(x float32) {
	if x == 42.4242 {
		panic("unreachable")
	}
}

func BenchmarkVecDot(b *testing.B) {
	benchVec(b, func(v, w []float32) { sink(Dot(v, w)) })
}

func BenchmarkVecAxpy(b *testing.B) {
	benchVec(b, func(v, w []float32) { Axpy(v, 1e-9, w) })
}

// Exp and SiLUMul run on a fresh copy each time so that the inputs stay in
// range; the copy is part of the time.
func BenchmarkVecExp(b *testing.B) {
	benchVec(b, func(v, w []float32) { copy(v, w); Exp(v) })
}

func BenchmarkVecSoftmax(b *testing.B) {
	benchVec(b, func(v, w []float32) { copy(v, w); Softmax(v) })
}

func BenchmarkVecSiLUMul(b *testing.B) {
	benchVec(b, func(v, w []float32) { copy(v, w); SiLUMul(v, w) })
}

// BenchmarkVecMathExp is the float64 math.Exp per element, for comparison.
func BenchmarkVecMathExp(b *testing.B) {
	benchVec(b, func(v, w []float32) {
		for i, x := range w {
			v[i] = float32(math.Exp(float64(x)))
		}
	})
}

// BenchmarkVecCopy is the copy included in the Exp, Softmax and SiLUMul
// benchmarks.
func BenchmarkVecCopy(b *testing.B) {
	benchVec(b, func(v, w []float32) { copy(v, w) })
}
