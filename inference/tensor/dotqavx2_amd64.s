//go:build goexperiment.simd && amd64

#include "textflag.h"

// Q4_1 and Q8_0 row kernels with float32 vectors for CPUs with AVX2 but no
// AVX-512 (see dotq_simd_amd64.go). Per block: the 32 weights decoded to
// floats in Y4–Y7 (columns 0–7, 8–15, 16–23, 24–31), s = w·x by one
// multiply and three fused multiply-adds in that order, then acc = d·s +
// acc over eight lanes and, for Q4_1, macc = m·Σx + macc in one lane. The
// four-vector kernels do exactly these operations for each vector, so
// their results equal the one-vector kernels'. The lanes and macc are
// stored to l; the caller adds them in a fixed order.

// MASK0F sets X15 to the nibble mask.
#define MASK0F \
	MOVL $0x0f0f0f0f, AX \
	VMOVD AX, X15 \
	VPBROADCASTD X15, X15

// DECODE41 decodes the Q4_1 block at (SI): nibbles in Y4–Y7, d in every
// lane of Y12, m in X13's lanes.
#define DECODE41 \
	VMOVDQU 4(SI), X4 \
	VPSRLW  $4, X4, X6 \
	VPAND   X15, X4, X4 \
	VPAND   X15, X6, X6 \
	VPSRLDQ $8, X4, X5 \
	VPSRLDQ $8, X6, X7 \
	VPMOVZXBD X4, Y4 \
	VPMOVZXBD X5, Y5 \
	VPMOVZXBD X6, Y6 \
	VPMOVZXBD X7, Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7 \
	VPBROADCASTD (SI), X12 \
	VCVTPH2PS X12, X12 \
	VMOVSHDUP X12, X13 \
	VBROADCASTSS X12, Y12

// DECODE80 decodes the Q8_0 block at (SI): values in Y4–Y7, d in every
// lane of Y12.
#define DECODE80 \
	VPMOVSXBD 2(SI), Y4 \
	VPMOVSXBD 10(SI), Y5 \
	VPMOVSXBD 18(SI), Y6 \
	VPMOVSXBD 26(SI), Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7 \
	VPBROADCASTW (SI), X12 \
	VCVTPH2PS X12, Y12

// TERM adds d·(w·x) for the block's 32 values at (xp) to acc.
#define TERM(xp, acc) \
	VMULPS  (xp), Y4, Y14 \
	VFMADD231PS 32(xp), Y5, Y14 \
	VFMADD231PS 64(xp), Y6, Y14 \
	VFMADD231PS 96(xp), Y7, Y14 \
	VFMADD231PS Y14, Y12, acc

// func q41Dot1AVX2(row *byte, nb int, x, xs *float32, l *[9]float32)
TEXT ·q41Dot1AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ xs+24(FP), R8
	MASK0F
	VXORPS Y0, Y0, Y0
	VXORPS X8, X8, X8

q41a1loop:
	DECODE41
	TERM(DI, Y0)
	VFMADD231SS (R8), X13, X8
	ADDQ $20, SI
	ADDQ $128, DI
	ADDQ $4, R8
	DECQ BX
	JNZ  q41a1loop

	MOVQ l+32(FP), AX
	VMOVUPS Y0, (AX)
	VMOVSS  X8, 32(AX)
	VZEROUPPER
	RET

// func q41Dot4AVX2(row *byte, nb int, x, xs *[4]*float32, l *[4][9]float32)
TEXT ·q41Dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ xs+24(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R12
	MOVQ 16(AX), R13
	MOVQ 24(AX), R14
	MASK0F
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X8, X8, X8
	VXORPS X9, X9, X9
	VXORPS X10, X10, X10
	VXORPS X11, X11, X11

q41a4loop:
	DECODE41
	TERM(DI, Y0)
	VFMADD231SS (R8), X13, X8
	TERM(R9, Y1)
	VFMADD231SS (R12), X13, X9
	TERM(R10, Y2)
	VFMADD231SS (R13), X13, X10
	TERM(R11, Y3)
	VFMADD231SS (R14), X13, X11
	ADDQ $20, SI
	ADDQ $128, DI
	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	ADDQ $4, R8
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $4, R14
	DECQ BX
	JNZ  q41a4loop

	MOVQ l+32(FP), AX
	VMOVUPS Y0, (AX)
	VMOVSS  X8, 32(AX)
	VMOVUPS Y1, 36(AX)
	VMOVSS  X9, 68(AX)
	VMOVUPS Y2, 72(AX)
	VMOVSS  X10, 104(AX)
	VMOVUPS Y3, 108(AX)
	VMOVSS  X11, 140(AX)
	VZEROUPPER
	RET

// func q80Dot1AVX2(row *byte, nb int, x *float32, l *[9]float32)
TEXT ·q80Dot1AVX2(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), DI
	VXORPS Y0, Y0, Y0

q80a1loop:
	DECODE80
	TERM(DI, Y0)
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  q80a1loop

	MOVQ l+24(FP), AX
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// func q80Dot4AVX2(row *byte, nb int, x *[4]*float32, l *[4][9]float32)
TEXT ·q80Dot4AVX2(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ x+16(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q80a4loop:
	DECODE80
	TERM(DI, Y0)
	TERM(R9, Y1)
	TERM(R10, Y2)
	TERM(R11, Y3)
	ADDQ $34, SI
	ADDQ $128, DI
	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ BX
	JNZ  q80a4loop

	MOVQ l+24(FP), AX
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 36(AX)
	VMOVUPS Y2, 72(AX)
	VMOVUPS Y3, 108(AX)
	VZEROUPPER
	RET
