package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

var allTypes = []DType{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0}

func randFloats(seed uint64, n int, scale float32) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func randMatrix(t testing.TB, dt DType, rows, cols int, seed uint64) *Matrix {
	t.Helper()
	data, err := Quantize(dt, randFloats(seed, rows*cols, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatrix(dt, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// naiveMul dequantizes the whole matrix and takes float64 dot products.
// It also returns Σ|w·x| per output, to scale the tolerance.
func naiveMul(m *Matrix, x []float32, n int) (want, mag []float64) {
	w := m.Float32()
	want, mag = make([]float64, n*m.Rows), make([]float64, n*m.Rows)
	for b := range n {
		for r := range m.Rows {
			var s, a float64
			for c := range m.Cols {
				p := float64(w[r*m.Cols+c]) * float64(x[b*m.Cols+c])
				s, a = s+p, a+math.Abs(p)
			}
			want[b*m.Rows+r], mag[b*m.Rows+r] = s, a
		}
	}
	return want, mag
}

const sentinel = float32(-12345.5)

func TestMulRowsMatchesNaive(t *testing.T) {
	const rows, cols = 37, 96
	for _, dt := range allTypes {
		m := randMatrix(t, dt, rows, cols, uint64(dt)+1)
		for _, n := range []int{1, 3, 4, 9} {
			x := randFloats(uint64(n)+100, n*cols, 1)
			want, mag := naiveMul(m, x, n)
			for _, rr := range [][2]int{{0, rows}, {3, 20}, {5, 6}, {17, 37}, {9, 9}} {
				out := make([]float32, n*rows)
				for i := range out {
					out[i] = sentinel
				}
				m.MulRows(out, x, n, rr[0], rr[1])
				checkMul(t, fmt.Sprintf("%s n=%d rows [%d,%d)", dt, n, rr[0], rr[1]), out, want, mag, rows, rr)
			}
		}
	}
}

func checkMul(t *testing.T, what string, out []float32, want, mag []float64, rows int, rr [2]int) {
	t.Helper()
	for i, got := range out {
		r := i % rows
		if r < rr[0] || r >= rr[1] {
			if got != sentinel {
				t.Fatalf("%s: wrote out[%d] (row %d) outside the range", what, i, r)
			}
			continue
		}
		if d := math.Abs(float64(got) - want[i]); d > 1e-5*mag[i]+1e-6 {
			t.Fatalf("%s: out[%d] = %g, naive %g (diff %g, scale %g)", what, i, got, want[i], d, mag[i])
		}
	}
}

// TestMulRowsIndependentOfBatch checks that a vector's result is the same
// bits whether it is multiplied alone or within a batch.
func TestMulRowsIndependentOfBatch(t *testing.T) {
	const rows, cols, n = 21, 128, 7
	for _, dt := range allTypes {
		m := randMatrix(t, dt, rows, cols, 9)
		x := randFloats(5, n*cols, 1)
		batch := make([]float32, n*rows)
		m.MulRows(batch, x, n, 0, rows)
		for b := range n {
			one := make([]float32, rows)
			m.MulRows(one, x[b*cols:(b+1)*cols], 1, 0, rows)
			for r := range rows {
				if math.Float32bits(one[r]) != math.Float32bits(batch[b*rows+r]) {
					t.Fatalf("%s: vector %d row %d: alone %g, in a batch of %d %g", dt, b, r, one[r], n, batch[b*rows+r])
				}
			}
		}
	}
}

func TestRowAndFloat32(t *testing.T) {
	for _, dt := range allTypes {
		m := randMatrix(t, dt, 5, 64, 3)
		all := m.Float32()
		row := make([]float32, 64)
		for r := range 5 {
			m.Row(r, row)
			for c := range 64 {
				if row[c] != all[r*64+c] {
					t.Fatalf("%s: Row(%d)[%d] = %g, Float32 %g", dt, r, c, row[c], all[r*64+c])
				}
			}
		}
	}
}

func TestNewMatrixErrors(t *testing.T) {
	cases := []struct {
		t          DType
		rows, cols int
		n          int
		want       string
	}{
		{DType(34), 1, 256, 54, "tensor type TQ1_0 (34) is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS)"},
		{Q4_K, 1, 96, 0, "96 columns is not a multiple of the Q4_K block size 256"},
		{DType(99), 1, 32, 0, "type(99) (99)"},
		{Q4_0, 2, 32, 35, "needs 36 bytes, got 35"},
		{Q8_0, 1, 33, 0, "33 columns is not a multiple"},
		{F32, -1, 4, 0, "shape"},
		{Q4_1, 1 << 62, 64, 0, "too large"},
	}
	for _, c := range cases {
		_, err := NewMatrix(c.t, c.rows, c.cols, make([]byte, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewMatrix(%s, %d, %d, %d bytes) error %v, want %q", c.t, c.rows, c.cols, c.n, err, c.want)
		}
	}
}

func TestF32MatrixSharesMemory(t *testing.T) {
	v := []float32{1, 2, 3, 4, 5, 6}
	m := F32Matrix(2, 3, v)
	v[4] = 10
	out := make([]float32, 2)
	m.MulRows(out, []float32{1, 1, 1}, 1, 0, 2)
	if out[0] != 6 || out[1] != 20 {
		t.Errorf("MulRows after change = %v, want [6 20]", out)
	}
}

func TestNewMatrixMisalignedF32(t *testing.T) {
	buf := make([]byte, 4*6+1)
	data := buf[1:]
	if uintptr(unsafe.Pointer(&data[0]))%4 == 0 {
		data = buf[:4*6]
	}
	q, _ := Quantize(F32, []float32{1, 2, 3, 4, 5, 6})
	copy(data, q)
	m, err := NewMatrix(F32, 2, 3, data)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 2)
	m.MulRows(out, []float32{1, 0, 1}, 1, 0, 2)
	if out[0] != 4 || out[1] != 10 {
		t.Errorf("MulRows = %v, want [4 10]", out)
	}
}

func TestDTypeSizes(t *testing.T) {
	cases := []struct {
		t         DType
		bs, bytes int
		name      string
	}{
		{F32, 1, 4, "F32"}, {F16, 1, 2, "F16"}, {BF16, 1, 2, "BF16"},
		{Q4_0, 32, 18, "Q4_0"}, {Q4_1, 32, 20, "Q4_1"}, {Q8_0, 32, 34, "Q8_0"},
	}
	for _, c := range cases {
		if c.t.BlockSize() != c.bs || c.t.BlockBytes() != c.bytes || c.t.String() != c.name {
			t.Errorf("%d: got %d/%d/%s, want %d/%d/%s", c.t, c.t.BlockSize(), c.t.BlockBytes(), c.t, c.bs, c.bytes, c.name)
		}
	}
	if n, err := RowBytes(Q4_1, 576); n != 360 || err != nil {
		t.Errorf("RowBytes(Q4_1, 576) = %d, %v", n, err)
	}
}

// TestMulRowsOddColumns covers the float formats, whose rows need not be
// whole blocks, so the kernels' tails run.
func TestMulRowsOddColumns(t *testing.T) {
	for _, dt := range []DType{F32, F16, BF16} {
		for _, cols := range []int{1, 7, 16, 53, 100, 161} {
			const rows = 9
			m := randMatrix(t, dt, rows, cols, uint64(cols))
			for _, n := range []int{1, 5} {
				x := randFloats(uint64(cols+n), n*cols, 1)
				want, mag := naiveMul(m, x, n)
				out := make([]float32, n*rows)
				for i := range out {
					out[i] = sentinel
				}
				m.MulRows(out, x, n, 1, rows)
				checkMul(t, fmt.Sprintf("%s cols=%d n=%d", dt, cols, n), out, want, mag, rows, [2]int{1, rows})
			}
		}
	}
}
