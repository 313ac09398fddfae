package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"rustexpert/inference/tensor"
)

func seq(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)*0.37)) * scale
	}
	return v
}

var sampleKV = []KV{
	{"general.architecture", "llama"},
	{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(60000)}, {"i16", int16(-300)},
	{"u32", uint32(4000000000)}, {"i32", int32(-7)}, {"f32", float32(1.5)}, {"yes", true}, {"no", false},
	{"u64", uint64(1) << 40}, {"i64", int64(-1) << 40}, {"f64", 2.25}, {"pos32", int32(12)},
	{"strs", []string{"a", "", "ünï"}}, {"i32s", []int32{3, -1, 2}}, {"u8s", []uint8{1, 255}},
	{"f32s", []float32{0.5, -2}}, {"f64s", []float64{1e-300}}, {"big", []int64{1 << 40}},
	{"nested", [][]int32{{1, 2}, {}, {3}}}, {"nested_strs", [][]string{{"x"}, {"y", "z"}}},
	{"empty", []string{}},
}

func sampleTensors(t testing.TB) []WriteTensor {
	t.Helper()
	var out []WriteTensor
	for _, c := range []struct {
		name string
		typ  tensor.DType
		dims []uint64
	}{
		{"norm", tensor.F32, []uint64{64}},
		{"f16", tensor.F16, []uint64{7, 3}},
		{"bf16", tensor.BF16, []uint64{5, 2}},
		{"q40", tensor.Q4_0, []uint64{64, 3}},
		{"q41", tensor.Q4_1, []uint64{96, 2, 1}},
		{"q80", tensor.Q8_0, []uint64{32, 5}},
	} {
		n := 1
		for _, d := range c.dims {
			n *= int(d)
		}
		w, err := NewWriteTensor(c.name, c.typ, c.dims, seq(n, 2))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

func sampleFile(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sampleKV, sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, sampleFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 {
		t.Errorf("version %d", f.Version)
	}
	var keys []string
	for _, kv := range sampleKV {
		keys = append(keys, kv.Key)
	}
	if !reflect.DeepEqual(f.Keys(), keys) {
		t.Errorf("Keys() = %v", f.Keys())
	}
	checkScalars(t, f)
	checkArrays(t, f)
	checkTensorData(t, f)
}

func checkScalars(t *testing.T, f *File) {
	t.Helper()
	uints := map[string]uint64{"u8": 200, "u16": 60000, "u32": 4000000000, "u64": 1 << 40, "pos32": 12}
	for k, want := range uints {
		if got, err := f.Uint(k); got != want || err != nil {
			t.Errorf("Uint(%s) = %d, %v; want %d", k, got, err, want)
		}
	}
	ints := map[string]int64{"i8": -5, "i16": -300, "i32": -7, "i64": -1 << 40, "u32": 4000000000}
	for k, want := range ints {
		if got, err := f.Int(k); got != want || err != nil {
			t.Errorf("Int(%s) = %d, %v; want %d", k, got, err, want)
		}
	}
	floats := map[string]float64{"f32": 1.5, "f64": 2.25, "u16": 60000, "i8": -5}
	for k, want := range floats {
		if got, err := f.Float(k); got != want || err != nil {
			t.Errorf("Float(%s) = %g, %v; want %g", k, got, err, want)
		}
	}
	if s, err := f.String("general.architecture"); s != "llama" || err != nil {
		t.Errorf("String = %q, %v", s, err)
	}
	if b, err := f.Bool("yes"); !b || err != nil {
		t.Errorf("Bool(yes) = %v, %v", b, err)
	}
	if b, err := f.Bool("no"); b || err != nil {
		t.Errorf("Bool(no) = %v, %v", b, err)
	}
	if !f.Has("u8") || f.Has("nope") {
		t.Error("Has")
	}
}

func checkArrays(t *testing.T, f *File) {
	t.Helper()
	if s, err := f.Strings("strs"); !reflect.DeepEqual(s, []string{"a", "", "ünï"}) || err != nil {
		t.Errorf("Strings = %q, %v", s, err)
	}
	if s, err := f.Strings("empty"); len(s) != 0 || err != nil {
		t.Errorf("Strings(empty) = %q, %v", s, err)
	}
	if v, err := f.Int32s("i32s"); !reflect.DeepEqual(v, []int32{3, -1, 2}) || err != nil {
		t.Errorf("Int32s = %v, %v", v, err)
	}
	if v, err := f.Int32s("u8s"); !reflect.DeepEqual(v, []int32{1, 255}) || err != nil {
		t.Errorf("Int32s(u8s) = %v, %v", v, err)
	}
	if v, err := f.Floats("f32s"); !reflect.DeepEqual(v, []float32{0.5, -2}) || err != nil {
		t.Errorf("Floats = %v, %v", v, err)
	}
	if v, err := f.Floats("i32s"); !reflect.DeepEqual(v, []float32{3, -1, 2}) || err != nil {
		t.Errorf("Floats(i32s) = %v, %v", v, err)
	}
	nested := f.kv["nested"]
	if nested.elem != TypeArray || len(nested.arrs) != 3 || nested.arrs[2].n != 1 || nested.arrs[0].elem != TypeInt32 {
		t.Errorf("nested array parsed as %+v", nested)
	}
	if ns := f.kv["nested_strs"]; len(ns.arrs) != 2 || !reflect.DeepEqual(ns.arrs[1].strs, []string{"y", "z"}) {
		t.Errorf("nested string arrays parsed as %+v", ns)
	}
}

func checkTensorData(t *testing.T, f *File) {
	t.Helper()
	want := sampleTensors(t)
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		ti := f.Tensors[i]
		if ti.Name != w.Name || ti.Type != w.Type || !reflect.DeepEqual(ti.Dims, w.Dims) || ti.Offset%32 != 0 {
			t.Errorf("tensor %d = %+v, want %s %s %v", i, ti, w.Name, w.Type, w.Dims)
		}
		data, err := f.TensorData(w.Name)
		if err != nil || !bytes.Equal(data, w.Data) {
			t.Errorf("%s: data differs (%v)", w.Name, err)
		}
		m, err := f.Matrix(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		rows := 1
		if len(w.Dims) > 1 {
			rows = int(w.Dims[1])
		}
		if m.Rows != rows || m.Cols != int(w.Dims[0]) || m.Type != w.Type {
			t.Errorf("%s: matrix %d×%d %s", w.Name, m.Rows, m.Cols, m.Type)
		}
	}
	v, err := f.Vector("norm")
	if err != nil || !reflect.DeepEqual(v, seq(64, 2)) {
		t.Errorf("Vector(norm) = %v, %v", v, err)
	}
	if _, err := f.Vector("q40"); err == nil {
		t.Error("Vector of a 64×3 tensor: no error")
	}
}

func TestGetterErrors(t *testing.T) {
	f, err := Parse(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		err  error
		want string
	}{
		{second(f.String("missing.key")), `metadata key "missing.key" not found`},
		{second(f.String("u8")), `metadata key "u8" is u8, not a string`},
		{second(f.Uint("i8")), `metadata key "i8" is negative (-5)`},
		{second(f.Uint("f32")), `is f32, not an integer`},
		{second(f.Float("strs")), `is array of string, not a number`},
		{second(f.Bool("u8")), `not a bool`},
		{second(f.Strings("i32s")), `is array of i32, not an array of strings`},
		{second(f.Int32s("big")), `element 0 does not fit in int32`},
		{second(f.Floats("strs")), `not an array of numbers`},
		{second(f.Matrix("nope")), `tensor "nope" not found`},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || !strings.Contains(c.err.Error(), "(memory)") {
			t.Errorf("error %v, want one containing %q and the file name", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.gguf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	q := sampleTensors(t)[3]
	cases := []struct {
		kv      []KV
		tensors []WriteTensor
		want    string
	}{
		{[]KV{{"n", 5}}, nil, "unsupported value type int"},
		{[]KV{{"n", []any{uint8(1)}}}, nil, "unsupported value type interface"},
		{[]KV{{"general.alignment", uint64(32)}}, nil, "general.alignment must be a uint32"},
		{nil, []WriteTensor{{Name: "x", Type: tensor.Q4_0, Dims: []uint64{64, 3}, Data: q.Data[:10]}}, "needs 108 bytes, got 10"},
		{nil, []WriteTensor{{Name: "x", Type: tensor.DType(34), Dims: []uint64{256}}}, "TQ1_0 (34) is not supported"},
		{nil, []WriteTensor{{Name: "x", Type: tensor.F32, Dims: nil}}, "0 dimensions"},
		{nil, []WriteTensor{q, q}, "tensor q40 appears twice"},
	}
	for _, c := range cases {
		err := Write(&bytes.Buffer{}, c.kv, c.tensors)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Write error %v, want %q", err, c.want)
		}
	}
	if _, err := NewWriteTensor("x", tensor.F32, []uint64{3, 2}, make([]float32, 5)); err == nil {
		t.Error("NewWriteTensor with 5 values for 3×2: no error")
	}
}

// TestVersion2 reads a version 2 file, which has the same layout.
func TestVersion2(t *testing.T) {
	data := sampleFile(t)
	data[4] = 2
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 2 || len(f.Tensors) != 6 {
		t.Errorf("version %d, %d tensors", f.Version, len(f.Tensors))
	}
}

// TestAlignment checks a custom general.alignment on both sides.
func TestAlignment(t *testing.T) {
	var buf bytes.Buffer
	kv := []KV{{"general.alignment", uint32(64)}}
	if err := Write(&buf, kv, sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range f.Tensors {
		if ti.Offset%64 != 0 {
			t.Errorf("%s at offset %d", ti.Name, ti.Offset)
		}
	}
	if f.dataStart%64 != 0 {
		t.Errorf("data section at %d", f.dataStart)
	}
}
