package tensor

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func TestDequantizeHandBuiltBlocks(t *testing.T) {
	// Q4_0, d = 0.5: byte j holds j in the low nibble, 15-j in the high one.
	q40 := []byte{0x00, 0x38} // fp16 0.5
	for j := range 16 {
		q40 = append(q40, byte(j)|byte(15-j)<<4)
	}
	// Q4_1, d = 0.25, m = -1.
	q41 := []byte{0x00, 0x34, 0x00, 0xbc}
	for j := range 16 {
		q41 = append(q41, byte(15-j)|byte(j)<<4)
	}
	// Q8_0, d = 2: q[j] = j*8 - 128.
	q80 := []byte{0x00, 0x40}
	for j := range 32 {
		q80 = append(q80, byte(int8(j*8-128)))
	}
	want40, want41, want80 := make([]float32, 32), make([]float32, 32), make([]float32, 32)
	for j := range 16 {
		want40[j], want40[j+16] = float32(j-8)*0.5, float32(15-j-8)*0.5
		want41[j], want41[j+16] = float32(15-j)*0.25-1, float32(j)*0.25-1
	}
	for j := range 32 {
		want80[j] = float32(j*8-128) * 2
	}
	cases := []struct {
		t    DType
		data []byte
		want []float32
	}{
		{Q4_0, q40, want40},
		{Q4_1, q41, want41},
		{Q8_0, q80, want80},
		{F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}, []float32{1, -2, 0x1p-24}},
		{BF16, []byte{0x80, 0x3f, 0x49, 0x40}, []float32{1, 3.140625}},
		{F32, []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc1}, []float32{1, -10}},
	}
	for _, c := range cases {
		got := make([]float32, len(c.want))
		if err := Dequantize(c.t, c.data, got); err != nil {
			t.Fatalf("%s: %v", c.t, err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s element %d = %g, want %g", c.t, i, got[i], c.want[i])
			}
		}
	}
}

func TestDequantizeSizeErrors(t *testing.T) {
	if err := Dequantize(Q4_0, make([]byte, 17), make([]float32, 32)); err == nil {
		t.Error("short Q4_0 block: no error")
	}
	if err := Dequantize(Q8_0, make([]byte, 34), make([]float32, 31)); err == nil {
		t.Error("31 Q8_0 elements: no error")
	}
	if err := Dequantize(Q4_K, make([]byte, 144), make([]float32, 255)); err == nil {
		t.Error("255 Q4_K elements: no error")
	}
	err := Dequantize(DType(34), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "TQ1_0 (34)") {
		t.Errorf("TQ1_0: got %v, want an error naming TQ1_0 (34)", err)
	}
}

type goldenFile struct {
	Input  []uint32              `json:"input"`
	Types  map[string]goldenData `json:"types"`
	Blocks map[string]goldenData `json:"blocks"` // formats read, not written
}

type goldenData struct {
	Bytes   string   `json:"bytes"`
	Dequant []uint32 `json:"dequant"`
}

// TestQuantGolden compares Quantize and Dequantize bit for bit with the
// gguf Python package (testdata/gen_quant_golden.py).
func TestQuantGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/quant_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(g.Input))
	for i, b := range g.Input {
		x[i] = math.Float32frombits(b)
	}
	types := map[string]DType{"F16": F16, "BF16": BF16, "Q4_0": Q4_0, "Q4_1": Q4_1, "Q8_0": Q8_0, "Q5_0": Q5_0, "Q5_1": Q5_1}
	if len(g.Types) != len(types) {
		t.Fatalf("golden has %d types, want %d", len(g.Types), len(types))
	}
	for name, ref := range g.Types {
		dt := types[name]
		q, err := Quantize(dt, x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := hex.EncodeToString(q); got != ref.Bytes {
			t.Errorf("%s: Quantize differs from gguf-py\n got  %s\n want %s", name, got, ref.Bytes)
		}
		checkDequant(t, name, dt, ref)
	}
	kinds := map[string]DType{}
	for _, dt := range kTypes {
		kinds[dt.String()] = dt
	}
	if len(g.Blocks) != len(kinds) {
		t.Fatalf("golden has %d K formats, want %d", len(g.Blocks), len(kinds))
	}
	for name, ref := range g.Blocks {
		checkDequant(t, name, kinds[name], ref)
	}
}

// checkDequant compares Dequantize of ref's bytes with gguf-py's values, bit
// for bit.
func checkDequant(t *testing.T, name string, dt DType, ref goldenData) {
	t.Helper()
	raw, _ := hex.DecodeString(ref.Bytes)
	d := make([]float32, len(ref.Dequant))
	if err := Dequantize(dt, raw, d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	bad := 0
	for i := range d {
		if math.Float32bits(d[i]) != ref.Dequant[i] {
			if bad++; bad <= 8 {
				t.Errorf("%s element %d: %g (%#08x), gguf-py %g (%#08x)", name, i, d[i],
					math.Float32bits(d[i]), math.Float32frombits(ref.Dequant[i]), ref.Dequant[i])
			}
		}
	}
	if bad > 8 {
		t.Errorf("%s: %d elements differ in all", name, bad)
	}
}

// TestQuantizeRoundTrip checks the quantization error bound of each format.
func TestQuantizeRoundTrip(t *testing.T) {
	x := randFloats(42, 32*20, 3)
	for _, dt := range []DType{Q4_0, Q4_1, Q8_0, F16, BF16, F32} {
		q, err := Quantize(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := Dequantize(dt, q, y); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < len(x); b += 32 {
			var amax, lo, hi float64 = 0, math.Inf(1), math.Inf(-1)
			for _, v := range x[b : b+32] {
				amax = math.Max(amax, math.Abs(float64(v)))
				lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
			}
			bound := map[DType]float64{
				Q4_0: amax / 8, Q4_1: (hi-lo)/15*0.51 + math.Abs(lo)/1024, Q8_0: amax / 127 * 0.6,
				F16: amax / 1024, BF16: amax / 128, F32: 0,
			}[dt] + 1e-6*amax
			for i := b; i < b+32; i++ {
				if e := math.Abs(float64(x[i] - y[i])); e > bound {
					t.Fatalf("%s element %d: %g became %g (error %g > %g)", dt, i, x[i], y[i], e, bound)
				}
			}
		}
	}
}
