//go:build goexperiment.simd && amd64

#include "textflag.h"

// Float16 versions of dotRows64AVX2 and addRows64AVX2 (rowsdot_amd64.s):
// each row's 64 values widened with VCVTPH2PS as they are read (8 at a
// time, exactly), then the float32 kernels' operations in their order.

// func dotRows64F16AVX2(out, q *float32, rows *uint16, stride, n int, scale float32)
TEXT ·dotRows64F16AVX2(SB), NOSPLIT, $0-44
	MOVQ out+0(FP), DI
	MOVQ q+8(FP), AX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	VMOVSS scale+40(FP), X7
	VMOVUPS 0(AX), Y8
	VMOVUPS 32(AX), Y9
	VMOVUPS 64(AX), Y10
	VMOVUPS 96(AX), Y11
	VMOVUPS 128(AX), Y12
	VMOVUPS 160(AX), Y13
	VMOVUPS 192(AX), Y14
	VMOVUPS 224(AX), Y15
	TESTQ CX, CX
	JLE h16dotdone

h16dotloop:
	VCVTPH2PS 0(SI), Y4
	VCVTPH2PS 16(SI), Y5
	VCVTPH2PS 32(SI), Y6
	VMULPS Y4, Y8, Y0
	VMULPS Y5, Y9, Y1
	VMULPS Y6, Y10, Y2
	VCVTPH2PS 48(SI), Y4
	VCVTPH2PS 64(SI), Y5
	VCVTPH2PS 80(SI), Y6
	VMULPS Y4, Y11, Y3
	VFMADD231PS Y5, Y12, Y0
	VFMADD231PS Y6, Y13, Y1
	VCVTPH2PS 96(SI), Y4
	VCVTPH2PS 112(SI), Y5
	VFMADD231PS Y4, Y14, Y2
	VFMADD231PS Y5, Y15, Y3
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMULSS X7, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ DX, SI
	DECQ CX
	JNZ h16dotloop

h16dotdone:
	VZEROUPPER
	RET

// ADDH16 adds the weight in Y0 times 8 values widened from off(SI) to acc.
#define ADDH16(off, acc) \
	VCVTPH2PS off(SI), Y1 \
	VFMADD231PS Y1, Y0, acc

// func addRows64F16AVX2(o, w *float32, rows *uint16, stride, n int)
TEXT ·addRows64F16AVX2(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ w+8(FP), AX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JLE h16adddone

h16addloop:
	VBROADCASTSS (AX), Y0
	ADDH16(0, Y8)
	ADDH16(16, Y9)
	ADDH16(32, Y10)
	ADDH16(48, Y11)
	ADDH16(64, Y12)
	ADDH16(80, Y13)
	ADDH16(96, Y14)
	ADDH16(112, Y15)
	ADDQ $4, AX
	ADDQ DX, SI
	DECQ CX
	JNZ h16addloop

h16adddone:
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VMOVUPS Y11, 96(DI)
	VMOVUPS Y12, 128(DI)
	VMOVUPS Y13, 160(DI)
	VMOVUPS Y14, 192(DI)
	VMOVUPS Y15, 224(DI)
	VZEROUPPER
	RET

// func toF16AVX2(dst *uint16, src *float32, n int)
// n a positive multiple of 8; rounds to nearest even (imm8 0).
TEXT ·toF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX

tof16loop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVDQU X1, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNZ tof16loop
	VZEROUPPER
	RET

// func fromF16AVX2(dst *float32, src *uint16, n int)
// n a positive multiple of 8.
TEXT ·fromF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX

fromf16loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ fromf16loop
	VZEROUPPER
	RET
