//go:build goexperiment.simd && amd64

package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
	"simd/archsimd"
)

// eachQ8 runs test once per int8 kernel set this CPU has (AVX-512 VNNI,
// AVX2), with that set active.
func eachQ8(t *testing.T, test func(t *testing.T)) {
	ks := q8Available()
	if len(ks) == 0 {
		t.Skip("CPU has neither AVX-512 VNNI nor AVX2")
	}
	for _, k := range ks {
		t.Run(k.name, func(t *testing.T) {
			saved := q8Active
			q8Active = k
			defer func() { q8Active = saved }()
			test(t)
		})
	}
}

// q8Ref is the int8 arithmetic in plain Go: per block the exact int32 dot
// product of weight and activation bytes, then d_w·d_x·dot (+ m_w·s_x for
// Q4_1) summed in float64. It also returns the scale the kernels' float32
// rounding is measured against: the sum of the absolute values of every
// product (the kernels add partial dot products in float32 lanes).
func q8Ref(m *Matrix, r int, x *Q8Vectors, b int) (dot, scale float64) {
	q, d, s := x.vector(b)
	row := m.row(r)
	for i := range m.Cols / QK {
		var w [QK]int32
		var dw, mw float64
		switch m.Type {
		case Q4_1:
			blk := row[i*q41Bytes:]
			dw, mw = float64(half(blk)), float64(half(blk[2:]))
			for j := range QK / 2 {
				w[j], w[j+QK/2] = int32(blk[4+j]&15), int32(blk[4+j]>>4)
			}
		case Q8_0:
			blk := row[i*q80Bytes:]
			dw = float64(half(blk))
			for j := range QK {
				w[j] = int32(int8(blk[2+j]))
			}
		}
		var acc, abs int32
		for j := range QK {
			p := w[j] * int32(q[i*QK+j])
			acc, abs = acc+p, abs+max(p, -p)
		}
		t1, t2 := dw*float64(d[i])*float64(acc), mw*float64(s[i])
		dot += t1 + t2
		scale += math.Abs(dw*float64(d[i]))*float64(abs) + math.Abs(t2)
	}
	return dot, scale
}

// q8Matrix is a random matrix with odd scales and, for Q8_0, some -128
// weights (which ggml never writes but a file may hold).
func q8Matrix(t *testing.T, dt DType, rows, cols int, seed uint64) *Matrix {
	m := randMatrix(t, dt, rows, cols, seed)
	oddScales(m)
	if dt == Q8_0 {
		for i := 2; i < len(m.Data); i += 37 {
			if i%q80Bytes >= 2 {
				m.Data[i] = 0x80
			}
		}
	}
	return m
}

func TestQuantizeRowQ8MatchesGo(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		x := randFloats(3, 64*QK, 2)
		copy(x[5*QK:6*QK], make([]float32, QK)) // a zero block
		for j := range QK {                     // exact halves: ties round to even
			x[7*QK+j] = float32(j-16) * 0.5 * (127.0 / 16)
		}
		x[9*QK+3] = 1e30
		q, d, s := make([]int8, len(x)), make([]float32, 64), make([]float32, 64)
		QuantizeRowQ8(x, q, d, s)
		for i := range 64 {
			var wq [QK]int8
			wd, ws := quantBlockQ8((*[QK]float32)(x[i*QK:]), &wq)
			if d[i] != wd || s[i] != ws || [QK]int8(q[i*QK:]) != wq {
				t.Fatalf("block %d: kernel d=%g s=%g q=%v, Go d=%g s=%g q=%v", i, d[i], s[i], q[i*QK:(i+1)*QK], wd, ws, wq)
			}
		}
		if d[5] != 0 || s[5] != 0 {
			t.Errorf("zero block: d=%g s=%g, want 0", d[5], s[5])
		}
	})
}

// TestMulRowsQ8Interleaved checks MulRowsQ8 (and MulMatQ8, whose tiles
// then come from the copy) over a Q4_1 or Q8_0 matrix's interleaved copy,
// where the kernel set reads it (AVX2): against the reference, for partial groups at
// both ends of the row range, and the same bits for every vector alone as in
// batches of two and three (the row kernels that take several vectors) and
// in one large enough for the tile kernel (odd, so one vector goes through
// it twice), over all rows and over a range with partial groups at both
// ends.
func TestMulRowsQ8Interleaved(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		if !q8Rows16() {
			t.Skip("this kernel set reads the rows themselves")
		}
		for _, c := range []struct {
			dt         DType
			rows, cols int
		}{{Q4_1, 16, 1}, {Q4_1, 37, 3}, {Q4_1, 64, 18}, {Q4_1, 200, 48}, {Q8_0, 16, 1}, {Q8_0, 37, 3}, {Q8_0, 200, 18}} {
			rows, cols := c.rows, c.cols*QK
			m := q8Matrix(t, c.dt, rows, cols, uint64(rows))
			if !m.Interleave() {
				t.Skip("no interleaved copy on this CPU")
			}
			for _, n := range []int{2, 3, 4, 7, q8TileBatch - 1, q8TileBatch + 1} {
				what := fmt.Sprintf("interleaved %s %d×%d n=%d", c.dt, rows, cols, n)
				xf := randFloats(uint64(cols), n*cols, 1)
				x := QuantizeQ8(xf, n, cols, false)
				out := make([]float32, n*rows)
				m.MulRowsQ8(out, x, 0, rows)
				checkQ8(t, what, m, x, out)
				xt := QuantizeQ8(xf, n, cols, true)
				mat := make([]float32, n*rows)
				m.MulMatQ8(mat, xt, 0, rows)
				checkQ8(t, what+", MulMatQ8", m, xt, mat)
				for b := range n {
					checkAlone(t, what, m, xf[b*cols:(b+1)*cols], out[b*rows:(b+1)*rows], mat[b*rows:(b+1)*rows])
				}
				// The batch over rows [3,Rows-5): the same bits.
				r0, r1 := min(3, rows-1), rows-min(5, rows-1)
				part := make([]float32, n*rows)
				m.MulRowsQ8(part, x, r0, r1)
				for b := range n {
					for r := r0; r < r1; r++ {
						if i := b*rows + r; math.Float32bits(part[i]) != math.Float32bits(out[i]) {
							t.Fatalf("%s vector %d row %d: %g over [%d,%d), %g over all rows", what, b, r, part[i], r0, r1, out[i])
						}
					}
				}
			}
		}
	})
}

// checkAlone checks that vector x alone gives the batch's bits over rows
// [3,Rows-5) (partial groups at both ends), through MulRowsQ8 (rowsBatch)
// and MulMatQ8 (matBatch).
func checkAlone(t *testing.T, what string, m *Matrix, x, rowsBatch, matBatch []float32) {
	t.Helper()
	r0, r1 := min(3, m.Rows-1), m.Rows-min(5, m.Rows-1)
	for _, tiled := range []bool{false, true} {
		one := QuantizeQ8(x, 1, m.Cols, tiled)
		part, batch := make([]float32, m.Rows), rowsBatch
		if tiled {
			m.MulMatQ8(part, one, r0, r1)
			batch = matBatch
		} else {
			m.MulRowsQ8(part, one, r0, r1)
		}
		for r := r0; r < r1; r++ {
			if math.Float32bits(part[r]) != math.Float32bits(batch[r]) {
				t.Fatalf("%s row %d: %g alone over [%d,%d) (MulMatQ8 %v), %g in the batch", what, r, part[r], r0, r1, tiled, batch[r])
			}
		}
	}
}

func TestMulRowsQ8MatchesReference(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		for _, dt := range []DType{Q4_1, Q8_0} {
			for nb := 1; nb <= 40; nb++ {
				cols := nb * QK
				m := q8Matrix(t, dt, 5, cols, uint64(nb))
				// Batches of 2, 3 and 7 (4 + 3): through the kernels that
				// take several vectors where the set has them.
				for _, n := range []int{2, 3, 7} {
					checkRowsBatch(t, m, nb, n)
				}
			}
		}
	})
}

// TestFourStreamsBits checks that the one-vector kernels reading four
// streams (q80DotQ8S4AVX2, q41Rows16Q8S4AVX2) give each row the bits of
// the one-stream kernels, with the rows or groups left over from four, and
// close to the reference.
func TestFourStreamsBits(t *testing.T) {
	if !slices.Contains(q8Available(), q8AVX2Kernels) {
		t.Skip("CPU has no AVX2 int8 kernels")
	}
	saved := q8Active
	q8Active = q8AVX2Kernels
	defer func() { q8Active = saved }()
	for _, nb := range []int{1, 2, 18, 48} {
		cols := nb * QK
		x := QuantizeQ8(randFloats(uint64(nb), cols, 1), 1, cols, false)
		q, d, s := x.vector(0)
		for _, rows := range []int{7, 8, 13, 31, 32, 45} {
			m := q8Matrix(t, Q8_0, rows, cols, uint64(rows*nb))
			got, want := make([]float32, rows), make([]float32, rows)
			q8Rows(Q8_0, m.Data, got, q, d, s)
			q80DotQ8AVX2(&m.Data[0], m.RowBytes(), rows, nb, &q[0], &d[0], &s[0], &want[0])
			sameBits(t, fmt.Sprintf("Q8_0 %d×%d, against one stream", rows, cols), got, want)
			checkQ8(t, fmt.Sprintf("Q8_0 %d×%d", rows, cols), m, x, got)
		}
		for _, groups := range []int{1, 7, 8, 9, 13, 36} {
			rows := 16 * groups
			m := q8Matrix(t, Q4_1, rows, cols, uint64(rows+nb))
			if !m.Interleave() {
				t.Skip("no interleaved copy on this CPU")
			}
			got, want := make([]float32, rows), make([]float32, rows)
			q8Rows16Kernel(m.rows16, nb, groups, q, d, s, got)
			q41Rows16Q8AVX2(&m.rows16[0], nb, groups, &q[0], &d[0], &s[0], &want[0])
			sameBits(t, fmt.Sprintf("Q4_1 interleaved %d×%d, against one stream", rows, cols), got, want)
			checkQ8(t, fmt.Sprintf("Q4_1 interleaved %d×%d", rows, cols), m, x, got)
			m8 := q8Matrix(t, Q8_0, rows, cols, uint64(rows+nb))
			if !m8.Interleave() || !m8.quadsCopy() {
				continue // the AVX-512 kernels' copy (columns), not these kernels'
			}
			q80QuadsKernel(m8.rows16, nb, groups, q, d, got)
			q80Quads1AVX2(&m8.rows16[0], nb, groups, &q[0], &d[0], &want[0])
			sameBits(t, fmt.Sprintf("Q8_0 interleaved %d×%d, against one stream", rows, cols), got, want)
			checkQ8(t, fmt.Sprintf("Q8_0 interleaved %d×%d", rows, cols), m8, x, got)
		}
	}
}

// TestQ80QuadsExtremes checks the Q8_0 rows-in-lanes kernels where the
// int16 pairs are largest: weights of -128 and 127 against activations of
// ±127 with the weights' signs (pairs of 2·128·127), for one to five vectors.
func TestQ80QuadsExtremes(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		const rows, cols = 32, 2 * QK
		m := q8Matrix(t, Q8_0, rows, cols, 1)
		for i := range m.Data {
			switch {
			case i%q80Bytes < 2:
				binary.LittleEndian.PutUint16(m.Data[i-i%q80Bytes:], 0x3c00) // d = 1
			case (i/q80Bytes)%3 == 0:
				m.Data[i] = 0x7f
			default:
				m.Data[i] = 0x80
			}
		}
		if !m.Interleave() || !q8Rows16() {
			t.Skip("no interleaved copy read by this kernel set")
		}
		for n := 1; n <= 5; n++ {
			xf := make([]float32, n*cols)
			for i := range xf {
				if (i/QK)%3 == 0 {
					xf[i] = 1
				} else {
					xf[i] = -1
				}
			}
			x := QuantizeQ8(xf, n, cols, false)
			out := make([]float32, n*rows)
			m.MulRowsQ8(out, x, 0, rows)
			checkQ8(t, fmt.Sprintf("extremes n=%d", n), m, x, out)
			// Row 0: 127 against +127 over block 0, -128 against -127 over
			// block 1, the activations' scale 1/127.
			if want := 32*127 + 32*128; math.Abs(float64(out[0])-float64(want)) > 1e-3 {
				t.Errorf("n=%d: row 0 gives %g, want %d", n, out[0], want)
			}
		}
	})
}

// TestLanesPasses checks that the AVX2 prompt multiply gives the same bits
// when it goes through the vectors in passes of 4, 8 or 12 as in one pass.
func TestLanesPasses(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		if q8Interleaved() {
			t.Skip("this kernel set multiplies interleaved vectors")
		}
		const rows, cols, n = 37, 3 * QK, 23
		m := q8Matrix(t, Q4_1, rows, cols, 5)
		x := QuantizeQ8(randFloats(6, n*cols, 1), n, cols, true)
		whole := make([]float32, n*rows)
		m.MulMatQ8(whole, x, 0, rows)
		saved := lanesBytes
		defer func() { lanesBytes = saved }()
		for _, pass := range []int{4, 8, 12} {
			lanesBytes = pass * cols
			if got := lanesVectors(cols); got != pass {
				t.Fatalf("lanesVectors(%d) = %d with lanesBytes %d, want %d", cols, got, lanesBytes, pass)
			}
			out := make([]float32, n*rows)
			m.MulMatQ8(out, x, 0, rows)
			sameBits(t, fmt.Sprintf("passes of %d vectors, against one pass", pass), out, whole)
		}
	})
}

// checkRowsBatch checks MulRowsQ8 with n vectors against the reference,
// and that each vector alone gets the batch's bits.
func checkRowsBatch(t *testing.T, m *Matrix, nb, n int) {
	t.Helper()
	dt, cols := m.Type, m.Cols
	xf := randFloats(uint64(nb)+9, n*cols, 1)
	x := QuantizeQ8(xf, n, cols, false)
	out := make([]float32, n*m.Rows)
	m.MulRowsQ8(out, x, 0, m.Rows)
	checkQ8(t, fmt.Sprintf("MulRowsQ8 %s cols=%d n=%d", dt, cols, n), m, x, out)
	for b := range n {
		one := QuantizeQ8(xf[b*cols:(b+1)*cols], 1, cols, false)
		single := make([]float32, m.Rows)
		m.MulRowsQ8(single, one, 1, 4)
		for r := 1; r < 4; r++ {
			if got := out[b*m.Rows+r]; math.Float32bits(single[r]) != math.Float32bits(got) {
				t.Fatalf("%s cols=%d vector %d row %d: %g alone, %g in a batch of %d", dt, cols, b, r, single[r], got, n)
			}
		}
	}
}

// checkQ8 compares out (x.N × m.Rows) with q8Ref within 1e-5 of the
// terms' scale.
func checkQ8(t *testing.T, what string, m *Matrix, x *Q8Vectors, out []float32) {
	t.Helper()
	for b := range x.N {
		for r := range m.Rows {
			want, scale := q8Ref(m, r, x, b)
			if got := float64(out[b*m.Rows+r]); math.Abs(got-want) > 1e-5*scale {
				t.Fatalf("%s vector %d row %d: %g, reference %g (scale %g)", what, b, r, got, want, scale)
			}
		}
	}
}

func TestMulMatQ8MatchesReference(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		for _, dt := range []DType{Q4_1, Q8_0} {
			for _, shape := range [][3]int{{1, 1, 1}, {17, 3, 5}, {40, 18, 16}, {33, 48, 37}} {
				rows, cols, n := shape[0], shape[1]*QK, shape[2]
				m := q8Matrix(t, dt, rows, cols, uint64(rows))
				xf := randFloats(uint64(n), n*cols, 1)
				x := QuantizeQ8(xf, n, cols, true)
				out := make([]float32, n*rows)
				m.MulMatQ8(out, x, 0, rows)
				what := fmt.Sprintf("MulMatQ8 %s %d×%d n=%d", dt, rows, cols, n)
				checkQ8(t, what, m, x, out)
				// The last vector alone, over rows from 1: the same bits.
				last := QuantizeQ8(xf[(n-1)*cols:], 1, cols, true)
				part := make([]float32, rows)
				m.MulMatQ8(part, last, min(1, rows-1), rows)
				for r := min(1, rows-1); r < rows; r++ {
					if math.Float32bits(part[r]) != math.Float32bits(out[(n-1)*rows+r]) {
						t.Fatalf("%s row %d: %g alone, %g in the batch", what, r, part[r], out[(n-1)*rows+r])
					}
				}
			}
		}
	})
}

// TestQ8CloseToFloat bounds the error the int8 activations add to the
// float32 products on random data: within 2% of the products' scale.
func TestQ8CloseToFloat(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		for _, dt := range []DType{Q4_1, Q8_0} {
			m := randMatrix(t, dt, 64, 576, 5)
			xf := randFloats(6, 4*576, 1)
			want := make([]float32, 4*64)
			m.MulRows(want, xf, 4, 0, 64)
			x := QuantizeQ8(xf, 4, 576, true)
			rows, mat := make([]float32, 4*64), make([]float32, 4*64)
			m.MulRowsQ8(rows, x, 0, 64)
			m.MulMatQ8(mat, x, 0, 64)
			var scale, e1, e2 float64
			for i := range want {
				scale = max(scale, math.Abs(float64(want[i])))
				e1 = max(e1, math.Abs(float64(rows[i]-want[i])))
				e2 = max(e2, math.Abs(float64(mat[i]-want[i])))
			}
			t.Logf("%s: max error %.2e (rows), %.2e (tiles) of scale %.2f", dt, e1, e2, scale)
			if e1 > 0.02*scale || e2 > 0.02*scale {
				t.Errorf("%s: int8 products differ from float32 by %.3g / %.3g, scale %.3g", dt, e1, e2, scale)
			}
		}
	})
}

// TestQ8ExactIntegers uses scales of 1 (weights) and activations that are
// integers with a ±127 in every block (so d = 1): every float step is then
// exact, and the kernels must give the integer dot products exactly.
func TestQ8ExactIntegers(t *testing.T) {
	eachQ8(t, func(t *testing.T) {
		const rows, nb, n = 20, 37, 18
		cols := nb * QK
		xf := make([]float32, n*cols)
		for i := range xf {
			xf[i] = float32((i*7919)%255 - 127)
			if i%QK == 5 {
				xf[i] = 127
			}
		}
		x := QuantizeQ8(xf, n, cols, true)
		for _, dt := range []DType{Q4_1, Q8_0} {
			m := randMatrix(t, dt, rows, cols, 3)
			bb := dt.BlockBytes()
			for b := 0; b < len(m.Data); b += bb {
				m.Data[b], m.Data[b+1] = 0x00, 0x3c // d = 1
				if dt == Q4_1 {
					m.Data[b+2], m.Data[b+3] = 0, 0 // m = 0
				}
			}
			w := m.Float32()
			rowsOut, matOut := make([]float32, n*rows), make([]float32, n*rows)
			m.MulRowsQ8(rowsOut, x, 0, rows)
			m.MulMatQ8(matOut, x, 0, rows)
			for b := range n {
				for r := range rows {
					var want int64
					for c := range cols {
						want += int64(w[r*cols+c]) * int64(xf[b*cols+c])
					}
					if g1, g2 := rowsOut[b*rows+r], matOut[b*rows+r]; float64(g1) != float64(want) || float64(g2) != float64(want) {
						t.Fatalf("%s vector %d row %d: MulRowsQ8 %g, MulMatQ8 %g, want %d", dt, b, r, g1, g2, want)
					}
				}
			}
		}
	})
}

// TestTileOrders checks the AVX2 tile kernels' bits in both summation
// orders against the operations they are meant to do, lane by lane in
// float32 with fused multiply-adds: per block acc += float32(dot)·(d_w·d_x),
// then acc += m_w·s_x right away (rowsOrder) or for all blocks after the
// last dot product (promptOrder). Seven vectors: a group of four, then
// pairs, the last one twice.
func TestTileOrders(t *testing.T) {
	if !q8CPU() || !slices.Contains(q8Available(), q8AVX2Kernels) || !cpu.X86.HasFMA {
		t.Skip("no AVX2 int8 kernels")
	}
	const nb, n = 5, 7
	w := newQ8WeightTile(nb)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range w.w {
		w.w[i] = byte(r.IntN(16))
	}
	for i := range w.d {
		w.d[i], w.mn[i] = r.Float32()/8, -r.Float32()/4
	}
	x := QuantizeQ8(randFloats(9, n*nb*QK, 1), n, nb*QK, false)
	for _, o := range []lanesOrder{rowsOrder, promptOrder} {
		out := make([]float32, n*q8Group)
		q8LanesRange(w, x, 0, n, out, q8Group, o)
		for b := range n {
			want := tileRef(w, x, b, o)
			for i, v := range out[b*q8Group : (b+1)*q8Group] {
				if math.Float32bits(v) != math.Float32bits(want[i]) {
					t.Fatalf("order %v vector %d row %d: %g, want %g", o, b, i, v, want[i])
				}
			}
		}
	}
}

// tileRef is what q8LanesRange computes for vector b of x and the 16 rows
// of the tile w, in order o.
func tileRef(w *q8WeightTile, x *Q8Vectors, b int, o lanesOrder) [q8Group]float32 {
	q, d, s := x.vector(b)
	nb := x.Cols / QK
	var out [q8Group]float32
	for half := range 2 {
		var acc archsimd.Float32x8
		var dots, dd, mw [8]float32
		offset := func(j int) {
			copy(mw[:], w.mn[j*q8Group+8*half:])
			acc = archsimd.LoadFloat32x8(&mw).MulAdd(archsimd.BroadcastFloat32x8(s[j]), acc)
		}
		for j := range nb {
			for r := range 8 {
				row := 8*half + r
				var dot int32
				for k := range QK / 4 {
					for c := range 4 {
						dot += int32(w.w[j*512+k*64+row*4+c]) * int32(q[j*QK+4*k+c])
					}
				}
				dots[r], dd[r] = float32(dot), w.d[j*q8Group+row]*d[j]
			}
			acc = archsimd.LoadFloat32x8(&dots).MulAdd(archsimd.LoadFloat32x8(&dd), acc)
			if o == rowsOrder {
				offset(j)
			}
		}
		if o == promptOrder {
			for j := range nb {
				offset(j)
			}
		}
		acc.Store((*[8]float32)(out[8*half:]))
	}
	return out
}

// TestUnpackRows16 checks the assembly unpack of an interleaved Q4_1 group
// against a plain-Go reference, byte for byte and scale for scale.
func TestUnpackRows16(t *testing.T) {
	if !fmaAVX2 || !cpu.X86.HasF16C {
		t.Skip("CPU has no AVX2 and F16C")
	}
	const nb = 5
	m := q8Matrix(t, Q4_1, 37, nb*QK, 9)
	m.rows16 = make([]byte, m.Groups()*nb*q41Rows16Bytes)
	for g := range m.Groups() {
		m.interleaveGroupQuads(g)
	}
	for g := range m.Groups() {
		a, b := newQ8WeightTile(nb), newQ8WeightTile(nb)
		unpackRows16(m.rows16[g*nb*q41Rows16Bytes:], nb, a.w, a.d, a.mn)
		unpackRows16Ref(m, g, b)
		if string(a.w) != string(b.w) || !slices.Equal(a.d, b.d) || !slices.Equal(a.mn, b.mn) {
			t.Fatalf("group %d: the assembly unpack differs from the reference", g)
		}
	}
}

// unpackRows16Ref is unpackRows16 in plain Go.
func unpackRows16Ref(m *Matrix, g int, w *q8WeightTile) {
	const low = 0x0f0f0f0f0f0f0f0f
	nb := m.Cols / QK
	for i := range nb {
		src := m.rows16[(g*nb+i)*q41Rows16Bytes:]
		dst := w.w[i*QK*q8Group:]
		for c := range 4 {
			for j := 0; j < 64; j += 8 {
				v := binary.LittleEndian.Uint64(src[64+64*c+j:])
				binary.LittleEndian.PutUint64(dst[64*c+j:], v&low)
				binary.LittleEndian.PutUint64(dst[64*(c+4)+j:], (v>>4)&low)
			}
		}
		for r := range q8Group {
			w.d[i*q8Group+r], w.mn[i*q8Group+r] = half(src[2*r:]), half(src[32+2*r:])
		}
	}
}

// BenchmarkPromptTileAVX2 times the prompt's AVX2 int8 tile kernel
// (q8Tile4AVX2) in cache: 16 rows of 576 or 1,536 columns (SmolLM2-135M's
// matrices) times 200 vectors, on one core and on every core at once, in ns
// per VPMADDUBSW (32 multiply-adds): the rate that bounds a prompt's matrix
// multiplies, which take 644 million of them for a 200-token prompt of that
// model.
func BenchmarkPromptTileAVX2(b *testing.B) {
	if !q8CPU() || len(q8Available()) == 0 {
		b.Skip("no AVX2 int8 kernels")
	}
	for _, nb := range []int{18, 48} {
		for _, all := range []bool{false, true} {
			for _, o := range []lanesOrder{rowsOrder, promptOrder} {
				name := fmt.Sprintf("cols=%d/allcores=%v/order=%s", nb*QK, all, map[lanesOrder]string{rowsOrder: "rows", promptOrder: "prompt"}[o])
				b.Run(name, func(b *testing.B) { benchTile(b, nb, all, o) })
			}
		}
	}
}

func benchTile(b *testing.B, nb int, all bool, o lanesOrder) {
	const groups = 50 // 200 vectors
	n, cols, stride := 4*groups, nb*QK, sumsLen(nb)
	w := newQ8WeightTile(nb)
	for i := range w.w {
		w.w[i] = byte(i * 7 % 16)
	}
	for i := range w.d {
		w.d[i], w.mn[i] = float32(i%5+1)/64, -float32(i%3)/32
	}
	q := make([]int8, n*cols)
	for i := range q {
		q[i] = int8(i*31%255 - 127)
	}
	d, s := make([]float32, n*stride), make([]float32, n*stride)
	kernel := q8Tile4AVX2
	if o == promptOrder {
		kernel = q8Tile4PromptAVX2
	}
	tile := func(out []float32) {
		kernel(&w.w[0], &w.d[0], &w.mn[0], nb, &q[0], cols, &d[0], &s[0], stride, &out[0], 16, groups)
	}
	cores := 1
	if all {
		cores = runtime.GOMAXPROCS(0)
		b.RunParallel(func(pb *testing.PB) {
			out := make([]float32, n*16)
			for pb.Next() {
				tile(out)
			}
		})
	} else {
		out := make([]float32, n*16)
		for b.Loop() {
			tile(out)
		}
	}
	perCall := float64(b.Elapsed().Nanoseconds()) / float64(b.N) * float64(cores)
	b.ReportMetric(perCall/float64(n*nb*16), "ns/maddubs/core")
}
