package tensor

import (
	"fmt"
	"math"
	"testing"
)

// dotRowsF16Twin is the float32 function whose bits DotRowsF16 gives over
// the widened rows: DotRows, or its AVX2 kernel where DotRowsF16 runs its
// AVX2 one (halfrows_twin_amd64_test.go).
var dotRowsF16Twin = DotRows

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
			dotRowsF16Twin(want, q, wide, stride, 0.125)
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

// The grouped functions give each query the bits of the single-query
// functions: for groups the three-query kernels take whole (3, 6), with a
// query or two after them (4, 7, 2, 1), row counts around groups of eight,
// scores and weights strided past their rows, each output half on its own,
// and a head size the kernels do not take (48).
func TestRowsF16HeadsMatchOneQueryAtATime(t *testing.T) {
	for _, d := range []int{64, 48} {
		for _, heads := range []int{1, 2, 3, 4, 6, 7} {
			for _, n := range []int{0, 1, 8, 13, 200} {
				stride, outStride := d+8, n+5
				vals := randFloats(uint64(d*n+heads), max(1, n*stride), 2)
				half := make([]uint16, len(vals))
				ToF16(half, vals)
				q := randFloats(uint64(heads), heads*d, 1)
				w := randFloats(uint64(n+7), heads*outStride, 1)
				what := fmt.Sprintf("d=%d heads=%d n=%d", d, heads, n)
				got, gotO := filled(heads*outStride), filled(heads*d)
				DotRowsF16Heads(got, outStride, q, heads, n, half, stride, 0.125, half)
				AddRowsF16Heads(gotO, w, outStride, heads, n, half, stride, 1)
				AddRowsF16Heads(gotO, w, outStride, heads, n, half, stride, 0)
				for h := range heads {
					want, wantO := filled(n), filled(d)
					DotRowsF16(want, q[h*d:(h+1)*d], half, stride, 0.125)
					AddRowsF16(wantO, w[h*outStride:][:n], half, stride)
					sameBits(t, fmt.Sprintf("%s query %d DotRowsF16Heads", what, h), got[h*outStride:][:n], want)
					sameBits(t, fmt.Sprintf("%s query %d AddRowsF16Heads", what, h), gotO[h*d:(h+1)*d], wantO)
					if h < heads-1 {
						sameBits(t, what+" past the scores", got[h*outStride+n:(h+1)*outStride], filled(outStride-n))
					}
				}
			}
		}
	}
}
