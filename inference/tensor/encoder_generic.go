//go:build !(goexperiment.simd && amd64)

package tensor

func vecGELU(v []float32) { geluSliceGo(v) }

func vecAddLayerNorm(x, y, weight, bias []float32, eps float32) {
	addLayerNormGo(x, y, weight, bias, eps)
}

func vecScaledSoftmax(v []float32, n int, scale float32) { scaledSoftmaxGo(v, n, scale) }

func vecCausalSoftmax(v []float32, keys, first int, scale float32) {
	causalSoftmaxGo(v, keys, first, scale)
}
