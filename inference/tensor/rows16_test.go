//go:build goexperiment.simd && amd64

package tensor

import (
	"fmt"
	"sync"
	"testing"
)

// interleaved returns a random matrix with its interleaved copy, or skips
// where this build or CPU has no interleaved kernels.
func interleaved(t *testing.T, dt DType, rows, cols int, seed uint64) *Matrix {
	t.Helper()
	m := randMatrix(t, dt, rows, cols, seed)
	oddScales(m)
	if !m.Interleave() {
		t.Skip("no interleaved-row kernels in this build or on this CPU")
	}
	return m
}

func TestInterleavedMulRowsMatchesNaive(t *testing.T) {
	for _, dt := range []DType{Q4_1, Q8_0} {
		for _, shape := range [][2]int{{37, 96}, {64, 32}, {16, 576}, {5, 64}} {
			rows, cols := shape[0], shape[1]
			m := interleaved(t, dt, rows, cols, uint64(dt)+uint64(rows))
			for _, n := range []int{1, 3, 4, 9} {
				x := randFloats(uint64(n)+100, n*cols, 1)
				want, mag := naiveMul(m, x, n)
				for _, rr := range [][2]int{{0, rows}, {3, 20}, {5, 6}, {17, 37}, {9, 9}, {0, 16}, {16, 32}, {1, rows}} {
					rr = [2]int{min(rr[0], rows), min(rr[1], rows)}
					out := filled(n * rows)
					m.MulRows(out, x, n, rr[0], rr[1])
					checkMul(t, fmt.Sprintf("%s %dx%d n=%d rows [%d,%d)", dt, rows, cols, n, rr[0], rr[1]), out, want, mag, rows, rr)
				}
			}
		}
	}
}

// TestInterleavedMulRowsDeterministic checks that every result is the same
// bits whatever the row split, the goroutines and the batch.
func TestInterleavedMulRowsDeterministic(t *testing.T) {
	const rows, cols, n = 83, 160, 6
	for _, dt := range []DType{Q4_1, Q8_0} {
		m := interleaved(t, dt, rows, cols, 3)
		x := randFloats(4, n*cols, 1)
		ref := make([]float32, n*rows)
		m.MulRows(ref, x, n, 0, rows)
		for _, split := range [][]int{{0, 1, rows}, {0, 5, 21, 22, 40, rows}, {0, 16, 64, rows}, {0, 37, rows}} {
			out := filled(n * rows)
			var wg sync.WaitGroup
			for i := 0; i+1 < len(split); i++ {
				wg.Go(func() { m.MulRows(out, x, n, split[i], split[i+1]) })
			}
			wg.Wait()
			sameBits(t, fmt.Sprintf("%s split %v", dt, split), out, ref)
		}
		for b := range n {
			one := make([]float32, rows)
			m.MulRows(one, x[b*cols:(b+1)*cols], 1, 0, rows)
			sameBits(t, fmt.Sprintf("%s vector %d alone", dt, b), one, ref[b*rows:(b+1)*rows])
		}
	}
}

// TestInterleaveLeavesOtherTypes checks that types without an interleaved
// layout keep the row kernels.
func TestInterleaveLeavesOtherTypes(t *testing.T) {
	for _, dt := range []DType{F32, F16, Q4_0} {
		m := randMatrix(t, dt, 16, 64, 1)
		if m.Interleave() || m.rows16 != nil {
			t.Errorf("%s: interleaved", dt)
		}
	}
}

// TestInterleaveQ41InGo checks the plain-Go interleaving of Q4_1 (CPUs
// without AVX-512) against the layout: each row's scales, offsets and
// column quads in their places, zeros past the last row; and, where the CPU
// has the AVX-512 interleaving, the same bytes.
func TestInterleaveQ41InGo(t *testing.T) {
	m := randMatrix(t, Q4_1, 37, 3*QK, 5)
	nb := m.Cols / QK
	m.rows16 = make([]byte, m.Groups()*nb*q41Rows16Bytes)
	m.InterleaveGroups(0, 0) // nothing
	for g := range m.Groups() {
		m.interleaveGroupQuads(g)
	}
	for g := range m.Groups() {
		for i := range nb {
			dst := m.rows16[(g*nb+i)*q41Rows16Bytes:][:q41Rows16Bytes]
			for r := range 16 {
				var blk [q41Bytes]byte
				if row := 16*g + r; row < m.Rows {
					copy(blk[:], m.row(row)[i*q41Bytes:])
				}
				got := [][]byte{dst[2*r : 2*r+2], dst[32+2*r : 32+2*r+2]}
				want := [][]byte{blk[0:2], blk[2:4]}
				for c := range 4 {
					got = append(got, dst[64+64*c+4*r:][:4])
					want = append(want, blk[4+4*c:8+4*c])
				}
				for k := range got {
					if string(got[k]) != string(want[k]) {
						t.Fatalf("group %d block %d row %d part %d: %x, want %x", g, i, r, k, got[k], want[k])
					}
				}
			}
		}
	}
	if !rows16CPU() {
		return
	}
	asm := make([]byte, len(m.rows16))
	goCopy := m.rows16
	m.rows16 = asm
	zeros := make([]byte, m.RowBytes()+16)
	for g := range m.Groups() {
		m.interleaveGroup(g, zeros)
	}
	if string(asm) != string(goCopy) {
		t.Fatal("the Go and AVX-512 interleavings differ")
	}
}
