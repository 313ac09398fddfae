package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kTypes are the formats read but not written: the K formats and the IQ ones.
var kTypes = []DType{Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S}

// kScaleFields are the byte offsets of each block's float16 scales (IQ1_M's
// is spread over its scale words, see setIQ1MScale).
var kScaleFields = map[DType][]int{Q2_K: {80, 82}, Q3_K: {108}, Q4_K: {0, 2}, Q5_K: {0, 2}, Q6_K: {208}, IQ4_NL: {0}, IQ4_XS: {0},
	IQ1_S: {0}, IQ2_XXS: {0}, IQ2_XS: {0}, IQ2_S: {0}, IQ3_XXS: {0}, IQ3_S: {0}}

// setIQ1MScale writes a float16 scale into an IQ1_M block: nibble w in the
// top of its scale word w.
func setIQ1MScale(blk []byte, h uint16) {
	words := blk[len(blk)-8:]
	for w := range 4 {
		v := binary.LittleEndian.Uint16(words[2*w:])&0x0FFF | (h>>(4*w)&15)<<12
		binary.LittleEndian.PutUint16(words[2*w:], v)
	}
}

// randKMatrix is a rows×cols matrix of random blocks of a kTypes format whose float16 scales
// are small positive values, as a quantizer makes them.
func randKMatrix(t testing.TB, dt DType, rows, cols int, seed uint64) *Matrix {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	data := make([]byte, rows*cols/dt.BlockSize()*dt.BlockBytes())
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for b := 0; b < len(data); b += dt.BlockBytes() {
		for _, off := range kScaleFields[dt] {
			binary.LittleEndian.PutUint16(data[b+off:], F32ToF16(0.002+0.01*r.Float32()))
		}
		if dt == IQ1_M {
			setIQ1MScale(data[b:b+dt.BlockBytes()], F32ToF16(0.002+0.01*r.Float32()))
		}
	}
	m, err := NewMatrix(dt, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKMatricesMultiply checks the products of K-format and IQ4 matrices, one
// vector at a time and as prompts, against float64 dot products of their
// dequantized rows, and Row against Float32.
func TestKMatricesMultiply(t *testing.T) {
	const rows = 37
	for _, dt := range kTypes {
		for _, cols := range []int{256, 768} {
			m := randKMatrix(t, dt, rows, cols, uint64(dt)+uint64(cols))
			all, row := m.Float32(), make([]float32, cols)
			for r := range rows {
				m.Row(r, row)
				for c := range cols {
					if row[c] != all[r*cols+c] {
						t.Fatalf("%s: Row(%d)[%d] = %g, Float32 %g", dt, r, c, row[c], all[r*cols+c])
					}
				}
			}
			for _, n := range []int{1, 3, 17} {
				x := randFloats(uint64(n)+100, n*cols, 1)
				want, mag := naiveMul(m, x, n)
				for _, rr := range [][2]int{{0, rows}, {5, 6}, {16, 33}} {
					what := fmt.Sprintf("%s cols=%d n=%d rows [%d,%d)", dt, cols, n, rr[0], rr[1])
					out := filled(n * rows)
					m.MulRows(out, x, n, rr[0], rr[1])
					checkMul(t, "MulRows "+what, out, want, mag, rows, rr)
					out = filled(n * rows)
					m.MulMat(out, x, n, rr[0], rr[1])
					checkMulTol(t, "MulMat "+what, out, want, mag, rows, rr, mulMatTol)
				}
			}
		}
	}
}

// TestKDequantizeNonZero guards the random matrices above against being
// trivially zero (a wrong scale offset would make them so).
func TestKDequantizeNonZero(t *testing.T) {
	for _, dt := range kTypes {
		var amax float64
		for _, v := range randKMatrix(t, dt, 2, 256, 1).Float32() {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		if amax == 0 || amax > 100 {
			t.Errorf("%s: largest value %g", dt, amax)
		}
	}
}
