//go:build !(goexperiment.simd && amd64)

package tensor

// mulMatVector reports that this build has no vector MulMat.
func mulMatVector(m *Matrix, s *matScratch, out, x []float32, n, r0, r1 int) bool { return false }
