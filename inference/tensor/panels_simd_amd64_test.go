//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
	"testing"
)

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

// TestPanelAVX2Kernel runs the AVX2 panel kernel directly (whatever kernel
// panelKernel picks on this CPU): within rounding of the float64 products,
// and the same bits as the AVX-512 kernel where the CPU has both.
func TestPanelAVX2Kernel(t *testing.T) {
	if !fmaAVX2 {
		t.Skip("CPU has no AVX2 and FMA")
	}
	for _, k := range []int{1, 7, 64, 301} {
		xs, os := k+5, PanelRows+3
		w := randFloats(uint64(k), k*PanelRows, 0.5)
		x := randFloats(uint64(k)+1, PanelGroup*xs, 1)
		b := randFloats(uint64(k)+2, PanelRows, 1)
		got := make([]float32, PanelGroup*os)
		panelAVX2(&x[0], xs, &w[0], k, &b[0], &got[0], os)
		for v := range PanelGroup {
			for r := range PanelRows {
				want, mag := float64(b[r]), math.Abs(float64(b[r]))
				for j := range k {
					p := float64(x[v*xs+j]) * float64(w[j*PanelRows+r])
					want, mag = want+p, mag+math.Abs(p)
				}
				if g := float64(got[v*os+r]); math.Abs(g-want) > 1e-6*mag {
					t.Fatalf("k=%d vector %d row %d: %g, want %g", k, v, r, g, want)
				}
			}
			for r := PanelRows; r < os && v*os+r < len(got); r++ {
				if got[v*os+r] != 0 {
					t.Fatalf("k=%d vector %d: wrote %g past the rows", k, v, got[v*os+r])
				}
			}
		}
		if !archsimd.X86.AVX512() {
			continue
		}
		want := make([]float32, PanelGroup*os)
		panelAsm(&x[0], xs, &w[0], k, &b[0], &want[0], os)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("k=%d: output %d is %g with AVX2, %g with AVX-512", k, i, got[i], want[i])
			}
		}
	}
}
