//go:build goexperiment.simd && amd64

#include "textflag.h"

// func panelAVX2(x *float32, xs int, w *float32, k int, b *float32, out *float32, os int)
//
// panelAsm's products for CPUs with AVX2 and FMA: for the 14 vectors
// x+t·xs (k floats each) and the panel w (k columns of 32 rows), out[t·os+i]
// = b[i] + Σ_j x[t·xs+j]·w[32j+i], the products added in the order
// j = 0, 1, … with one fused multiply-add each, the same bits as panelAsm.
// Six passes: each half of the rows (16, two registers loaded once a
// column) with vectors 0–4, 5–9 and 10–13, whose accumulators (two a
// vector) fill Y0–Y9; Y10, Y11 hold the column's weights, Y12 a vector's
// value. Fewer loads a multiply-add than with the weights as memory
// operands (two loads a cycle bound those). k ≥ 1.
//
// Registers: R14 the rows' half (0 or 64 bytes), R13 the pass's first
// vector, DI the column's weights, SI the pass's first vector's values and
// R11 its fourth's (later its fourth result), DX the vectors' stride and R9
// the results' (bytes), R10 the pass's first result, R8 the bias, CX the
// columns left.

// PASS points SI, R11, DI and R8 at the pass's vectors, weights and bias,
// loads the bias into Y10, Y11 and CX with the columns.
#define PASS \
	MOVQ DX, AX \
	IMULQ R13, AX \
	MOVQ x+0(FP), SI \
	ADDQ AX, SI \
	LEAQ (SI)(DX*2), R11 \
	ADDQ DX, R11 \
	MOVQ w+16(FP), DI \
	ADDQ R14, DI \
	MOVQ b+32(FP), R8 \
	ADDQ R14, R8 \
	VMOVUPS (R8), Y10 \
	VMOVUPS 32(R8), Y11 \
	MOVQ k+24(FP), CX

// RESULTS points R10 and R11 at the pass's first and fourth results.
#define RESULTS \
	MOVQ R9, AX \
	IMULQ R13, AX \
	MOVQ out+40(FP), R10 \
	ADDQ AX, R10 \
	ADDQ R14, R10 \
	LEAQ (R10)(R9*2), R11 \
	ADDQ R9, R11

// WEIGHTS loads the 16 weights of the column o bytes on from DI's;
// NEXTPAIR moves SI, R11 and DI on by two columns and counts the pair.
#define WEIGHTS(o) \
	VMOVUPS o(DI), Y10 \
	VMOVUPS o+32(DI), Y11

#define NEXTPAIR \
	ADDQ $8, SI \
	ADDQ $8, R11 \
	ADDQ $256, DI \
	DECQ CX

// STEP adds a vector's value (at xo) times the column to a0, a1.
#define STEP(xo, a0, a1) \
	VBROADCASTSS xo, Y12 \
	VFMADD231PS Y10, Y12, a0 \
	VFMADD231PS Y11, Y12, a1

// FIVE and FOUR add the column whose values are o bytes on from the
// vectors' current ones (weights in Y10, Y11) to the pass's five or four
// vectors' sums.
#define FOUR(o) \
	STEP(o(SI), Y0, Y1) \
	STEP(o(SI)(DX*1), Y2, Y3) \
	STEP(o(SI)(DX*2), Y4, Y5) \
	STEP(o(R11), Y6, Y7)

#define FIVE(o) \
	FOUR(o) \
	STEP(o(R11)(DX*1), Y8, Y9)

// PAIRS sets CX to the number of column pairs and BX to k's parity.
#define PAIRS \
	MOVQ CX, BX \
	ANDQ $1, BX \
	SHRQ $1, CX

// BIAS starts a0, a1 at the bias; STORE writes them at o and o32 = o+32.
#define BIAS(a0, a1) \
	VMOVAPS Y10, a0 \
	VMOVAPS Y11, a1

#define STORE(a0, a1, o, o32) \
	VMOVUPS a0, o \
	VMOVUPS a1, o32

TEXT ·panelAVX2(SB), NOSPLIT, $0-56
	MOVQ xs+8(FP), DX
	SHLQ $2, DX
	MOVQ os+48(FP), R9
	SHLQ $2, R9
	XORQ R14, R14

p2half:
	XORQ R13, R13

p2five:
	PASS
	BIAS(Y0, Y1)
	BIAS(Y2, Y3)
	BIAS(Y4, Y5)
	BIAS(Y6, Y7)
	BIAS(Y8, Y9)

	PAIRS
	JZ   p2fivelast

p2fivepair:
	WEIGHTS(0)
	FIVE(0)
	WEIGHTS(128)
	FIVE(4)
	NEXTPAIR
	JNZ  p2fivepair

p2fivelast:
	TESTQ BX, BX
	JZ   p2fivedone
	WEIGHTS(0)
	FIVE(0)

p2fivedone:

	RESULTS
	STORE(Y0, Y1, (R10), 32(R10))
	STORE(Y2, Y3, (R10)(R9*1), 32(R10)(R9*1))
	STORE(Y4, Y5, (R10)(R9*2), 32(R10)(R9*2))
	STORE(Y6, Y7, (R11), 32(R11))
	STORE(Y8, Y9, (R11)(R9*1), 32(R11)(R9*1))
	ADDQ $5, R13
	CMPQ R13, $10
	JLT  p2five

	// Vectors 10–13.
	PASS
	BIAS(Y0, Y1)
	BIAS(Y2, Y3)
	BIAS(Y4, Y5)
	BIAS(Y6, Y7)

	PAIRS
	JZ   p2fourlast

p2fourpair:
	WEIGHTS(0)
	FOUR(0)
	WEIGHTS(128)
	FOUR(4)
	NEXTPAIR
	JNZ  p2fourpair

p2fourlast:
	TESTQ BX, BX
	JZ   p2fourdone
	WEIGHTS(0)
	FOUR(0)

p2fourdone:

	RESULTS
	STORE(Y0, Y1, (R10), 32(R10))
	STORE(Y2, Y3, (R10)(R9*1), 32(R10)(R9*1))
	STORE(Y4, Y5, (R10)(R9*2), 32(R10)(R9*2))
	STORE(Y6, Y7, (R11), 32(R11))
	ADDQ $64, R14
	CMPQ R14, $128
	JLT  p2half
	VZEROUPPER
	RET
