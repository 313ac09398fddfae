//go:build goexperiment.simd && amd64

#include "textflag.h"

// AMX kernels (see amx_simd_amd64.go). The Go assembler has no AMX or AVX-512 BF16 mnemonics, so
// those instructions are spelled as bytes, each after a comment with its AT&T form; the tiles'
// registers are fixed: weights' tiles at R8, activations' at R9, results at R10, row stride in R11.

#define LDTILECFG_AX BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
#define TILERELEASE BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0
// tileloadd (%r8,%r11,1), %tmm3 and 1024(%r8,%r11,1), %tmm4: the two weight tiles
#define LOAD_B0 BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x1c; BYTE $0x18
#define LOAD_B1 BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0xa4; BYTE $0x18; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00
// tileloadd (%r9,%r11,1), %tmm0; 1024(…), %tmm1: the two activation pieces
#define LOAD_A0 BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x04; BYTE $0x19
#define LOAD_A1 BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x8c; BYTE $0x19; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00
// tilezero %tmm5, %tmm6: the two result tiles
#define ZERO_C0 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xe8
#define ZERO_C1 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xf0
// tdpbf16ps %tmmB, %tmmA, %tmmC: C += A·B
#define DP_A0_B0 BYTE $0xc4; BYTE $0xe2; BYTE $0x62; BYTE $0x5c; BYTE $0xe8
#define DP_A0_B1 BYTE $0xc4; BYTE $0xe2; BYTE $0x5a; BYTE $0x5c; BYTE $0xf0
#define DP_A1_B0 BYTE $0xc4; BYTE $0xe2; BYTE $0x62; BYTE $0x5c; BYTE $0xe9
#define DP_A1_B1 BYTE $0xc4; BYTE $0xe2; BYTE $0x5a; BYTE $0x5c; BYTE $0xf1
// tilestored %tmm5, (%r10,%r11,1) and %tmm6, 1024(%r10,%r11,1)
#define STORE_C0 BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x2c; BYTE $0x1a
#define STORE_C1 BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0xb4; BYTE $0x1a; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00
// vcvtne2ps2bf16 %zmm0, %zmm1, %zmm2: Z2 = Z0's 16 floats as bfloat16, then Z1's (to nearest, ties to even)
#define CVT_Z0Z1_Z2 BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
// vcvtne2ps2bf16 %zmm0, %zmm1, %zmm5
#define CVT_Z0Z1_Z5 BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xe8

// SCALE_FIRST and SCALE_ADD scale one vector's 32 results of the previous group's two result tiles
// (its row c0 of the first, at R14, and c1 of the second) into its place at a0(SI) and a1(SI): with
// the rows' d in Z28 (first tile) and Z30 (second), m in Z29 and Z31 and the vector's Σx at x(AX),
// they become C·d + Σx·m (the first block) or grow by it (later blocks).
#define SCALE_FIRST(c0, c1, a0, a1, x) \
	VMOVUPS c0(R14), Z0; \
	VMOVUPS c1(R14), Z1; \
	VMULPS Z28, Z0, Z0; \
	VMULPS Z30, Z1, Z1; \
	VBROADCASTSS x(AX), Z2; \
	VFMADD231PS Z2, Z29, Z0; \
	VFMADD231PS Z2, Z31, Z1; \
	VMOVUPS Z0, a0(SI); \
	VMOVUPS Z1, a1(SI)

#define SCALE_ADD(c0, c1, a0, a1, x) \
	VMOVUPS c0(R14), Z0; \
	VMOVUPS c1(R14), Z1; \
	VFMADD213PS a0(SI), Z28, Z0; \
	VFMADD213PS a1(SI), Z30, Z1; \
	VBROADCASTSS x(AX), Z2; \
	VFMADD231PS Z2, Z29, Z0; \
	VFMADD231PS Z2, Z31, Z1; \
	VMOVUPS Z0, a0(SI); \
	VMOVUPS Z1, a1(SI)

// SCALE_PREV scales the previous group's 16 vectors (SCALE_FIRST, SCALE_ADD; unrolled, no loop):
// their results are the 2048 bytes before DX (32 floats a vector), their sums Σx the 64 bytes
// before R13.
#define SCALE_PREV(first, add, done) \
	LEAQ -2048(DX), SI; \
	LEAQ -64(R13), AX; \
	CMPQ CX, 40(DI); \
	JNE add; \
first: \
	SCALE_FIRST(0, 1024, 0, 64, 0); \
	SCALE_FIRST(64, 1088, 128, 192, 4); \
	SCALE_FIRST(128, 1152, 256, 320, 8); \
	SCALE_FIRST(192, 1216, 384, 448, 12); \
	SCALE_FIRST(256, 1280, 512, 576, 16); \
	SCALE_FIRST(320, 1344, 640, 704, 20); \
	SCALE_FIRST(384, 1408, 768, 832, 24); \
	SCALE_FIRST(448, 1472, 896, 960, 28); \
	SCALE_FIRST(512, 1536, 1024, 1088, 32); \
	SCALE_FIRST(576, 1600, 1152, 1216, 36); \
	SCALE_FIRST(640, 1664, 1280, 1344, 40); \
	SCALE_FIRST(704, 1728, 1408, 1472, 44); \
	SCALE_FIRST(768, 1792, 1536, 1600, 48); \
	SCALE_FIRST(832, 1856, 1664, 1728, 52); \
	SCALE_FIRST(896, 1920, 1792, 1856, 56); \
	SCALE_FIRST(960, 1984, 1920, 1984, 60); \
	JMP done; \
add: \
	SCALE_ADD(0, 1024, 0, 64, 0); \
	SCALE_ADD(64, 1088, 128, 192, 4); \
	SCALE_ADD(128, 1152, 256, 320, 8); \
	SCALE_ADD(192, 1216, 384, 448, 12); \
	SCALE_ADD(256, 1280, 512, 576, 16); \
	SCALE_ADD(320, 1344, 640, 704, 20); \
	SCALE_ADD(384, 1408, 768, 832, 24); \
	SCALE_ADD(448, 1472, 896, 960, 28); \
	SCALE_ADD(512, 1536, 1024, 1088, 32); \
	SCALE_ADD(576, 1600, 1152, 1216, 36); \
	SCALE_ADD(640, 1664, 1280, 1344, 40); \
	SCALE_ADD(704, 1728, 1408, 1472, 44); \
	SCALE_ADD(768, 1792, 1536, 1600, 48); \
	SCALE_ADD(832, 1856, 1664, 1728, 52); \
	SCALE_ADD(896, 1920, 1792, 1856, 56); \
	SCALE_ADD(960, 1984, 1920, 1984, 60); \
done:

// func amxMul(j *amxJob)
//
// For each block (32 columns): the two weight tiles (rows t…t+15 and t+16…t+31, bf16 pairs of
// the blocks' integer values) stay loaded while every group of 16 vectors passes: its two
// bf16 pieces are multiplied with both (four tile products, exact products summed in float32).
// The vector units scale each group's results into its accumulators (SCALE_PREV) while the tile
// units compute the next group; the result tiles alternate between two scratch buffers.
TEXT ·amxMul(SB), NOSPLIT, $0-8
	MOVQ j+0(FP), DI
	MOVQ 0(DI), AX
	LDTILECFG_AX
	MOVQ 8(DI), R8
	MOVQ 24(DI), R9
	MOVQ 32(DI), R13
	MOVQ 40(DI), CX
	MOVQ 56(DI), R10
	LEAQ 2048(R10), R14
	MOVQ $64, R11

amxblock:
	LOAD_B0
	LOAD_B1
	MOVQ 40(DI), AX
	SUBQ CX, AX
	SHLQ $8, AX
	ADDQ 16(DI), AX
	VMOVUPS 0(AX), Z28
	VMOVUPS 64(AX), Z29
	VMOVUPS 128(AX), Z30
	VMOVUPS 192(AX), Z31
	MOVQ 48(DI), BX
	MOVQ 64(DI), DX
	LOAD_A0
	LOAD_A1
	JMP amxtiles

amxgroup:
	LOAD_A0
	LOAD_A1
	SCALE_PREV(amxs1first, amxs1add, amxs1done)

amxtiles:
	ZERO_C0
	ZERO_C1
	DP_A0_B0
	DP_A0_B1
	DP_A1_B0
	DP_A1_B1
	STORE_C0
	STORE_C1
	XCHGQ R10, R14
	ADDQ $2048, R9
	ADDQ $64, R13
	ADDQ $2048, DX
	DECQ BX
	JNZ amxgroup
	SCALE_PREV(amxs2first, amxs2add, amxs2done)
	ADDQ $2048, R8
	DECQ CX
	JNZ amxblock
	TILERELEASE
	VZEROUPPER
	RET

// BLOCK_SUM stores at (R14) the sum of the 32 values in Z0, Z1 (a fixed tree: halves, then
// quarters, … down to one value).
#define BLOCK_SUM \
	VADDPS Z1, Z0, Z4; \
	VEXTRACTF64X4 $1, Z4, Y5; \
	VADDPS Y5, Y4, Y4; \
	VEXTRACTF128 $1, Y4, X5; \
	VADDPS X5, X4, X4; \
	VPERMILPS $0x4e, X4, X5; \
	VADDPS X5, X4, X4; \
	VPERMILPS $0xb1, X4, X5; \
	VADDPS X5, X4, X4; \
	VMOVSS X4, (R14)

// SPLIT_ROW reads one vector's block of 32 values at (DX) and writes its sum at (R14) and its
// two pieces' rows at (R13) and 1024(R13): hi, the values rounded to bfloat16 (to nearest, ties
// to even), and lo, what remains (exact in float32) rounded the same way.
#define SPLIT_ROW \
	VMOVUPS (DX), Z0; \
	VMOVUPS 64(DX), Z1; \
	BLOCK_SUM; \
	CVT_Z0Z1_Z2; \
	VMOVDQU16 Z2, (R13); \
	VPMOVZXWD Y2, Z3; \
	VPSLLD $16, Z3, Z3; \
	VEXTRACTI64X4 $1, Z2, Y4; \
	VPMOVZXWD Y4, Z4; \
	VPSLLD $16, Z4, Z4; \
	VSUBPS Z3, Z0, Z0; \
	VSUBPS Z4, Z1, Z1; \
	CVT_Z0Z1_Z5; \
	VMOVDQU16 Z5, 1024(R13)

// PREFETCH_NEXT asks for the two tile rows at (R13) in the next block (R8 bytes on) to be in
// the cache by the time that block is split: each block's tiles start in another page, where the
// hardware prefetcher would first have to see misses.
#define PREFETCH_NEXT \
	PREFETCHT0 (R13)(R8*1); \
	PREFETCHT0 1024(R13)(R8*1)

// func amxSplitGroup(x *float32, xstride, lanes, nb int, xa *uint16, bstride int, sx *float32, sstride int)
//
// Splits lanes (1…16) consecutive vectors of one group, the first at x and each next xstride
// bytes on, into the group's tiles: per block of 32 values, the sum Σx (a fixed tree) at sx, and
// x ≈ hi + lo (SPLIT_ROW) in two tiles 1024 bytes apart at xa, one 64-byte row per vector. Block
// by block, so that each block's tiles are written in order; the next block's tiles are bstride
// bytes on (their rows for these vectors are prefetched while this block is split), its sums
// sstride bytes on.
// Registers: SI, DI, R9 the block's first vector's values, tile row and sum; DX, R13, R14 the
// same for the vector at hand; R11 xstride; BX lanes; R12 lanes left; CX blocks left; R8
// bstride; R10 sstride.
TEXT ·amxSplitGroup(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xstride+8(FP), R11
	MOVQ lanes+16(FP), BX
	MOVQ nb+24(FP), CX
	MOVQ xa+32(FP), DI
	MOVQ bstride+40(FP), R8
	MOVQ sx+48(FP), R9
	MOVQ sstride+56(FP), R10
	TESTQ CX, CX
	JLE amxsplitdone
	TESTQ BX, BX
	JLE amxsplitdone

amxsplitblock:
	MOVQ SI, DX
	MOVQ DI, R13
	MOVQ R9, R14
	MOVQ BX, R12

amxsplitlane:
	PREFETCH_NEXT
	SPLIT_ROW
	ADDQ R11, DX
	ADDQ $64, R13
	ADDQ $4, R14
	DECQ R12
	JNZ amxsplitlane
	ADDQ $128, SI
	ADDQ R8, DI
	ADDQ R10, R9
	DECQ CX
	JNZ amxsplitblock

amxsplitdone:
	VZEROUPPER
	RET

// UNPACK_ROW reads the 16 nibble bytes of one row's block (row pointer at ptr(SI), block offset
// R12) into the 32 bf16 values of that row: low nibbles first, through the table in Z30.
#define UNPACK_ROW(ptr, y, z) \
	MOVQ ptr(SI), AX; \
	VPMOVZXBW (AX)(R12*1), y; \
	VPSRLW $4, y, Y16; \
	VPANDD Y31, y, y; \
	VINSERTI64X4 $1, Y16, z, z; \
	VPERMW Z30, z, z

// func amxUnpackQ4(j *amxUnpack)
//
// Per block: the 16 rows' scales d and offsets m as float32 (Q4_0: m = −8d), then each row's 32
// nibbles as bfloat16 values 0…15 (low nibbles first), 16 pairs a row, transposed so that tile row
// k holds pair k of every row: the layout of TDPBF16PS's second operand.
TEXT ·amxUnpackQ4(SB), NOSPLIT, $0-8
	MOVQ j+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 8(DI), CX
	MOVQ 16(DI), R14
	MOVQ 24(DI), R13
	MOVQ 32(DI), R8
	MOVQ 40(DI), R9
	MOVQ 48(DI), DX
	MOVQ 56(DI), BX
	XORQ R11, R11

amxunpackloop:
	VMOVDQU64 (SI), Z26
	VMOVDQU64 64(SI), Z27
	KXNORW K0, K0, K1
	VPGATHERQD (R11)(Z26*1), K1, Y24
	KXNORW K0, K0, K2
	VPGATHERQD (R11)(Z27*1), K2, Y25
	VINSERTI64X4 $1, Y25, Z24, Z24
	VPMOVDW Z24, Y25
	VCVTPH2PS Y25, Z25
	VMOVUPS Z25, (R9)
	CMPQ DX, $1
	JNE amxunpackq40
	VPSRLD $16, Z24, Z24
	VPMOVDW Z24, Y24
	VCVTPH2PS Y24, Z24
	VMOVUPS Z24, 64(R9)
	JMP amxunpackrows
amxunpackq40:
	MOVL $0xc1000000, AX
	VPBROADCASTD AX, Z24
	VMULPS Z24, Z25, Z24
	VMOVUPS Z24, 64(R9)
amxunpackrows:
	VMOVDQU16 (BX), Z30
	MOVL $0x000f000f, AX
	VPBROADCASTD AX, Y31
	LEAQ (R11)(R13*1), R12
	UNPACK_ROW(0, Y0, Z0)
	UNPACK_ROW(8, Y1, Z1)
	UNPACK_ROW(16, Y2, Z2)
	UNPACK_ROW(24, Y3, Z3)
	UNPACK_ROW(32, Y4, Z4)
	UNPACK_ROW(40, Y5, Z5)
	UNPACK_ROW(48, Y6, Z6)
	UNPACK_ROW(56, Y7, Z7)
	UNPACK_ROW(64, Y8, Z8)
	UNPACK_ROW(72, Y9, Z9)
	UNPACK_ROW(80, Y10, Z10)
	UNPACK_ROW(88, Y11, Z11)
	UNPACK_ROW(96, Y12, Z12)
	UNPACK_ROW(104, Y13, Z13)
	UNPACK_ROW(112, Y14, Z14)
	UNPACK_ROW(120, Y15, Z15)
	VPUNPCKLDQ Z1, Z0, Z16
	VPUNPCKHDQ Z1, Z0, Z17
	VPUNPCKLDQ Z3, Z2, Z18
	VPUNPCKHDQ Z3, Z2, Z19
	VPUNPCKLDQ Z5, Z4, Z20
	VPUNPCKHDQ Z5, Z4, Z21
	VPUNPCKLDQ Z7, Z6, Z22
	VPUNPCKHDQ Z7, Z6, Z23
	VPUNPCKLDQ Z9, Z8, Z24
	VPUNPCKHDQ Z9, Z8, Z25
	VPUNPCKLDQ Z11, Z10, Z26
	VPUNPCKHDQ Z11, Z10, Z27
	VPUNPCKLDQ Z13, Z12, Z28
	VPUNPCKHDQ Z13, Z12, Z29
	VPUNPCKLDQ Z15, Z14, Z30
	VPUNPCKHDQ Z15, Z14, Z31
	VPUNPCKLQDQ Z18, Z16, Z0
	VPUNPCKHQDQ Z18, Z16, Z1
	VPUNPCKLQDQ Z19, Z17, Z2
	VPUNPCKHQDQ Z19, Z17, Z3
	VPUNPCKLQDQ Z22, Z20, Z4
	VPUNPCKHQDQ Z22, Z20, Z5
	VPUNPCKLQDQ Z23, Z21, Z6
	VPUNPCKHQDQ Z23, Z21, Z7
	VPUNPCKLQDQ Z26, Z24, Z8
	VPUNPCKHQDQ Z26, Z24, Z9
	VPUNPCKLQDQ Z27, Z25, Z10
	VPUNPCKHQDQ Z27, Z25, Z11
	VPUNPCKLQDQ Z30, Z28, Z12
	VPUNPCKHQDQ Z30, Z28, Z13
	VPUNPCKLQDQ Z31, Z29, Z14
	VPUNPCKHQDQ Z31, Z29, Z15
	VSHUFI32X4 $0x88, Z4, Z0, Z16
	VSHUFI32X4 $0xdd, Z4, Z0, Z20
	VSHUFI32X4 $0x88, Z5, Z1, Z17
	VSHUFI32X4 $0xdd, Z5, Z1, Z21
	VSHUFI32X4 $0x88, Z6, Z2, Z18
	VSHUFI32X4 $0xdd, Z6, Z2, Z22
	VSHUFI32X4 $0x88, Z7, Z3, Z19
	VSHUFI32X4 $0xdd, Z7, Z3, Z23
	VSHUFI32X4 $0x88, Z12, Z8, Z24
	VSHUFI32X4 $0xdd, Z12, Z8, Z28
	VSHUFI32X4 $0x88, Z13, Z9, Z25
	VSHUFI32X4 $0xdd, Z13, Z9, Z29
	VSHUFI32X4 $0x88, Z14, Z10, Z26
	VSHUFI32X4 $0xdd, Z14, Z10, Z30
	VSHUFI32X4 $0x88, Z15, Z11, Z27
	VSHUFI32X4 $0xdd, Z15, Z11, Z31
	VSHUFI32X4 $0x88, Z24, Z16, Z0
	VSHUFI32X4 $0xdd, Z24, Z16, Z8
	VSHUFI32X4 $0x88, Z25, Z17, Z1
	VSHUFI32X4 $0xdd, Z25, Z17, Z9
	VSHUFI32X4 $0x88, Z26, Z18, Z2
	VSHUFI32X4 $0xdd, Z26, Z18, Z10
	VSHUFI32X4 $0x88, Z27, Z19, Z3
	VSHUFI32X4 $0xdd, Z27, Z19, Z11
	VSHUFI32X4 $0x88, Z28, Z20, Z4
	VSHUFI32X4 $0xdd, Z28, Z20, Z12
	VSHUFI32X4 $0x88, Z29, Z21, Z5
	VSHUFI32X4 $0xdd, Z29, Z21, Z13
	VSHUFI32X4 $0x88, Z30, Z22, Z6
	VSHUFI32X4 $0xdd, Z30, Z22, Z14
	VSHUFI32X4 $0x88, Z31, Z23, Z7
	VSHUFI32X4 $0xdd, Z31, Z23, Z15
	VMOVDQU32 Z0, 0(R8)
	VMOVDQU32 Z1, 64(R8)
	VMOVDQU32 Z2, 128(R8)
	VMOVDQU32 Z3, 192(R8)
	VMOVDQU32 Z4, 256(R8)
	VMOVDQU32 Z5, 320(R8)
	VMOVDQU32 Z6, 384(R8)
	VMOVDQU32 Z7, 448(R8)
	VMOVDQU32 Z8, 512(R8)
	VMOVDQU32 Z9, 576(R8)
	VMOVDQU32 Z10, 640(R8)
	VMOVDQU32 Z11, 704(R8)
	VMOVDQU32 Z12, 768(R8)
	VMOVDQU32 Z13, 832(R8)
	VMOVDQU32 Z14, 896(R8)
	VMOVDQU32 Z15, 960(R8)
	ADDQ R14, R11
	ADDQ $2048, R8
	ADDQ $256, R9
	DECQ CX
	JNZ amxunpackloop
	VZEROUPPER
	RET

// func amxCopyOut(dst *float32, stride int, src *float32, n int)
//
// Copies n runs of 32 floats, one after another at src, to dst, each next run stride bytes on.
TEXT ·amxCopyOut(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JLE amxcopydone
amxcopyloop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, SI
	ADDQ DX, DI
	DECQ CX
	JNZ amxcopyloop
amxcopydone:
	VZEROUPPER
	RET

// ROWS16_PAIRS writes the four tile rows of one 64-byte piece of a Q4_1 interleaved block (lane
// r: row r's bytes 4c…4c+3) whose nibbles are in z (low or high, as bytes 0…15): pairs (bytes
// 0, 1) of every lane at o0(R8) and (bytes 2, 3) at o1(R8), as bfloat16 through the table in Z30.
#define ROWS16_PAIRS(z, o0, o1) \
	VPMOVDW z, Y2; \
	VPMOVZXBW Y2, Z2; \
	VPERMW Z30, Z2, Z2; \
	VMOVDQU16 Z2, o0(R8); \
	VPSRLD $16, z, Z3; \
	VPMOVDW Z3, Y3; \
	VPMOVZXBW Y3, Z3; \
	VPERMW Z30, Z3, Z3; \
	VMOVDQU16 Z3, o1(R8)

// ROWS16_CHUNK unpacks piece c of the block at SI (64 bytes at off): its low nibbles are the
// columns 4c…4c+3 (tile rows 2c, 2c+1), its high nibbles 16+4c… (tile rows 8+2c, 9+2c).
#define ROWS16_CHUNK(off, lo0, lo1, hi0, hi1) \
	VMOVDQU64 off(SI), Z0; \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z31, Z0, Z0; \
	VPANDD Z31, Z1, Z1; \
	ROWS16_PAIRS(Z0, lo0, lo1); \
	ROWS16_PAIRS(Z1, hi0, hi1)

// func amxUnpackRows16(src *byte, nb int, w *uint32, dm *float32, table *[32]uint16)
//
// amxUnpackQ4's output for 16 Q4_1 rows, read from their interleaved copy (rows16.go) instead of
// the rows: per block the rows' d and m as float32 at dm (the next block's 256 bytes on), and the
// tile of bfloat16 pairs at w (the next block's 2048 bytes on): tile row p holds columns 2p and
// 2p+1 of every row, 4 bytes a row.
TEXT ·amxUnpackRows16(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ dm+24(FP), R9
	MOVQ table+32(FP), AX
	VMOVDQU16 (AX), Z30
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	TESTQ CX, CX
	JLE amxrows16done
amxrows16loop:
	PREFETCHT0 1280(SI)
	PREFETCHT0 1344(SI)
	PREFETCHT0 1408(SI)
	PREFETCHT0 1472(SI)
	PREFETCHT0 1536(SI)
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	VMOVUPS Z4, (R9)
	VMOVUPS Z5, 64(R9)
	ROWS16_CHUNK(64, 0, 64, 512, 576)
	ROWS16_CHUNK(128, 128, 192, 640, 704)
	ROWS16_CHUNK(192, 256, 320, 768, 832)
	ROWS16_CHUNK(256, 384, 448, 896, 960)
	ADDQ $320, SI
	ADDQ $2048, R8
	ADDQ $256, R9
	DECQ CX
	JNZ amxrows16loop
amxrows16done:
	VZEROUPPER
	RET
