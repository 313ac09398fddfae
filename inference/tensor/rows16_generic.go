//go:build !(goexperiment.simd && amd64)

package tensor

// This build has no interleaved-row kernels: Interleave does nothing.

func rows16CPU() bool { return false }

func (m *Matrix) rows16Kernel(g, count int, x []float32, p vecPieces, out []float32) {
	panic("tensor: no interleaved-row kernels in this build")
}

func (m *Matrix) interleaveGroup(g int, zeros []byte) {
	panic("tensor: no interleaved-row kernels in this build")
}

func splitPieces(x []float32, a []int8, sc []float32) { splitPiecesGo(x, a, sc) }
