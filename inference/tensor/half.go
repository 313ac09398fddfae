package tensor

import "math"

// F16ToF32 converts an IEEE 754 half-precision value to float32. The
// conversion is exact for every finite half, including subnormals; infinities
// keep their sign, and NaNs keep their payload with the quiet bit set, as the
// x86 F16C instruction that ggml uses does.
func F16ToF32(h uint16) float32 {
	return math.Float32frombits(f16Scaled(h)) * 0x1p112
}

// f16Scaled returns float32 bits whose value times 2^112 is h: sign,
// exponent and mantissa moved into place with the exponent 112 too small,
// which makes the product exact for normals and subnormals alike. Exponent
// 31 (infinity, NaN) maps to float32's exponent 255. It uses integer
// operations only, so the AVX-512 kernels can do the multiply in a vector.
func f16Scaled(h uint16) uint32 {
	b := uint32(h&0x7fff)<<13 | uint32(h&0x8000)<<16
	special := (uint32(h&0x7c00) + 0x400) >> 15 // 1 for infinities and NaNs
	return b | -special&0x7f800000
}

// F32ToF16 converts a float32 to half precision, rounding to nearest even as
// ggml's FP32_TO_FP16 does. Values too large become infinity; NaN becomes the
// canonical quiet NaN 0x7e00 with the sign kept.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		return sign | f16Subnormal(mant|0x800000, e)
	}
	h := uint32(e)<<10 | mant>>13
	h += roundBit(mant, 13, h)
	return sign | uint16(h) // a carry into the exponent is the correct rounding
}

// f16Subnormal rounds the 24-bit significand m, with half exponent e ≤ 0,
// to a half subnormal (or zero, or the smallest normal on carry).
func f16Subnormal(m uint32, e int) uint16 {
	if e < -10 {
		return 0
	}
	shift := uint(14 - e)
	h := m >> shift
	return uint16(h + roundBit(m, shift, h))
}

// roundBit returns 1 when dropping the low shift bits of m from the kept
// value h must round up under round-to-nearest-even.
func roundBit(m uint32, shift uint, h uint32) uint32 {
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && h&1 == 1) {
		return 1
	}
	return 0
}

// BF16ToF32 converts a bfloat16 value to float32 (it is the upper half of
// the float32 bit pattern).
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 converts a float32 to bfloat16, rounding to nearest even as
// ggml's GGML_FP32_TO_BF16 does; NaNs stay NaN (quiet bit set).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + (0x7fff + (b>>16)&1)) >> 16)
}
