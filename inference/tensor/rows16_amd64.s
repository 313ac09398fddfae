//go:build goexperiment.simd && amd64

#include "textflag.h"

// Decoding kernels over 16 interleaved rows (see rows16.go): each lane of a vector is one row, so
// a block of 16 rows × 32 columns takes one broadcast multiply-add per column and no lane sums.
// Four accumulators split the chain of a block's 32 columns; the block's sum is
// (a0 + a1) + (a2 + a3), then scaled: acc += sum·d (+ Σx·m for Q4_1). Each block asks for the
// weights 4 KiB (Q4_1) or 6 KiB (Q8_0) ahead: the out-of-order window alone does not hide
// the wait for memory (measured: 5 → 7.7 GB/s on one core).

// Q80_COL_MUL/ADD take byte j of the 16 rows (at off(SI), signed) as floats times column j's
// value at x(DI) into acc.
#define Q80_COL(off, x, acc, op) \
	VPMOVSXBD off(SI), Z5; \
	VCVTDQ2PS Z5, Z5; \
	op x(DI), Z5, acc
#define Q80_COL_MUL(off, x, acc) Q80_COL(off, x, acc, VMULPS.BCST)
#define Q80_COL_ADD(off, x, acc) Q80_COL(off, x, acc, VFMADD231PS.BCST)

// Q41_CHUNK takes four bytes of each of the 16 rows at off(SI) (lane r: row r's bytes
// 4c…4c+3, low nibbles columns 4c…4c+3, high nibbles columns 16+4c…16+4c+3) and adds their
// exact products with the three int8 pieces of those columns (at DI: piece p's 32 bytes at
// 32p) into Z1…Z6 (piece p's low columns in Z(1+2p), high in Z(2+2p)).
#define Q41_CHUNK(off, p0lo, p0hi, p1lo, p1hi, p2lo, p2hi) \
	VMOVDQU64 off(SI), Z7; \
	VPSRLW $4, Z7, Z8; \
	VPANDD Z31, Z7, Z7; \
	VPANDD Z31, Z8, Z8; \
	VPDPBUSD.BCST p0lo(DI), Z7, Z1; \
	VPDPBUSD.BCST p0hi(DI), Z8, Z2; \
	VPDPBUSD.BCST p1lo(DI), Z7, Z3; \
	VPDPBUSD.BCST p1hi(DI), Z8, Z4; \
	VPDPBUSD.BCST p2lo(DI), Z7, Z5; \
	VPDPBUSD.BCST p2hi(DI), Z8, Z6

// func q41Rows16(w *byte, nb, groups int, a *int8, sc, sx, out *float32)
//
// Per block of 16 rows: Σq·a for each of the vector's three int8 pieces, exact in int32
// (VPDPBUSD: the weights' nibbles as unsigned bytes, the pieces' bytes signed), then
// acc += d·(S₁s₁ + S₂s₂ + S₃s₃) + m·Σx with the pieces' scales s (four floats a block at sc,
// the last unused) and the block sums Σx (sx).
TEXT ·q41Rows16(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), R8
	MOVQ groups+16(FP), R9
	MOVQ a+24(FP), R10
	MOVQ sc+32(FP), R11
	MOVQ sx+40(FP), R13
	MOVQ out+48(FP), R12
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
q41r16group:
	VPXORD Z0, Z0, Z0
	MOVQ R10, DI
	MOVQ R11, BX
	MOVQ R13, DX
	MOVQ R8, CX
q41r16block:
	PREFETCHT0 4096(SI)
	PREFETCHT0 4160(SI)
	PREFETCHT0 4224(SI)
	PREFETCHT0 4288(SI)
	PREFETCHT0 4352(SI)
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	Q41_CHUNK(64, 0, 16, 32, 48, 64, 80)
	Q41_CHUNK(128, 4, 20, 36, 52, 68, 84)
	Q41_CHUNK(192, 8, 24, 40, 56, 72, 88)
	Q41_CHUNK(256, 12, 28, 44, 60, 76, 92)
	VPADDD Z2, Z1, Z1
	VPADDD Z4, Z3, Z3
	VPADDD Z6, Z5, Z5
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z3, Z3
	VCVTDQ2PS Z5, Z5
	VMULPS.BCST (BX), Z1, Z1
	VFMADD231PS.BCST 4(BX), Z3, Z1
	VFMADD231PS.BCST 8(BX), Z5, Z1
	VCVTPH2PS (SI), Z7
	VCVTPH2PS 32(SI), Z8
	VFMADD231PS Z7, Z1, Z0
	VFMADD231PS.BCST (DX), Z8, Z0
	ADDQ $320, SI
	ADDQ $96, DI
	ADDQ $16, BX
	ADDQ $4, DX
	DECQ CX
	JNZ q41r16block
	VMOVUPS Z0, (R12)
	ADDQ $64, R12
	DECQ R9
	JNZ q41r16group
	VZEROUPPER
	RET

// PIECE8 rounds lo and hi (16 values each) times the inverse scale in inv to int8 (to nearest
// even, saturating), stores them at off(DI) and off+16(DI), and takes the pieces times the
// scale in s from lo and hi.
#define PIECE8(off, inv, s) \
	VMULPS inv, Z0, Z4; \
	VMULPS inv, Z1, Z5; \
	VCVTPS2DQ Z4, Z4; \
	VCVTPS2DQ Z5, Z5; \
	VPMOVSDB Z4, off(DI); \
	VPMOVSDB Z5, off+16(DI); \
	VPMOVSDB Z4, X6; \
	VPMOVSDB Z5, X7; \
	VPMOVSXBD X6, Z4; \
	VPMOVSXBD X7, Z5; \
	VCVTDQ2PS Z4, Z4; \
	VCVTDQ2PS Z5, Z5; \
	VFNMADD231PS s, Z4, Z0; \
	VFNMADD231PS s, Z5, Z1

// func splitPiecesAsm(x *float32, nb int, a *int8, sc *float32)
//
// Splits nb blocks of 32 values into three int8 pieces each (see pieces.go): per block, the
// pieces' 96 bytes at a and their scales s₁, s₂, s₃ (and a zero) at sc.
TEXT ·splitPiecesAsm(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ a+16(FP), DI
	MOVQ sc+24(FP), R9
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVL $0x00800000, AX
	VPBROADCASTD AX, Z30
	MOVL $0x42fe0000, AX
	VPBROADCASTD AX, Z29
	MOVL $0x437e0000, AX
	VPBROADCASTD AX, Z28
	VXORPS X27, X27, X27
	TESTQ CX, CX
	JLE i8pdone
i8ploop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VANDPS Z31, Z0, Z2
	VANDPS Z31, Z1, Z3
	VMAXPS Z3, Z2, Z2
	VSHUFF32X4 $0x4e, Z2, Z2, Z3
	VMAXPS Z3, Z2, Z2
	VSHUFF32X4 $0xb1, Z2, Z2, Z3
	VMAXPS Z3, Z2, Z2
	VPERMILPS $0x4e, Z2, Z3
	VMAXPS Z3, Z2, Z2
	VPERMILPS $0xb1, Z2, Z3
	VMAXPS Z3, Z2, Z2
	VMAXPS Z30, Z2, Z2
	VDIVPS Z29, Z2, Z8
	VDIVPS Z2, Z29, Z9
	VDIVPS Z28, Z8, Z10
	VMULPS Z28, Z9, Z11
	VDIVPS Z28, Z10, Z12
	VMULPS Z28, Z11, Z13
	PIECE8(0, Z9, Z8)
	PIECE8(32, Z11, Z10)
	PIECE8(64, Z13, Z12)
	VMOVSS X8, (R9)
	VMOVSS X10, 4(R9)
	VMOVSS X12, 8(R9)
	VMOVSS X27, 12(R9)
	ADDQ $128, SI
	ADDQ $96, DI
	ADDQ $16, R9
	DECQ CX
	JNZ i8ploop
i8pdone:
	VZEROUPPER
	RET

// func q80Rows16(w *byte, nb, groups int, x, out *float32)
TEXT ·q80Rows16(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), R8
	MOVQ groups+16(FP), R9
	MOVQ x+24(FP), R10
	MOVQ out+32(FP), R12
q80r16group:
	VPXORD Z0, Z0, Z0
	MOVQ R10, DI
	MOVQ R8, CX
q80r16block:
	PREFETCHT0 6144(SI)
	PREFETCHT0 6208(SI)
	PREFETCHT0 6272(SI)
	PREFETCHT0 6336(SI)
	PREFETCHT0 6400(SI)
	PREFETCHT0 6464(SI)
	PREFETCHT0 6528(SI)
	PREFETCHT0 6592(SI)
	PREFETCHT0 6656(SI)
	Q80_COL_MUL(32, 0, Z1)
	Q80_COL_MUL(48, 4, Z2)
	Q80_COL_MUL(64, 8, Z3)
	Q80_COL_MUL(80, 12, Z4)
	Q80_COL_ADD(96, 16, Z1)
	Q80_COL_ADD(112, 20, Z2)
	Q80_COL_ADD(128, 24, Z3)
	Q80_COL_ADD(144, 28, Z4)
	Q80_COL_ADD(160, 32, Z1)
	Q80_COL_ADD(176, 36, Z2)
	Q80_COL_ADD(192, 40, Z3)
	Q80_COL_ADD(208, 44, Z4)
	Q80_COL_ADD(224, 48, Z1)
	Q80_COL_ADD(240, 52, Z2)
	Q80_COL_ADD(256, 56, Z3)
	Q80_COL_ADD(272, 60, Z4)
	Q80_COL_ADD(288, 64, Z1)
	Q80_COL_ADD(304, 68, Z2)
	Q80_COL_ADD(320, 72, Z3)
	Q80_COL_ADD(336, 76, Z4)
	Q80_COL_ADD(352, 80, Z1)
	Q80_COL_ADD(368, 84, Z2)
	Q80_COL_ADD(384, 88, Z3)
	Q80_COL_ADD(400, 92, Z4)
	Q80_COL_ADD(416, 96, Z1)
	Q80_COL_ADD(432, 100, Z2)
	Q80_COL_ADD(448, 104, Z3)
	Q80_COL_ADD(464, 108, Z4)
	Q80_COL_ADD(480, 112, Z1)
	Q80_COL_ADD(496, 116, Z2)
	Q80_COL_ADD(512, 120, Z3)
	Q80_COL_ADD(528, 124, Z4)
	VADDPS Z2, Z1, Z1
	VADDPS Z4, Z3, Z3
	VADDPS Z3, Z1, Z1
	VCVTPH2PS (SI), Z7
	VFMADD231PS Z7, Z1, Z0
	ADDQ $544, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q80r16block
	VMOVUPS Z0, (R12)
	ADDQ $64, R12
	DECQ R9
	JNZ q80r16group
	VZEROUPPER
	RET

// TRANSPOSE16 writes bytes off…off+15 of the 16 rows' blocks (row pointers at SI, block offset
// R11) transposed: byte j of every row side by side, bytes 4c…4c+3 at oc(R10).
#define TRANSPOSE16(off, o0, o1, o2, o3) \
	MOVQ 0(SI), AX; \
	VMOVDQU off(AX)(R11*1), X0; \
	MOVQ 8(SI), AX; \
	VINSERTI32X4 $1, off(AX)(R11*1), Z0, Z0; \
	MOVQ 16(SI), AX; \
	VINSERTI32X4 $2, off(AX)(R11*1), Z0, Z0; \
	MOVQ 24(SI), AX; \
	VINSERTI32X4 $3, off(AX)(R11*1), Z0, Z0; \
	MOVQ 32(SI), AX; \
	VMOVDQU off(AX)(R11*1), X1; \
	MOVQ 40(SI), AX; \
	VINSERTI32X4 $1, off(AX)(R11*1), Z1, Z1; \
	MOVQ 48(SI), AX; \
	VINSERTI32X4 $2, off(AX)(R11*1), Z1, Z1; \
	MOVQ 56(SI), AX; \
	VINSERTI32X4 $3, off(AX)(R11*1), Z1, Z1; \
	MOVQ 64(SI), AX; \
	VMOVDQU off(AX)(R11*1), X2; \
	MOVQ 72(SI), AX; \
	VINSERTI32X4 $1, off(AX)(R11*1), Z2, Z2; \
	MOVQ 80(SI), AX; \
	VINSERTI32X4 $2, off(AX)(R11*1), Z2, Z2; \
	MOVQ 88(SI), AX; \
	VINSERTI32X4 $3, off(AX)(R11*1), Z2, Z2; \
	MOVQ 96(SI), AX; \
	VMOVDQU off(AX)(R11*1), X3; \
	MOVQ 104(SI), AX; \
	VINSERTI32X4 $1, off(AX)(R11*1), Z3, Z3; \
	MOVQ 112(SI), AX; \
	VINSERTI32X4 $2, off(AX)(R11*1), Z3, Z3; \
	MOVQ 120(SI), AX; \
	VINSERTI32X4 $3, off(AX)(R11*1), Z3, Z3; \
	VPERMB Z0, Z20, Z4; \
	VPERMB Z1, Z20, Z5; \
	VPERMB Z2, Z20, Z6; \
	VPERMB Z3, Z20, Z7; \
	VSHUFI32X4 $0, Z5, Z4, Z8; \
	VSHUFI32X4 $0, Z7, Z6, Z9; \
	VSHUFI32X4 $0x88, Z9, Z8, Z12; \
	VSHUFI32X4 $85, Z5, Z4, Z8; \
	VSHUFI32X4 $85, Z7, Z6, Z9; \
	VSHUFI32X4 $0x88, Z9, Z8, Z13; \
	VSHUFI32X4 $170, Z5, Z4, Z8; \
	VSHUFI32X4 $170, Z7, Z6, Z9; \
	VSHUFI32X4 $0x88, Z9, Z8, Z14; \
	VSHUFI32X4 $255, Z5, Z4, Z8; \
	VSHUFI32X4 $255, Z7, Z6, Z9; \
	VSHUFI32X4 $0x88, Z9, Z8, Z15; \
	VPERMB Z12, Z21, Z12; \
	VMOVDQU64 Z12, o0(R10); \
	VPERMB Z13, Z21, Z13; \
	VMOVDQU64 Z13, o1(R10); \
	VPERMB Z14, Z21, Z14; \
	VMOVDQU64 Z14, o2(R10); \
	VPERMB Z15, Z21, Z15; \
	VMOVDQU64 Z15, o3(R10)

// func interleaveBlocks(j *interleaveJob)
//
// Writes nb interleaved blocks of 16 rows (see rows16.go): the rows' fp16 scales gathered and
// stored side by side, then their bytes transposed 16×16 at a time (VPERMB within each 4-row
// vector, VSHUFI32X4 across them, VPERMB again) so that byte j of the 16 rows lie together.
TEXT ·interleaveBlocks(SB), NOSPLIT, $0-8
	MOVQ j+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 8(DI), CX
	MOVQ 16(DI), R8
	MOVQ 24(DI), R9
	MOVQ 32(DI), R10
	MOVQ 40(DI), AX
	VMOVDQU64 (AX), Z20
	VMOVDQU64 64(AX), Z21
	XORQ R11, R11
ilvloop:
	VMOVDQU64 (SI), Z26
	VMOVDQU64 64(SI), Z27
	KXNORW K0, K0, K1
	VPGATHERQD (R11)(Z26*1), K1, Y24
	KXNORW K0, K0, K2
	VPGATHERQD (R11)(Z27*1), K2, Y25
	VINSERTI64X4 $1, Y25, Z24, Z24
	VPMOVDW Z24, (R10)
	CMPQ R9, $1
	JNE ilvq80
	VPSRLD $16, Z24, Z24
	VPMOVDW Z24, 32(R10)
	TRANSPOSE16(4, 64, 128, 192, 256)
	ADDQ $320, R10
	JMP ilvnext
ilvq80:
	TRANSPOSE16(2, 32, 96, 160, 224)
	TRANSPOSE16(18, 288, 352, 416, 480)
	ADDQ $544, R10
ilvnext:
	ADDQ R8, R11
	DECQ CX
	JNZ ilvloop
	VZEROUPPER
	RET
