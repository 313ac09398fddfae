//go:build goexperiment.simd && amd64

#include "textflag.h"

// Int8 kernels for CPUs with AVX2 but no AVX-512 VNNI (see
// q8_simd_amd64.go). VPMADDUBSW multiplies unsigned bytes (its second
// operand) by signed bytes (its first), adding pairs into int16 lanes;
// VPMADDWD by ones adds pairs of those into int32 lanes. No pair sum can
// saturate: Q4 nibbles are at most 15 and activations at most 127 in
// magnitude (2·15·127 = 3810, and eight of them still fit an int16);
// Q8_0 weights enter as |w| ≤ 128 with their sign moved onto the
// activation (2·128·127 = 32512). Every block's int32 dot product is exact.

// The row kernels keep, per row: Y0 the eight lanes of Σ d_w·d_x·(w·x),
// X1's lowest lane Σ m_w·s_x (Q4_1); SI the row, R11 the block, DI the
// vector's bytes, R8 its scales, R9 its sums, BX the blocks left, CX the
// rows left, R12 the next output.

// ROWSTART points R11, DI, R8, R9 and BX at the row's first block.
#define ROWSTART \
	MOVQ SI, R11 \
	MOVQ x+32(FP), DI \
	MOVQ d+40(FP), R8 \
	MOVQ s+48(FP), R9 \
	MOVQ nb+24(FP), BX \
	VXORPS Y0, Y0, Y0 \
	VXORPS X1, X1, X1

// NIBBLES32 leaves in Y2 the 32 nibbles of the Q4 block data at off(R11),
// low nibbles first: the order of the block's columns.
#define NIBBLES32(off) \
	VMOVDQU off(R11), X2 \
	VPSRLW  $4, X2, X3 \
	VINSERTI128 $1, X3, Y2, Y2 \
	VPAND   Y15, Y2, Y2

// ONES16 sets Y14 to the int16 ones and Y15 to the nibble mask.
#define ONES16 \
	MOVL $0x00010001, AX \
	VMOVD AX, X14 \
	VPBROADCASTD X14, Y14 \
	MOVL $0x0f0f0f0f, AX \
	VMOVD AX, X15 \
	VPBROADCASTD X15, Y15

// q8PackOrder puts the dwords of VPACKSSWB's two-lane result in order.
DATA ·q8PackOrder+0(SB)/4, $0
DATA ·q8PackOrder+4(SB)/4, $4
DATA ·q8PackOrder+8(SB)/4, $1
DATA ·q8PackOrder+12(SB)/4, $5
DATA ·q8PackOrder+16(SB)/4, $2
DATA ·q8PackOrder+20(SB)/4, $6
DATA ·q8PackOrder+24(SB)/4, $3
DATA ·q8PackOrder+28(SB)/4, $7
GLOBL ·q8PackOrder(SB), RODATA|NOPTR, $32

// HSUM8 adds Y0's lanes into X0's lowest.
#define HSUM8 \
	VEXTRACTF128 $1, Y0, X3 \
	VADDPS  X3, X0, X0 \
	VPERMILPS $0x4e, X0, X3 \
	VADDPS  X3, X0, X0 \
	VPERMILPS $0xb1, X0, X3 \
	VADDPS  X3, X0, X0

// func q8QuantizeAVX2(x *float32, nb int, q *int8, d, s *float32)
//
// The operations of quantBlockQ8, eight lanes at a time: amax = max|x|,
// d = amax/127, id = 1/d (0 when d is 0), q = x·id rounded to nearest even
// (VCVTPS2DQ) and narrowed with saturation, s = d·Σq.
TEXT ·q8QuantizeAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x42fe0000, AX
	VMOVD AX, X14
	MOVL $0x3f800000, AX
	VMOVD AX, X13
	VMOVDQU ·q8PackOrder(SB), Y12

q2qloop:
	TESTQ BX, BX
	JLE   q2qdone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VANDPS  Y15, Y0, Y4
	VANDPS  Y15, Y1, Y5
	VANDPS  Y15, Y2, Y6
	VANDPS  Y15, Y3, Y7
	VMAXPS  Y5, Y4, Y4
	VMAXPS  Y7, Y6, Y6
	VMAXPS  Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS  X5, X4, X4
	VPERMILPS $0x4e, X4, X5
	VMAXPS  X5, X4, X4
	VPERMILPS $0xb1, X4, X5
	VMAXPS  X5, X4, X4
	VDIVSS  X14, X4, X4
	VXORPS  X5, X5, X5
	VUCOMISS X5, X4
	JEQ     q2qzero
	VDIVSS  X4, X13, X5

q2qzero:
	VBROADCASTSS X5, Y5
	VMULPS  Y5, Y0, Y0
	VMULPS  Y5, Y1, Y1
	VMULPS  Y5, Y2, Y2
	VMULPS  Y5, Y3, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPADDD  Y1, Y0, Y6
	VPADDD  Y3, Y2, Y7
	VPADDD  Y7, Y6, Y6
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD  Y0, Y12, Y0
	VMOVDQU Y0, (DI)
	VEXTRACTI128 $1, Y6, X7
	VPADDD  X7, X6, X6
	VPSHUFD $0x4e, X6, X7
	VPADDD  X7, X6, X6
	VPSHUFD $0xb1, X6, X7
	VPADDD  X7, X6, X6
	VCVTDQ2PS X6, X6
	VMULSS  X4, X6, X6
	VMOVSS  X4, (R8)
	VMOVSS  X6, (R9)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ BX
	JMP  q2qloop

q2qdone:
	VZEROUPPER
	RET

// func q41DotQ8AVX2(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)
//
// out[i] = row i (rb bytes after row i-1) times the vector, for i < rows.
// Per block: the int32 lanes of nibbles·x, converted, times d_w·d_x (one
// fused multiply-add); m_w·s_x in a scalar lane.
TEXT ·q41DotQ8AVX2(SB), NOSPLIT, $0-64
	MOVQ row+0(FP), SI
	MOVQ rb+8(FP), R14
	MOVQ rows+16(FP), CX
	MOVQ out+56(FP), R12
	ONES16

q41rowloop:
	TESTQ CX, CX
	JLE   q41done
	ROWSTART

q41blockloop:
	NIBBLES32(4)
	VPMADDUBSW (DI), Y2, Y2
	VPMADDWD Y14, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VPBROADCASTD (R11), X4
	VCVTPH2PS X4, X4
	VMULSS  (R8), X4, X5
	VBROADCASTSS X5, Y5
	VFMADD231PS Y5, Y2, Y0
	VMOVSHDUP X4, X4
	VFMADD231SS (R9), X4, X1
	ADDQ $20, R11
	ADDQ $32, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ BX
	JNZ  q41blockloop

	HSUM8
	VADDSS X1, X0, X0
	VMOVSS X0, (R12)
	ADDQ $4, R12
	ADDQ R14, SI
	DECQ CX
	JMP  q41rowloop

q41done:
	VZEROUPPER
	RET

// func q80DotQ8AVX2(row *byte, rb, rows, nb int, x *int8, d, s *float32, out *float32)
//
// As q41DotQ8AVX2 for Q8_0 blocks: |w| times x with w's sign, no offset
// term.
TEXT ·q80DotQ8AVX2(SB), NOSPLIT, $0-64
	MOVQ row+0(FP), SI
	MOVQ rb+8(FP), R14
	MOVQ rows+16(FP), CX
	MOVQ out+56(FP), R12
	ONES16

q80rowloop:
	TESTQ CX, CX
	JLE   q80done
	ROWSTART

q80blockloop:
	VMOVDQU 2(R11), Y3
	VMOVDQU (DI), Y4
	VPABSB  Y3, Y2
	VPSIGNB Y3, Y4, Y4
	VPMADDUBSW Y4, Y2, Y2
	VPMADDWD Y14, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VPBROADCASTW (R11), X4
	VCVTPH2PS X4, X4
	VMULSS  (R8), X4, X5
	VBROADCASTSS X5, Y5
	VFMADD231PS Y5, Y2, Y0
	ADDQ $34, R11
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ BX
	JNZ  q80blockloop

	HSUM8
	VMOVSS X0, (R12)
	ADDQ $4, R12
	ADDQ R14, SI
	DECQ CX
	JMP  q80rowloop

q80done:
	VZEROUPPER
	RET

// func q80Dot4Q8AVX2(row *byte, rb, rows, nb int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)
// func q80Dot3Q8AVX2(… the same)
// func q80Dot2Q8AVX2(… the same)
//
// q80DotQ8AVX2 for four (three, two) vectors at once: vector k's bytes at x + k·xstride,
// its scales at d + k·dstride floats, its results at out + k·ostride
// floats. Each block's weights are loaded, made absolute and their scale
// converted once for the four; each vector then takes q80DotQ8AVX2's
// operations in its order (its lanes in Y(k), summed as HSUM8 does), so
// it gets that kernel's bits. Registers: SI the row, R11 the block, DI the
// vectors' block bytes (AX apart, R13 three times that), R12 their scales
// (DX bytes apart, R8 three times that), R10 the row's first result (R9
// bytes between the vectors'), BX the blocks left, CX the rows left.

// VEC80 adds vector k's block (bytes at xo, scale at dxo) to Yk: the
// weights are in Y4, their absolute values in Y5, their scale in X6.
#define VEC80(xo, dxo, acc) \
	VMOVDQU xo, Y7 \
	VPSIGNB Y4, Y7, Y7 \
	VPMADDUBSW Y7, Y5, Y7 \
	VPMADDWD Y14, Y7, Y7 \
	VCVTDQ2PS Y7, Y7 \
	VMULSS  dxo, X6, X8 \
	VBROADCASTSS X8, Y8 \
	VFMADD231PS Y8, Y7, acc

// HSUMTO adds acc's lanes into xacc's lowest, in HSUM8's order (X3 a
// scratch).
#define HSUMTO(acc, xacc) \
	VEXTRACTF128 $1, acc, X3 \
	VADDPS  X3, xacc, xacc \
	VPERMILPS $0x4e, xacc, X3 \
	VADDPS  X3, xacc, xacc \
	VPERMILPS $0xb1, xacc, X3 \
	VADDPS  X3, xacc, xacc

TEXT ·q80Dot4Q8AVX2(SB), NOSPLIT, $0-80

// Q80START loads the arguments and the constants.
#define Q80START \
	ONES16 \
	MOVQ row+0(FP), SI \
	MOVQ rb+8(FP), R14 \
	MOVQ rows+16(FP), CX \
	MOVQ xstride+40(FP), AX \
	LEAQ (AX)(AX*2), R13 \
	MOVQ dstride+56(FP), DX \
	SHLQ $2, DX \
	LEAQ (DX)(DX*2), R8 \
	MOVQ out+64(FP), R10 \
	MOVQ ostride+72(FP), R9 \
	SHLQ $2, R9

// Q80ROW points R11, DI, R12 and BX at a row's first block.
#define Q80ROW \
	MOVQ SI, R11 \
	MOVQ x+32(FP), DI \
	MOVQ d+48(FP), R12 \
	MOVQ nb+24(FP), BX

// Q80WEIGHTS loads a block's weights (Y4), their absolute values (Y5)
// and their scale (X6).
#define Q80WEIGHTS \
	VMOVDQU 2(R11), Y4 \
	VPABSB  Y4, Y5 \
	VPBROADCASTW (R11), X6 \
	VCVTPH2PS X6, X6

// Q80NEXT moves on to the next block; Q80NEXTROW to the next row.
#define Q80NEXT \
	ADDQ $34, R11 \
	ADDQ $32, DI \
	ADDQ $4, R12 \
	DECQ BX

#define Q80NEXTROW \
	ADDQ $4, R10 \
	ADDQ R14, SI \
	DECQ CX

	Q80START

q80x4rowloop:
	TESTQ CX, CX
	JLE   q80x4done
	Q80ROW
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y9, Y9, Y9

q80x4blockloop:
	Q80WEIGHTS
	VEC80((DI), (R12), Y0)
	VEC80((DI)(AX*1), (R12)(DX*1), Y1)
	VEC80((DI)(AX*2), (R12)(DX*2), Y2)
	VEC80((DI)(R13*1), (R12)(R8*1), Y9)
	Q80NEXT
	JNZ  q80x4blockloop

	HSUMTO(Y0, X0)
	HSUMTO(Y1, X1)
	HSUMTO(Y2, X2)
	HSUMTO(Y9, X9)
	VMOVSS X0, (R10)
	VMOVSS X1, (R10)(R9*1)
	VMOVSS X2, (R10)(R9*2)
	LEAQ (R10)(R9*2), R11
	ADDQ R9, R11
	VMOVSS X9, (R11)
	Q80NEXTROW
	JMP  q80x4rowloop

q80x4done:
	VZEROUPPER
	RET

TEXT ·q80Dot3Q8AVX2(SB), NOSPLIT, $0-80
	Q80START

q80x3rowloop:
	TESTQ CX, CX
	JLE   q80x3done
	Q80ROW
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2

q80x3blockloop:
	Q80WEIGHTS
	VEC80((DI), (R12), Y0)
	VEC80((DI)(AX*1), (R12)(DX*1), Y1)
	VEC80((DI)(AX*2), (R12)(DX*2), Y2)
	Q80NEXT
	JNZ  q80x3blockloop

	HSUMTO(Y0, X0)
	HSUMTO(Y1, X1)
	HSUMTO(Y2, X2)
	VMOVSS X0, (R10)
	VMOVSS X1, (R10)(R9*1)
	VMOVSS X2, (R10)(R9*2)
	Q80NEXTROW
	JMP  q80x3rowloop

q80x3done:
	VZEROUPPER
	RET

TEXT ·q80Dot2Q8AVX2(SB), NOSPLIT, $0-80
	Q80START

q80x2rowloop:
	TESTQ CX, CX
	JLE   q80x2done
	Q80ROW
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

q80x2blockloop:
	Q80WEIGHTS
	VEC80((DI), (R12), Y0)
	VEC80((DI)(AX*1), (R12)(DX*1), Y1)
	Q80NEXT
	JNZ  q80x2blockloop

	HSUMTO(Y0, X0)
	HSUMTO(Y1, X1)
	VMOVSS X0, (R10)
	VMOVSS X1, (R10)(R9*1)
	Q80NEXTROW
	JMP  q80x2rowloop

q80x2done:
	VZEROUPPER
	RET

// STREAMS4 points R11, R10, SI and DX at four streams of q items of nb
// blocks of size bytes each, the first at w, and leaves q in CX.
#define STREAMS4(w, q, nb, size) \
	MOVQ nb, AX \
	IMULQ size, AX \
	MOVQ q, CX \
	IMULQ CX, AX \
	MOVQ w, R11 \
	LEAQ (R11)(AX*1), R10 \
	LEAQ (R10)(AX*1), SI \
	LEAQ (SI)(AX*1), DX

// func q80DotQ8S4AVX2(row *byte, q, nb int, x *int8, d *float32, out *float32)
//
// q80DotQ8AVX2 over 4·q consecutive rows of nb blocks each, read as four
// streams (see q41Rows16Q8S4AVX2): rows j, q+j, 2q+j and 3q+j together, a
// block of each in turn, for j < q. The vector's block is loaded once for
// the four; each row takes q80DotQ8AVX2's operations in its order (its
// lanes in Y0, Y1, Y6, Y7 for streams 0–3, summed as HSUM8 does), so its
// bits. Registers: R11, R10, SI, DX the streams' blocks, DI the vector's
// block bytes, R8 its scales, BX the blocks left, CX the rows left, R12
// stream 0's next result, R13 the bytes between streams' results.

// S80ROW adds the block at p times the vector's (Y4) to acc and moves p
// to the next block.
#define S80ROW(p, acc) \
	VMOVDQU 2(p), Y3 \
	VPABSB  Y3, Y2 \
	VPSIGNB Y3, Y4, Y5 \
	VPMADDUBSW Y5, Y2, Y2 \
	VPMADDWD Y14, Y2, Y2 \
	VCVTDQ2PS Y2, Y2 \
	VPBROADCASTW (p), X5 \
	VCVTPH2PS X5, X5 \
	VMULSS  (R8), X5, X5 \
	VBROADCASTSS X5, Y5 \
	VFMADD231PS Y5, Y2, acc \
	ADDQ $34, p

// S80OUT stores acc's lanes' sum (xacc its low half) at dst.
#define S80OUT(acc, xacc, dst) \
	HSUMTO(acc, xacc) \
	VMOVSS xacc, dst

TEXT ·q80DotQ8S4AVX2(SB), NOSPLIT, $0-48
	ONES16
	STREAMS4(row+0(FP), q+8(FP), nb+16(FP), $34)
	MOVQ out+40(FP), R12
	MOVQ CX, R13
	SHLQ $2, R13

s80row:
	TESTQ CX, CX
	JLE   s80done
	MOVQ x+24(FP), DI
	MOVQ d+32(FP), R8
	MOVQ nb+16(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

s80block:
	VMOVDQU (DI), Y4
	S80ROW(R11, Y0)
	S80ROW(R10, Y1)
	S80ROW(SI, Y6)
	S80ROW(DX, Y7)
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ BX
	JNZ  s80block

	S80OUT(Y0, X0, (R12))
	S80OUT(Y1, X1, (R12)(R13*1))
	S80OUT(Y6, X6, (R12)(R13*2))
	LEAQ (R13)(R13*2), AX
	S80OUT(Y7, X7, (R12)(AX*1))
	ADDQ $4, R12
	DECQ CX
	JMP  s80row

s80done:
	VZEROUPPER
	RET

// func q8TileAVX2(w *byte, dw, mw *float32, nb int, xa, xb *int8, da, db, sa, sb *float32, oa, ob *float32)
// func q8TilePromptAVX2(… the same)
//
// The prefill tile for Q4 weights: oa[r] and ob[r] = row r of the unpacked
// tile (nibbles 0…15, per block and column quad the 16 rows' four bytes)
// times vectors a and b (signed bytes as quantized, their scales d and sums
// s). One lane per row: per block, the quads' products add up in int16
// lanes (Y4–Y7, a lane per pair of columns and row: 16 products of at most
// 15·127), VPMADDWD turns them into one int32 per row, and the float lanes
// (Y0, Y1 vector a's rows 0–7 and 8–15; Y2, Y3 vector b's) get
// d_w·d_x·dot and then the offset term m_w·s_x (the row kernels' order).
// q8TilePromptAVX2 adds every block's d_w·d_x·dot first and then the
// blocks' m_w·s_x in turn (a prompt's order), which takes a fifth of the
// instructions out of the block loop. Registers: R11 the block's weights, R13
// its rows' d_w, R10 their m_w, SI and DI the vectors' block bytes, R8, R9
// a's scale and sum, DX, CX b's.

// QUAD multiplies column quad k of the 16 rows (Y8, Y9) with the two
// vectors' (broadcast into Y10, Y11) and adds the products to Y4–Y7.
#define QUAD(k) \
	VMOVDQU k*64(R11), Y8 \
	VMOVDQU k*64+32(R11), Y9 \
	VPBROADCASTD k*4(SI), Y10 \
	VPBROADCASTD k*4(DI), Y11 \
	VPMADDUBSW Y10, Y8, Y12 \
	VPADDW  Y12, Y4, Y4 \
	VPMADDUBSW Y10, Y9, Y12 \
	VPADDW  Y12, Y5, Y5 \
	VPMADDUBSW Y11, Y8, Y12 \
	VPADDW  Y12, Y6, Y6 \
	VPMADDUBSW Y11, Y9, Y12 \
	VPADDW  Y12, Y7, Y7

// SCALED adds d_w·d_x·dot for one vector: lo, hi its int16 lanes (rows
// 0–7, 8–15), dx its scale, into flo, fhi; Y14, Y15 hold the rows' d_w.
// SCALE adds m_w·s_x after it, sx the vector's sum.
#define SCALED(lo, hi, dx, flo, fhi) \
	VPMADDWD Y13, lo, lo \
	VPMADDWD Y13, hi, hi \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi \
	VBROADCASTSS dx, Y12 \
	VMULPS  Y14, Y12, Y10 \
	VMULPS  Y15, Y12, Y11 \
	VFMADD231PS Y10, lo, flo \
	VFMADD231PS Y11, hi, fhi

#define SCALE(lo, hi, dx, sx, flo, fhi) \
	SCALED(lo, hi, dx, flo, fhi) \
	VBROADCASTSS sx, Y12 \
	VFMADD231PS (R10), Y12, flo \
	VFMADD231PS 32(R10), Y12, fhi

// OFFSET adds a vector's block's m_w·s_x (sx its sum; Y8, Y9 the rows'
// m_w) to its float sums lo, hi (a prompt's order).
#define OFFSET(sx, lo, hi) \
	VBROADCASTSS sx, Y12 \
	VFMADD231PS Y8, Y12, lo \
	VFMADD231PS Y9, Y12, hi

// TBLOCK leaves a block's int16 sums in Y4–Y7 and its rows' d_w in Y14,
// Y15; TNEXT moves on to the next block and counts one off.
#define TBLOCK \
	VMOVDQU (R11), Y8 \
	VMOVDQU 32(R11), Y9 \
	VPBROADCASTD (SI), Y10 \
	VPBROADCASTD (DI), Y11 \
	VPMADDUBSW Y10, Y8, Y4 \
	VPMADDUBSW Y10, Y9, Y5 \
	VPMADDUBSW Y11, Y8, Y6 \
	VPMADDUBSW Y11, Y9, Y7 \
	QUAD(1) \
	QUAD(2) \
	QUAD(3) \
	QUAD(4) \
	QUAD(5) \
	QUAD(6) \
	QUAD(7) \
	VMOVUPS (R13), Y14 \
	VMOVUPS 32(R13), Y15

#define TNEXT \
	ADDQ $512, R11 \
	ADDQ $64, R13 \
	ADDQ $64, R10 \
	ADDQ $32, SI \
	ADDQ $32, DI \
	ADDQ $4, R8 \
	ADDQ $4, R9 \
	ADDQ $4, DX \
	ADDQ $4, CX \
	DECQ BX

TEXT ·q8TileAVX2(SB), NOSPLIT, $0-96
// TSTART loads the arguments and the constants and clears the sums.
#define TSTART \
	MOVQ w+0(FP), R11 \
	MOVQ dw+8(FP), R13 \
	MOVQ mw+16(FP), R10 \
	MOVQ nb+24(FP), BX \
	MOVQ xa+32(FP), SI \
	MOVQ xb+40(FP), DI \
	MOVQ da+48(FP), R8 \
	MOVQ db+56(FP), DX \
	MOVQ sa+64(FP), R9 \
	MOVQ sb+72(FP), CX \
	MOVL $0x00010001, AX \
	VMOVD AX, X13 \
	VPBROADCASTD X13, Y13 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

// TSTORE writes the results.
#define TSTORE \
	MOVQ oa+80(FP), AX \
	VMOVUPS Y0, (AX) \
	VMOVUPS Y1, 32(AX) \
	MOVQ ob+88(FP), AX \
	VMOVUPS Y2, (AX) \
	VMOVUPS Y3, 32(AX) \
	VZEROUPPER

	TSTART

tblockloop:
	TBLOCK
	SCALE(Y4, Y5, (R8), (R9), Y0, Y1)
	SCALE(Y6, Y7, (DX), (CX), Y2, Y3)
	TNEXT
	JNZ  tblockloop
	TSTORE
	RET

TEXT ·q8TilePromptAVX2(SB), NOSPLIT, $0-96
	TSTART

tpblockloop:
	TBLOCK
	SCALED(Y4, Y5, (R8), Y0, Y1)
	SCALED(Y6, Y7, (DX), Y2, Y3)
	TNEXT
	JNZ  tpblockloop
	MOVQ mw+16(FP), R10
	MOVQ sa+64(FP), R9
	MOVQ sb+72(FP), CX
	MOVQ nb+24(FP), BX

tpoffsets:
	VMOVUPS (R10), Y8
	VMOVUPS 32(R10), Y9
	OFFSET((R9), Y0, Y1)
	OFFSET((CX), Y2, Y3)
	ADDQ $64, R10
	ADDQ $4, R9
	ADDQ $4, CX
	DECQ BX
	JNZ  tpoffsets
	TSTORE
	RET

// func q8Tile4AVX2(w *byte, dw, mw *float32, nb int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride, groups int)
// func q8Tile4PromptAVX2(… the same)
//
// q8TileAVX2 for groups of four vectors: vector k's bytes at x + k·xstride,
// its scales and sums at d and s + k·dstride floats, its 16 results
// written at out + k·ostride floats, for k < 4·groups. Each quad's weights (Y8, Y9) are
// loaded once for the four; the int16 sums are Y0–Y7 (vector k's rows 0–7
// and 8–15 in Y(2k), Y(2k+1)); the float sums live in the frame, where
// each block adds d_w·d_x·dot and then m_w·s_x, the operations and order
// of q8TileAVX2, so every vector's results have its bits (those of
// q8TilePromptAVX2 for q8Tile4PromptAVX2, whose blocks add d_w·d_x·dot
// alone, and the offset terms come after the last one). Registers: R11
// the block's weights, R13 its rows' d_w, R10 their m_w, SI, DI, R8, R9 the
// vectors' block bytes, R12 and DX their scales and sums, CX dstride in
// bytes, AX three times that, Y13 the int16 ones.

// QUAD4(k) multiplies column quad k of the 16 rows with the four vectors.
#define QUAD4(k) \
	VMOVDQU k*64(R11), Y8 \
	VMOVDQU k*64+32(R11), Y9 \
	QV4(k, SI, Y0, Y1) \
	QV4(k, DI, Y2, Y3) \
	QV4(k, R8, Y4, Y5) \
	QV4(k, R9, Y6, Y7)

#define QV4(k, p, lo, hi) \
	VPBROADCASTD k*4(p), Y10 \
	VPMADDUBSW Y10, Y8, Y12 \
	VPADDW  Y12, lo, lo \
	VPMADDUBSW Y10, Y9, Y12 \
	VPADDW  Y12, hi, hi

TEXT ·q8Tile4AVX2(SB), NOSPLIT, $296-96
// T4START keeps the group's vectors, scales, sums and results and the
// groups left in the frame (256–295(SP)) and sets Y13 to the int16 ones.
#define T4START \
	MOVQ x+32(FP), AX \
	MOVQ AX, 256(SP) \
	MOVQ d+48(FP), AX \
	MOVQ AX, 264(SP) \
	MOVQ s+56(FP), AX \
	MOVQ AX, 272(SP) \
	MOVQ out+72(FP), AX \
	MOVQ AX, 280(SP) \
	MOVQ groups+88(FP), AX \
	MOVQ AX, 288(SP) \
	MOVL $0x00010001, R14 \
	VMOVD R14, X13 \
	VPBROADCASTD X13, Y13

// T4GROUP points the registers at a group's first block and clears its
// sums.
#define T4GROUP \
	MOVQ w+0(FP), R11 \
	MOVQ dw+8(FP), R13 \
	MOVQ mw+16(FP), R10 \
	MOVQ nb+24(FP), BX \
	MOVQ 256(SP), SI \
	MOVQ xstride+40(FP), AX \
	VECTORS4(AX) \
	MOVQ 264(SP), R12 \
	MOVQ 272(SP), DX \
	MOVQ dstride+64(FP), CX \
	SHLQ $2, CX \
	LEAQ (CX)(CX*2), AX \
	SUMS4ZERO

// T4RESULT stores a vector's sums (lo, hi) at DI and moves DI on by CX
// bytes.
#define T4RESULT(lo, hi) \
	VMOVUPS lo, (DI) \
	VMOVUPS hi, 32(DI) \
	ADDQ CX, DI

// T4RESULTS stores the group's results, its sums in Y0–Y7, and moves on to
// the next group, counting one off.
#define T4RESULTS \
	MOVQ 280(SP), DI \
	MOVQ ostride+80(FP), CX \
	SHLQ $2, CX \
	T4RESULT(Y0, Y1) \
	T4RESULT(Y2, Y3) \
	T4RESULT(Y4, Y5) \
	T4RESULT(Y6, Y7) \
	MOVQ xstride+40(FP), AX \
	SHLQ $2, AX \
	ADDQ AX, 256(SP) \
	MOVQ dstride+64(FP), AX \
	SHLQ $4, AX \
	ADDQ AX, 264(SP) \
	ADDQ AX, 272(SP) \
	MOVQ ostride+80(FP), AX \
	SHLQ $4, AX \
	ADDQ AX, 280(SP) \
	DECQ 288(SP)

// SUMS4LOAD loads the group's sums from the frame into Y0–Y7.
#define SUMS4LOAD \
	VMOVUPS 0(SP), Y0 \
	VMOVUPS 32(SP), Y1 \
	VMOVUPS 64(SP), Y2 \
	VMOVUPS 96(SP), Y3 \
	VMOVUPS 128(SP), Y4 \
	VMOVUPS 160(SP), Y5 \
	VMOVUPS 192(SP), Y6 \
	VMOVUPS 224(SP), Y7

// SUMS4ZERO clears the four vectors' float sums in the frame (0–255(SP)).
#define SUMS4ZERO \
	VXORPS Y0, Y0, Y0 \
	VMOVUPS Y0, 0(SP) \
	VMOVUPS Y0, 32(SP) \
	VMOVUPS Y0, 64(SP) \
	VMOVUPS Y0, 96(SP) \
	VMOVUPS Y0, 128(SP) \
	VMOVUPS Y0, 160(SP) \
	VMOVUPS Y0, 192(SP) \
	VMOVUPS Y0, 224(SP)

// VECTORS4 points DI, R8, R9 at the vectors after SI's, stride bytes apart;
// NEXT4 moves the four vectors' bytes (SI, DI, R8, R9) and vector 0's
// scales and sums (R12, DX) on a block.
#define VECTORS4(stride) \
	LEAQ (SI)(stride*1), DI \
	LEAQ (DI)(stride*1), R8 \
	LEAQ (R8)(stride*1), R9

#define NEXT4 \
	ADDQ $32, SI \
	ADDQ $32, DI \
	ADDQ $32, R8 \
	ADDQ $32, R9 \
	ADDQ $4, R12 \
	ADDQ $4, DX

// SCALE4 adds vector k's block (int16 sums lo, hi) to its float sums at
// k·64(SP): d_w·d_x·dot, then m_w·s_x; Y14, Y15 hold the rows' d_w, mlo
// and mhi are their m_w.
#define SCALE4DOT(k, dx, lo, hi) \
	VPMADDWD Y13, lo, lo \
	VPMADDWD Y13, hi, hi \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi \
	VBROADCASTSS dx, Y12 \
	VMULPS  Y14, Y12, Y10 \
	VMULPS  Y15, Y12, Y11 \
	VMOVUPS k*64(SP), Y8 \
	VMOVUPS k*64+32(SP), Y9 \
	VFMADD231PS Y10, lo, Y8 \
	VFMADD231PS Y11, hi, Y9

#define SUMS4STORE(k) \
	VMOVUPS Y8, k*64(SP) \
	VMOVUPS Y9, k*64+32(SP)

#define SCALE4(k, dx, sx, lo, hi, mlo, mhi) \
	SCALE4DOT(k, dx, lo, hi) \
	VBROADCASTSS sx, Y12 \
	VFMADD231PS mlo, Y12, Y8 \
	VFMADD231PS mhi, Y12, Y9 \
	SUMS4STORE(k)

// T4BLOCK leaves a block's int16 sums in Y0–Y7 and its rows' d_w in Y14,
// Y15; T4NEXT moves on to the next block and counts one off.
#define T4BLOCK \
	VMOVDQU (R11), Y8 \
	VMOVDQU 32(R11), Y9 \
	VPBROADCASTD (SI), Y10 \
	VPMADDUBSW Y10, Y8, Y0 \
	VPMADDUBSW Y10, Y9, Y1 \
	VPBROADCASTD (DI), Y10 \
	VPMADDUBSW Y10, Y8, Y2 \
	VPMADDUBSW Y10, Y9, Y3 \
	VPBROADCASTD (R8), Y10 \
	VPMADDUBSW Y10, Y8, Y4 \
	VPMADDUBSW Y10, Y9, Y5 \
	VPBROADCASTD (R9), Y10 \
	VPMADDUBSW Y10, Y8, Y6 \
	VPMADDUBSW Y10, Y9, Y7 \
	QUAD4(1) \
	QUAD4(2) \
	QUAD4(3) \
	QUAD4(4) \
	QUAD4(5) \
	QUAD4(6) \
	QUAD4(7) \
	VMOVUPS (R13), Y14 \
	VMOVUPS 32(R13), Y15

#define T4NEXT \
	ADDQ $512, R11 \
	ADDQ $64, R13 \
	ADDQ $64, R10 \
	NEXT4 \
	DECQ BX

	T4START

t4group:
	T4GROUP

t4blockloop:
	T4BLOCK
	SCALE4(0, (R12), (DX), Y0, Y1, (R10), 32(R10))
	SCALE4(1, (R12)(CX*1), (DX)(CX*1), Y2, Y3, (R10), 32(R10))
	SCALE4(2, (R12)(CX*2), (DX)(CX*2), Y4, Y5, (R10), 32(R10))
	SCALE4(3, (R12)(AX*1), (DX)(AX*1), Y6, Y7, (R10), 32(R10))
	T4NEXT
	JNZ  t4blockloop
	SUMS4LOAD
	T4RESULTS
	JNZ  t4group
	VZEROUPPER
	RET

// func q8Tile4PromptAVX2(w *byte, dw, mw *float32, nb int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride, groups int)
//
// q8Tile4AVX2 in a prompt's order: the blocks add d_w·d_x·dot alone (the
// same operations in the same order, so the same bits), the offset terms
// m_w·s_x come after the last block. The four vectors are addressed from
// vector 0's (SI bytes, R12 scales) with the strides in registers, so a
// block moves four pointers on, and each block's float sums are read by
// the FMA itself. Registers in the block loop: R11 the block's weights,
// R13 its rows' d_w, SI vector 0's block bytes (vector k's at SI +
// k·xstride: R14 xstride, R15 three times that), R12 vector 0's scales
// (vector k's at R12 + k·dstride floats: CX dstride in bytes, AX three
// times that), BX the blocks left, Y0–Y7 the int16 sums (vector k's rows
// 0–7 and 8–15 in Y(2k), Y(2k+1)), Y13 the int16 ones, Y14, Y15 the rows'
// d_w. The frame keeps the float sums (0–255(SP)) and the group's vector
// bytes, scales, sums and results and the groups left (256–295(SP)).

// P4QV multiplies column quad k of the 16 rows (Y8, Y9) with the vector
// at SI + idx and adds the products to lo, hi; P4QV0 is vector 0's.
#define P4QV(k, idx, lo, hi) \
	VPBROADCASTD k*4(SI)(idx), Y10 \
	VPMADDUBSW Y10, Y8, Y12 \
	VPADDW  Y12, lo, lo \
	VPMADDUBSW Y10, Y9, Y12 \
	VPADDW  Y12, hi, hi

#define P4QV0(k, lo, hi) \
	VPBROADCASTD k*4(SI), Y10 \
	VPMADDUBSW Y10, Y8, Y12 \
	VPADDW  Y12, lo, lo \
	VPMADDUBSW Y10, Y9, Y12 \
	VPADDW  Y12, hi, hi

#define P4QUAD(k) \
	VMOVDQU k*64(R11), Y8 \
	VMOVDQU k*64+32(R11), Y9 \
	P4QV0(k, Y0, Y1) \
	P4QV(k, R14*1, Y2, Y3) \
	P4QV(k, R14*2, Y4, Y5) \
	P4QV(k, R15*1, Y6, Y7)

// P4FIRST sets the int16 sums to quad 0's products.
#define P4FIRST1(x, lo, hi) \
	VPBROADCASTD x, Y10 \
	VPMADDUBSW Y10, Y8, lo \
	VPMADDUBSW Y10, Y9, hi

#define P4FIRST \
	VMOVDQU (R11), Y8 \
	VMOVDQU 32(R11), Y9 \
	P4FIRST1((SI), Y0, Y1) \
	P4FIRST1((SI)(R14*1), Y2, Y3) \
	P4FIRST1((SI)(R14*2), Y4, Y5) \
	P4FIRST1((SI)(R15*1), Y6, Y7)

// P4SCALE adds vector k's block (int16 sums lo, hi; scale dx) to its float
// sums at k·64(SP): d_w·d_x·dot, SCALE4DOT's operations.
#define P4SCALE(k, dx, lo, hi) \
	VPMADDWD Y13, lo, lo \
	VPMADDWD Y13, hi, hi \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi \
	VBROADCASTSS dx, Y12 \
	VMULPS  Y14, Y12, Y10 \
	VMULPS  Y15, Y12, Y11 \
	VFMADD213PS k*64(SP), Y10, lo \
	VFMADD213PS k*64+32(SP), Y11, hi \
	VMOVUPS lo, k*64(SP) \
	VMOVUPS hi, k*64+32(SP)

// P4RESULT stores a vector's sums (lo, hi) at DI and moves DI on by R8
// bytes.
#define P4RESULT(lo, hi) \
	VMOVUPS lo, (DI) \
	VMOVUPS hi, 32(DI) \
	ADDQ R8, DI

TEXT ·q8Tile4PromptAVX2(SB), NOSPLIT, $296-96
	MOVQ x+32(FP), R9
	MOVQ R9, 256(SP)
	MOVQ d+48(FP), R9
	MOVQ R9, 264(SP)
	MOVQ s+56(FP), R9
	MOVQ R9, 272(SP)
	MOVQ out+72(FP), R9
	MOVQ R9, 280(SP)
	MOVQ groups+88(FP), R9
	MOVQ R9, 288(SP)
	MOVL $0x00010001, R9
	VMOVD R9, X13
	VPBROADCASTD X13, Y13
	MOVQ xstride+40(FP), R14
	LEAQ (R14)(R14*2), R15
	MOVQ dstride+64(FP), CX
	SHLQ $2, CX
	LEAQ (CX)(CX*2), AX

p4group:
	MOVQ w+0(FP), R11
	MOVQ dw+8(FP), R13
	MOVQ nb+24(FP), BX
	MOVQ 256(SP), SI
	MOVQ 264(SP), R12
	SUMS4ZERO

p4blockloop:
	P4FIRST
	P4QUAD(1)
	P4QUAD(2)
	P4QUAD(3)
	P4QUAD(4)
	P4QUAD(5)
	P4QUAD(6)
	P4QUAD(7)
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	P4SCALE(0, (R12), Y0, Y1)
	P4SCALE(1, (R12)(CX*1), Y2, Y3)
	P4SCALE(2, (R12)(CX*2), Y4, Y5)
	P4SCALE(3, (R12)(AX*1), Y6, Y7)
	ADDQ $512, R11
	ADDQ $64, R13
	ADDQ $32, SI
	ADDQ $4, R12
	DECQ BX
	JNZ  p4blockloop
	// The offset terms, block by block, on the sums in Y0–Y7.
	MOVQ mw+16(FP), R10
	MOVQ 272(SP), DX
	MOVQ nb+24(FP), BX
	SUMS4LOAD

p4offsets:
	VMOVUPS (R10), Y8
	VMOVUPS 32(R10), Y9
	OFFSET((DX), Y0, Y1)
	OFFSET((DX)(CX*1), Y2, Y3)
	OFFSET((DX)(CX*2), Y4, Y5)
	OFFSET((DX)(AX*1), Y6, Y7)
	ADDQ $64, R10
	ADDQ $4, DX
	DECQ BX
	JNZ  p4offsets
	// The results, and the next group's vectors.
	MOVQ 280(SP), DI
	MOVQ ostride+80(FP), R8
	SHLQ $2, R8
	P4RESULT(Y0, Y1)
	P4RESULT(Y2, Y3)
	P4RESULT(Y4, Y5)
	P4RESULT(Y6, Y7)
	LEAQ (R14*4), R9
	ADDQ R9, 256(SP)
	LEAQ (CX*4), R9
	ADDQ R9, 264(SP)
	ADDQ R9, 272(SP)
	LEAQ (R8*4), R9
	ADDQ R9, 280(SP)
	DECQ 288(SP)
	JNZ  p4group
	VZEROUPPER
	RET

// func q41Rows16Q8AVX2(w *byte, nb, groups int, x *int8, d, s *float32, out *float32)
//
// Decoding over a Q4_1 matrix's interleaved copy (rows16.go) with one
// quantized vector: out[16g+r] = row r of group g times the vector, for g <
// groups. One lane per row: per block, the 16 rows' four bytes of column
// quad c (low nibbles columns 4c…4c+3, high nibbles 16+4c…16+4c+3) are
// multiplied with the vector's four bytes of those columns (broadcast),
// the products adding up in int16 lanes (Y2, Y3: rows 0–7, 8–15; 16
// products of at most 15·127 each), VPMADDWD turns them into one int32
// per row, and the rows' float lanes (Y0, Y1) get d_w·d_x·dot + m_w·s_x,
// d_w and m_w converted eight rows at a time. Registers: R11 the block, DI
// the vector's block bytes, R8, R9 its scale and sum, BX the blocks left,
// CX the groups left, R12 the next outputs.

// RQUAD multiplies quad c of the block at p's 16 rows with the vector.
#define RQUAD(c, p) \
	VMOVDQU 64+c*64(p), Y8 \
	VMOVDQU 96+c*64(p), Y9 \
	VPBROADCASTD c*4(DI), Y10 \
	VPBROADCASTD 16+c*4(DI), Y11 \
	VPSRLW  $4, Y8, Y12 \
	VPSRLW  $4, Y9, Y13 \
	VPAND   Y15, Y8, Y8 \
	VPAND   Y15, Y9, Y9 \
	VPAND   Y15, Y12, Y12 \
	VPAND   Y15, Y13, Y13 \
	VPMADDUBSW Y10, Y8, Y8 \
	VPMADDUBSW Y10, Y9, Y9 \
	VPMADDUBSW Y11, Y12, Y12 \
	VPMADDUBSW Y11, Y13, Y13 \
	VPADDW  Y8, Y2, Y2 \
	VPADDW  Y9, Y3, Y3 \
	VPADDW  Y12, Y2, Y2 \
	VPADDW  Y13, Y3, Y3

// R16BLOCK adds the block at p (16 rows) times the vector's block at DI
// (scale at R8, sum at R9) to Y0, Y1, and moves p to the next block.
#define R16BLOCK(p) \
	VPXOR   Y2, Y2, Y2 \
	VPXOR   Y3, Y3, Y3 \
	RQUAD(0, p) \
	RQUAD(1, p) \
	RQUAD(2, p) \
	RQUAD(3, p) \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y14, Y3, Y3 \
	VCVTDQ2PS Y2, Y2 \
	VCVTDQ2PS Y3, Y3 \
	VCVTPH2PS (p), Y4 \
	VCVTPH2PS 16(p), Y5 \
	VCVTPH2PS 32(p), Y6 \
	VCVTPH2PS 48(p), Y7 \
	VBROADCASTSS (R8), Y10 \
	VBROADCASTSS (R9), Y11 \
	VMULPS  Y10, Y4, Y4 \
	VMULPS  Y10, Y5, Y5 \
	VFMADD231PS Y4, Y2, Y0 \
	VFMADD231PS Y5, Y3, Y1 \
	VFMADD231PS Y11, Y6, Y0 \
	VFMADD231PS Y11, Y7, Y1 \
	ADDQ $320, p

TEXT ·q41Rows16Q8AVX2(SB), NOSPLIT, $0-56
// R16VECTOR points DI, R8, R9 at the vector's first block and BX at the
// blocks' count (the arguments of both one-vector interleaved kernels).
#define R16VECTOR \
	MOVQ x+24(FP), DI \
	MOVQ d+32(FP), R8 \
	MOVQ s+40(FP), R9 \
	MOVQ nb+8(FP), BX

// R16NEXT moves to the vector's next block and counts one block off.
#define R16NEXT \
	ADDQ $32, DI \
	ADDQ $4, R8 \
	ADDQ $4, R9 \
	DECQ BX

	MOVQ w+0(FP), R11
	MOVQ groups+16(FP), CX
	MOVQ out+48(FP), R12
	ONES16

r16group:
	TESTQ CX, CX
	JLE   r16done
	R16VECTOR
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

r16block:
	R16BLOCK(R11)
	R16NEXT
	JNZ  r16block

	VMOVUPS Y0, (R12)
	VMOVUPS Y1, 32(R12)
	ADDQ $64, R12
	DECQ CX
	JMP  r16group

r16done:
	VZEROUPPER
	RET

// func q41Rows16Q8S4AVX2(w *byte, nb, q int, x *int8, d, s *float32, out *float32)
//
// q41Rows16Q8AVX2 over 4·q groups read as four streams: groups j, q+j,
// 2q+j and 3q+j together, a block of each in turn, for j < q. Two cores
// each reading one stream get about 75% of the memory bandwidth that four
// streams each get here. Each group takes q41Rows16Q8AVX2's operations in
// its order (its float sums at k·64(SP) for stream k), so its bits; the
// results land where q41Rows16Q8AVX2 on the 4·q groups puts them.
// Registers: R11, R10, SI, DX the streams' blocks, R12 stream 0's next
// results, R13 the bytes between streams' results, AX scratch.

TEXT ·q41Rows16Q8S4AVX2(SB), NOSPLIT, $256-56
// S4STREAM adds the block of stream k (at p) to its sums in the frame, by
// block (R16BLOCK, or Q1BLOCK for Q8_0), which keeps them in Y0, Y1.
#define S4STREAM(k, p, block) \
	VMOVUPS k*64(SP), Y0 \
	VMOVUPS k*64+32(SP), Y1 \
	block(p) \
	VMOVUPS Y0, k*64(SP) \
	VMOVUPS Y1, k*64+32(SP)

// R16RESULT stores stream k's 16 results at AX and clears its sums.
#define R16RESULT(k) \
	VMOVUPS k*64(SP), Y0 \
	VMOVUPS k*64+32(SP), Y1 \
	VMOVUPS Y0, (AX) \
	VMOVUPS Y1, 32(AX) \
	VMOVUPS Y2, k*64(SP) \
	VMOVUPS Y2, k*64+32(SP) \
	ADDQ R13, AX

	ONES16
	STREAMS4(w+0(FP), q+16(FP), nb+8(FP), $320)
	MOVQ out+48(FP), R12
	MOVQ CX, R13
	SHLQ $6, R13
	VPXOR Y2, Y2, Y2
	VMOVUPS Y2, 0(SP)
	VMOVUPS Y2, 32(SP)
	VMOVUPS Y2, 64(SP)
	VMOVUPS Y2, 96(SP)
	VMOVUPS Y2, 128(SP)
	VMOVUPS Y2, 160(SP)
	VMOVUPS Y2, 192(SP)
	VMOVUPS Y2, 224(SP)

s4group:
	TESTQ CX, CX
	JLE   s4done
	R16VECTOR

s4block:
	S4STREAM(0, R11, R16BLOCK)
	S4STREAM(1, R10, R16BLOCK)
	S4STREAM(2, SI, R16BLOCK)
	S4STREAM(3, DX, R16BLOCK)
	R16NEXT
	JNZ  s4block

	VPXOR Y2, Y2, Y2
	MOVQ R12, AX
	R16RESULT(0)
	R16RESULT(1)
	R16RESULT(2)
	R16RESULT(3)
	ADDQ $64, R12
	DECQ CX
	JMP  s4group

s4done:
	VZEROUPPER
	RET

// The row kernels for two and three vectors at once (q41Rows16Q8x2AVX2,
// q41Rows16Q8x3AVX2) are q41Rows16Q8AVX2 with each quad's weights loaded
// and split into nibbles once for all the vectors: vector k's bytes at x
// + k·xstride, its scales and sums at d and s + k·dstride floats, its
// results at out + k·ostride floats. A vector's int16 sums are Y(2k),
// Y(2k+1); its float sums are its results themselves (zeroed per group),
// to which each block adds d_w·d_x·dot and then m_w·s_x:
// q41Rows16Q8AVX2's operations in its order, so each vector gets that
// kernel's bits. Registers: R11 the block, DI the vectors' block bytes (AX
// apart), R8 and R9 their scales and sums (DX bytes apart), R12 the
// group's first results (R13 bytes apart), BX the blocks left, CX the
// groups left; Y8, Y9 the quad's low nibbles (rows 0–7, 8–15), Y12, Y13
// its high ones, Y6, Y7 scratch.

// func q41Rows16Q8x2AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)
TEXT ·q41Rows16Q8x2AVX2(SB), NOSPLIT, $0-80

// RNSTART loads the arguments and the constants.
#define RNSTART \
	ONES16 \
	MOVQ w+0(FP), R11 \
	MOVQ groups+16(FP), CX \
	MOVQ xstride+32(FP), AX \
	MOVQ dstride+56(FP), DX \
	SHLQ $2, DX \
	MOVQ out+64(FP), R12 \
	MOVQ ostride+72(FP), R13 \
	SHLQ $2, R13

// RNGROUP points DI, R8, R9 and BX at a group's first block.
#define RNGROUP \
	MOVQ x+24(FP), DI \
	MOVQ d+40(FP), R8 \
	MOVQ s+48(FP), R9 \
	MOVQ nb+8(FP), BX \
	VXORPS Y7, Y7, Y7

// RNZERO zeroes a vector's results (o, o32 = o+32) and int16 sums.
#define RNZERO(o, o32) \
	VMOVUPS Y7, o \
	VMOVUPS Y7, o32

#define RNCLEAR(lo, hi) \
	VPXOR lo, lo, lo \
	VPXOR hi, hi, hi

// RNQUAD loads quad c's weights and splits them into nibbles.
#define RNQUAD(c) \
	VMOVDQU 64+c*64(R11), Y8 \
	VMOVDQU 96+c*64(R11), Y9 \
	VPSRLW  $4, Y8, Y12 \
	VPSRLW  $4, Y9, Y13 \
	VPAND   Y15, Y8, Y8 \
	VPAND   Y15, Y9, Y9 \
	VPAND   Y15, Y12, Y12 \
	VPAND   Y15, Y13, Y13

// RNVEC multiplies the quad with a vector's bytes at xl (low nibbles'
// columns) and xh (high), adding to lo, hi.
#define RNVEC(xl, xh, lo, hi) \
	VPBROADCASTD xl, Y10 \
	VPBROADCASTD xh, Y11 \
	VPMADDUBSW Y10, Y8, Y6 \
	VPADDW  Y6, lo, lo \
	VPMADDUBSW Y10, Y9, Y6 \
	VPADDW  Y6, hi, hi \
	VPMADDUBSW Y11, Y12, Y6 \
	VPADDW  Y6, lo, lo \
	VPMADDUBSW Y11, Y13, Y6 \
	VPADDW  Y6, hi, hi

// RNSCALES converts the block's rows' d_w (Y8, Y9) and m_w (Y12, Y13).
#define RNSCALES \
	VCVTPH2PS (R11), Y8 \
	VCVTPH2PS 16(R11), Y9 \
	VCVTPH2PS 32(R11), Y12 \
	VCVTPH2PS 48(R11), Y13

// RNADD adds a vector's block to its results (o, o32): its int16 sums lo,
// hi, its scale at dx and sum at sx.
#define RNADD(dx, sx, lo, hi, o, o32) \
	VPMADDWD Y14, lo, lo \
	VPMADDWD Y14, hi, hi \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi \
	VBROADCASTSS dx, Y10 \
	VMULPS  Y10, Y8, Y11 \
	VMULPS  Y10, Y9, Y6 \
	VBROADCASTSS sx, Y10 \
	VMOVUPS o, Y7 \
	VFMADD231PS Y11, lo, Y7 \
	VFMADD231PS Y10, Y12, Y7 \
	VMOVUPS Y7, o \
	VMOVUPS o32, Y7 \
	VFMADD231PS Y6, hi, Y7 \
	VFMADD231PS Y10, Y13, Y7 \
	VMOVUPS Y7, o32

// VEC2 multiplies quad c with the first two vectors, VEC3 with the first
// three.
#define VEC2(c) \
	RNVEC(c*4(DI), 16+c*4(DI), Y0, Y1) \
	RNVEC(c*4(DI)(AX*1), 16+c*4(DI)(AX*1), Y2, Y3)

#define VEC3(c) \
	VEC2(c) \
	RNVEC(c*4(DI)(AX*2), 16+c*4(DI)(AX*2), Y4, Y5)

// X2BLOCK adds the block at R11 times two vectors' blocks to their results
// at R12 (R13 bytes apart); X3BLOCK three.
#define X2BLOCK \
	RNCLEAR(Y0, Y1) \
	RNCLEAR(Y2, Y3) \
	RNQUAD(0) \
	VEC2(0) \
	RNQUAD(1) \
	VEC2(1) \
	RNQUAD(2) \
	VEC2(2) \
	RNQUAD(3) \
	VEC2(3) \
	RNSCALES \
	RNADD((R8), (R9), Y0, Y1, (R12), 32(R12)) \
	RNADD((R8)(DX*1), (R9)(DX*1), Y2, Y3, (R12)(R13*1), 32(R12)(R13*1))

#define X3BLOCK \
	RNCLEAR(Y0, Y1) \
	RNCLEAR(Y2, Y3) \
	RNCLEAR(Y4, Y5) \
	RNQUAD(0) \
	VEC3(0) \
	RNQUAD(1) \
	VEC3(1) \
	RNQUAD(2) \
	VEC3(2) \
	RNQUAD(3) \
	VEC3(3) \
	RNSCALES \
	RNADD((R8), (R9), Y0, Y1, (R12), 32(R12)) \
	RNADD((R8)(DX*1), (R9)(DX*1), Y2, Y3, (R12)(R13*1), 32(R12)(R13*1)) \
	RNADD((R8)(DX*2), (R9)(DX*2), Y4, Y5, (R12)(R13*2), 32(R12)(R13*2))

// RNNEXT moves on to the next block.
#define RNNEXT \
	ADDQ $320, R11 \
	ADDQ $32, DI \
	ADDQ $4, R8 \
	ADDQ $4, R9 \
	DECQ BX

	RNSTART

r16x2group:
	TESTQ CX, CX
	JLE   r16x2done
	RNGROUP
	RNZERO((R12), 32(R12))
	RNZERO((R12)(R13*1), 32(R12)(R13*1))

r16x2block:
	X2BLOCK
	RNNEXT
	JNZ  r16x2block

	ADDQ $64, R12
	DECQ CX
	JMP  r16x2group

r16x2done:
	VZEROUPPER
	RET

// func q41Rows16Q8x3AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)
TEXT ·q41Rows16Q8x3AVX2(SB), NOSPLIT, $0-80
	RNSTART

r16x3group:
	TESTQ CX, CX
	JLE   r16x3done
	RNGROUP
	RNZERO((R12), 32(R12))
	RNZERO((R12)(R13*1), 32(R12)(R13*1))
	RNZERO((R12)(R13*2), 32(R12)(R13*2))

r16x3block:
	X3BLOCK
	RNNEXT
	JNZ  r16x3block

	ADDQ $64, R12
	DECQ CX
	JMP  r16x3group

r16x3done:
	VZEROUPPER
	RET

// func unpackRows16AVX2(src *byte, nb int, dst *byte, d, mn *float32)
//
// unpackRows16's work for nb blocks of an interleaved Q4_1 group: per block,
// column quad c's 64 bytes masked to their low nibbles become quad c of
// dst, shifted right by 4 and masked quad c+4; the 16 rows' d and m
// converted to float32.
TEXT ·unpackRows16AVX2(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ nb+8(FP), BX
	MOVQ dst+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ mn+32(FP), R9
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

upkblock:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VMOVUPS Y0, (R8)
	VMOVUPS Y1, 32(R8)
	VMOVUPS Y2, (R9)
	VMOVUPS Y3, 32(R9)
	VMOVDQU 64(SI), Y0
	VMOVDQU 96(SI), Y1
	VMOVDQU 128(SI), Y2
	VMOVDQU 160(SI), Y3
	VMOVDQU 192(SI), Y4
	VMOVDQU 224(SI), Y5
	VMOVDQU 256(SI), Y6
	VMOVDQU 288(SI), Y7
	VPSRLW  $4, Y0, Y8
	VPSRLW  $4, Y1, Y9
	VPSRLW  $4, Y2, Y10
	VPSRLW  $4, Y3, Y11
	VPAND   Y15, Y0, Y0
	VPAND   Y15, Y1, Y1
	VPAND   Y15, Y2, Y2
	VPAND   Y15, Y3, Y3
	VPAND   Y15, Y8, Y8
	VPAND   Y15, Y9, Y9
	VPAND   Y15, Y10, Y10
	VPAND   Y15, Y11, Y11
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y8, 256(DI)
	VMOVDQU Y9, 288(DI)
	VMOVDQU Y10, 320(DI)
	VMOVDQU Y11, 352(DI)
	VPSRLW  $4, Y4, Y8
	VPSRLW  $4, Y5, Y9
	VPSRLW  $4, Y6, Y10
	VPSRLW  $4, Y7, Y11
	VPAND   Y15, Y4, Y4
	VPAND   Y15, Y5, Y5
	VPAND   Y15, Y6, Y6
	VPAND   Y15, Y7, Y7
	VPAND   Y15, Y8, Y8
	VPAND   Y15, Y9, Y9
	VPAND   Y15, Y10, Y10
	VPAND   Y15, Y11, Y11
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VMOVDQU Y7, 224(DI)
	VMOVDQU Y8, 384(DI)
	VMOVDQU Y9, 416(DI)
	VMOVDQU Y10, 448(DI)
	VMOVDQU Y11, 480(DI)
	ADDQ $320, SI
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ BX
	JNZ  upkblock
	VZEROUPPER
	RET

// func q41Rows16Q8x4AVX2(w *byte, nb, groups int, x *int8, xstride int, d, s *float32, dstride int, out *float32, ostride int)
//
// q41Rows16Q8x2AVX2 for four vectors: the tile kernel q8Tile4AVX2 over the
// interleaved copy itself, each block's quads split into nibbles in
// registers (once for the four vectors) instead of unpacked into a tile
// first, which a few vectors do not repay. Each vector takes q8Tile4AVX2's
// operations in its order (the int16 sums of a block are exact in any
// order; SCALE4: d_w·d_x·dot, then m_w·s_x, into float sums at k·64(SP)), so its
// bits, which are q41Rows16Q8AVX2's. The block's m_w wait at 256(SP), the
// nibble mask at 320(SP).
// Registers: R11 the block, SI, DI, R8, R9 the vectors' block bytes, R12
// and DX vector 0's scales and sums (R13 bytes between vectors', AX three
// times that), R10 the group's results (R14 bytes between vectors'), BX
// the blocks left, CX the groups left; Y0–Y7 the int16 sums (vector k's
// rows 0–7 and 8–15 in Y(2k), Y(2k+1)), Y11 the nibble mask, Y13 the
// int16 ones.

TEXT ·q41Rows16Q8x4AVX2(SB), NOSPLIT, $352-80
// X4QUAD splits quad c of the block into nibbles (low: Y8, Y9; high: Y14,
// Y15) and multiplies them with the four vectors.
#define X4QUAD(c) \
	VMOVDQU 64+c*64(R11), Y8 \
	VMOVDQU 96+c*64(R11), Y9 \
	VPSRLW  $4, Y8, Y14 \
	VPSRLW  $4, Y9, Y15 \
	VPAND   Y11, Y8, Y8 \
	VPAND   Y11, Y9, Y9 \
	VPAND   Y11, Y14, Y14 \
	VPAND   Y11, Y15, Y15 \
	X4VEC(c, SI, Y0, Y1) \
	X4VEC(c, DI, Y2, Y3) \
	X4VEC(c, R8, Y4, Y5) \
	X4VEC(c, R9, Y6, Y7)

// X4VEC adds the vector at p's columns of quad c (four of the low nibbles'
// columns, four of the high ones') times the rows to lo, hi.
#define X4VEC(c, p, lo, hi) \
	VPBROADCASTD c*4(p), Y10 \
	VPMADDUBSW Y10, Y8, Y12 \
	VPADDW  Y12, lo, lo \
	VPMADDUBSW Y10, Y9, Y12 \
	VPADDW  Y12, hi, hi \
	VPBROADCASTD 16+c*4(p), Y10 \
	VPMADDUBSW Y10, Y14, Y12 \
	VPADDW  Y12, lo, lo \
	VPMADDUBSW Y10, Y15, Y12 \
	VPADDW  Y12, hi, hi

// X4OUT writes vector k's 16 sums from the frame to o.
#define X4OUT(k, o, o32) \
	VMOVUPS k*64(SP), Y8 \
	VMOVUPS k*64+32(SP), Y9 \
	VMOVUPS Y8, o \
	VMOVUPS Y9, o32

	MOVQ w+0(FP), R11
	MOVQ groups+16(FP), CX
	MOVQ out+64(FP), R10
	MOVQ ostride+72(FP), R14
	SHLQ $2, R14
	MOVQ dstride+56(FP), R13
	SHLQ $2, R13
	LEAQ (R13)(R13*2), AX
	MOVL $0x00010001, BX
	VMOVD BX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x0f0f0f0f, BX
	VMOVD BX, X11
	VPBROADCASTD X11, Y11
	VMOVDQU Y11, 320(SP)

x4group:
	TESTQ CX, CX
	JLE   x4done
	MOVQ x+24(FP), SI
	MOVQ xstride+32(FP), BX
	VECTORS4(BX)
	MOVQ d+40(FP), R12
	MOVQ s+48(FP), DX
	MOVQ nb+8(FP), BX
	SUMS4ZERO

x4block:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VMOVDQU 320(SP), Y11
	X4QUAD(0)
	X4QUAD(1)
	X4QUAD(2)
	X4QUAD(3)
	VCVTPH2PS 32(R11), Y8
	VCVTPH2PS 48(R11), Y9
	VMOVUPS Y8, 256(SP)
	VMOVUPS Y9, 288(SP)
	VCVTPH2PS (R11), Y14
	VCVTPH2PS 16(R11), Y15
	SCALE4(0, (R12), (DX), Y0, Y1, 256(SP), 288(SP))
	SCALE4(1, (R12)(R13*1), (DX)(R13*1), Y2, Y3, 256(SP), 288(SP))
	SCALE4(2, (R12)(R13*2), (DX)(R13*2), Y4, Y5, 256(SP), 288(SP))
	SCALE4(3, (R12)(AX*1), (DX)(AX*1), Y6, Y7, 256(SP), 288(SP))
	ADDQ $320, R11
	NEXT4
	DECQ BX
	JNZ  x4block

	LEAQ (R10)(R14*2), BX
	X4OUT(0, (R10), 32(R10))
	X4OUT(1, (R10)(R14*1), 32(R10)(R14*1))
	X4OUT(2, (BX), 32(BX))
	X4OUT(3, (BX)(R14*1), 32(BX)(R14*1))
	ADDQ $64, R10
	DECQ CX
	JMP  x4group

x4done:
	VZEROUPPER
	RET

// Q8_0 rows in lanes (AVX2). A Q8_0 matrix's interleaved copy on these CPUs
// (rows16.go) keeps, per group of 16 rows and block, the rows' d (16 fp16)
// and then for each column quad c = 0…7 the rows' bytes 4c…4c+3, one row's
// four after another's (rows 0–7 in the first 32 bytes, 8–15 in the next):
// one lane per row, as the Q4_1 copy. Per quad, the weights' absolute
// values (VPABSB) are multiplied with the vector's four bytes broadcast
// and given the weights' signs (VPSIGNB): VPMADDUBSW's int16 pairs are at
// most 2·128·127, so each goes to int32 at once (VPMADDWD) and the block's
// eight quads add up there, exactly; the block's int32 row sums are then
// converted and multiplied by d_w·d_x into the rows' float sums (one FMA a
// block). Every kernel below takes these operations in this order for each
// vector, so a vector's results have the same bits whichever kernel and
// however many vectors. Y14 holds the int16 ones; Y8, Y9 a quad's weights
// (rows 0–7, 8–15), Y10, Y11 their absolute values, Y12, Y13 scratch.

// QW loads quad c of the block at p and its absolute values.
#define QW(c, p) \
	VMOVDQU 32+c*64(p), Y8 \
	VMOVDQU 64+c*64(p), Y9 \
	VPABSB  Y8, Y10 \
	VPABSB  Y9, Y11

// QXSET sets lo, hi to the int32 row sums of the quad (QW) times the
// vector's four bytes at xo; QXADD adds them to lo, hi.
#define QXSET(xo, lo, hi) \
	VPBROADCASTD xo, Y12 \
	VPSIGNB Y8, Y12, lo \
	VPSIGNB Y9, Y12, hi \
	VPMADDUBSW lo, Y10, lo \
	VPMADDUBSW hi, Y11, hi \
	VPMADDWD Y14, lo, lo \
	VPMADDWD Y14, hi, hi

#define QXADD(xo, lo, hi) \
	VPBROADCASTD xo, Y12 \
	VPSIGNB Y8, Y12, Y13 \
	VPSIGNB Y9, Y12, Y12 \
	VPMADDUBSW Y13, Y10, Y13 \
	VPMADDUBSW Y12, Y11, Y12 \
	VPMADDWD Y14, Y13, Y13 \
	VPMADDWD Y14, Y12, Y12 \
	VPADDD  Y13, lo, lo \
	VPADDD  Y12, hi, hi

// Q1QUAD (Q2QUAD, Q3QUAD, Q4QUAD) multiplies quad c of the block at p with
// the vector at DI (the vectors from SI on), adding with op (QXADD; QXSET
// for quad 0); QNQUADS runs one of them over a block's eight quads.
#define Q1QUAD(c, op, p) \
	QW(c, p) \
	op(c*4(DI), Y2, Y3)

#define Q2QUAD(c, op, p) \
	QW(c, p) \
	op(c*4(SI), Y0, Y1) \
	op(c*4(SI)(R13*1), Y2, Y3)

#define Q3QUAD(c, op, p) \
	Q2QUAD(c, op, p) \
	op(c*4(SI)(R13*2), Y4, Y5)

#define Q4QUAD(c, op, p) \
	Q3QUAD(c, op, p) \
	op(c*4(SI)(R15*1), Y6, Y7)

#define QNQUADS(quad, p) \
	quad(0, QXSET, p) \
	quad(1, QXADD, p) \
	quad(2, QXADD, p) \
	quad(3, QXADD, p) \
	quad(4, QXADD, p) \
	quad(5, QXADD, p) \
	quad(6, QXADD, p) \
	quad(7, QXADD, p)

// Q1BLOCK adds the block at p (16 rows) times the vector's block at DI
// (scale at R8) to the float sums Y0, Y1 (int32 sums in Y2, Y3), and moves
// p to the next block.
#define Q1BLOCK(p) \
	QNQUADS(Q1QUAD, p) \
	VCVTDQ2PS Y2, Y2 \
	VCVTDQ2PS Y3, Y3 \
	VCVTPH2PS (p), Y8 \
	VCVTPH2PS 16(p), Y9 \
	VBROADCASTSS (R8), Y12 \
	VMULPS  Y12, Y8, Y8 \
	VMULPS  Y12, Y9, Y9 \
	VFMADD231PS Y8, Y2, Y0 \
	VFMADD231PS Y9, Y3, Y1 \
	ADDQ $544, p

// func q80Quads2AVX2(w *byte, nb, groups int, x *int8, xstride int, d *float32, dstride int, out *float32, ostride int)
// func q80Quads3AVX2(… the same)
// func q80Quads4AVX2(… the same)
//
// q80Quads1AVX2 for two (three, four) vectors at once: vector k's bytes at
// x + k·xstride, its scales at d + k·dstride floats, its results at out +
// k·ostride floats. Each quad's weights and their absolute values are
// loaded once for all the vectors; vector k's int32 sums are Y(2k),
// Y(2k+1), its float sums wait at k·64(SP). Registers: R11 the block, SI
// vector 0's block bytes (R13 bytes between vectors', R15 three times
// that), R12 vector 0's scales (R9 bytes between vectors', AX three
// times that), R10 the group's first results (R14 bytes between vectors'),
// BX the blocks left, CX the groups left.

// QNSCALE adds vector k's block (int32 sums lo, hi; scale at dx) to its
// float sums at k·64(SP), Y8, Y9 holding the rows' d_w: Q1BLOCK's
// operations.
#define QNSCALE(k, dx, lo, hi) \
	VCVTDQ2PS lo, lo \
	VCVTDQ2PS hi, hi \
	VBROADCASTSS dx, Y12 \
	VMULPS  Y12, Y8, Y10 \
	VMULPS  Y12, Y9, Y11 \
	VFMADD213PS k*64(SP), Y10, lo \
	VFMADD213PS k*64+32(SP), Y11, hi \
	VMOVUPS lo, k*64(SP) \
	VMOVUPS hi, k*64+32(SP)

// QNDW loads the block's d_w; QNNEXT moves on to the next block and
// counts one off.
#define QNDW \
	VCVTPH2PS (R11), Y8 \
	VCVTPH2PS 16(R11), Y9

#define QNNEXT \
	ADDQ $544, R11 \
	ADDQ $32, SI \
	ADDQ $4, R12 \
	DECQ BX

// QNOUT writes vector k's 16 sums from the frame at DI and moves DI on.
#define QNOUT(k) \
	VMOVUPS k*64(SP), Y8 \
	VMOVUPS k*64+32(SP), Y9 \
	VMOVUPS Y8, (DI) \
	VMOVUPS Y9, 32(DI) \
	ADDQ R14, DI

// func q80Quads1AVX2(w *byte, nb, groups int, x *int8, d *float32, out *float32)
//
// out[16g+r] = row r of group g times the vector, for g < groups.
// Registers: R11 the block, DI the vector's block bytes, R8 its scale, BX
// the blocks left, CX the groups left, R12 the next results.
TEXT ·q80Quads1AVX2(SB), NOSPLIT, $0-48
	ONES16
	MOVQ w+0(FP), R11
	MOVQ groups+16(FP), CX
	MOVQ out+40(FP), R12

q1group:
	TESTQ CX, CX
	JLE   q1done
	MOVQ x+24(FP), DI
	MOVQ d+32(FP), R8
	MOVQ nb+8(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

q1block:
	Q1BLOCK(R11)
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ BX
	JNZ  q1block
	VMOVUPS Y0, (R12)
	VMOVUPS Y1, 32(R12)
	ADDQ $64, R12
	DECQ CX
	JMP  q1group

q1done:
	VZEROUPPER
	RET

// func q80QuadsS4AVX2(w *byte, nb, q int, x *int8, d *float32, out *float32)
//
// q80Quads1AVX2 over 4·q groups read as four streams (see
// q41Rows16Q8S4AVX2, whose S4STREAM and R16RESULT it shares): groups j,
// q+j, 2q+j and 3q+j together, a block of each in turn; stream k's float
// sums wait at k·64(SP). Registers: R11,
// R10, SI, DX the streams' blocks, R12 stream 0's next results, R13 the
// bytes between streams' results, AX scratch.
TEXT ·q80QuadsS4AVX2(SB), NOSPLIT, $256-48
	ONES16
	STREAMS4(w+0(FP), q+16(FP), nb+8(FP), $544)
	MOVQ out+40(FP), R12
	MOVQ CX, R13
	SHLQ $6, R13
	SUMS4ZERO

qs4group:
	TESTQ CX, CX
	JLE   qs4done
	MOVQ x+24(FP), DI
	MOVQ d+32(FP), R8
	MOVQ nb+8(FP), BX

qs4block:
	S4STREAM(0, R11, Q1BLOCK)
	S4STREAM(1, R10, Q1BLOCK)
	S4STREAM(2, SI, Q1BLOCK)
	S4STREAM(3, DX, Q1BLOCK)
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ BX
	JNZ  qs4block
	VPXOR Y2, Y2, Y2
	MOVQ R12, AX
	R16RESULT(0)
	R16RESULT(1)
	R16RESULT(2)
	R16RESULT(3)
	ADDQ $64, R12
	DECQ CX
	JMP  qs4group

qs4done:
	VZEROUPPER
	RET

TEXT ·q80Quads2AVX2(SB), NOSPLIT, $128-72
// QNSTART loads the arguments and the constants.
#define QNSTART \
	ONES16 \
	MOVQ w+0(FP), R11 \
	MOVQ groups+16(FP), CX \
	MOVQ out+56(FP), R10 \
	MOVQ ostride+64(FP), R14 \
	SHLQ $2, R14 \
	MOVQ xstride+32(FP), R13 \
	LEAQ (R13)(R13*2), R15 \
	MOVQ dstride+48(FP), R9 \
	SHLQ $2, R9 \
	LEAQ (R9)(R9*2), AX

// QNGROUP points SI, R12 and BX at a group's first block.
#define QNGROUP \
	MOVQ x+24(FP), SI \
	MOVQ d+40(FP), R12 \
	MOVQ nb+8(FP), BX

	QNSTART

qx2group:
	TESTQ CX, CX
	JLE   qx2done
	QNGROUP
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y0, 32(SP)
	VMOVUPS Y0, 64(SP)
	VMOVUPS Y0, 96(SP)

qx2block:
	QNQUADS(Q2QUAD, R11)
	QNDW
	QNSCALE(0, (R12), Y0, Y1)
	QNSCALE(1, (R12)(R9*1), Y2, Y3)
	QNNEXT
	JNZ  qx2block
	MOVQ R10, DI
	QNOUT(0)
	QNOUT(1)
	ADDQ $64, R10
	DECQ CX
	JMP  qx2group

qx2done:
	VZEROUPPER
	RET

TEXT ·q80Quads3AVX2(SB), NOSPLIT, $192-72
	QNSTART

qx3group:
	TESTQ CX, CX
	JLE   qx3done
	QNGROUP
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y0, 32(SP)
	VMOVUPS Y0, 64(SP)
	VMOVUPS Y0, 96(SP)
	VMOVUPS Y0, 128(SP)
	VMOVUPS Y0, 160(SP)

qx3block:
	QNQUADS(Q3QUAD, R11)
	QNDW
	QNSCALE(0, (R12), Y0, Y1)
	QNSCALE(1, (R12)(R9*1), Y2, Y3)
	QNSCALE(2, (R12)(R9*2), Y4, Y5)
	QNNEXT
	JNZ  qx3block
	MOVQ R10, DI
	QNOUT(0)
	QNOUT(1)
	QNOUT(2)
	ADDQ $64, R10
	DECQ CX
	JMP  qx3group

qx3done:
	VZEROUPPER
	RET

TEXT ·q80Quads4AVX2(SB), NOSPLIT, $256-72
	QNSTART

qx4group:
	TESTQ CX, CX
	JLE   qx4done
	QNGROUP
	SUMS4ZERO

qx4block:
	QNQUADS(Q4QUAD, R11)
	QNDW
	QNSCALE(0, (R12), Y0, Y1)
	QNSCALE(1, (R12)(R9*1), Y2, Y3)
	QNSCALE(2, (R12)(R9*2), Y4, Y5)
	QNSCALE(3, (R12)(AX*1), Y6, Y7)
	QNNEXT
	JNZ  qx4block
	MOVQ R10, DI
	QNOUT(0)
	QNOUT(1)
	QNOUT(2)
	QNOUT(3)
	ADDQ $64, R10
	DECQ CX
	JMP  qx4group

qx4done:
	VZEROUPPER
	RET
