package tensor

import (
	"fmt"
	"math"
	"testing"
)

// The float16 row functions give the bits of their float32 versions over the
// rows' widened values, for the vector kernels' head size (64) and another
// (48, the plain path), several row counts and a stride past the row.
func TestRowsF16MatchFloat32Rows(t *testing.T) {
	for _, d := range []int{64, 48} {
		for _, n := range []int{0, 1, 7, 8, 23, 200} {
			stride := d + 16
			vals := randFloats(uint64(d+n), max(1, n*stride), 2)
			half := make([]uint16, len(vals))
			ToF16(half, vals)
			wide := make([]float32, len(half))
			FromF16(wide, half)
			q := randFloats(3, d, 1)
			what := fmt.Sprintf("d=%d n=%d", d, n)
			want, got := filled(n), filled(n)
			DotRows(want, q, wide, stride, 0.125)
			DotRowsF16(got, q, half, stride, 0.125)
			sameBits(t, what+" DotRowsF16", got, want)
			w := randFloats(5, n, 1)
			wantO, gotO := filled(d), filled(d)
			AddRows(wantO, w, wide, stride)
			AddRowsF16(gotO, w, half, stride)
			sameBits(t, what+" AddRowsF16", gotO, wantO)
		}
	}
}

// ToF16 rounds as F32ToF16 and FromF16 widens as F16ToF32, element by element,
// over normals, subnormals, values past float16's range and signed zeros.
func TestToFromF16(t *testing.T) {
	src := randFloats(9, 203, 3)
	for i := range src {
		switch i % 7 {
		case 1:
			src[i] *= 1e-6 // float16 subnormals
		case 2:
			src[i] *= 3e4 // near and past 65504
		case 3:
			src[i] = float32(math.Copysign(0, float64(src[i])))
		}
	}
	half := make([]uint16, len(src))
	ToF16(half, src)
	wide := make([]float32, len(src))
	FromF16(wide, half)
	for i, x := range src {
		if want := F32ToF16(x); half[i] != want {
			t.Fatalf("ToF16(%g) = %#04x, F32ToF16 gives %#04x", x, half[i], want)
		}
		if want := F16ToF32(half[i]); math.Float32bits(wide[i]) != math.Float32bits(want) {
			t.Fatalf("FromF16(%#04x) = %g, F16ToF32 gives %g", half[i], wide[i], want)
		}
	}
}
