//go:build !(goexperiment.simd && amd64)

package tensor

func dotRowsF16Vector(out, q []float32, rows []uint16, stride int, scale float32) bool { return false }

func addRowsF16Vector(o, w []float32, rows []uint16, stride int) bool { return false }

func toF16Vector(dst []uint16, src []float32) int { return 0 }

func fromF16Vector(dst []float32, src []uint16) int { return 0 }

func dotRowsF16HeadsVector(out []float32, outStride int, q []float32, heads, n int, rows []uint16, stride int, scale float32, next []uint16) int {
	return 0
}

func addRowsF16HeadsVector(o, w []float32, wStride, heads, n int, rows []uint16, stride, half int) int {
	return 0
}

func groupedF16(d, heads int) bool { return false }
