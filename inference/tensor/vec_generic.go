//go:build !(goexperiment.simd && amd64)

package tensor

func vecDot(a, b []float32) float32 { return dotGo(a, b) }

func vecAxpy(y []float32, a float32, x []float32) { axpyGo(y, a, x) }

func vecExp(v []float32) { expSliceGo(v) }

func vecSoftmax(v []float32) { softmaxGo(v) }

func vecSiLUMul(g, u []float32) { siluMulGo(g, u) }

func vecRope(v []float32, d int, angles []float32, pairs bool) { ropeGo(v, d, angles, pairs) }

func dotRowsVector(out, q, rows []float32, stride int, scale float32) bool { return false }

func addRowsVector(o, w, rows []float32, stride int) bool { return false }

func vecSumSquares(x []float32) float32 { return sumSquaresGo(x) }

func vecScaleMul(out, x, w []float32, inv float32) { scaleMulGo(out, x, w, inv) }

func vecAdd(dst, src []float32) { addGo(dst, src) }
