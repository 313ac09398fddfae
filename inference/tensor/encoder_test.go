package tensor

import (
	"fmt"
	"maps"
	"math"
	"testing"
)

// geluExact is x·Φ(x) in float64.
func geluExact(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }

func TestGELUMatchesErf(t *testing.T) {
	var in []float32
	for x := float32(-12); x <= 12; x += 0.0137 {
		in = append(in, x)
	}
	in = append(in, 0, -0, 1e-30, -1e-30, 40, -40, 3e38, -3e38)
	in = append(in, randFloats(11, 1000, 3)...)
	for _, k := range append([]namedKernel{{"GELU", GELU}}, moreGELUKernels...) {
		got := append([]float32(nil), in...)
		k.fn(got) // vector kernel where there is one, 16 or 8 at a time with a tail
		for i, x := range in {
			want := geluExact(float64(x))
			tol := 4e-7*max(1, math.Abs(float64(x))) + 1e-6*math.Abs(want)
			for _, g := range []float32{got[i], geluGo(x)} {
				if math.Abs(float64(g)-want) > tol || math.IsNaN(float64(g)) {
					t.Fatalf("%s(%g) = %g (vector %g, scalar %g), want %g", k.name, x, g, got[i], geluGo(x), want)
				}
			}
		}
		nan := []float32{float32(math.NaN())}
		if k.fn(nan); !math.IsNaN(float64(nan[0])) {
			t.Fatalf("%s(NaN) = %g", k.name, nan[0])
		}
	}
}

func TestAddLayerNormMatchesReference(t *testing.T) {
	for _, n := range []int{1, 7, 16, 32, 45, 384} {
		for _, withY := range []bool{false, true} {
			x := randFloats(uint64(n), n, 2)
			for i := range x {
				x[i] += 5 // a large mean
			}
			var y []float32
			if withY {
				y = randFloats(uint64(n)+1, n, 1)
			}
			w, b := randFloats(2, n, 1), randFloats(3, n, 1)
			want := refLayerNorm(x, y, w, b, 1e-12)
			norms := map[string]func(x, y, w, b []float32, eps float32){"AddLayerNorm": AddLayerNorm, "portable": addLayerNormGo}
			maps.Copy(norms, moreLayerNorms)
			for name, f := range norms {
				got := append([]float32(nil), x...)
				f(got, y, w, b, 1e-12)
				if !withY {
					// Three vectors at once: the same results for each.
					three := append(append(append([]float32(nil), x...), x...), x...)
					f(three, nil, w, b, 1e-12)
					for i := range three {
						if three[i] != got[i%n] {
							t.Fatalf("%s n=%d: vector %d value %d is %g alone, %g with others", name, n, i/n, i%n, got[i%n], three[i])
						}
					}
				}
				for i := range got {
					if math.Abs(float64(got[i])-want[i]) > 2e-5*(1+math.Abs(want[i])) {
						t.Fatalf("%s n=%d y=%v: value %d is %g, want %g", name, n, withY, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func refLayerNorm(x, y, w, b []float32, eps float64) []float64 {
	s := make([]float64, len(x))
	var mean, sq float64
	for i := range x {
		s[i] = float64(x[i])
		if y != nil {
			s[i] += float64(y[i])
		}
		mean += s[i]
	}
	mean /= float64(len(x))
	for _, v := range s {
		sq += (v - mean) * (v - mean)
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+eps)
	for i := range s {
		s[i] = (s[i]-mean)*inv*float64(w[i]) + float64(b[i])
	}
	return s
}

// scaledSoftmaxKernels are the exported scaled softmax, the portable one
// and more (moreScaledSoftmax).
func scaledSoftmaxKernels() map[string]func([]float32, int, float32) {
	ks := map[string]func([]float32, int, float32){"ScaledSoftmax": ScaledSoftmax, "portable": scaledSoftmaxGo}
	maps.Copy(ks, moreScaledSoftmax)
	return ks
}

func TestScaledSoftmaxMatchesReference(t *testing.T) {
	for _, n := range []int{1, 5, 16, 33, 256} {
		v := randFloats(uint64(n), n, 4)
		for name, f := range scaledSoftmaxKernels() {
			got := append([]float32(nil), v...)
			f(got, n, 0.35)
			var sum float64
			want := make([]float64, n)
			for i, x := range v {
				want[i] = math.Exp(0.35 * float64(x))
				sum += want[i]
			}
			for i := range got {
				if math.Abs(float64(got[i])-want[i]/sum) > 1e-6 {
					t.Fatalf("%s n=%d: value %d is %g, want %g", name, n, i, got[i], want[i]/sum)
				}
			}
		}
	}
	inf := float32(math.Inf(-1))
	for name, f := range scaledSoftmaxKernels() {
		rows := []float32{inf, inf, inf, inf, 1, inf}
		if f(rows, 3, 0.5); fmt.Sprint(rows) != "[0 0 0 0 1 0]" {
			t.Fatalf("%s of rows -Inf -Inf -Inf and -Inf 1 -Inf: %v", name, rows)
		}
	}
}

// TestCausalSoftmaxMatchesRows checks CausalSoftmax against ScaledSoftmax
// of each row's first values and a clear of the rest, bit for bit, and the
// portable version against the portable ScaledSoftmax.
func TestCausalSoftmaxMatchesRows(t *testing.T) {
	pairs := map[string]causalPair{"CausalSoftmax": {CausalSoftmax, ScaledSoftmax}, "portable": {causalSoftmaxGo, scaledSoftmaxGo}}
	maps.Copy(pairs, moreCausalSoftmax)
	for name, p := range pairs {
		for _, keys := range []int{1, 2, 5, 15, 16, 17, 31, 33, 48, 200, 257} {
			for _, first := range []int{0, 1, 7, keys / 2, keys - 1} {
				if first < 0 || first >= keys {
					continue
				}
				rows := keys - first
				v := causalScores(uint64(keys*1000+first), rows, keys)
				want := append([]float32(nil), v...)
				for r := range rows {
					row := want[r*keys : (r+1)*keys]
					seen := first + r + 1
					p.rows(row[:seen], seen, 0.3)
					clear(row[seen:])
				}
				p.causal(v, keys, first, 0.3)
				for i := range want {
					if math.Float32bits(v[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s keys=%d first=%d: row %d value %d is %g, row by row %g", name, keys, first, i/keys, i%keys, v[i], want[i])
					}
				}
			}
		}
	}
}

// causalScores returns rows×keys scores with a few -Inf (masked) scores,
// one row wholly -Inf where there are several rows, and NaN in the last
// value of each row that a causal softmax must set to 0.
func causalScores(seed uint64, rows, keys int) []float32 {
	v := randFloats(seed, rows*keys, 3)
	inf := float32(math.Inf(-1))
	for i := 3; i < len(v); i += 11 {
		v[i] = inf
	}
	if rows > 1 {
		for i := range keys {
			v[keys+i] = inf
		}
	}
	for r := range rows {
		v[(r+1)*keys-1] = float32(math.NaN())
	}
	return v
}

func TestCausalSoftmaxRefusesBadShapes(t *testing.T) {
	for _, c := range []struct {
		n, keys, first int
	}{{6, 0, 0}, {7, 3, 0}, {6, 3, -1}, {6, 3, 2}, {9, 3, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d values, %d keys, first %d: no panic", c.n, c.keys, c.first)
				}
			}()
			CausalSoftmax(make([]float32, c.n), c.keys, c.first, 1)
		}()
	}
}
