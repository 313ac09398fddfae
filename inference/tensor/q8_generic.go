//go:build !(goexperiment.simd && amd64)

package tensor

// This build has no int8 kernels: Q8Supported is false and QuantizeRowQ8
// runs in plain Go.

func q8CPU() bool { return false }

func q8Interleaved() bool { return false }

func q8Tiled(t DType) bool { return false }

func quantizeRowQ8Vector(x []float32, q []int8, d, s []float32) bool { return false }

func q8Rows(t DType, rows []byte, out []float32, q []int8, d, s []float32) {
	panic("tensor: no int8 kernels in this build")
}

func q8TileKernel(w *q8WeightTile, x *q8Tiles, g, nb int, res *[q8Group][q8Group]float32) {
	panic("tensor: no int8 kernels in this build")
}

// Int8Preferred is false: this build has no int8 kernels.
func Int8Preferred() bool { return false }

// Int8PromptPreferred is false: this build has no int8 kernels.
func Int8PromptPreferred() bool { return false }

// Int8Tiles is false: this build has no int8 kernels.
func Int8Tiles() bool { return false }

func q8LanesKernel(w *q8WeightTile, x *Q8Vectors, b, b2 int, oa, ob []float32, o lanesOrder) {
	panic("tensor: no int8 kernels in this build")
}

func q8Lanes4Kernel(w *q8WeightTile, x *Q8Vectors, b, groups int, out []float32, ostride int, o lanesOrder) {
	panic("tensor: no int8 kernels in this build")
}

func q8RowsN(t DType, rows []byte, out []float32, ostride int, x *Q8Vectors, b int) int {
	panic("tensor: no int8 kernels in this build")
}

func q8Rows16KernelN(w []byte, nb, groups int, x *Q8Vectors, b, n int, out []float32, ostride int) {
	panic("tensor: no int8 kernels in this build")
}

func q80QuadsKernelN(w []byte, nb, groups int, x *Q8Vectors, b, n int, out []float32, ostride int) {
	panic("tensor: no int8 kernels in this build")
}

func q8Rows16() bool { return false }

func unpackRows16(src []byte, nb int, dst []byte, d, mn []float32) {
	panic("tensor: no int8 kernels in this build")
}
