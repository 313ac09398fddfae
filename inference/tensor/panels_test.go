package tensor

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
)

// panelCase is one shape for the Panels tests.
type panelCase struct{ rows, cols, n int }

var panelCases = []panelCase{
	{32, 1, 14}, {32, 8, 1}, {64, 32, 13}, {45, 33, 15}, {7, 5, 29},
	{100, 384, 40}, {96, 3, 28}, {33, 64, 2},
}

// refMul is out[t][r] = bias[r] + Σ x[t][k]·w[r][k] in float64, with the
// sum of the products' magnitudes for the tolerance.
func refMul(w []float32, rows, cols int, x []float32, xs, n int, bias []float32) (ref, mag []float64) {
	ref, mag = make([]float64, n*rows), make([]float64, n*rows)
	for t := range n {
		for r := range rows {
			var s, m float64
			if bias != nil {
				s, m = float64(bias[r]), math.Abs(float64(bias[r]))
			}
			for k := range cols {
				p := float64(x[t*xs+k]) * float64(w[r*cols+k])
				s += p
				m += math.Abs(p)
			}
			ref[t*rows+r], mag[t*rows+r] = s, m
		}
	}
	return ref, mag
}

func TestPanelsMulMatchesReference(t *testing.T) {
	for _, c := range panelCases {
		for _, withBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%d/n=%d/bias=%v", c.rows, c.cols, c.n, withBias), func(t *testing.T) {
				w := randFloats(uint64(c.rows*c.cols), c.rows*c.cols, 0.5)
				xs, os := c.cols+3, c.rows+5
				x := randFloats(uint64(c.n)+1, c.n*xs, 1)
				var bias []float32
				if withBias {
					bias = randFloats(3, c.rows, 1)
				}
				p := PackPanels(c.rows, c.cols, w, c.cols, 1)
				out := make([]float32, c.n*os)
				var s PanelScratch
				p.Mul(out, os, x, xs, c.n, 0, c.rows, bias, &s)
				ref, mag := refMul(w, c.rows, c.cols, x, xs, c.n, bias)
				for v := range c.n {
					for r := range c.rows {
						got, want := float64(out[v*os+r]), ref[v*c.rows+r]
						if math.Abs(got-want) > 1e-6*mag[v*c.rows+r]+1e-7 {
							t.Fatalf("vector %d row %d: %g, want %g", v, r, got, want)
						}
					}
					for r := c.rows; r < os && v*os+r < len(out); r++ {
						if out[v*os+r] != 0 {
							t.Fatalf("vector %d: wrote %g past the rows, at %d", v, out[v*os+r], r)
						}
					}
				}
			})
		}
	}
}

// TestPanelsMulDoesNotDependOnTheBatch checks that each vector's results
// are the same bits alone, in any batch and for any row range.
func TestPanelsMulDoesNotDependOnTheBatch(t *testing.T) {
	const rows, cols, n = 100, 70, 31
	w := randFloats(5, rows*cols, 0.5)
	x := randFloats(6, n*cols, 1)
	bias := randFloats(7, rows, 1)
	p := PackPanels(rows, cols, w, cols, 1)
	var s PanelScratch
	all := make([]float32, n*rows)
	p.Mul(all, rows, x, cols, n, 0, rows, bias, &s)
	split := make([]float32, n*rows)
	p.Mul(split, rows, x, cols, n, 0, 64, bias, &s)
	p.Mul(split, rows, x, cols, n, 64, rows, bias, &s)
	for v := range n {
		one := make([]float32, rows)
		p.Mul(one, rows, x[v*cols:], cols, 1, 0, rows, bias, &s)
		for r := range rows {
			a, b, c := math.Float32bits(all[v*rows+r]), math.Float32bits(one[r]), math.Float32bits(split[v*rows+r])
			if a != b || a != c {
				t.Fatalf("vector %d row %d: %g in the batch, %g alone, %g split at row 64", v, r, all[v*rows+r], one[r], split[v*rows+r])
			}
		}
	}
}

// TestPackPanelsTransposed packs matrices from row-major storage (16×16
// blocks by vector transposes where the build has them) and from their
// transpose (copies), and checks both against the definition.
func TestPackPanelsTransposed(t *testing.T) {
	for _, shape := range [][2]int{{40, 9}, {40, 48}, {16, 16}, {70, 32}} {
		rows, cols := shape[0], shape[1]
		w := randFloats(8, rows*cols, 1)
		wt := make([]float32, rows*cols)
		for r := range rows {
			for k := range cols {
				wt[k*rows+r] = w[r*cols+k]
			}
		}
		a, b := PackPanels(rows, cols, w, cols, 1), PackPanels(rows, cols, wt, 1, rows)
		var reused Panels
		reused.Pack(64, 64, randFloats(9, 64*64, 1), 64, 1)
		reused.Pack(rows, cols, w, cols, 1)
		for i := range a.data {
			p, k, r := i/(cols*PanelRows), i/PanelRows%cols, i%PanelRows
			want := float32(0)
			if p*PanelRows+r < rows {
				want = w[(p*PanelRows+r)*cols+k]
			}
			if a.data[i] != want || b.data[i] != want || reused.data[i] != want {
				t.Fatalf("%d×%d: panel %d column %d row %d: %g row-major, %g from the transpose, %g reusing memory, want %g",
					rows, cols, p, k, r, a.data[i], b.data[i], reused.data[i], want)
			}
		}
	}
}

func TestPanelsMulNoColumns(t *testing.T) {
	p := PackPanels(3, 0, nil, 5, 1)
	out := []float32{9, 9, 9, 9, 9, 9}
	var s PanelScratch
	p.Mul(out, 3, nil, 0, 2, 0, 3, []float32{1, 2, 3}, &s)
	if fmt.Sprint(out) != "[1 2 3 1 2 3]" {
		t.Fatalf("no columns, bias 1 2 3: %v", out)
	}
	wide := PackPanels(70, 0, nil, 5, 1) // several panels of nothing
	wideOut := make([]float32, 70)
	wide.Mul(wideOut, 70, nil, 0, 1, 0, 70, nil, &s)
	for i, v := range wideOut {
		if v != 0 {
			t.Fatalf("no columns, no bias: output %d is %g", i, v)
		}
	}
}

func TestPanelsMulPanicsOnBadArguments(t *testing.T) {
	p := PackPanels(64, 8, make([]float32, 64*8), 8, 1)
	x, out := make([]float32, 3*8), make([]float32, 3*64)
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"short x", func() { p.Mul(out, 64, x[:20], 8, 3, 0, 64, nil, new(PanelScratch)) }, "x has"},
		{"short out", func() { p.Mul(out[:150], 64, x, 8, 3, 0, 64, nil, new(PanelScratch)) }, "out has"},
		{"unaligned rows", func() { p.Mul(out, 64, x, 8, 3, 16, 64, nil, new(PanelScratch)) }, "rows [16,64)"},
		{"short bias", func() { p.Mul(out, 64, x, 8, 3, 0, 64, make([]float32, 40), new(PanelScratch)) }, "biases"},
		{"short matrix", func() { PackPanels(64, 8, make([]float32, 64*8-1), 8, 1) }, "values for a 64×8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Fatalf("panic %v, want one mentioning %q", r, c.want)
				}
			}()
			c.call()
		})
	}
}

// BenchmarkPanelsMul multiplies vectors with the all-MiniLM-L6-v2 shapes
// (rows×cols) on one goroutine per core and reports GFLOP/s: 224 vectors
// (a batch of chunks) split by vectors, and 28 (a query) split by rows, as
// the encoder does.
func BenchmarkPanelsMul(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	cores := NewCores(workers)
	for _, n := range []int{224, 28} {
		for _, shape := range [][2]int{{1152, 384}, {1536, 384}, {384, 1536}} {
			rows, cols := shape[0], shape[1]
			p := PackPanels(rows, cols, randFloats(1, rows*cols, 0.5), cols, 1)
			x := randFloats(2, n*cols, 1)
			bias := randFloats(3, rows, 1)
			out := make([]float32, n*rows)
			b.Run(fmt.Sprintf("%dx%d/n=%d", rows, cols, n), func(b *testing.B) {
				for b.Loop() {
					if n >= 4*PanelGroup*workers {
						cores.Parallel(n/PanelGroup, 1, func(lo, hi int) {
							var s PanelScratch
							t0, t1 := lo*PanelGroup, hi*PanelGroup
							p.Mul(out[t0*rows:], rows, x[t0*cols:], cols, t1-t0, 0, rows, bias, &s)
						})
						continue
					}
					cores.Parallel(rows/PanelRows, 1, func(lo, hi int) {
						var s PanelScratch
						p.Mul(out, rows, x, cols, n, lo*PanelRows, hi*PanelRows, bias, &s)
					})
				}
				flop := 2 * float64(rows) * float64(cols) * float64(n) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// MulFirst over the first k columns gives the bits of Mul over those columns packed alone, for
// whole and partial groups of vectors and panels, k = 0 and k = Cols included.
func TestPanelsMulFirstColumns(t *testing.T) {
	const rows, cols = 70, 53
	w := randFloats(21, rows*cols, 1)
	for _, n := range []int{1, 14, 17, 30} {
		x := randFloats(uint64(n), n*cols, 1)
		whole := PackPanels(rows, cols, w, cols, 1)
		for _, k := range []int{0, 1, 16, 40, cols} {
			first := PackPanels(rows, k, w, cols, 1)
			xk := make([]float32, n*max(k, 1))
			for i := range n {
				copy(xk[i*max(k, 1):], x[i*cols:i*cols+k])
			}
			want, got := filled(n*rows), filled(n*rows)
			var s PanelScratch
			first.Mul(want, rows, xk, max(k, 1), n, 0, rows, nil, &s)
			whole.MulFirst(got, rows, x, cols, n, 0, rows, k, nil, &s)
			sameBits(t, fmt.Sprintf("n=%d k=%d", n, k), got, want)
		}
	}
}
