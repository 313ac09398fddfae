package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
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

// fakeMatrix fills a matrix with random quants and a fixed normal fp16
// scale (0.0625) in every block, without the cost of quantizing.
func fakeMatrix(dt DType, rows, cols int, r *rand.Rand) *Matrix {
	rb, _ := RowBytes(dt, cols)
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for b := 0; b < len(data); b += dt.BlockBytes() {
		data[b], data[b+1] = 0x00, 0x2c
	}
	m, _ := NewMatrix(dt, rows, cols, data)
	return m
}

// BenchmarkSmolLM2Decode multiplies one vector with every weight matrix of
// SmolLM2-135M (30 layers of Q4_1, the Q8_0 output head): the matrix work of
// one decoded token, reading ~96 MB of weights. It runs on one goroutine
// and on GOMAXPROCS goroutines splitting the rows.
func BenchmarkSmolLM2Decode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var ms []*Matrix
	for range 30 {
		for _, s := range [][2]int{{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}} {
			ms = append(ms, fakeMatrix(Q4_1, s[0], s[1], r))
		}
	}
	ms = append(ms, fakeMatrix(Q8_0, 49152, 576, r))
	var total int64
	for _, m := range ms {
		total += int64(len(m.Data))
	}
	x := randFloats(3, 1536, 1)
	out := make([]float32, 49152)
	for _, layout := range []string{"rows", "interleaved"} {
		if layout == "interleaved" {
			for _, m := range ms {
				if !m.Interleave() {
					b.Skip("no interleaved-row kernels")
				}
			}
		}
		for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", layout, workers), func(b *testing.B) {
				b.SetBytes(total)
				for b.Loop() {
					for _, m := range ms {
						mulParallel(m, out, x, workers)
					}
				}
			})
		}
	}
}

func mulParallel(m *Matrix, out, x []float32, workers int) {
	var wg sync.WaitGroup
	step := (m.Rows + 16*workers - 1) / (16 * workers) * 16
	for r0 := 0; r0 < m.Rows; r0 += step {
		wg.Go(func() { m.MulRows(out, x[:m.Cols], 1, r0, min(r0+step, m.Rows)) })
	}
	wg.Wait()
}

// BenchmarkMulRowsQ8 is benchMul's decode case (one vector) with int8
// activations, quantization of the vector included.
func BenchmarkMulRowsQ8(b *testing.B) {
	needVNNIBench(b)
	for _, dt := range []DType{Q4_1, Q8_0} {
		for _, shape := range [][2]int{{576, 1536}, {49152, 576}} {
			b.Run(fmt.Sprintf("%s/%dx%d", dt, shape[0], shape[1]), func(b *testing.B) {
				m := randMatrix(b, dt, shape[0], shape[1], 1)
				x := randFloats(2, m.Cols, 1)
				out := make([]float32, m.Rows)
				b.SetBytes(int64(len(m.Data)))
				for b.Loop() {
					m.MulRowsQ8(out, QuantizeQ8(x, 1, m.Cols, false), 0, m.Rows)
				}
			})
		}
	}
}

// BenchmarkSmolLM2DecodeQ8 is BenchmarkSmolLM2Decode with int8
// activations (one quantization per matrix).
func BenchmarkSmolLM2DecodeQ8(b *testing.B) {
	needVNNIBench(b)
	r := rand.New(rand.NewPCG(1, 2))
	var ms []*Matrix
	for range 30 {
		for _, s := range [][2]int{{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}} {
			ms = append(ms, fakeMatrix(Q4_1, s[0], s[1], r))
		}
	}
	ms = append(ms, fakeMatrix(Q8_0, 49152, 576, r))
	var total int64
	for _, m := range ms {
		total += int64(len(m.Data))
	}
	x := randFloats(3, 1536, 1)
	out := make([]float32, 49152)
	for _, layout := range []string{"rows", "interleaved"} {
		if layout == "interleaved" {
			// Where the int8 kernels read the copy (AVX2): Q4_1 only.
			if !q8Rows16() {
				continue
			}
			for _, m := range ms {
				m.Interleave()
			}
		}
		for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", layout, workers), func(b *testing.B) {
				b.SetBytes(total)
				for b.Loop() {
					for _, m := range ms {
						xq := QuantizeQ8(x[:m.Cols], 1, m.Cols, false)
						var wg sync.WaitGroup
						step := (m.Rows + 16*workers - 1) / (16 * workers) * 16
						for r0 := 0; r0 < m.Rows; r0 += step {
							wg.Go(func() { m.MulRowsQ8(out, xq, r0, min(r0+step, m.Rows)) })
						}
						wg.Wait()
					}
				}
			})
		}
	}
}

func needVNNIBench(b *testing.B) {
	if !Q8Supported(Q4_1) {
		b.Skip("no int8 kernels on this CPU or in this build")
	}
}
