package tensor

import (
	"slices"
	"testing"
)

// TestQ8TilesLayout checks the MulMatQ8 layout that Fill writes vector by
// vector (the VNNI tile kernel's input) against the layout built whole,
// also in memory reused from a larger and a smaller batch: every lane of
// a vector, and zeros (q+128 = 128, d = s = 0) in the lanes past the last.
// It runs on any CPU: the layout is plain Go.
func TestQ8TilesLayout(t *testing.T) {
	const cols = 3 * QK
	var v Q8Vectors
	for _, n := range []int{20, 5, 16, 37} {
		x := randFloats(uint64(n), n*cols, 1)
		v.Reset(n, cols, true)
		v.tiles.reset(n, cols/QK) // as Reset does where the VNNI kernel runs
		for b := range n {
			QuantizeRowQ8(x[b*cols:(b+1)*cols], v.q[b*cols:], v.d[b*sumsLen(cols/QK):], v.s[b*sumsLen(cols/QK):])
			v.interleaveVector(b)
		}
		want := wholeTiles(&v)
		if !slices.Equal(v.tiles.q, want.q) || !slices.Equal(v.tiles.d, want.d) || !slices.Equal(v.tiles.s, want.s) {
			t.Fatalf("n=%d: the layout written vector by vector differs from the one built whole", n)
		}
	}
}

// wholeTiles builds the MulMatQ8 layout of v's vectors in one go: every
// byte 128 and every scale 0, then each vector's lane.
func wholeTiles(v *Q8Vectors) q8Tiles {
	nb, groups := v.Cols/QK, (v.N+q8Group-1)/q8Group
	t := q8Tiles{q: make([]byte, groups*nb*QK*q8Group), d: make([]float32, groups*nb*q8Group), s: make([]float32, groups*nb*q8Group)}
	for i := range t.q {
		t.q[i] = 0x80
	}
	for b := range v.N {
		g, lane := b/q8Group, b%q8Group
		q, d, s := v.vector(b)
		for i := range nb {
			for j := 0; j < QK; j += 4 {
				var w [4]byte
				for k := range 4 {
					w[k] = byte(q[i*QK+j+k]) ^ 0x80
				}
				copy(t.q[(g*nb+i)*QK*q8Group+j*q8Group+4*lane:], w[:])
			}
			t.d[(g*nb+i)*q8Group+lane], t.s[(g*nb+i)*q8Group+lane] = d[i], s[i]
		}
	}
	return t
}

// TestQ8VectorsReuse checks that vectors quantized into reused memory (after
// a larger batch with more blocks) equal those quantized into new memory,
// padding included, so the kernels' reads past a vector see zeros.
func TestQ8VectorsReuse(t *testing.T) {
	var v Q8Vectors
	big := randFloats(1, 9*5*QK, 4)
	v.Reset(9, 5*QK, false)
	v.Fill(big, 0, 9)
	x := randFloats(2, 4*2*QK, 1)
	v.Reset(4, 2*QK, false)
	v.Fill(x, 0, 2)
	v.Fill(x, 2, 4)
	fresh := QuantizeQ8(x, 4, 2*QK, false)
	if !slices.Equal(v.q, fresh.q) || !slices.Equal(v.d, fresh.d) || !slices.Equal(v.s, fresh.s) {
		t.Fatal("vectors in reused memory differ from new ones")
	}
}
