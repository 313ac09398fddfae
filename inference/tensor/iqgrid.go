package tensor

import "encoding/binary"

// The 1-, 2- and 3-bit formats of ggml (block_iq2_xxs … block_iq1_m), 256
// values a super-block. Their values come from codebooks (iqgrids.go): an
// index picks eight (or four) magnitudes at once; signs and per-32 or
// per-16 scales complete them.
//
//	IQ2_XXS: d f16 | qs 64               per 32 values: 4 grid bytes, then a u32 of 4×7 sign bits and a 4-bit scale
//	IQ2_XS:  d f16 | qs 64 | scales 8    per 8 values: a u16, 9 bits of grid index and 7 of signs; a 4-bit scale per 16
//	IQ2_S:   d f16 | qs 32 | signs 32 | qh 8 | scales 8    10-bit grid indices (8 low bits in qs, 2 in qh)
//	IQ3_XXS: d f16 | qs 64 | scales 32   per 4 values a grid byte; per 32 a u32 of 4×7 sign bits and a 4-bit scale
//	IQ3_S:   d f16 | qs 64 | qh 8 | signs 32 | scales 4    9-bit grid indices of 4 values, explicit sign bits
//	IQ1_S:   d f16 | qs 32 | qh 16       per 32 values: a u16 of 4×3 high index bits, a 3-bit scale and a delta sign
//	IQ1_M:   qs 32 | qh 16 | scales 8    per 8 values 3 high index bits and a delta sign; d split over the scales' top nibbles
//
// Each is decoded as gguf-py decodes it, in float32, in its order of
// operations (testdata/quant_golden.json, "blocks").
const (
	iq2XXSBytes = 2 + QKK/4
	iq2XSBytes  = 2 + QKK/4 + QKK/32
	iq2SBytes   = 2 + QKK/4 + QKK/16
	iq3XXSBytes = 2 + 3*QKK/8
	iq3SBytes   = 2 + QKK/4 + QKK/32 + QKK/8 + QKK/64
	iq1SBytes   = 2 + QKK/8 + QKK/16
	iq1MBytes   = QKK/8 + QKK/16 + QKK/32
)

// iq1Delta is ggml's IQ1S_DELTA.
const iq1Delta = 0.125

// gridByte is value j of a codebook entry.
func gridByte(entry uint64, j int) float32 { return float32(uint8(entry >> (8 * j))) }

// signed returns v, negated where bit j of signs is set.
func signed(v float32, signs byte, j int) float32 {
	if signs>>j&1 != 0 {
		return v * -1
	}
	return v
}

// iq2Scale is ggml's db = d·(0.5 + s)·0.25 of the IQ2 formats.
func iq2Scale(d float32, s uint32) float32 { return d * (0.5 + float32(s)) * 0.25 }

// iq2Eight writes the eight values of a codebook entry with scale db and signs.
func iq2Eight(y []float32, entry uint64, db float32, signs byte) {
	for j := range 8 {
		y[j] = signed(db*gridByte(entry, j), signs, j)
	}
}

func dequantIQ2XXS(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq2XXSBytes:(i+1)*iq2XXSBytes], dst[i*QKK:(i+1)*QKK]
		d := half(blk[0:2])
		for ib := range QKK / QK {
			grid := blk[2+8*ib : 2+8*ib+4]
			aux := binary.LittleEndian.Uint32(blk[2+8*ib+4:])
			db := iq2Scale(d, aux>>28)
			for l := range 4 {
				iq2Eight(y[QK*ib+8*l:], iq2xxsGrid[grid[l]], db, ksignsIQ2[aux>>(7*l)&127])
			}
		}
	}
}

func dequantIQ2XS(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq2XSBytes:(i+1)*iq2XSBytes], dst[i*QKK:(i+1)*QKK]
		d, scales := half(blk[0:2]), blk[2+QKK/4:]
		for k := range QKK / 8 {
			q := binary.LittleEndian.Uint16(blk[2+2*k:])
			db := iq2Scale(d, uint32(scales[k/4]>>(4*(k/2%2))&15))
			iq2Eight(y[8*k:], iq2xsGrid[q&511], db, ksignsIQ2[q>>9])
		}
	}
}

func dequantIQ2S(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq2SBytes:(i+1)*iq2SBytes], dst[i*QKK:(i+1)*QKK]
		d := half(blk[0:2])
		qs, signs := blk[2:2+QKK/8], blk[2+QKK/8:2+QKK/4]
		qh, scales := blk[2+QKK/4:2+QKK/4+QKK/32], blk[2+QKK/4+QKK/32:]
		for k := range QKK / 8 {
			idx := int(qs[k]) | int(qh[k/4]>>(2*(k%4))&3)<<8
			db := iq2Scale(d, uint32(scales[k/4]>>(4*(k/2%2))&15))
			iq2Eight(y[8*k:], iq2sGrid[idx], db, signs[k])
		}
	}
}

func dequantIQ3XXS(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq3XXSBytes:(i+1)*iq3XXSBytes], dst[i*QKK:(i+1)*QKK]
		d, qs := half(blk[0:2]), blk[2:2+QKK/4]
		for ib := range QKK / QK {
			aux := binary.LittleEndian.Uint32(blk[2+QKK/4+4*ib:])
			db := d * (0.5 + float32(aux>>28)) * 0.5
			for l := range 4 {
				signs := ksignsIQ2[aux>>(7*l)&127]
				for h := range 2 {
					entry := uint64(iq3xxsGrid[qs[8*ib+2*l+h]])
					for j := range 4 {
						y[QK*ib+8*l+4*h+j] = signed(db*gridByte(entry, j), signs, 4*h+j)
					}
				}
			}
		}
	}
}

func dequantIQ3S(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq3SBytes:(i+1)*iq3SBytes], dst[i*QKK:(i+1)*QKK]
		d, qs := half(blk[0:2]), blk[2:2+QKK/4]
		qh := blk[2+QKK/4 : 2+QKK/4+QKK/32]
		signs := blk[2+QKK/4+QKK/32 : 2+QKK/4+QKK/32+QKK/8]
		scales := blk[2+QKK/4+QKK/32+QKK/8:]
		for k := range QKK / 4 {
			idx := int(qs[k]) | int(qh[k/8]>>(k%8)&1)<<8
			s := scales[k/16] >> (4 * (k / 8 % 2)) & 15
			db := d * float32(1+2*s)
			entry := uint64(iq3sGrid[idx])
			for j := range 4 {
				v := 4*k + j
				y[v] = signed(db*gridByte(entry, j), signs[v/8], v%8)
			}
		}
	}
}

// iq1Eight writes the eight values of an IQ1 codebook entry (int8 −1, 0, 1)
// with scale dl and delta: dl·(value + delta).
func iq1Eight(y []float32, entry uint64, dl, delta float32) {
	for j := range 8 {
		y[j] = dl * (float32(int8(entry>>(8*j))) + delta)
	}
}

func dequantIQ1S(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq1SBytes:(i+1)*iq1SBytes], dst[i*QKK:(i+1)*QKK]
		d, qs := half(blk[0:2]), blk[2:2+QKK/8]
		for ib := range QKK / QK {
			qh := binary.LittleEndian.Uint16(blk[2+QKK/8+2*ib:])
			dl := d * float32(2*(qh>>12&7)+1)
			delta := float32(iq1Delta)
			if qh&0x8000 != 0 {
				delta = -iq1Delta
			}
			for l := range 4 {
				idx := int(qs[4*ib+l]) | int(qh>>(3*l)&7)<<8
				iq1Eight(y[QK*ib+8*l:], iq1sGrid[idx], dl, delta)
			}
		}
	}
}

// iq1MScale is an IQ1_M super-block's float16 scale, whose four nibbles
// are the top nibbles of the four 16-bit scale words.
func iq1MScale(scales []byte) float32 {
	var bits uint16
	for w := range 4 {
		bits |= binary.LittleEndian.Uint16(scales[2*w:]) & 0xF000 >> (12 - 4*w)
	}
	return F16ToF32(bits)
}

func dequantIQ1M(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk, y := src[i*iq1MBytes:(i+1)*iq1MBytes], dst[i*QKK:(i+1)*QKK]
		qs, qh, scales := blk[:QKK/8], blk[QKK/8:QKK/8+QKK/16], blk[QKK/8+QKK/16:]
		d := iq1MScale(scales)
		for k := range QKK / 8 {
			s := binary.LittleEndian.Uint16(scales[2*(k/8):]) >> (3 * (k / 2 % 4)) & 7
			dl := d * float32(2*s+1)
			h := qh[k/2] >> (4 * (k % 2))
			delta := float32(iq1Delta)
			if h&8 != 0 {
				delta = -iq1Delta
			}
			iq1Eight(y[8*k:], iq1sGrid[int(qs[k])|int(h&7)<<8], dl, delta)
		}
	}
}
