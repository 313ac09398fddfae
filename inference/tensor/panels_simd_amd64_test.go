//go:build goexperiment.simd && amd64

package tensor

import "testing"

// TestTransposeLanes derives transpose16's permutations: in the round
// pairing rows b apart, lane j of the first output takes lane j%2b of its
// group of 2b lanes from the first row when below b, else lane j%2b-b from
// the second row (lanes 16… of the concatenation); the second output
// takes the lanes b further on.
func TestTransposeLanes(t *testing.T) {
	got := transposeLanes()
	for i, b := range []int{8, 4, 2, 1} {
		for half, off := range []int{0, b} {
			for j := range 16 {
				g, m := j/(2*b)*2*b, j%(2*b)
				want := g + off + m
				if m >= b {
					want = 16 + g + off + m - b
				}
				if got[2*i+half][j] != uint32(want) {
					t.Fatalf("round %d (rows %d apart), output %d, lane %d: %d, want %d", i, b, half, j, got[2*i+half][j], want)
				}
			}
		}
	}
}
