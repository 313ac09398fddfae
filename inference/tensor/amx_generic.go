//go:build !(goexperiment.simd && amd64)

package tensor

// This build has no AMX kernels: AMXSupported is false.

func amxCPU() bool { return false }

func (v *AMXVectors) split(x []float32, lo, hi int) { panic("tensor: no AMX kernels in this build") }

func mulMatAMX(m *Matrix, out []float32, x *AMXVectors, r0, r1 int) {
	panic("tensor: no AMX kernels in this build")
}
