//go:build !(goexperiment.simd && amd64)

package tensor

func panelKernel(x []float32, xs int, w []float32, k int, b []float32, out []float32, os int) {
	panelKernelGo(x, xs, w, k, b, out, os)
}

// transposeRows packs no rows: this build has no vector transpose.
func transposeRows(dst, w []float32, rows, cols, rs int) int { return 0 }
