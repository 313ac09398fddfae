//go:build goexperiment.simd && amd64

#include "textflag.h"

// PSTEP2 adds vector t's column (broadcast from xo into Y14) times the 16
// panel rows at (DI) and 32(DI) to Y(2t) and Y(2t+1).
#define PSTEP2(xo, a0, a1) \
	VBROADCASTSS xo, Y14 \
	VFMADD231PS (DI), Y14, a0 \
	VFMADD231PS 32(DI), Y14, a1

// func panelAVX2(x *float32, xs int, w *float32, k int, b *float32, out *float32, os int)
//
// panelAsm's products for CPUs with AVX2 and FMA: for the 14 vectors
// x+t·xs (k floats each) and the panel w (k columns of 32 rows), out[t·os+i]
// = b[i] + Σ_j x[t·xs+j]·w[32j+i], the products added in the order
// j = 0, 1, … with one fused multiply-add each, the same bits as panelAsm.
// Four passes of 7 vectors × 16 rows, the accumulators in Y0–Y13. k ≥ 1.
TEXT ·panelAVX2(SB), NOSPLIT, $0-56
	MOVQ xs+8(FP), DX
	SHLQ $2, DX
	MOVQ os+48(FP), R9
	SHLQ $2, R9
	XORQ R13, R13 // pass: bit 0 the rows' half, bit 1 the vectors'

p2pass:
	CMPQ R13, $4
	JGE  p2done
	MOVQ x+0(FP), SI
	MOVQ out+40(FP), R10
	MOVQ w+16(FP), DI
	MOVQ b+32(FP), R8
	MOVQ R13, AX
	ANDQ $1, AX
	SHLQ $6, AX // 64 bytes: rows 16–31
	ADDQ AX, DI
	ADDQ AX, R8
	ADDQ AX, R10
	TESTQ $2, R13
	JZ   p2first
	LEAQ (DX)(DX*2), AX // vectors 7–13
	LEAQ (SI)(AX*2), SI
	ADDQ DX, SI
	LEAQ (R9)(R9*2), AX
	LEAQ (R10)(AX*2), R10
	ADDQ R9, R10

p2first:
	LEAQ (DX)(DX*2), AX
	LEAQ (SI)(AX*1), R11 // vector 3
	LEAQ (R11)(AX*1), R12 // vector 6
	VMOVUPS (R8), Y0
	VMOVUPS 32(R8), Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y1, Y3
	VMOVAPS Y0, Y4
	VMOVAPS Y1, Y5
	VMOVAPS Y0, Y6
	VMOVAPS Y1, Y7
	VMOVAPS Y0, Y8
	VMOVAPS Y1, Y9
	VMOVAPS Y0, Y10
	VMOVAPS Y1, Y11
	VMOVAPS Y0, Y12
	VMOVAPS Y1, Y13
	MOVQ k+24(FP), CX

p2col:
	PSTEP2((SI), Y0, Y1)
	PSTEP2((SI)(DX*1), Y2, Y3)
	PSTEP2((SI)(DX*2), Y4, Y5)
	PSTEP2((R11), Y6, Y7)
	PSTEP2((R11)(DX*1), Y8, Y9)
	PSTEP2((R11)(DX*2), Y10, Y11)
	PSTEP2((R12), Y12, Y13)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $128, DI
	DECQ CX
	JNZ  p2col

	LEAQ (R9)(R9*2), AX
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	VMOVUPS Y0, (R10)
	VMOVUPS Y1, 32(R10)
	VMOVUPS Y2, (R10)(R9*1)
	VMOVUPS Y3, 32(R10)(R9*1)
	VMOVUPS Y4, (R10)(R9*2)
	VMOVUPS Y5, 32(R10)(R9*2)
	VMOVUPS Y6, (R11)
	VMOVUPS Y7, 32(R11)
	VMOVUPS Y8, (R11)(R9*1)
	VMOVUPS Y9, 32(R11)(R9*1)
	VMOVUPS Y10, (R11)(R9*2)
	VMOVUPS Y11, 32(R11)(R9*2)
	VMOVUPS Y12, (R12)
	VMOVUPS Y13, 32(R12)
	INCQ R13
	JMP  p2pass

p2done:
	VZEROUPPER
	RET
