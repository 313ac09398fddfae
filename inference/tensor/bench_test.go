package tensor

import (
	"fmt"
	"testing"
)

// The benchmarks report GB/s of weight bytes for the SmolLM2-135M shapes:
// 576×1536 (ffn_down) and 49152×576 (the output head).
func benchMul(b *testing.B, dt DType, n int) {
	for _, shape := range [][2]int{{576, 1536}, {49152, 576}} {
		b.Run(fmt.Sprintf("%dx%d/n=%d", shape[0], shape[1], n), func(b *testing.B) {
			m := randMatrix(b, dt, shape[0], shape[1], 1)
			x := randFloats(2, n*m.Cols, 1)
			out := make([]float32, n*m.Rows)
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				m.MulRows(out, x, n, 0, m.Rows)
			}
		})
	}
}

func BenchmarkMulRowsF32(b *testing.B)  { benchMul(b, F32, 1) }
func BenchmarkMulRowsF16(b *testing.B)  { benchMul(b, F16, 1) }
func BenchmarkMulRowsBF16(b *testing.B) { benchMul(b, BF16, 1) }
func BenchmarkMulRowsQ4_0(b *testing.B) { benchMul(b, Q4_0, 1) }
func BenchmarkMulRowsQ4_1(b *testing.B) { benchMul(b, Q4_1, 1) }
func BenchmarkMulRowsQ8_0(b *testing.B) { benchMul(b, Q8_0, 1) }

// BenchmarkMulRowsBatch is the prefill case: 8 vectors per call.
func BenchmarkMulRowsBatch(b *testing.B) {
	for _, dt := range []DType{Q4_1, Q8_0} {
		b.Run(dt.String(), func(b *testing.B) { benchMul(b, dt, 8) })
	}
}
