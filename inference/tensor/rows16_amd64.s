//go:build goexperiment.simd && amd64

#include "textflag.h"

// Decoding kernels over 16 interleaved rows (see rows16.go): each lane of a vector is one row, so
// a block of 16 rows × 32 columns takes one broadcast multiply-add per column and no lane sums.
// Four accumulators split the chain of a block's 32 columns; the block's sum is
// (a0 + a1) + (a2 + a3), then scaled: acc += sum·d (+ Σx·m for Q4_1). Each block asks for the
// weights 4 KiB (Q4_1) or 6 KiB (Q8_0) ahead: the out-of-order window alone does not hide
// the wait for memory (measured: 5 → 7.7 GB/s on one core).

// Q41_COL_MUL/ADD take byte j of the 16 rows (at off(SI): low nibbles column j, high nibbles
// column j+16), as floats through the table in Z28, times the columns' values at xlo(DI) and
// xhi(DI) into lo and hi (MUL starts the accumulators, ADD adds to them).
#define Q41_COL(off, xlo, xhi, lo, hi, op) \
	VPMOVZXBD off(SI), Z5; \
	VPERMPS Z28, Z5, Z6; \
	VPSRLD $4, Z5, Z5; \
	VPERMPS Z28, Z5, Z5; \
	op xlo(DI), Z6, lo; \
	op xhi(DI), Z5, hi
#define Q41_COL_MUL(off, xlo, xhi, lo, hi) Q41_COL(off, xlo, xhi, lo, hi, VMULPS.BCST)
#define Q41_COL_ADD(off, xlo, xhi, lo, hi) Q41_COL(off, xlo, xhi, lo, hi, VFMADD231PS.BCST)

// Q80_COL_MUL/ADD take byte j of the 16 rows (at off(SI), signed) as floats times column j's
// value at x(DI) into acc.
#define Q80_COL(off, x, acc, op) \
	VPMOVSXBD off(SI), Z5; \
	VCVTDQ2PS Z5, Z5; \
	op x(DI), Z5, acc
#define Q80_COL_MUL(off, x, acc) Q80_COL(off, x, acc, VMULPS.BCST)
#define Q80_COL_ADD(off, x, acc) Q80_COL(off, x, acc, VFMADD231PS.BCST)

// func q41Rows16(w *byte, nb, groups int, x, sx, out *float32)
TEXT ·q41Rows16(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), R8
	MOVQ groups+16(FP), R9
	MOVQ x+24(FP), R10
	MOVQ sx+32(FP), R11
	MOVQ out+40(FP), R12
	VCVTDQ2PS ·dotqIota(SB), Z28
q41r16group:
	VPXORD Z0, Z0, Z0
	MOVQ R10, DI
	MOVQ R11, DX
	MOVQ R8, CX
q41r16block:
	PREFETCHT0 4096(SI)
	PREFETCHT0 4160(SI)
	PREFETCHT0 4224(SI)
	PREFETCHT0 4288(SI)
	PREFETCHT0 4352(SI)
	Q41_COL_MUL(64, 0, 64, Z1, Z3)
	Q41_COL_MUL(80, 4, 68, Z2, Z4)
	Q41_COL_ADD(96, 8, 72, Z1, Z3)
	Q41_COL_ADD(112, 12, 76, Z2, Z4)
	Q41_COL_ADD(128, 16, 80, Z1, Z3)
	Q41_COL_ADD(144, 20, 84, Z2, Z4)
	Q41_COL_ADD(160, 24, 88, Z1, Z3)
	Q41_COL_ADD(176, 28, 92, Z2, Z4)
	Q41_COL_ADD(192, 32, 96, Z1, Z3)
	Q41_COL_ADD(208, 36, 100, Z2, Z4)
	Q41_COL_ADD(224, 40, 104, Z1, Z3)
	Q41_COL_ADD(240, 44, 108, Z2, Z4)
	Q41_COL_ADD(256, 48, 112, Z1, Z3)
	Q41_COL_ADD(272, 52, 116, Z2, Z4)
	Q41_COL_ADD(288, 56, 120, Z1, Z3)
	Q41_COL_ADD(304, 60, 124, Z2, Z4)
	VADDPS Z2, Z1, Z1
	VADDPS Z4, Z3, Z3
	VADDPS Z3, Z1, Z1
	VCVTPH2PS (SI), Z7
	VCVTPH2PS 32(SI), Z8
	VFMADD231PS Z7, Z1, Z0
	VFMADD231PS.BCST (DX), Z8, Z0
	ADDQ $320, SI
	ADDQ $128, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q41r16block
	VMOVUPS Z0, (R12)
	ADDQ $64, R12
	DECQ R9
	JNZ q41r16group
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
