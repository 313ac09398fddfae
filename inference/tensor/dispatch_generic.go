//go:build !(goexperiment.simd && amd64)

package tensor

func floatKernelFor() floatKernel { return scalarFloatKernel() }

func quantKernelFor(t DType) (quantKernel, bool) { return scalarQuantKernel(t) }
