//go:build goexperiment.simd && amd64

package tensor

// Where DotRowsF16 runs its AVX2 kernel, its twin is the AVX2 float32
// kernel: on AVX-512 CPUs DotRows sums a row's sixteen lanes in another
// order, so the bits may differ there by a rounding.
func init() {
	if !halfAVX2 {
		return
	}
	dotRowsF16Twin = func(out, q, rows []float32, stride int, scale float32) {
		if len(q) != 64 || len(out) == 0 {
			DotRows(out, q, rows, stride, scale)
			return
		}
		dotRows64AVX2(&out[0], &q[0], &rows[0], 4*stride, len(out), scale)
	}
}
