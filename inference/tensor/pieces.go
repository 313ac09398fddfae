package tensor

import (
	"fmt"
	"math"
)

// Int8 pieces. Decoding a token multiplies each weight once. With float32
// activations the interleaved Q4_1 kernel spends a table lookup and a
// multiply-add on every nibble, and once a token's work is spread over the
// cores without waiting for goroutines to wake (Cores), those instructions,
// not the weights' bytes, bound the speed. Instead each block of 32
// activation values is split into three int8 pieces, x ≈ s₁a₁ + s₂a₂ +
// s₃a₃: s₁ = max|x|/127, a₁ = x/s₁ rounded, then the same for what remains
// with s₂ = s₁/254 and s₃ = s₂/254. What the three pieces leave out is at
// most s₃/2 ≈ 6·10⁻⁸·max|x| a value, the order of float32's own rounding.
// Each piece's products with the weights' nibbles are exact integer sums
// (VPDPBUSD, four products a lane per instruction), about half the
// instructions of the float32 kernel. (The opt-in int8 activations of q8.go
// are a single such piece: 1/254 of the values' size.)

// piecesBytes is the size of one block's pieces: three runs of QK bytes.
const piecesBytes = 3 * QK

// piecesScales is the number of floats per block of scales: s₁, s₂, s₃ and
// a zero.
const piecesScales = 4

// piecesDivisor is the ratio of one piece's scale to the next.
const piecesDivisor = 254

// vecPieces is one vector's int8 pieces, their scales and its block sums,
// as the interleaved Q4_1 kernel reads them.
type vecPieces struct {
	a        []int8
	sc, sums []float32
}

// int8Pieces returns n vectors of cols values split into pieces: per
// vector, cols/QK blocks of piecesBytes bytes and piecesScales scales.
func int8Pieces(x []float32, n, cols int) ([]int8, []float32) {
	nb := cols / QK
	a := make([]int8, n*nb*piecesBytes)
	sc := make([]float32, n*nb*piecesScales)
	for b := range n {
		splitPieces(x[b*cols:b*cols+nb*QK], a[b*nb*piecesBytes:], sc[b*nb*piecesScales:])
	}
	return a, sc
}

// splitPiecesGo splits the blocks of x (a multiple of QK values) into a
// and sc; splitPieces does the same on the vector units.
func splitPiecesGo(x []float32, a []int8, sc []float32) {
	nb := len(x) / QK
	if len(a) < nb*piecesBytes || len(sc) < nb*piecesScales {
		panic(fmt.Sprintf("tensor: %d blocks into %d piece bytes and %d scales", nb, len(a), len(sc)))
	}
	for i := range nb {
		var r [QK]float32
		copy(r[:], x[i*QK:])
		scales := pieceScales(&r)
		for p := range 3 {
			s, inv := scales[2*p], scales[2*p+1]
			for j, v := range r {
				q := roundInt8(v * inv)
				a[i*piecesBytes+p*QK+j] = q
				r[j] = float32(float64(v) - float64(q)*float64(s)) // exact, then rounded once
			}
			sc[i*piecesScales+p] = s
		}
		sc[i*piecesScales+3] = 0
	}
}

// pieceScales returns s₁, 1/s₁, s₂, 1/s₂, s₃, 1/s₃ for a block, computed
// as the vector kernel computes them.
func pieceScales(x *[QK]float32) [6]float32 {
	amax := math.Float32frombits(0x00800000) // the smallest normal float32: no division by 0
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	s1, inv1 := amax/127, 127/amax
	s2, inv2 := s1/piecesDivisor, inv1*piecesDivisor
	s3, inv3 := s2/piecesDivisor, inv2*piecesDivisor
	return [6]float32{s1, inv1, s2, inv2, s3, inv3}
}

// roundInt8 rounds t to the nearest integer (ties to even) and saturates it
// to [-128, 127], as VCVTPS2DQ then VPMOVSDB do (NaN and values past the
// int32 range become -128).
func roundInt8(t float32) int8 {
	r := math.RoundToEven(float64(t))
	if r != r || r >= 1<<31 || r < -(1<<31) {
		return -128
	}
	return int8(max(-128, min(127, r)))
}
