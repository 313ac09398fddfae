package tensor

import "encoding/binary"

// The 4-bit non-linear formats (ggml's block_iq4_nl and block_iq4_xs):
//
//	IQ4_NL: d f16 | qs 16                                  value = d·kIQ4[q]
//	IQ4_XS: d f16 | scales_h u16 | scales_l 4 | qs 128     8 sub-blocks of 32, value = d·(ls-32)·kIQ4[q]
//
// q indexes kIQ4, a table of 16 int8 levels; the nibbles are laid out as
// Q4_0's (byte j of a 32-value run: element j low, j+16 high), and ls is a
// sub-block's 6-bit scale, its low four bits in scales_l, its high two in
// scales_h.
const (
	iq4NLBytes = 2 + QK/2
	iq4XSBytes = 2 + 2 + QKK/64 + QKK/2
)

// kIQ4 is ggml's kvalues_iq4nl.
var kIQ4 = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4Run decodes 32 values from 16 nibble bytes with scale d.
func iq4Run(qs []byte, d float32, y []float32) {
	for j := range QK / 2 {
		y[j] = d * float32(kIQ4[qs[j]&15])
		y[j+QK/2] = d * float32(kIQ4[qs[j]>>4])
	}
}

func dequantIQ4NL(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := src[i*iq4NLBytes : (i+1)*iq4NLBytes]
		iq4Run(blk[2:], half(blk[0:2]), dst[i*QK:(i+1)*QK])
	}
}

// iq4XSScale is sub-block ib's scale of an IQ4_XS block, less 32.
func iq4XSScale(blk []byte, ib int) int32 {
	high := binary.LittleEndian.Uint16(blk[2:4]) >> (2 * ib) & 3
	low := blk[4+ib/2] >> (4 * (ib % 2)) & 15
	return (int32(low) | int32(high)<<4) - 32
}

func dequantIQ4XS(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := src[i*iq4XSBytes : (i+1)*iq4XSBytes]
		d := half(blk[0:2])
		for ib := range QKK / QK {
			dl := d * float32(iq4XSScale(blk, ib))
			iq4Run(blk[8+16*ib:], dl, dst[i*QKK+QK*ib:i*QKK+QK*(ib+1)])
		}
	}
}

// iq4NLAsQ80 rewrites IQ4_NL blocks as Q8_0 ones, exactly.
func iq4NLAsQ80(src, dst []byte) {
	for i := 0; i < len(src)/iq4NLBytes; i++ {
		blk := src[i*iq4NLBytes : (i+1)*iq4NLBytes]
		iq4AsQ80(blk[2:], half(blk[0:2]), dst[i*q80Bytes:])
	}
}

// iq4XSAsQ80 rewrites IQ4_XS super-blocks as eight Q8_0 blocks, each with
// its sub-block's scale d·(ls-32) rounded to float16.
func iq4XSAsQ80(src, dst []byte) {
	for i := 0; i < len(src)/iq4XSBytes; i++ {
		blk := src[i*iq4XSBytes : (i+1)*iq4XSBytes]
		d := half(blk[0:2])
		for ib := range QKK / QK {
			iq4AsQ80(blk[8+16*ib:], d*float32(iq4XSScale(blk, ib)), dst[(i*8+ib)*q80Bytes:])
		}
	}
}

// iq4AsQ80 rewrites a run of 32 IQ4 values (16 nibble bytes, scale d) as
// a Q8_0 block: the levels are int8 already, d is stored as float16.
func iq4AsQ80(qs []byte, d float32, out []byte) {
	putHalf(out[0:2], d)
	for j := range QK / 2 {
		out[2+j] = byte(kIQ4[qs[j]&15])
		out[2+j+QK/2] = byte(kIQ4[qs[j]>>4])
	}
}
