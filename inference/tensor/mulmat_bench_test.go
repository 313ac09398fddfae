package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// benchMulMat multiplies 200 vectors (a prompt prefill) with the
// SmolLM2-135M shapes 1536×576 (ffn_gate/up) and 576×1536 (ffn_down),
// by MulMat and by MulRows, on GOMAXPROCS goroutines splitting the rows at
// multiples of 16, and reports GFLOP/s (2·rows·cols·n per call).
func benchMulMat(b *testing.B, dt DType) {
	const n = 200
	for _, shape := range [][2]int{{1536, 576}, {576, 1536}} {
		m := randMatrix(b, dt, shape[0], shape[1], 1)
		x := randFloats(2, n*m.Cols, 1)
		out := make([]float32, n*m.Rows)
		for _, f := range []struct {
			name string
			mul  func(out, x []float32, n, r0, r1 int)
		}{{"MulMat", m.MulMat}, {"MulRows", m.MulRows}} {
			b.Run(fmt.Sprintf("%dx%d/n=%d/%s", m.Rows, m.Cols, n, f.name), func(b *testing.B) {
				workers := runtime.GOMAXPROCS(0)
				step := (m.Rows + 16*workers - 1) / (16 * workers) * 16
				for b.Loop() {
					var wg sync.WaitGroup
					for r0 := 0; r0 < m.Rows; r0 += step {
						wg.Go(func() { f.mul(out, x, n, r0, min(r0+step, m.Rows)) })
					}
					wg.Wait()
				}
				flop := 2 * float64(m.Rows) * float64(m.Cols) * n * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkMulMatF32(b *testing.B)  { benchMulMat(b, F32) }
func BenchmarkMulMatF16(b *testing.B)  { benchMulMat(b, F16) }
func BenchmarkMulMatBF16(b *testing.B) { benchMulMat(b, BF16) }
func BenchmarkMulMatQ4_0(b *testing.B) { benchMulMat(b, Q4_0) }
func BenchmarkMulMatQ4_1(b *testing.B) { benchMulMat(b, Q4_1) }
func BenchmarkMulMatQ8_0(b *testing.B) { benchMulMat(b, Q8_0) }

// BenchmarkMulMatQ8 is benchMulMat with int8 activations (MulMatQ8, and
// MulRowsQ8 for comparison), quantization of the vectors included.
func BenchmarkMulMatQ8(b *testing.B) {
	needVNNIBench(b)
	const n = 200
	for _, dt := range []DType{Q4_1, Q8_0} {
		for _, shape := range [][2]int{{1536, 576}, {576, 1536}} {
			m := randMatrix(b, dt, shape[0], shape[1], 1)
			x := randFloats(2, n*m.Cols, 1)
			out := make([]float32, n*m.Rows)
			for _, f := range []struct {
				name  string
				tiled bool
				mul   func(out []float32, x *Q8Vectors, r0, r1 int)
			}{{"MulMatQ8", true, m.MulMatQ8}, {"MulRowsQ8", false, m.MulRowsQ8}} {
				b.Run(fmt.Sprintf("%s/%dx%d/n=%d/%s", dt, m.Rows, m.Cols, n, f.name), func(b *testing.B) {
					workers := runtime.GOMAXPROCS(0)
					step := (m.Rows + 16*workers - 1) / (16 * workers) * 16
					for b.Loop() {
						xq := QuantizeQ8(x, n, m.Cols, f.tiled)
						var wg sync.WaitGroup
						for r0 := 0; r0 < m.Rows; r0 += step {
							wg.Go(func() { f.mul(out, xq, r0, min(r0+step, m.Rows)) })
						}
						wg.Wait()
					}
					flop := 2 * float64(m.Rows) * float64(m.Cols) * n * float64(b.N)
					b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
