package tensor

import (
	"fmt"
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
	got := append([]float32(nil), in...)
	GELU(got) // vector kernel where there is one, 16 at a time with a tail
	for i, x := range in {
		want := geluExact(float64(x))
		tol := 4e-7*max(1, math.Abs(float64(x))) + 1e-6*math.Abs(want)
		for _, g := range []float32{got[i], geluGo(x)} {
			if math.Abs(float64(g)-want) > tol || math.IsNaN(float64(g)) {
				t.Fatalf("GELU(%g) = %g (vector %g, scalar %g), want %g", x, g, got[i], geluGo(x), want)
			}
		}
	}
	nan := []float32{float32(math.NaN())}
	if GELU(nan); !math.IsNaN(float64(nan[0])) {
		t.Fatalf("GELU(NaN) = %g", nan[0])
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
			for name, f := range map[string]func(x, y, w, b []float32, eps float32){"AddLayerNorm": AddLayerNorm, "portable": addLayerNormGo} {
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

func TestScaledSoftmaxMatchesReference(t *testing.T) {
	for _, n := range []int{1, 5, 16, 33, 256} {
		v := randFloats(uint64(n), n, 4)
		for name, f := range map[string]func([]float32, int, float32){"ScaledSoftmax": ScaledSoftmax, "portable": scaledSoftmaxGo} {
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
	for name, f := range map[string]func([]float32, int, float32){"ScaledSoftmax": ScaledSoftmax, "portable": scaledSoftmaxGo} {
		rows := []float32{inf, inf, inf, inf, 1, inf}
		if f(rows, 3, 0.5); fmt.Sprint(rows) != "[0 0 0 0 1 0]" {
			t.Fatalf("%s of rows -Inf -Inf -Inf and -Inf 1 -Inf: %v", name, rows)
		}
	}
}
