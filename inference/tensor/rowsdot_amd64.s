//go:build goexperiment.simd && amd64

#include "textflag.h"

// Attention over a cache of 64-value rows (see vec_simd_amd64.go). Each row's products are
// summed as dotAVX512 sums them ((s0+s1)+(s2+s3), then the lanes as hsum adds them), and the
// weighted rows are added as axpyAVX512 adds them, so the results are the bits of Dot and Axpy.
// Scalars use VEX-encoded instructions only: legacy SSE code between AVX-512 instructions
// stalls on the upper register state.

// func dotRows64(out, q, rows *float32, stride, n int, scale float32)
TEXT ·dotRows64(SB), NOSPLIT, $0-44
	MOVQ out+0(FP), DI
	MOVQ q+8(FP), AX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	VMOVSS scale+40(FP), X9
	VMOVUPS 0(AX), Z0
	VMOVUPS 64(AX), Z1
	VMOVUPS 128(AX), Z2
	VMOVUPS 192(AX), Z3
	TESTQ CX, CX
	JLE dotrowsdone

dotrowsloop:
	VMULPS 0(SI), Z0, Z5
	VMULPS 64(SI), Z1, Z6
	VMULPS 128(SI), Z2, Z7
	VMULPS 192(SI), Z3, Z8
	VADDPS Z6, Z5, Z5
	VADDPS Z8, Z7, Z7
	VADDPS Z7, Z5, Z5
	VEXTRACTF64X4 $1, Z5, Y6
	VADDPS Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VADDPS X6, X5, X5
	VHADDPS X5, X5, X5
	VHADDPS X5, X5, X5
	VMULSS X9, X5, X5
	VMOVSS X5, (DI)
	ADDQ $4, DI
	ADDQ DX, SI
	DECQ CX
	JNZ dotrowsloop

dotrowsdone:
	VZEROUPPER
	RET

// func addRows64(o, w, rows *float32, stride, n int)
TEXT ·addRows64(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ w+8(FP), AX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	TESTQ CX, CX
	JLE addrowsdone

addrowsloop:
	VBROADCASTSS (AX), Z4
	VFMADD231PS 0(SI), Z4, Z0
	VFMADD231PS 64(SI), Z4, Z1
	VFMADD231PS 128(SI), Z4, Z2
	VFMADD231PS 192(SI), Z4, Z3
	ADDQ $4, AX
	ADDQ DX, SI
	DECQ CX
	JNZ addrowsloop

addrowsdone:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// The same for CPUs with AVX2 but no AVX-512: each row's products summed as
// dotAVX2 sums them (four 8-lane accumulators over two 32-value halves,
// (s0+s1)+(s2+s3), then the lanes as hsum8 adds them), the weighted rows
// added as axpyAVX2 adds them; the query, or the sums, in Y8–Y15. The
// float16 versions (a float16 key/value cache) widen each row's values
// with VCVTPH2PS as they read them, 8 at a time, exactly, and then do the
// same operations, so they give the float32 kernels' bits over the widened
// rows.

// func dotRows64AVX2(out, q, rows *float32, stride, n int, scale float32)
TEXT ·dotRows64AVX2(SB), NOSPLIT, $256-44
// DOTARGS loads the dot kernels' arguments, the scale in X7.
#define DOTARGS \
	MOVQ out+0(FP), DI \
	MOVQ q+8(FP), AX \
	MOVQ rows+16(FP), SI \
	MOVQ stride+24(FP), DX \
	MOVQ n+32(FP), CX \
	VMOVSS scale+40(FP), X7

// QUERY64 loads the query's 64 values into Y8–Y15.
#define QUERY64 \
	VMOVUPS 0(AX), Y8 \
	VMOVUPS 32(AX), Y9 \
	VMOVUPS 64(AX), Y10 \
	VMOVUPS 96(AX), Y11 \
	VMOVUPS 128(AX), Y12 \
	VMOVUPS 160(AX), Y13 \
	VMOVUPS 192(AX), Y14 \
	VMOVUPS 224(AX), Y15

// DOTSUM adds the four accumulators Y0–Y3 as dotAVX2 does, the lanes as
// hsum8 does, scales the sum by X7, stores it at DI and moves on a row.
#define DOTSUM \
	VADDPS Y1, Y0, Y0 \
	VADDPS Y3, Y2, Y2 \
	VADDPS Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VHADDPS X0, X0, X0 \
	VHADDPS X0, X0, X0 \
	VMULSS X7, X0, X0 \
	VMOVSS X0, (DI) \
	ADDQ $4, DI \
	ADDQ DX, SI \
	DECQ CX

// KEEP adds a row's accumulators Y0–Y3 as DOTSUM does, keeps the sum at
// slot(SP) and moves on a row.
#define KEEP(slot) \
	VADDPS Y1, Y0, Y0 \
	VADDPS Y3, Y2, Y2 \
	VADDPS Y2, Y0, Y0 \
	VMOVUPS Y0, slot(SP) \
	ADDQ DX, SI

// HALVES sets dst to [a.lo+a.hi | b.lo+b.hi] for the rows kept at a(SP)
// and b(SP), with tmp.
#define HALVES(a, b, tmp, dst) \
	VMOVUPS a(SP), dst \
	VPERM2F128 $0x20, b(SP), dst, tmp \
	VPERM2F128 $0x31, b(SP), dst, dst \
	VADDPS dst, tmp, dst

// ROWS8OUT finishes the sums of the eight rows kept in the frame, in
// hsum8's order (the halves, then pairs, then pairs of pairs: VHADDPS of
// the rows side by side gives rows 0, 2, 4, 6 | 1, 3, 5, 7), scales them
// by X7 and stores them at DI in row order.
#define ROWS8OUT \
	HALVES(0, 32, Y4, Y0) \
	HALVES(64, 96, Y4, Y1) \
	HALVES(128, 160, Y4, Y2) \
	HALVES(192, 224, Y4, Y3) \
	VHADDPS Y1, Y0, Y0 \
	VHADDPS Y3, Y2, Y2 \
	VHADDPS Y2, Y0, Y0 \
	VBROADCASTSS X7, Y1 \
	VMULPS Y1, Y0, Y0 \
	VMOVDQU ·rowsOrder8(SB), Y1 \
	VPERMPS Y0, Y1, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, DI

// GROUPS8 sets BX to the groups of eight rows and CX to the rows after
// them, and jumps to rest when there is no group.
#define GROUPS8(rest) \
	MOVQ CX, BX \
	SHRQ $3, BX \
	ANDQ $7, CX \
	TESTQ BX, BX \
	JZ rest

// DOTF32 sets Y0–Y3 to the accumulators of the row at SI times the
// query in Y8–Y15, as dotAVX2 accumulates them.
#define DOTF32 \
	VMULPS 0(SI), Y8, Y0 \
	VMULPS 32(SI), Y9, Y1 \
	VMULPS 64(SI), Y10, Y2 \
	VMULPS 96(SI), Y11, Y3 \
	VFMADD231PS 128(SI), Y12, Y0 \
	VFMADD231PS 160(SI), Y13, Y1 \
	VFMADD231PS 192(SI), Y14, Y2 \
	VFMADD231PS 224(SI), Y15, Y3

	DOTARGS
	QUERY64
	GROUPS8(dotrows2rest)

dotrows2group:
	DOTF32
	KEEP(0)
	DOTF32
	KEEP(32)
	DOTF32
	KEEP(64)
	DOTF32
	KEEP(96)
	DOTF32
	KEEP(128)
	DOTF32
	KEEP(160)
	DOTF32
	KEEP(192)
	DOTF32
	KEEP(224)
	ROWS8OUT
	DECQ BX
	JNZ dotrows2group

dotrows2rest:
	TESTQ CX, CX
	JLE dotrows2done

dotrows2loop:
	DOTF32
	DOTSUM
	JNZ dotrows2loop

dotrows2done:
	VZEROUPPER
	RET

// rowsOrder8 puts ROWS8OUT's lanes (rows 0, 2, 4, 6 | 1, 3, 5, 7) in row order.
DATA ·rowsOrder8+0(SB)/4, $0
DATA ·rowsOrder8+4(SB)/4, $4
DATA ·rowsOrder8+8(SB)/4, $1
DATA ·rowsOrder8+12(SB)/4, $5
DATA ·rowsOrder8+16(SB)/4, $2
DATA ·rowsOrder8+20(SB)/4, $6
DATA ·rowsOrder8+24(SB)/4, $3
DATA ·rowsOrder8+28(SB)/4, $7
GLOBL ·rowsOrder8(SB), RODATA|NOPTR, $32

// PFDIST is how far ahead of the row being read the float16 kernels ask
// for rows (16 rows of 64 values): a generated token's attention reads each
// layer's keys and values from memory, past the caches, and asking ahead
// takes ~2% off a token after a 1,500-token prompt (alternating in one
// process). Asking past the rows' end is harmless: a prefetch never faults.
#define PFDIST 2048

// func dotRows64F16AVX2(out, q *float32, rows *uint16, stride, n int, scale float32)
TEXT ·dotRows64F16AVX2(SB), NOSPLIT, $256-44
// DOTF16 sets Y0–Y3 to the accumulators of the row at SI (widened from
// float16) times the query in Y8–Y15, as dotAVX2 accumulates them.
#define DOTF16 \
	PREFETCHT0 PFDIST(SI) \
	PREFETCHT0 PFDIST+64(SI) \
	VCVTPH2PS 0(SI), Y4 \
	VCVTPH2PS 16(SI), Y5 \
	VCVTPH2PS 32(SI), Y6 \
	VMULPS Y4, Y8, Y0 \
	VMULPS Y5, Y9, Y1 \
	VMULPS Y6, Y10, Y2 \
	VCVTPH2PS 48(SI), Y4 \
	VCVTPH2PS 64(SI), Y5 \
	VCVTPH2PS 80(SI), Y6 \
	VMULPS Y4, Y11, Y3 \
	VFMADD231PS Y5, Y12, Y0 \
	VFMADD231PS Y6, Y13, Y1 \
	VCVTPH2PS 96(SI), Y4 \
	VCVTPH2PS 112(SI), Y5 \
	VFMADD231PS Y4, Y14, Y2 \
	VFMADD231PS Y5, Y15, Y3

	DOTARGS
	QUERY64
	GROUPS8(dotrowsf16rest)

dotrowsf16group:
	DOTF16
	KEEP(0)
	DOTF16
	KEEP(32)
	DOTF16
	KEEP(64)
	DOTF16
	KEEP(96)
	DOTF16
	KEEP(128)
	DOTF16
	KEEP(160)
	DOTF16
	KEEP(192)
	DOTF16
	KEEP(224)
	ROWS8OUT
	DECQ BX
	JNZ dotrowsf16group

dotrowsf16rest:
	TESTQ CX, CX
	JLE dotrowsf16done

dotrowsf16loop:
	DOTF16
	DOTSUM
	JNZ dotrowsf16loop

dotrowsf16done:
	VZEROUPPER
	RET


// func addRows64AVX2(o, w, rows *float32, stride, n int)
TEXT ·addRows64AVX2(SB), NOSPLIT, $0-40
// ADDARGS loads the add kernels' arguments.
#define ADDARGS \
	MOVQ o+0(FP), DI \
	MOVQ w+8(FP), AX \
	MOVQ rows+16(FP), SI \
	MOVQ stride+24(FP), DX \
	MOVQ n+32(FP), CX

// SUMSZERO and SUMSOUT clear and store the weighted sums in Y8–Y15.
#define SUMSZERO \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	VXORPS Y12, Y12, Y12 \
	VXORPS Y13, Y13, Y13 \
	VXORPS Y14, Y14, Y14 \
	VXORPS Y15, Y15, Y15

#define SUMSOUT \
	VMOVUPS Y8, 0(DI) \
	VMOVUPS Y9, 32(DI) \
	VMOVUPS Y10, 64(DI) \
	VMOVUPS Y11, 96(DI) \
	VMOVUPS Y12, 128(DI) \
	VMOVUPS Y13, 160(DI) \
	VMOVUPS Y14, 192(DI) \
	VMOVUPS Y15, 224(DI)

	ADDARGS
	SUMSZERO
	TESTQ CX, CX
	JLE addrows2done

addrows2loop:
	VBROADCASTSS (AX), Y0
	VFMADD231PS 0(SI), Y0, Y8
	VFMADD231PS 32(SI), Y0, Y9
	VFMADD231PS 64(SI), Y0, Y10
	VFMADD231PS 96(SI), Y0, Y11
	VFMADD231PS 128(SI), Y0, Y12
	VFMADD231PS 160(SI), Y0, Y13
	VFMADD231PS 192(SI), Y0, Y14
	VFMADD231PS 224(SI), Y0, Y15
	ADDQ $4, AX
	ADDQ DX, SI
	DECQ CX
	JNZ addrows2loop

addrows2done:
	SUMSOUT
	VZEROUPPER
	RET

// ADDH16 adds the weight in Y0 times 8 values widened from off(SI) to acc.
#define ADDH16(off, acc) \
	VCVTPH2PS off(SI), Y1 \
	VFMADD231PS Y1, Y0, acc

// func addRows64F16AVX2(o, w *float32, rows *uint16, stride, n int)
TEXT ·addRows64F16AVX2(SB), NOSPLIT, $0-40
	ADDARGS
	SUMSZERO
	TESTQ CX, CX
	JLE addrowsf16done

addrowsf16loop:
	PREFETCHT0 PFDIST(SI)
	PREFETCHT0 PFDIST+64(SI)
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
	JNZ addrowsf16loop

addrowsf16done:
	SUMSOUT
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
