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

// func q8TileAVX2(w *byte, dw, mw *float32, xq *byte, xd, xs *float32, nb int, out *[q8Group][q8Group]float32)
//
// The prefill tile for Q4 weights: out[r][v] = row r of the unpacked tile
// (nibbles 0…15) times vector v of the group (signed bytes, interleaved:
// per block, per four columns, the four bytes of each of the 16 vectors).
// Two rows at a time: per block, the four-column products of eight
// columns' quads add up in int16 lanes (Y8–Y11, a lane per pair of
// columns and vector), VPMADDWD turns them into one int32 per vector, and
// each row's float lanes (Y0–Y3, vectors 0–7 and 8–15) get
// d_w·d_x·dot + m_w·s_x.

// QUAD multiplies column quad k of block's vectors (Y4, Y5) with rows r
// (R11) and r+1 (R11+32) into Y12 and adds the products to Y8–Y11.
#define QUAD(k) \
	VMOVDQU k*64(DI), Y4 \
	VMOVDQU k*64+32(DI), Y5 \
	VPBROADCASTD k*4(R11), Y6 \
	VPBROADCASTD 32+k*4(R11), Y7 \
	VPMADDUBSW Y4, Y6, Y12 \
	VPADDW  Y12, Y8, Y8 \
	VPMADDUBSW Y5, Y6, Y12 \
	VPADDW  Y12, Y9, Y9 \
	VPMADDUBSW Y4, Y7, Y12 \
	VPADDW  Y12, Y10, Y10 \
	VPMADDUBSW Y5, Y7, Y12 \
	VPADDW  Y12, Y11, Y11

// SCALE adds d_w·d_x·dot + m_w·s_x for one row: acc16 the int16 lanes, half
// 0 or 32 (vectors 0–7 or 8–15), Y6 d_w, Y7 m_w, into facc.
#define SCALE(acc16, half, facc) \
	VPMADDWD Y14, acc16, acc16 \
	VCVTDQ2PS acc16, acc16 \
	VMULPS  half(R8), Y6, Y13 \
	VFMADD231PS Y13, acc16, facc \
	VFMADD231PS half(R9), Y7, facc

TEXT ·q8TileAVX2(SB), NOSPLIT, $0-64
	MOVQ out+56(FP), R12
	ONES16
	XORQ CX, CX // row pair × 2

tpairloop:
	CMPQ CX, $16
	JGE  tdone
	MOVQ w+0(FP), R11
	MOVQ CX, AX
	SHLQ $5, AX
	ADDQ AX, R11 // rows r, r+1 of block 0
	MOVQ dw+8(FP), R13
	MOVQ mw+16(FP), R10
	LEAQ (R13)(CX*4), R13
	LEAQ (R10)(CX*4), R10
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ xs+40(FP), R9
	MOVQ nb+48(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

tblockloop:
	VMOVDQU (DI), Y4
	VMOVDQU 32(DI), Y5
	VPBROADCASTD (R11), Y6
	VPBROADCASTD 32(R11), Y7
	VPMADDUBSW Y4, Y6, Y8
	VPMADDUBSW Y5, Y6, Y9
	VPMADDUBSW Y4, Y7, Y10
	VPMADDUBSW Y5, Y7, Y11
	QUAD(1)
	QUAD(2)
	QUAD(3)
	QUAD(4)
	QUAD(5)
	QUAD(6)
	QUAD(7)
	VBROADCASTSS (R13), Y6
	VBROADCASTSS (R10), Y7
	SCALE(Y8, 0, Y0)
	SCALE(Y9, 32, Y1)
	VBROADCASTSS 4(R13), Y6
	VBROADCASTSS 4(R10), Y7
	SCALE(Y10, 0, Y2)
	SCALE(Y11, 32, Y3)
	ADDQ $512, R11 // the next block's rows (16 rows of 32 bytes)
	ADDQ $64, R13
	ADDQ $64, R10
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ BX
	JNZ  tblockloop

	MOVQ CX, AX
	SHLQ $6, AX
	VMOVUPS Y0, (R12)(AX*1)
	VMOVUPS Y1, 32(R12)(AX*1)
	VMOVUPS Y2, 64(R12)(AX*1)
	VMOVUPS Y3, 96(R12)(AX*1)
	ADDQ $2, CX
	JMP  tpairloop

tdone:
	VZEROUPPER
	RET
