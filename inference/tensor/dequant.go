package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Block layouts (little endian, ggml's block_q4_0, block_q4_1, block_q8_0):
//
//	Q4_0: d f16 | 16 bytes of nibbles                       value = (q-8)*d
//	Q4_1: d f16 | m f16 | 16 bytes of nibbles              value = q*d + m
//	Q8_0: d f16 | 32 int8                                  value = q*d
//
// In a Q4 block byte j holds element j in its low nibble and element j+16 in
// its high nibble.
const (
	q40Bytes = 2 + QK/2
	q41Bytes = 4 + QK/2
	q80Bytes = 2 + QK
)

// half reads a little-endian fp16 value.
func half(b []byte) float32 { return F16ToF32(binary.LittleEndian.Uint16(b)) }

// Dequantize decodes len(dst) elements of type t from src, bit-exact with
// ggml's dequantize_row_* reference functions. src must hold exactly the
// storage of len(dst) elements.
func Dequantize(t DType, src []byte, dst []float32) error {
	n, err := RowBytes(t, len(dst))
	if err != nil {
		return err
	}
	if len(src) != n {
		return fmt.Errorf("tensor: %d %s elements need %d bytes, got %d", len(dst), t, n, len(src))
	}
	dequantRow(t, src, dst)
	return nil
}

// dequantRow decodes without checks; callers have validated the sizes.
func dequantRow(t DType, src []byte, dst []float32) {
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		dequantQ40(src, dst)
	case Q4_1:
		dequantQ41(src, dst)
	case Q8_0:
		dequantQ80(src, dst)
	case Q5_0:
		dequantQ50(src, dst)
	case Q5_1:
		dequantQ51(src, dst)
	case Q2_K:
		dequantQ2K(src, dst)
	case Q3_K:
		dequantQ3K(src, dst)
	case Q4_K:
		dequantQ4K(src, dst)
	case Q5_K:
		dequantQ5K(src, dst)
	case Q6_K:
		dequantQ6K(src, dst)
	case IQ4_NL:
		dequantIQ4NL(src, dst)
	case IQ4_XS:
		dequantIQ4XS(src, dst)
	case IQ1_S:
		dequantIQ1S(src, dst)
	case IQ1_M:
		dequantIQ1M(src, dst)
	case IQ2_XXS:
		dequantIQ2XXS(src, dst)
	case IQ2_XS:
		dequantIQ2XS(src, dst)
	case IQ2_S:
		dequantIQ2S(src, dst)
	case IQ3_XXS:
		dequantIQ3XXS(src, dst)
	case IQ3_S:
		dequantIQ3S(src, dst)
	}
}

func dequantQ40(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := (*[q40Bytes]byte)(src[i*q40Bytes:])
		y := (*[QK]float32)(dst[i*QK:])
		d := half(blk[0:2])
		for j := 0; j < QK/2; j++ {
			q := blk[2+j]
			y[j] = float32(int32(q&15)-8) * d
			y[j+QK/2] = float32(int32(q>>4)-8) * d
		}
	}
}

func dequantQ41(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := (*[q41Bytes]byte)(src[i*q41Bytes:])
		y := (*[QK]float32)(dst[i*QK:])
		d, m := half(blk[0:2]), half(blk[2:4])
		for j := 0; j < QK/2; j++ {
			q := blk[4+j]
			// The explicit conversions keep the compiler from fusing
			// into an FMA, so the result matches ggml and numpy.
			y[j] = float32(float32(q&15)*d) + m
			y[j+QK/2] = float32(float32(q>>4)*d) + m
		}
	}
}

func dequantQ80(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := (*[q80Bytes]byte)(src[i*q80Bytes:])
		y := (*[QK]float32)(dst[i*QK:])
		d := half(blk[0:2])
		for j := 0; j < QK; j++ {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
}

// readOnly reports whether t is decoded but not written here: the K formats
// and the IQ ones, which llama.cpp's quantizer makes.
func (d DType) readOnly() bool {
	return d.BlockSize() == QKK || d == IQ4_NL
}

// Quantize encodes v in format t with ggml's reference quantizers
// (quantize_row_*_ref), so the bytes match what llama.cpp's tools write.
// len(v) must be a multiple of t's block size. The K and IQ formats are
// read, not written (readOnly): llama.cpp's quantizer makes them.
func Quantize(t DType, v []float32) ([]byte, error) {
	if t.readOnly() {
		return nil, fmt.Errorf("tensor: no quantizer for %s here (llama.cpp's llama-quantize writes it)", t)
	}
	n, err := RowBytes(t, len(v))
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	switch t {
	case F32:
		for i, f := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
	case F16:
		for i, f := range v {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(f))
		}
	case BF16:
		for i, f := range v {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(f))
		}
	case Q4_0:
		for i := 0; i < len(v)/QK; i++ {
			quantQ40((*[QK]float32)(v[i*QK:]), (*[q40Bytes]byte)(out[i*q40Bytes:]))
		}
	case Q4_1:
		for i := 0; i < len(v)/QK; i++ {
			quantQ41((*[QK]float32)(v[i*QK:]), (*[q41Bytes]byte)(out[i*q41Bytes:]))
		}
	case Q8_0:
		for i := 0; i < len(v)/QK; i++ {
			quantQ80((*[QK]float32)(v[i*QK:]), (*[q80Bytes]byte)(out[i*q80Bytes:]))
		}
	case Q5_0:
		for i := 0; i < len(v)/QK; i++ {
			quantQ50((*[QK]float32)(v[i*QK:]), (*[q50Bytes]byte)(out[i*q50Bytes:]))
		}
	case Q5_1:
		for i := 0; i < len(v)/QK; i++ {
			quantQ51((*[QK]float32)(v[i*QK:]), (*[q51Bytes]byte)(out[i*q51Bytes:]))
		}
	}
	return out, nil
}

func putHalf(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

func inverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// nibble is ggml's MIN(15, (int8_t)(v)), clamped at 0 as well.
func nibble(v float32) byte {
	q := int32(v)
	if q > 15 {
		return 15
	}
	if q < 0 {
		return 0
	}
	return byte(q)
}

// signedMax returns the value of largest magnitude (the first of them).
func signedMax(x *[QK]float32) float32 {
	var amax, max float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, max = a, v
		}
	}
	return max
}

// minMax returns the smallest and the largest value.
func minMax(x *[QK]float32) (float32, float32) {
	min, max := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range x {
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	return min, max
}

func quantQ40(x *[QK]float32, blk *[q40Bytes]byte) {
	d := signedMax(x) / -8
	id := inverse(d)
	putHalf(blk[0:2], d)
	for j := 0; j < QK/2; j++ {
		lo := nibble(float32(x[j]*id) + 8.5)
		hi := nibble(float32(x[j+QK/2]*id) + 8.5)
		blk[2+j] = lo | hi<<4
	}
}

func quantQ41(x *[QK]float32, blk *[q41Bytes]byte) {
	min, max := minMax(x)
	d := (max - min) / 15
	id := inverse(d)
	putHalf(blk[0:2], d)
	putHalf(blk[2:4], min)
	for j := 0; j < QK/2; j++ {
		lo := nibble(float32((x[j]-min)*id) + 0.5)
		hi := nibble(float32((x[j+QK/2]-min)*id) + 0.5)
		blk[4+j] = lo | hi<<4
	}
}

func quantQ80(x *[QK]float32, blk *[q80Bytes]byte) {
	var amax float32
	for _, v := range x {
		amax = float32(math.Max(float64(amax), math.Abs(float64(v))))
	}
	d := amax / 127
	id := inverse(d)
	putHalf(blk[0:2], d)
	for j, v := range x {
		blk[2+j] = byte(int8(math.Round(float64(float32(v * id)))))
	}
}
