// Package tensor holds weight matrices in GGML storage formats and the
// kernels that multiply them with float32 activations on the CPU.
//
// Dequantization follows ggml's reference code bit for bit; activations stay
// float32 throughout (they are never quantized).
//
// The portable kernels are plain Go. Built with GOEXPERIMENT=simd on amd64,
// the package also has AVX-512 kernels (simd/archsimd), used when the CPU
// supports AVX-512 and about three times faster; without AVX-512 the
// portable kernels run.
package tensor

import "fmt"

// DType is a weight storage format. Values equal GGML's type ids.
type DType uint32

// Storage formats this package can decode.
const (
	F32     DType = 0
	F16     DType = 1
	Q4_0    DType = 2
	Q4_1    DType = 3
	Q5_0    DType = 6
	Q5_1    DType = 7
	Q8_0    DType = 8
	Q2_K    DType = 10
	Q3_K    DType = 11
	Q4_K    DType = 12
	Q5_K    DType = 13
	Q6_K    DType = 14
	IQ2_XXS DType = 16
	IQ2_XS  DType = 17
	IQ3_XXS DType = 18
	IQ1_S   DType = 19
	IQ4_NL  DType = 20
	IQ3_S   DType = 21
	IQ2_S   DType = 22
	IQ4_XS  DType = 23
	IQ1_M   DType = 29
	BF16    DType = 30
)

// QK is the number of elements in one block of the 32-value quantized
// formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
const QK = 32

// QKK is the number of elements in one super-block of the K formats
// (Q2_K … Q6_K).
const QKK = 256

// ggmlName names every GGML type id, supported or not, so errors about
// unsupported tensors can say what they found.
func ggmlName(d DType) string {
	switch d {
	case 0:
		return "F32"
	case 1:
		return "F16"
	case 2:
		return "Q4_0"
	case 3:
		return "Q4_1"
	case 6:
		return "Q5_0"
	case 7:
		return "Q5_1"
	case 8:
		return "Q8_0"
	case 9:
		return "Q8_1"
	case 10:
		return "Q2_K"
	case 11:
		return "Q3_K"
	case 12:
		return "Q4_K"
	case 13:
		return "Q5_K"
	case 14:
		return "Q6_K"
	case 15:
		return "Q8_K"
	case 16:
		return "IQ2_XXS"
	case 17:
		return "IQ2_XS"
	case 18:
		return "IQ3_XXS"
	case 19:
		return "IQ1_S"
	case 20:
		return "IQ4_NL"
	case 21:
		return "IQ3_S"
	case 22:
		return "IQ2_S"
	case 23:
		return "IQ4_XS"
	case 24:
		return "I8"
	case 25:
		return "I16"
	case 26:
		return "I32"
	case 27:
		return "I64"
	case 28:
		return "F64"
	case 29:
		return "IQ1_M"
	case 30:
		return "BF16"
	case 34:
		return "TQ1_0"
	case 35:
		return "TQ2_0"
	case 39:
		return "MXFP4"
	}
	return ""
}

// String returns GGML's name for the type, or "type(N)" for an id GGML does
// not define.
func (d DType) String() string {
	if s := ggmlName(d); s != "" {
		return s
	}
	return fmt.Sprintf("type(%d)", uint32(d))
}

// Supported reports whether this package can decode the type.
func (d DType) Supported() bool {
	switch d {
	case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
		IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S:
		return true
	}
	return false
}

// SupportedList is the human-readable list of decodable types, for errors.
const SupportedList = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS"

// BlockSize is the number of elements per storage block: 1 for float types,
// 32 for Q4_0 … Q8_0 and IQ4_NL, 256 for the K formats and the other IQ
// formats, 0 for unsupported types.
func (d DType) BlockSize() int {
	switch d {
	case F32, F16, BF16:
		return 1
	case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL:
		return QK
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S:
		return QKK
	}
	return 0
}

// BlockBytes is the number of bytes per storage block, 0 for unsupported types.
func (d DType) BlockBytes() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case Q4_0:
		return 2 + QK/2
	case Q4_1:
		return 4 + QK/2
	case Q5_0:
		return q50Bytes
	case Q5_1:
		return q51Bytes
	case Q8_0:
		return 2 + QK
	case Q2_K:
		return q2KBytes
	case Q3_K:
		return q3KBytes
	case Q4_K:
		return q4KBytes
	case Q5_K:
		return q5KBytes
	case Q6_K:
		return q6KBytes
	case IQ4_NL:
		return iq4NLBytes
	case IQ4_XS:
		return iq4XSBytes
	case IQ1_S:
		return iq1SBytes
	case IQ1_M:
		return iq1MBytes
	case IQ2_XXS:
		return iq2XXSBytes
	case IQ2_XS:
		return iq2XSBytes
	case IQ2_S:
		return iq2SBytes
	case IQ3_XXS:
		return iq3XXSBytes
	case IQ3_S:
		return iq3SBytes
	}
	return 0
}

// UnsupportedError is returned for a type id this package cannot decode.
type UnsupportedError struct {
	Type DType
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("tensor type %s (%d) is not supported (supported: %s)", e.Type, uint32(e.Type), SupportedList)
}

// RowBytes is the storage size of one row of cols elements. It fails for an
// unsupported type, a negative count, or cols that is not a multiple of the
// block size.
func RowBytes(d DType, cols int) (int, error) {
	bs := d.BlockSize()
	if bs == 0 {
		return 0, &UnsupportedError{Type: d}
	}
	if cols < 0 {
		return 0, fmt.Errorf("tensor: negative column count %d", cols)
	}
	if cols%bs != 0 {
		return 0, fmt.Errorf("tensor: %d columns is not a multiple of the %s block size %d", cols, d, bs)
	}
	return cols / bs * d.BlockBytes(), nil
}
