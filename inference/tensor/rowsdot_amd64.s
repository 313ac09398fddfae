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

// HALVES sets dst to [a.lo+a.hi | b.lo+b.hi] for the rows kept at a(base)
// and b(base), with tmp.
#define HALVES(base, a, b, tmp, dst) \
	VMOVUPS a(base), dst \
	VPERM2F128 $0x20, b(base), dst, tmp \
	VPERM2F128 $0x31, b(base), dst, dst \
	VADDPS dst, tmp, dst

// ROWS8 finishes the sums of eight rows kept at base (32 bytes a row), in
// hsum8's order (the halves, then pairs, then pairs of pairs: VHADDPS of
// the rows side by side gives rows 0, 2, 4, 6 | 1, 3, 5, 7), scales them
// by X7 and stores them at out in row order. It uses Y0–Y4.
#define ROWS8(base, out) \
	HALVES(base, 0, 32, Y4, Y0) \
	HALVES(base, 64, 96, Y4, Y1) \
	HALVES(base, 128, 160, Y4, Y2) \
	HALVES(base, 192, 224, Y4, Y3) \
	VHADDPS Y1, Y0, Y0 \
	VHADDPS Y3, Y2, Y2 \
	VHADDPS Y2, Y0, Y0 \
	VBROADCASTSS X7, Y1 \
	VMULPS Y1, Y0, Y0 \
	VMOVDQU ·rowsOrder8(SB), Y1 \
	VPERMPS Y0, Y1, Y0 \
	VMOVUPS Y0, (out)

// ROWS8OUT is ROWS8 of the rows kept at 0(SP) into DI, then moves DI on.
#define ROWS8OUT \
	ROWS8(SP, DI) \
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

// Three queries of one key-value head at once (grouped-query attention):
// each float16 row is read and widened once for the three, then each query
// does the single-query kernels' operations on it in their order, so each
// gives the bits of dotRows64F16AVX2 / addRows64F16AVX2 alone.

// func dotRows64F16x3AVX2(out, q *float32, rows *uint16, stride, n, outStride int, scale float32, next *uint16)
// out[k*outStride/4 + j] = dot(q[64k:64k+64], row j) * scale for k < 3;
// next's rows (stride apart) are asked into the second-level cache, one a
// row, PFDIST ahead.
TEXT ·dotRows64F16x3AVX2(SB), NOSPLIT, $768-64
// WIDEN64 widens the row at SI into Y0–Y7.
#define WIDEN64 \
	PREFETCHT0 PFDIST(SI) \
	PREFETCHT0 PFDIST+64(SI) \
	VCVTPH2PS 0(SI), Y0 \
	VCVTPH2PS 16(SI), Y1 \
	VCVTPH2PS 32(SI), Y2 \
	VCVTPH2PS 48(SI), Y3 \
	VCVTPH2PS 64(SI), Y4 \
	VCVTPH2PS 80(SI), Y5 \
	VCVTPH2PS 96(SI), Y6 \
	VCVTPH2PS 112(SI), Y7

// DOTQ sets Y8 to the widened row times the query at qp, its four
// accumulators added as DOTSUM adds them.
#define DOTQ(qp) \
	VMULPS 0(qp), Y0, Y8 \
	VMULPS 32(qp), Y1, Y9 \
	VMULPS 64(qp), Y2, Y10 \
	VMULPS 96(qp), Y3, Y11 \
	VFMADD231PS 128(qp), Y4, Y8 \
	VFMADD231PS 160(qp), Y5, Y9 \
	VFMADD231PS 192(qp), Y6, Y10 \
	VFMADD231PS 224(qp), Y7, Y11 \
	VADDPS Y9, Y8, Y8 \
	VADDPS Y11, Y10, Y10 \
	VADDPS Y10, Y8, Y8

// DOTQOUT sums Y8's lanes as DOTSUM does, scales the sum and stores it at dst.
#define DOTQOUT(dst) \
	VEXTRACTF128 $1, Y8, X9 \
	VADDPS X9, X8, X8 \
	VHADDPS X8, X8, X8 \
	VHADDPS X8, X8, X8 \
	VMULSS scale+48(FP), X8, X8 \
	VMOVSS X8, dst

	MOVQ out+0(FP), DI
	MOVQ q+8(FP), AX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ outStride+40(FP), R8
	MOVQ next+56(FP), R15
	LEAQ 256(AX), R9
	LEAQ 512(AX), R11
	LEAQ 256(SP), R13
	LEAQ 512(SP), R14
	GROUPS8(dotx3rest)

dotx3group:
	XORQ R12, R12

dotx3row:
	PREFETCHT1 PFDIST(R15)
	PREFETCHT1 PFDIST+64(R15)
	ADDQ DX, R15
	WIDEN64
	DOTQ(AX)
	VMOVUPS Y8, (SP)(R12*1)
	DOTQ(R9)
	VMOVUPS Y8, (R13)(R12*1)
	DOTQ(R11)
	VMOVUPS Y8, (R14)(R12*1)
	ADDQ DX, SI
	ADDQ $32, R12
	CMPQ R12, $256
	JNE dotx3row

	VMOVSS scale+48(FP), X7
	ROWS8(SP, DI)
	LEAQ (DI)(R8*1), R10
	ROWS8(R13, R10)
	LEAQ (DI)(R8*2), R10
	ROWS8(R14, R10)
	ADDQ $32, DI
	DECQ BX
	JNZ dotx3group

dotx3rest:
	TESTQ CX, CX
	JLE dotx3done

dotx3one:
	PREFETCHT1 PFDIST(R15)
	PREFETCHT1 PFDIST+64(R15)
	ADDQ DX, R15
	WIDEN64
	DOTQ(AX)
	DOTQOUT((DI))
	DOTQ(R9)
	DOTQOUT((DI)(R8*1))
	DOTQ(R11)
	DOTQOUT((DI)(R8*2))
	ADDQ $4, DI
	ADDQ DX, SI
	DECQ CX
	JNZ dotx3one

dotx3done:
	VZEROUPPER
	RET

// func addRows64F16x3AVX2(o, w *float32, rows *uint16, stride, n, wStride, half int)
// o[64k+32·half : 64k+32·half+32] = Σ_j w[k*wStride/4 + j]·(row j's values
// 32·half…32·half+31) for k < 3: half of each query's output (12 sums in
// registers), n ≥ 1.
TEXT ·addRows64F16x3AVX2(SB), NOSPLIT, $0-56
// ADD3 adds the three weights (Y12–Y14) times the 8 values widened from
// off(R9) to their sums a, b, c.
#define ADD3(off, a, b, c) \
	VCVTPH2PS off(R9), Y15 \
	VFMADD231PS Y15, Y12, a \
	VFMADD231PS Y15, Y13, b \
	VFMADD231PS Y15, Y14, c

	MOVQ o+0(FP), DI
	MOVQ w+8(FP), AX
	MOVQ rows+16(FP), R9
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), BX
	MOVQ wStride+40(FP), R8
	MOVQ half+48(FP), CX
	SHLQ $6, CX
	ADDQ CX, R9
	SHLQ $1, CX
	ADDQ CX, DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

addx3row:
	PREFETCHT0 PFDIST(R9)
	VBROADCASTSS (AX), Y12
	VBROADCASTSS (AX)(R8*1), Y13
	VBROADCASTSS (AX)(R8*2), Y14
	ADD3(0, Y0, Y4, Y8)
	ADD3(16, Y1, Y5, Y9)
	ADD3(32, Y2, Y6, Y10)
	ADD3(48, Y3, Y7, Y11)
	ADDQ $4, AX
	ADDQ DX, R9
	DECQ BX
	JNZ addx3row

	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 256(DI)
	VMOVUPS Y5, 288(DI)
	VMOVUPS Y6, 320(DI)
	VMOVUPS Y7, 352(DI)
	VMOVUPS Y8, 512(DI)
	VMOVUPS Y9, 544(DI)
	VMOVUPS Y10, 576(DI)
	VMOVUPS Y11, 608(DI)
	VZEROUPPER
	RET

// func addRows64F16HalfAVX2(o, w *float32, rows *uint16, stride, n, half int)
// addRows64F16AVX2 for half of the output, values 32·half … 32·half+31
// (its four sums), the same operations on each lane; n ≥ 1.
TEXT ·addRows64F16HalfAVX2(SB), NOSPLIT, $0-48
	ADDARGS
	MOVQ half+40(FP), R8
	SHLQ $6, R8
	ADDQ R8, SI
	SHLQ $1, R8
	ADDQ R8, DI
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

addhalfloop:
	PREFETCHT0 PFDIST(SI)
	VBROADCASTSS (AX), Y0
	ADDH16(0, Y8)
	ADDH16(16, Y9)
	ADDH16(32, Y10)
	ADDH16(48, Y11)
	ADDQ $4, AX
	ADDQ DX, SI
	DECQ CX
	JNZ addhalfloop

	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VMOVUPS Y11, 96(DI)
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
