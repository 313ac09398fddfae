//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
)

func needAMX(t testing.TB) {
	if !amxCPU() {
		t.Skip("CPU has no AMX bfloat16 tiles, or the kernel does not grant them")
	}
}

// bf16Nearest is x rounded to bfloat16, to nearest with ties to even
// (finite x whose rounding does not overflow).
func bf16Nearest(x float32) float32 {
	u := math.Float32bits(x)
	u += 0x7fff + (u>>16)&1
	return math.Float32frombits(u &^ 0xffff)
}

// TestAMXSplitPieces checks each vector's two pieces against a Go
// reference (hi is the value rounded to bfloat16, to nearest with ties to
// even, lo the rest rounded the same way, so hi + lo is within 2⁻¹⁷ of the
// value) and that the block sums are float32 sums of the values.
func TestAMXSplitPieces(t *testing.T) {
	needAMX(t)
	const n, cols = 19, 96
	x := randFloats(3, n*cols, 1)
	x[5], x[40], x[77] = 0, -1e-20, 3e38
	x[100] = math.Float32frombits(0x3fffffff) // every mantissa bit set
	x[101] = math.Float32frombits(0x3f808000) // a tie, rounded down to even
	x[102] = math.Float32frombits(0x3f818000) // a tie, rounded up to even
	v := PrepareAMX(x, n, cols)
	for b := range n {
		for i := range v.nb {
			pieces, s := amxLane(v, b, i)
			var sum float64
			for j := range QK {
				want := x[b*cols+i*QK+j]
				hi := math.Float32frombits(uint32(pieces[j]) << 16)
				lo := math.Float32frombits(uint32(pieces[QK+j]) << 16)
				if hi != bf16Nearest(want) || lo != bf16Nearest(want-hi) {
					t.Fatalf("vector %d column %d: pieces %g + %g, want %g + %g (value %g)",
						b, i*QK+j, hi, lo, bf16Nearest(want), bf16Nearest(want-hi), want)
				}
				if d := math.Abs(float64(hi) + float64(lo) - float64(want)); d > math.Abs(float64(want))/(1<<17) {
					t.Fatalf("vector %d column %d: pieces add to %g, value %g", b, i*QK+j, float64(hi)+float64(lo), want)
				}
				sum += float64(want)
			}
			if math.Abs(float64(s)-sum) > 1e-6*math.Abs(sum)+1e-30 && !math.IsInf(float64(s), 0) {
				t.Fatalf("vector %d block %d: sum %g, want %g", b, i, s, sum)
			}
		}
	}
}

// amxTol is the allowed error of MulMatAMX relative to Σ|w·x|: each
// activation's pieces are within 2⁻¹⁷ ≈ 7.6·10⁻⁶ of it, and that error is
// multiplied by d·q (Σ|d·q·x| is up to a few times Σ|w·x| where m = −8d
// cancels); the rest is float32 rounding. Leaving out the lo pieces breaks
// it by far (up to 2⁻⁹).
const amxTol = 3e-5

func TestMulMatAMXMatchesNaive(t *testing.T) {
	needAMX(t)
	const rows = 77
	for _, dt := range []DType{Q4_0, Q4_1} {
		for _, cols := range []int{32, 96, 576} {
			m := randMatrix(t, dt, rows, cols, uint64(dt)+uint64(cols))
			oddScales(m)
			var worst float64
			for _, n := range []int{1, 3, 16, 17, 64, 200} {
				x := randFloats(uint64(n)+100, n*cols, 1)
				want, mag := naiveMul(m, x, n)
				v := PrepareAMX(x, n, cols)
				for _, rr := range [][2]int{{0, rows}, {3, 20}, {5, 6}, {17, 77}, {9, 9}, {0, 32}, {32, 64}} {
					out := filled(n * rows)
					m.MulMatAMX(out, v, rr[0], rr[1])
					what := fmt.Sprintf("%s cols=%d n=%d rows [%d,%d)", dt, cols, n, rr[0], rr[1])
					worst = max(worst, checkMulTol(t, what, out, want, mag, rows, rr, amxTol))
				}
			}
			t.Logf("%s cols=%d: largest error %.3g of Σ|w·x|", dt, cols, worst)
		}
	}
}

// TestMulMatAMXDeterministic checks that every result is the same bits
// whatever the row split, the number of goroutines and the batch.
func TestMulMatAMXDeterministic(t *testing.T) {
	needAMX(t)
	const rows, cols, n = 83, 160, 37
	for _, dt := range []DType{Q4_0, Q4_1} {
		m := randMatrix(t, dt, rows, cols, 11)
		x := randFloats(12, n*cols, 1)
		ref := make([]float32, n*rows)
		m.MulMatAMX(ref, PrepareAMX(x, n, cols), 0, rows)
		v := PrepareAMX(x, n, cols)
		for _, split := range [][]int{{0, 1, rows}, {0, 5, 21, 22, 40, rows}, {0, 32, 64, rows}, {0, 37, rows}} {
			out := filled(n * rows)
			var wg sync.WaitGroup
			for i := 0; i+1 < len(split); i++ {
				wg.Go(func() { m.MulMatAMX(out, v, split[i], split[i+1]) })
			}
			wg.Wait()
			sameBits(t, fmt.Sprintf("%s split %v", dt, split), out, ref)
		}
		for _, sub := range [][2]int{{0, 1}, {5, 6}, {3, 20}, {17, n}} {
			nb := sub[1] - sub[0]
			out := make([]float32, nb*rows)
			m.MulMatAMX(out, PrepareAMX(x[sub[0]*cols:sub[1]*cols], nb, cols), 0, rows)
			sameBits(t, fmt.Sprintf("%s vectors [%d,%d)", dt, sub[0], sub[1]), out, ref[sub[0]*rows:sub[1]*rows])
		}
	}
}

// TestAMXPrepareReuses checks that vectors prepared into memory that held
// more vectors give the same results as fresh ones (what the lanes past the
// last vector hold does not reach the results).
func TestAMXPrepareReuses(t *testing.T) {
	needAMX(t)
	const rows, cols = 64, 96
	m := randMatrix(t, Q4_1, rows, cols, 5)
	var v AMXVectors
	v.Prepare(randFloats(6, 40*cols, 100), 40, cols)
	for _, n := range []int{37, 5, 16} {
		x := randFloats(uint64(n), n*cols, 1)
		v.Prepare(x, n, cols)
		got, want := make([]float32, n*rows), make([]float32, n*rows)
		m.MulMatAMX(got, &v, 0, rows)
		m.MulMatAMX(want, PrepareAMX(x, n, cols), 0, rows)
		sameBits(t, fmt.Sprintf("n=%d after more vectors", n), got, want)
	}
}

// TestAMXFillInParts checks that vectors filled in ranges on several
// goroutines equal vectors prepared in one call, for ranges that start and
// end inside groups of 16 and ranges of one vector.
func TestAMXFillInParts(t *testing.T) {
	needAMX(t)
	const n, cols = 45, 96
	x := randFloats(9, n*cols, 1)
	want := PrepareAMX(x, n, cols)
	for _, split := range [][]int{{0, 7, 16, 40, n}, {0, 3, 21, 22, n}, {0, 1, 2, 17, 33, 34, 44, n}} {
		var got AMXVectors
		got.Reset(n, cols)
		var wg sync.WaitGroup
		for i := 0; i+1 < len(split); i++ {
			wg.Go(func() { got.Fill(x, split[i], split[i+1]) })
		}
		wg.Wait()
		if !slices.Equal(got.xa, want.xa) || !slices.Equal(got.sx, want.sx) {
			t.Fatalf("vectors filled in parts %v differ from vectors prepared at once", split)
		}
	}
}

// TestAMXFillLeavesOtherLanes checks that Fill writes the pieces and sums
// of the vectors in its range, the same bits as a one-call Prepare, and
// nothing of the other vectors' lanes (which other goroutines may fill at
// the same time).
func TestAMXFillLeavesOtherLanes(t *testing.T) {
	needAMX(t)
	const n, cols, mark = 45, 96, 0xdead
	x := randFloats(10, n*cols, 1)
	want := PrepareAMX(x, n, cols)
	for _, r := range [][2]int{{3, 21}, {21, 22}, {22, n}, {16, 32}, {17, 18}, {0, n}} {
		var got AMXVectors
		got.Reset(n, cols)
		for i := range got.xa {
			got.xa[i] = mark
		}
		for i := range got.sx {
			got.sx[i] = mark
		}
		got.Fill(x, r[0], r[1])
		for b := range got.ng * amxGroup {
			in := b >= r[0] && b < r[1]
			for i := range got.nb {
				xa, sx := amxLane(&got, b, i)
				wxa, wsx := amxLane(want, b, i)
				switch {
				case in && (!slices.Equal(xa, wxa) || math.Float32bits(sx) != math.Float32bits(wsx)):
					t.Fatalf("fill [%d,%d): vector %d block %d differs from a one-call Prepare", r[0], r[1], b, i)
				case !in && (slices.ContainsFunc(xa, func(u uint16) bool { return u != mark }) || sx != mark):
					t.Fatalf("fill [%d,%d): lane of vector %d block %d written", r[0], r[1], b, i)
				}
			}
		}
	}
}

// amxLane returns the two pieces' rows (2×QK values) and the sum of
// vector b's block i in v.
func amxLane(v *AMXVectors, b, i int) ([]uint16, float32) {
	g, lane := b/amxGroup, b%amxGroup
	var xa []uint16
	for p := range 2 {
		at := ((i*v.ng+g)*2*amxTileBytes + p*amxTileBytes + lane*64) / 2
		xa = append(xa, v.xa[at:at+QK]...)
	}
	return xa, v.sx[(i*v.ng+g)*amxGroup+lane]
}

func TestMulMatAMXPanicsOnBadArguments(t *testing.T) {
	needAMX(t)
	m := randMatrix(t, Q4_1, 40, 64, 1)
	v := PrepareAMX(randFloats(1, 2*64, 1), 2, 64)
	for _, c := range []struct {
		name string
		call func()
	}{
		{"rows past the end", func() { m.MulMatAMX(make([]float32, 80), v, 0, 41) }},
		{"short out", func() { m.MulMatAMX(make([]float32, 79), v, 0, 40) }},
		{"other columns", func() { m.MulMatAMX(make([]float32, 80), PrepareAMX(make([]float32, 64), 1, 32), 0, 40) }},
		{"float weights", func() {
			randMatrix(t, F32, 40, 64, 1).MulMatAMX(make([]float32, 80), v, 0, 40)
		}},
		{"columns not whole blocks", func() { PrepareAMX(make([]float32, 40), 1, 40) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.call()
		}()
	}
}

// BenchmarkMulMatAMX is benchMulMat through the AMX tiles (MulMatAMX), the
// vectors' preparation included, against MulMat in the same run; rows are
// split at multiples of 32.
func BenchmarkMulMatAMX(b *testing.B) {
	needAMX(b)
	const n = 200
	for _, dt := range []DType{Q4_1} {
		for _, shape := range [][2]int{{1536, 576}, {576, 1536}} {
			m := randMatrix(b, dt, shape[0], shape[1], 1)
			x := randFloats(2, n*m.Cols, 1)
			out := make([]float32, n*m.Rows)
			for _, name := range []string{"MulMatAMX", "MulMat"} {
				b.Run(fmt.Sprintf("%s/%dx%d/n=%d/%s", dt, m.Rows, m.Cols, n, name), func(b *testing.B) {
					workers := runtime.GOMAXPROCS(0)
					step := (m.Rows + 32*workers - 1) / (32 * workers) * 32
					for b.Loop() {
						var v *AMXVectors
						if name == "MulMatAMX" {
							v = PrepareAMX(x, n, m.Cols)
						}
						var wg sync.WaitGroup
						for r0 := 0; r0 < m.Rows; r0 += step {
							wg.Go(func() {
								if v != nil {
									m.MulMatAMX(out, v, r0, min(r0+step, m.Rows))
								} else {
									m.MulMat(out, x, n, r0, min(r0+step, m.Rows))
								}
							})
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

// BenchmarkAMXKernel runs the tile kernel alone on the shape of a 32-row
// slice of a 1536×576 matrix and 208 vectors, and reports the time per
// 16×16×32 block product (the weight scales are zero: timing only).
func BenchmarkAMXKernel(b *testing.B) {
	needAMX(b)
	const nb, ng = 18, 13
	w := make([]uint32, nb*2*amxTileBytes/4)
	dm := make([]float32, nb*4*amxGroup)
	xa := make([]uint16, nb*ng*2*amxTileBytes/2)
	for i := range xa {
		xa[i] = 0x3f80
	}
	for i := range w {
		w[i] = 0x3f803f80
	}
	sx := make([]float32, nb*ng*amxGroup)
	var c [1024]float32
	acc := make([]float32, ng*512)
	job := amxJob{cfg: &amxConfig, w: &w[0], dm: &dm[0], xa: &xa[0], sx: &sx[0], nb: nb, ng: ng, c: &c[0], acc: &acc[0]}
	for b.Loop() {
		amxMul(&job)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(nb*ng*2), "ns/blocktile")
}

// BenchmarkAMXFill prepares 200 vectors for the tiles in one call
// (AMXVectors.Prepare into reused memory) and reports the time per vector.
func BenchmarkAMXFill(b *testing.B) {
	needAMX(b)
	const n = 200
	for _, cols := range []int{576, 1536} {
		b.Run(fmt.Sprintf("cols=%d", cols), func(b *testing.B) {
			x := randFloats(3, n*cols, 1)
			var v AMXVectors
			v.Prepare(x, n, cols)
			for b.Loop() {
				v.Prepare(x, n, cols)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/vector")
		})
	}
}

// A Q4_1 matrix with an interleaved copy unpacks its tiles from there (amxUnpackRows16): the
// results are the same bits as from its rows, for every shape and row range.
func TestMulMatAMXFromInterleavedCopy(t *testing.T) {
	needAMX(t)
	for _, shape := range [][2]int{{64, 64}, {37, 96}, {48, 576}, {200, 160}, {16, 32}, {5, 64}} {
		rows, cols := shape[0], shape[1]
		plain := randMatrix(t, Q4_1, rows, cols, uint64(rows*cols))
		oddScales(plain)
		copied := &Matrix{Type: plain.Type, Rows: rows, Cols: cols, Data: plain.Data}
		if !copied.Interleave() {
			t.Skip("no interleaved-row kernels in this build or on this CPU")
		}
		for _, n := range []int{1, 17, 40} {
			x := PrepareAMX(randFloats(uint64(n), n*cols, 1), n, cols)
			for _, rr := range [][2]int{{0, rows}, {0, min(32, rows)}, {min(32, rows), rows}, {3, rows}, {0, rows - 1}} {
				want, got := filled(n*rows), filled(n*rows)
				plain.MulMatAMX(want, x, rr[0], rr[1])
				copied.MulMatAMX(got, x, rr[0], rr[1])
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("%dx%d, %d vectors, rows [%d,%d): out[%d] = %g from the copy, %g from the rows", rows, cols, n, rr[0], rr[1], i, got[i], want[i])
					}
				}
			}
		}
	}
}
