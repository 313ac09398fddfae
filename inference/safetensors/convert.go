package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"rustexpert/inference/tensor"
)

// toFloat32 converts the little-endian elements of t to float32; F32, F16,
// BF16 and F64 are supported.
func toFloat32(t Tensor) ([]float32, error) {
	n := t.Elems()
	out := make([]float32, n)
	d := t.Data
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = tensor.BF16ToF32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	default:
		return nil, fmt.Errorf("tensor %q: dtype %s cannot be converted to float32 (supported: F32, F16, BF16, F64)", t.Name, t.DType)
	}
	return out, nil
}
