//go:build goexperiment.simd && amd64

#include "textflag.h"

// FOLD4 folds the accumulators a0..a3 (rows 0..3 of one vector) with the
// permutations in Z8–Z11 and stores the result at dst; it uses Z0–Z7.
// VPERMI2PS Zhi, Zlo, Zidx replaces Zidx by lanes of (Zlo, Zhi).
#define FOLD4(a0, a1, a2, a3, dst) \
	VMOVAPS Z8, Z0 \
	VPERMI2PS a1, a0, Z0 \
	VMOVAPS Z9, Z1 \
	VPERMI2PS a1, a0, Z1 \
	VADDPS Z1, Z0, Z4 \
	VMOVAPS Z8, Z2 \
	VPERMI2PS a3, a2, Z2 \
	VMOVAPS Z9, Z3 \
	VPERMI2PS a3, a2, Z3 \
	VADDPS Z3, Z2, Z5 \
	VMOVAPS Z10, Z6 \
	VPERMI2PS Z5, Z4, Z6 \
	VMOVAPS Z11, Z7 \
	VPERMI2PS Z5, Z4, Z7 \
	VADDPS Z7, Z6, Z6 \
	VMOVUPS Z6, dst

// func dot4xV(w *[4]*float32, jobs *quadJob, njobs int, k int, idx *[4][16]uint32)
//
// For the four rows w[0..3] (k floats, k a multiple of 16) and each job's
// four vectors x[0..3], it accumulates acc(r,v) lane by lane:
// Σ w_r[i+lane]·x_v[i+lane] over i = 0, 16, 32, … in that order, one fused
// multiply-add per step, with the 16 accumulators in Z16–Z31 (8 loads per
// 16 multiply-adds). It then folds each vector's four accumulators with
// the permutations idx[0..3] (reduction levels 0 and 1, see foldIndices)
// into job.part[v]: the four rows' sums as 4 partial lanes each.
TEXT ·dot4xV(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ jobs+8(FP), DI
	MOVQ njobs+16(FP), CX
	MOVQ k+24(FP), DX
	SHLQ $2, DX
	MOVQ idx+32(FP), AX
	VMOVUPS 0(AX), Z8
	VMOVUPS 64(AX), Z9
	VMOVUPS 128(AX), Z10
	VMOVUPS 192(AX), Z11
	TESTQ CX, CX
	JLE   end

job:
	MOVQ 0(DI), R12
	MOVQ 8(DI), R13
	MOVQ 16(DI), AX
	MOVQ 24(DI), BX
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	XORQ SI, SI
	CMPQ SI, DX
	JGE  fold

loop:
	VMOVUPS (R8)(SI*1), Z0
	VMOVUPS (R9)(SI*1), Z1
	VMOVUPS (R10)(SI*1), Z2
	VMOVUPS (R11)(SI*1), Z3
	VMOVUPS (R12)(SI*1), Z4
	VMOVUPS (R13)(SI*1), Z5
	VMOVUPS (AX)(SI*1), Z6
	VMOVUPS (BX)(SI*1), Z7
	VFMADD231PS Z4, Z0, Z16
	VFMADD231PS Z4, Z1, Z17
	VFMADD231PS Z4, Z2, Z18
	VFMADD231PS Z4, Z3, Z19
	VFMADD231PS Z5, Z0, Z20
	VFMADD231PS Z5, Z1, Z21
	VFMADD231PS Z5, Z2, Z22
	VFMADD231PS Z5, Z3, Z23
	VFMADD231PS Z6, Z0, Z24
	VFMADD231PS Z6, Z1, Z25
	VFMADD231PS Z6, Z2, Z26
	VFMADD231PS Z6, Z3, Z27
	VFMADD231PS Z7, Z0, Z28
	VFMADD231PS Z7, Z1, Z29
	VFMADD231PS Z7, Z2, Z30
	VFMADD231PS Z7, Z3, Z31
	ADDQ $64, SI
	CMPQ SI, DX
	JLT  loop

fold:
	MOVQ 32(DI), R12
	FOLD4(Z16, Z17, Z18, Z19, 0(R12))
	FOLD4(Z20, Z21, Z22, Z23, 64(R12))
	FOLD4(Z24, Z25, Z26, Z27, 128(R12))
	FOLD4(Z28, Z29, Z30, Z31, 192(R12))
	ADDQ $40, DI
	DECQ CX
	JNZ  job

end:
	// Leave no dirty upper register state: the Go caller resets X15 with
	// a legacy SSE instruction on return, which is very slow after
	// AVX-512 code.
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	VZEROUPPER
	RET
