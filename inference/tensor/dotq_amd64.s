//go:build goexperiment.simd && amd64

#include "textflag.h"

// Row kernels of MulRows for Q4_1 and Q8_0 (see dotq_simd_amd64.go). They
// do exactly the arithmetic of the archsimd kernels kept as their test
// reference (kernels_ref_simd_amd64_test.go): per block
// t = lo·x[0:16]; t = hi·x[16:32] + t; acc = t·d + acc, with even blocks in
// one accumulator and odd blocks in another, and for Q4_1 one more
// accumulator of m·Σx, 16 blocks at a time. The scales of 16 blocks are
// gathered and converted together (VCVTPH2PS is exact) into the 64-byte
// frame, where each block's multiply-add reads its scale as a broadcast.
//
// Registers: SI row, BX blocks left, DX blocks in this chunk, R9 block in
// chunk, R13 byte offset into the vectors, Z28 the floats 0…15 (Q4_1
// decodes a nibble with a permute, VPERMPS using the low 4 bits of each
// index lane), Z31 the gather offsets; the four-vector kernels keep the
// vectors in DI, R10, R11, R12.

// SETUP loads the constants for blocks of size bb.
#define SETUP(bb) \
	MOVL $bb, AX \
	VPBROADCASTD AX, Z29 \
	VPMULLD ·dotqIota(SB), Z29, Z31 \
	VCVTDQ2PS ·dotqIota(SB), Z28 \
	XORQ R13, R13

// SCALES gathers the first 4 bytes of the next min(16, BX) blocks into Z0
// (zero past the last block), stores their low fp16 halves as float32 at
// 0(SP) and leaves DX = the chunk's block count, BX = blocks after it.
#define SCALES \
	MOVQ BX, DX \
	CMPQ DX, $16 \
	JLE  2(PC) \
	MOVQ $16, DX \
	MOVQ DX, CX \
	MOVL $1, AX \
	SHLL CX, AX \
	DECL AX \
	KMOVW AX, K1 \
	VPXORD Z0, Z0, Z0 \
	VPGATHERDD (SI)(Z31*1), K1, Z0 \
	VPMOVDW Z0, Y1 \
	VCVTPH2PS Y1, Z1 \
	VMOVUPS Z1, 0(SP) \
	SUBQ DX, BX \
	XORQ R9, R9

// MINS converts the high fp16 halves of Z0 (Q4_1's m) into Z2 and leaves
// in AX the byte offset of the chunk's first block sum.
#define MINS \
	VPSRLD $16, Z0, Z2 \
	VPMOVDW Z2, Y2 \
	VCVTPH2PS Y2, Z2 \
	MOVQ R13, AX \
	SHRQ $5, AX

// Q41 decodes the 16 bytes of nibbles at src into lo, hi (floats).
#define Q41(src, lo, hi) \
	VPMOVZXBD src, hi \
	VPERMPS Z28, hi, lo \
	VPSRLD $4, hi, hi \
	VPERMPS Z28, hi, hi

// Q80 decodes the signed bytes at lo16 and hi16 into lo, hi (floats).
#define Q80(lo16, hi16, lo, hi) \
	VPMOVSXBD lo16, lo \
	VPMOVSXBD hi16, hi \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi

// TERM is acc += d·(lo·x[0:16] + hi·x[16:32]) for the vector at xp.
#define TERM(xp, xo, d, lo, hi, t, acc) \
	VMULPS xo(xp)(R13*1), lo, t \
	VFMADD231PS xo+64(xp)(R13*1), hi, t \
	VFMADD231PS.BCST d, t, acc

#define TERM4(xo, d, lo, hi, a0, a1, a2, a3) \
	TERM(DI, xo, d, lo, hi, Z10, a0) \
	TERM(R10, xo, d, lo, hi, Z11, a1) \
	TERM(R11, xo, d, lo, hi, Z12, a2) \
	TERM(R12, xo, d, lo, hi, Z13, a3)

// CLEAN leaves no dirty upper register state: the Go caller resets X15
// with a legacy SSE instruction on return, which is very slow after
// AVX-512 code.
#define CLEAN \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23 \
	VPXORD Z24, Z24, Z24 \
	VPXORD Z25, Z25, Z25 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPXORD Z28, Z28, Z28 \
	VPXORD Z29, Z29, Z29 \
	VPXORD Z30, Z30, Z30 \
	VPXORD Z31, Z31, Z31 \
	VZEROUPPER

// func q41Dot1(row *byte, nb int, x, xs *float32, l *[16]float32)
TEXT ·q41Dot1(SB), NOSPLIT, $64-40
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ xs+24(FP), R8
	SETUP(20)
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	TESTQ BX, BX
	JLE   q41d1done

q41d1chunk:
	SCALES
	MINS
	VFMADD231PS (R8)(AX*1), Z2, Z18

q41d1pair:
	CMPQ DX, $2
	JLT  q41d1single
	Q41(4(SI), Z4, Z5)
	Q41(24(SI), Z7, Z8)
	TERM(DI, 0, 0(SP)(R9*4), Z4, Z5, Z6, Z16)
	TERM(DI, 128, 4(SP)(R9*4), Z7, Z8, Z9, Z17)
	ADDQ $40, SI
	ADDQ $256, R13
	ADDQ $2, R9
	SUBQ $2, DX
	JMP  q41d1pair

q41d1single:
	TESTQ DX, DX
	JZ    q41d1next
	Q41(4(SI), Z4, Z5)
	TERM(DI, 0, 0(SP)(R9*4), Z4, Z5, Z6, Z16)
	ADDQ  $20, SI
	ADDQ  $128, R13

q41d1next:
	TESTQ BX, BX
	JG    q41d1chunk

q41d1done:
	VADDPS Z17, Z16, Z16
	VADDPS Z18, Z16, Z16
	MOVQ   l+32(FP), AX
	VMOVUPS Z16, (AX)
	CLEAN
	RET

// func q41Dot4(row *byte, nb int, x, xs *[4]*float32, l *[4][16]float32)
TEXT ·q41Dot4(SB), NOSPLIT, $64-40
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), R10
	MOVQ 16(AX), R11
	MOVQ 24(AX), R12
	MOVQ xs+24(FP), R8
	SETUP(20)
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	TESTQ BX, BX
	JLE   q41d4done

q41d4chunk:
	SCALES
	MINS
	MOVQ 0(R8), CX
	VFMADD231PS (CX)(AX*1), Z2, Z24
	MOVQ 8(R8), CX
	VFMADD231PS (CX)(AX*1), Z2, Z25
	MOVQ 16(R8), CX
	VFMADD231PS (CX)(AX*1), Z2, Z26
	MOVQ 24(R8), CX
	VFMADD231PS (CX)(AX*1), Z2, Z27

q41d4pair:
	CMPQ DX, $2
	JLT  q41d4single
	Q41(4(SI), Z4, Z5)
	TERM4(0, 0(SP)(R9*4), Z4, Z5, Z16, Z17, Z18, Z19)
	Q41(24(SI), Z7, Z8)
	TERM4(128, 4(SP)(R9*4), Z7, Z8, Z20, Z21, Z22, Z23)
	ADDQ $40, SI
	ADDQ $256, R13
	ADDQ $2, R9
	SUBQ $2, DX
	JMP  q41d4pair

q41d4single:
	TESTQ DX, DX
	JZ    q41d4next
	Q41(4(SI), Z4, Z5)
	TERM4(0, 0(SP)(R9*4), Z4, Z5, Z16, Z17, Z18, Z19)
	ADDQ  $20, SI
	ADDQ  $128, R13

q41d4next:
	TESTQ BX, BX
	JG    q41d4chunk

q41d4done:
	MOVQ    l+32(FP), AX
	VADDPS  Z20, Z16, Z16
	VADDPS  Z24, Z16, Z16
	VMOVUPS Z16, 0(AX)
	VADDPS  Z21, Z17, Z17
	VADDPS  Z25, Z17, Z17
	VMOVUPS Z17, 64(AX)
	VADDPS  Z22, Z18, Z18
	VADDPS  Z26, Z18, Z18
	VMOVUPS Z18, 128(AX)
	VADDPS  Z23, Z19, Z19
	VADDPS  Z27, Z19, Z19
	VMOVUPS Z19, 192(AX)
	CLEAN
	RET

// func q80Dot1(row *byte, nb int, x *float32, l *[16]float32)
TEXT ·q80Dot1(SB), NOSPLIT, $64-32
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), DI
	SETUP(34)
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	TESTQ BX, BX
	JLE   q80d1done

q80d1chunk:
	SCALES

q80d1pair:
	CMPQ DX, $2
	JLT  q80d1single
	Q80(2(SI), 18(SI), Z4, Z5)
	Q80(36(SI), 52(SI), Z7, Z8)
	TERM(DI, 0, 0(SP)(R9*4), Z4, Z5, Z6, Z16)
	TERM(DI, 128, 4(SP)(R9*4), Z7, Z8, Z9, Z17)
	ADDQ $68, SI
	ADDQ $256, R13
	ADDQ $2, R9
	SUBQ $2, DX
	JMP  q80d1pair

q80d1single:
	TESTQ DX, DX
	JZ    q80d1next
	Q80(2(SI), 18(SI), Z4, Z5)
	TERM(DI, 0, 0(SP)(R9*4), Z4, Z5, Z6, Z16)
	ADDQ  $34, SI
	ADDQ  $128, R13

q80d1next:
	TESTQ BX, BX
	JG    q80d1chunk

q80d1done:
	VADDPS  Z17, Z16, Z16
	MOVQ    l+24(FP), AX
	VMOVUPS Z16, (AX)
	CLEAN
	RET

// func q80Dot4(row *byte, nb int, x *[4]*float32, l *[4][16]float32)
TEXT ·q80Dot4(SB), NOSPLIT, $64-32
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), R10
	MOVQ 16(AX), R11
	MOVQ 24(AX), R12
	SETUP(34)
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	TESTQ BX, BX
	JLE   q80d4done

q80d4chunk:
	SCALES

q80d4pair:
	CMPQ DX, $2
	JLT  q80d4single
	Q80(2(SI), 18(SI), Z4, Z5)
	TERM4(0, 0(SP)(R9*4), Z4, Z5, Z16, Z17, Z18, Z19)
	Q80(36(SI), 52(SI), Z7, Z8)
	TERM4(128, 4(SP)(R9*4), Z7, Z8, Z20, Z21, Z22, Z23)
	ADDQ $68, SI
	ADDQ $256, R13
	ADDQ $2, R9
	SUBQ $2, DX
	JMP  q80d4pair

q80d4single:
	TESTQ DX, DX
	JZ    q80d4next
	Q80(2(SI), 18(SI), Z4, Z5)
	TERM4(0, 0(SP)(R9*4), Z4, Z5, Z16, Z17, Z18, Z19)
	ADDQ  $34, SI
	ADDQ  $128, R13

q80d4next:
	TESTQ BX, BX
	JG    q80d4chunk

q80d4done:
	MOVQ    l+24(FP), AX
	VADDPS  Z20, Z16, Z16
	VMOVUPS Z16, 0(AX)
	VADDPS  Z21, Z17, Z17
	VMOVUPS Z17, 64(AX)
	VADDPS  Z22, Z18, Z18
	VMOVUPS Z18, 128(AX)
	VADDPS  Z23, Z19, Z19
	VMOVUPS Z19, 192(AX)
	CLEAN
	RET

// dotqIota is 0, 1, …, 15 as int32.
DATA ·dotqIota+0(SB)/4, $0
DATA ·dotqIota+4(SB)/4, $1
DATA ·dotqIota+8(SB)/4, $2
DATA ·dotqIota+12(SB)/4, $3
DATA ·dotqIota+16(SB)/4, $4
DATA ·dotqIota+20(SB)/4, $5
DATA ·dotqIota+24(SB)/4, $6
DATA ·dotqIota+28(SB)/4, $7
DATA ·dotqIota+32(SB)/4, $8
DATA ·dotqIota+36(SB)/4, $9
DATA ·dotqIota+40(SB)/4, $10
DATA ·dotqIota+44(SB)/4, $11
DATA ·dotqIota+48(SB)/4, $12
DATA ·dotqIota+52(SB)/4, $13
DATA ·dotqIota+56(SB)/4, $14
DATA ·dotqIota+60(SB)/4, $15
GLOBL ·dotqIota(SB), RODATA|NOPTR, $64
