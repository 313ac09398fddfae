package safetensors

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpenReadsHeaderAndData(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.safetensors", sample(t))
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); !reflect.DeepEqual(got, map[string]string{"format": "pt"}) {
		t.Errorf("metadata = %v", got)
	}
	want := []string{"bias", "fp8", "q", "w16", "w32", "wbf"}
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	w, ok := f.Tensor("w32")
	if !ok || w.DType != "F32" || !reflect.DeepEqual(w.Shape, []int{2, 3}) || w.Elems() != 6 {
		t.Fatalf("w32 = %+v, %v", w, ok)
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(w.Data[20:])); got != 6 {
		t.Errorf("w32 last element = %v, want 6", got)
	}
	if _, ok := f.Tensor("missing"); ok {
		t.Error("Tensor(missing) reported present")
	}
}

func TestOpenAcceptsEmptyAndScalarTensors(t *testing.T) {
	data := encode(t, nil,
		testTensor{"empty", "F32", []int{0, 5}, nil},
		testTensor{"scalar", "F32", []int{}, f32Bytes(3)},
		testTensor{"nibbles", "F4", []int{4}, []byte{0x12, 0x34}},
	)
	f, err := Open(writeFile(t, t.TempDir(), "m.safetensors", data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if e, _ := f.Tensor("empty"); len(e.Data) != 0 || e.Elems() != 0 {
		t.Errorf("empty tensor = %+v", e)
	}
	if s, _ := f.Tensor("scalar"); s.Elems() != 1 || len(s.Data) != 4 {
		t.Errorf("scalar tensor = %+v", s)
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	good := f32Bytes(1, 2, 3, 4)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"too short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 1000), "runs past the end"},
		{"invalid json", withHeader([]byte(`{"a": `), nil), "invalid JSON"},
		{"not an object", withHeader([]byte(`[1, 2]`), nil), "not a JSON object"},
		{"bad metadata", withHeader([]byte(`{"__metadata__": {"a": 1}}`), nil), "__metadata__"},
		{"unknown dtype", withHeader([]byte(`{"t": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}}`), []byte{0}),
			`tensor "t": unknown dtype "F7"`},
		{"negative dim", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}`), good),
			"negative dimension"},
		{"fractional dim", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}`), good),
			`tensor "t": invalid header entry`},
		{"missing shape", withHeader([]byte(`{"t": {"dtype": "F32", "data_offsets": [0, 4]}}`), good), "missing shape"},
		{"huge shape", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}`), good),
			"too large"},
		{"one offset", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}`), good),
			"data_offsets has 1 values"},
		{"offset past end", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}`), good),
			"outside the 16 data bytes"},
		{"offsets reversed", withHeader([]byte(`{"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}`), good),
			"outside the 16 data bytes"},
		{"size mismatch", withHeader([]byte(`{"t": {"dtype": "F16", "shape": [2], "data_offsets": [0, 8]}}`), good),
			"F16 [2] needs 4"},
		{"odd nibbles", withHeader([]byte(`{"t": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}`), good),
			"not a whole number of bytes"},
		{"overlap", withHeader([]byte(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
			"b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`), good), `"a" [0, 8] and "b" [4, 12] overlap`},
		{"contained overlap", withHeader([]byte(`{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
			"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
			"c": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}`), good), "overlap"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_"), c.data)
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file and say %q", err, c.want)
			}
		})
	}
}

func TestOpenMissingFileAndFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none.safetensors")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open of a folder succeeded")
	}
	if _, err := Open(writeFile(t, dir, "empty.safetensors", nil)); err == nil {
		t.Error("Open of an empty file succeeded")
	}
}

// TestOpenTruncated cuts a valid file at every length short of its end: each
// cut must give an error, never a panic or a silently shorter tensor.
func TestOpenTruncated(t *testing.T) {
	data := sample(t)
	dir := t.TempDir()
	for n := range len(data) {
		p := writeFile(t, dir, "cut.safetensors", data[:n])
		f, err := Open(p)
		if err == nil {
			f.Close()
			t.Fatalf("Open of the first %d of %d bytes succeeded", n, len(data))
		}
	}
}

// TestConvertAllHalfValues converts every F16 bit pattern through the path
// Vector uses and checks it against the format's definition.
func TestConvertAllHalfValues(t *testing.T) {
	words := make([]uint16, 1<<16)
	for h := range words {
		words[h] = uint16(h)
	}
	got, err := toFloat32(Tensor{Name: "all", DType: "F16", Shape: []int{len(words)}, Data: u16Bytes(words...)})
	if err != nil {
		t.Fatal(err)
	}
	for h, g := range got {
		sign, exp, frac := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && frac != 0:
			if !math.IsNaN(float64(g)) {
				t.Fatalf("half %#04x = %v, want NaN", h, g)
			}
			continue
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = math.Ldexp(float64(frac), -24)
		default:
			want = math.Ldexp(1+float64(frac)/1024, exp-15)
		}
		if sign == 1 {
			want = -want
		}
		if float64(g) != want || math.Signbit(float64(g)) != (sign == 1) {
			t.Fatalf("half %#04x = %v, want %v", h, g, want)
		}
	}
}

func TestConvertBF16AndF64(t *testing.T) {
	got, err := toFloat32(Tensor{Name: "b", DType: "BF16", Shape: []int{3}, Data: u16Bytes(0x3fc0, 0xbe80, 0x7f80)})
	if err != nil || !reflect.DeepEqual(got, []float32{1.5, -0.25, float32(math.Inf(1))}) {
		t.Errorf("BF16 = %v, %v", got, err)
	}
	d := binary.LittleEndian.AppendUint64(nil, math.Float64bits(-3.25))
	got, err = toFloat32(Tensor{Name: "d", DType: "F64", Shape: []int{1}, Data: d})
	if err != nil || got[0] != -3.25 {
		t.Errorf("F64 = %v, %v", got, err)
	}
}
