package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// testTensor is a tensor to write into a test file.
type testTensor struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// encode builds a safetensors file holding ts in order, with meta as its
// __metadata__ when not nil. The header is padded with spaces to a multiple
// of 8 bytes, as the reference writer does.
func encode(t testing.TB, meta map[string]string, ts ...testTensor) []byte {
	t.Helper()
	header := map[string]any{}
	if meta != nil {
		header["__metadata__"] = meta
	}
	var body []byte
	for _, x := range ts {
		header[x.name] = map[string]any{
			"dtype":        x.dtype,
			"shape":        x.shape,
			"data_offsets": []int{len(body), len(body) + len(x.data)},
		}
		body = append(body, x.data...)
	}
	js, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	return withHeader(js, body)
}

// withHeader joins a raw JSON header and a body into a file, padding the
// header with spaces to a multiple of 8 bytes.
func withHeader(js, body []byte) []byte {
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	return append(out, body...)
}

// writeFile writes data to name inside dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// f32Bytes encodes vs as little-endian float32.
func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// u16Bytes encodes vs as little-endian 16-bit words.
func u16Bytes(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// bf16Bytes encodes vs, which must be exact in bfloat16, as little-endian
// bfloat16.
func bf16Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, uint16(math.Float32bits(v)>>16))
	}
	return b
}

// sample is a small valid file with one tensor of each float dtype, an I8
// tensor and metadata.
func sample(t testing.TB) []byte {
	return encode(t, map[string]string{"format": "pt"},
		testTensor{"w32", "F32", []int{2, 3}, f32Bytes(1, 2, 3, 4, 5, 6)},
		testTensor{"w16", "F16", []int{2, 2}, u16Bytes(0x3c00, 0xc000, 0x3800, 0x7bff)},
		testTensor{"wbf", "BF16", []int{3, 1}, bf16Bytes(1.5, -0.25, 256)},
		testTensor{"bias", "F32", []int{3}, f32Bytes(0.5, -1, 8)},
		testTensor{"q", "I8", []int{4}, []byte{1, 2, 3, 4}},
		testTensor{"fp8", "F8_E4M3", []int{2}, []byte{0x38, 0x40}},
	)
}
