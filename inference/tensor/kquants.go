package tensor

import "encoding/binary"

// Block layouts of the 5-bit and K formats (little endian; ggml's
// block_q5_0, block_q5_1, block_q2_K … block_q6_K):
//
//	Q5_0: d f16 | qh 4 | qs 16                      value = (q-16)·d
//	Q5_1: d f16 | m f16 | qh 4 | qs 16              value = q·d + m
//	Q2_K: scales 16 | qs 64 | d f16 | dmin f16      16 sub-blocks of 16, 4-bit scale and min
//	Q3_K: hmask 32 | qs 64 | scales 12 | d f16      16 sub-blocks of 16, 6-bit signed scales
//	Q4_K: d f16 | dmin f16 | scales 12 | qs 128     8 sub-blocks of 32, 6-bit scale and min
//	Q5_K: d f16 | dmin f16 | scales 12 | qh 32 | qs 128
//	Q6_K: ql 128 | qh 64 | scales 16 (int8) | d f16 16 sub-blocks of 16
//
// A Q5 block's byte j holds element j in its low nibble and element j+16 in
// its high nibble; bit j of qh is element j's fifth bit. The K formats'
// element orders are those of ggml's dequantize_row_q*_K, which the
// functions below follow; every product is rounded to float32 on its own
// (no fused multiply-add), as numpy's port of them computes.
const (
	q50Bytes = 2 + 4 + QK/2
	q51Bytes = 4 + 4 + QK/2
	q2KBytes = QKK/16 + QKK/4 + 4
	q3KBytes = QKK/8 + QKK/4 + 12 + 2
	q4KBytes = 4 + 12 + QKK/2
	q5KBytes = 4 + 12 + QKK/8 + QKK/2
	q6KBytes = QKK/2 + QKK/4 + QKK/16 + 2
)

// fifth returns element j's and element j+16's high bits (16 or 0) from a
// Q5 block's qh.
func fifth(qh uint32, j int) (lo, hi byte) {
	return byte((qh>>j)<<4) & 0x10, byte(qh>>(j+12)) & 0x10
}

func dequantQ50(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := (*[q50Bytes]byte)(src[i*q50Bytes:])
		y := (*[QK]float32)(dst[i*QK:])
		d := half(blk[0:2])
		qh := binary.LittleEndian.Uint32(blk[2:6])
		for j := 0; j < QK/2; j++ {
			h0, h1 := fifth(qh, j)
			q := blk[6+j]
			y[j] = float32(int32(q&15|h0)-16) * d
			y[j+QK/2] = float32(int32(q>>4|h1)-16) * d
		}
	}
}

func dequantQ51(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QK; i++ {
		blk := (*[q51Bytes]byte)(src[i*q51Bytes:])
		y := (*[QK]float32)(dst[i*QK:])
		d, m := half(blk[0:2]), half(blk[2:4])
		qh := binary.LittleEndian.Uint32(blk[4:8])
		for j := 0; j < QK/2; j++ {
			h0, h1 := fifth(qh, j)
			q := blk[8+j]
			y[j] = float32(float32(q&15|h0)*d) + m
			y[j+QK/2] = float32(float32(q>>4|h1)*d) + m
		}
	}
}

func dequantQ2K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := (*[q2KBytes]byte)(src[i*q2KBytes:])
		y := dst[i*QKK : (i+1)*QKK]
		scales, qs := blk[0:16], blk[16:80]
		d, dmin := half(blk[80:82]), half(blk[82:84])
		out := 0
		for n := range 2 {
			q := qs[n*32 : n*32+32]
			for shift := 0; shift < 8; shift += 2 {
				for half := range 2 {
					sc := scales[n*8+shift+half]
					dl, ml := d*float32(sc&15), dmin*float32(sc>>4)
					for l := range 16 {
						y[out] = float32(dl*float32(q[16*half+l]>>shift&3)) - ml
						out++
					}
				}
			}
		}
	}
}

// q3Scales unpacks a Q3_K block's sixteen 6-bit scales, less 32.
func q3Scales(b []byte) [16]int8 {
	var s [16]int8
	for j := range 16 {
		low := b[j%8] >> (4 * (j / 8)) & 15
		high := b[8+j%4] >> (2 * (j / 4)) & 3
		s[j] = int8(low|high<<4) - 32
	}
	return s
}

func dequantQ3K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := (*[q3KBytes]byte)(src[i*q3KBytes:])
		y := dst[i*QKK : (i+1)*QKK]
		hmask, qs := blk[0:32], blk[32:96]
		scales := q3Scales(blk[96:108])
		d := half(blk[108:110])
		out, is, bit := 0, 0, byte(1)
		for n := range 2 {
			q := qs[n*32 : n*32+32]
			for shift := 0; shift < 8; shift += 2 {
				for half := range 2 {
					dl := d * float32(scales[is])
					is++
					for l := range 16 {
						v := int8(q[16*half+l] >> shift & 3)
						if hmask[16*half+l]&bit == 0 {
							v -= 4
						}
						y[out] = dl * float32(v)
						out++
					}
				}
				bit <<= 1
			}
		}
	}
}

// scaleMinK4 returns sub-block j's 6-bit scale and min from a Q4_K or Q5_K
// block's 12 scale bytes (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&15 | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// subScale returns sub-block j's scale d·sc and offset dmin·m (Q4_K, Q5_K).
func subScale(j int, d, dmin float32, scales []byte) (float32, float32) {
	sc, m := scaleMinK4(j, scales)
	return d * float32(sc), dmin * float32(m)
}

func dequantQ4K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := (*[q4KBytes]byte)(src[i*q4KBytes:])
		y := dst[i*QKK : (i+1)*QKK]
		d, dmin := half(blk[0:2]), half(blk[2:4])
		scales, qs := blk[4:16], blk[16:144]
		for j := range 4 {
			q := qs[32*j : 32*j+32]
			d1, dm1 := subScale(2*j, d, dmin, scales)
			d2, dm2 := subScale(2*j+1, d, dmin, scales)
			for l := range 32 {
				y[64*j+l] = float32(d1*float32(q[l]&15)) - dm1
				y[64*j+32+l] = float32(d2*float32(q[l]>>4)) - dm2
			}
		}
	}
}

func dequantQ5K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := (*[q5KBytes]byte)(src[i*q5KBytes:])
		y := dst[i*QKK : (i+1)*QKK]
		d, dmin := half(blk[0:2]), half(blk[2:4])
		scales, qh, qs := blk[4:16], blk[16:48], blk[48:176]
		for j := range 4 {
			q := qs[32*j : 32*j+32]
			d1, dm1 := subScale(2*j, d, dmin, scales)
			d2, dm2 := subScale(2*j+1, d, dmin, scales)
			for l := range 32 {
				h1, h2 := qh[l]>>(2*j)&1, qh[l]>>(2*j+1)&1
				y[64*j+l] = float32(d1*float32(q[l]&15|h1<<4)) - dm1
				y[64*j+32+l] = float32(d2*float32(q[l]>>4|h2<<4)) - dm2
			}
		}
	}
}

func dequantQ6K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/QKK; i++ {
		blk := (*[q6KBytes]byte)(src[i*q6KBytes:])
		y := dst[i*QKK : (i+1)*QKK]
		d := half(blk[208:210])
		for n := range 2 {
			ql, qh, sc := blk[64*n:64*n+64], blk[128+32*n:128+32*n+32], blk[192+8*n:192+8*n+8]
			o := y[128*n : 128*n+128]
			for l := range 32 {
				is := l / 16
				q1 := int8(ql[l]&15|(qh[l]&3)<<4) - 32
				q2 := int8(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
				q3 := int8(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int8(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				o[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
				o[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
				o[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
				o[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
			}
		}
	}
}

// fiveBits is ggml's MIN(31, (int8_t)(v)) for the Q5 quantizers, clamped
// at 0 as well.
func fiveBits(v float32) byte {
	return byte(min(max(int32(v), 0), 31))
}

// putQ5 stores 32 five-bit values: low nibbles in qs (element j and j+16
// in byte j), fifth bits in qh.
func putQ5(q *[QK]byte, qh, qs []byte) {
	var h uint32
	for j := 0; j < QK/2; j++ {
		qs[j] = q[j]&15 | (q[j+QK/2]&15)<<4
		h |= uint32(q[j]>>4) << j
		h |= uint32(q[j+QK/2]>>4) << (j + QK/2)
	}
	binary.LittleEndian.PutUint32(qh, h)
}

// quantQ50 is ggml's quantize_row_q5_0_ref for one block.
func quantQ50(x *[QK]float32, blk *[q50Bytes]byte) {
	d := signedMax(x) / -16
	id := inverse(d)
	putHalf(blk[0:2], d)
	var q [QK]byte
	for j, v := range x {
		q[j] = fiveBits(float32(v*id) + 16.5)
	}
	putQ5(&q, blk[2:6], blk[6:])
}

// quantQ51 is ggml's quantize_row_q5_1_ref for one block.
func quantQ51(x *[QK]float32, blk *[q51Bytes]byte) {
	min, max := minMax(x)
	d := (max - min) / 31
	id := inverse(d)
	putHalf(blk[0:2], d)
	putHalf(blk[2:4], min)
	var q [QK]byte
	for j, v := range x {
		q[j] = fiveBits(float32((v-min)*id) + 0.5)
	}
	putQ5(&q, blk[4:8], blk[8:])
}
