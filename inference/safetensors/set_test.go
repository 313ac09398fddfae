package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeIndex writes model.safetensors.index.json mapping tensor names to
// shard files.
func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	t.Helper()
	js, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, IndexFile, js)
}

// twoShards writes a model split over two shards with its index.
func twoShards(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir, "model-00001-of-00002.safetensors", encode(t, nil,
		testTensor{"embed", "F32", []int{2, 2}, f32Bytes(1, 2, 3, 4)},
		testTensor{"norm", "BF16", []int{2}, bf16Bytes(0.5, 2)},
	))
	writeFile(t, dir, "model-00002-of-00002.safetensors", encode(t, nil,
		testTensor{"proj", "F16", []int{1, 2}, u16Bytes(0x3c00, 0x4000)},
		testTensor{"q8", "I8", []int{2, 2}, []byte{1, 2, 3, 4}},
	))
	writeIndex(t, dir, map[string]string{
		"embed": "model-00001-of-00002.safetensors",
		"norm":  "model-00001-of-00002.safetensors",
		"proj":  "model-00002-of-00002.safetensors",
		"q8":    "model-00002-of-00002.safetensors",
	})
	return dir
}

func TestOpenDirShards(t *testing.T) {
	s, err := OpenDir(twoShards(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Names(), []string{"embed", "norm", "proj", "q8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	if !s.Has("proj") || s.Has("nope") {
		t.Error("Has is wrong")
	}
	if shape, err := s.Shape("proj"); err != nil || !reflect.DeepEqual(shape, []int{1, 2}) {
		t.Errorf("Shape(proj) = %v, %v", shape, err)
	}
	if v, err := s.Vector("norm"); err != nil || !reflect.DeepEqual(v, []float32{0.5, 2}) {
		t.Errorf("Vector(norm) = %v, %v", v, err)
	}
	if v, err := s.Floats("proj"); err != nil || !reflect.DeepEqual(v, []float32{1, 2}) {
		t.Errorf("Floats(proj) = %v, %v", v, err)
	}
	if _, err := s.Shape("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Shape(nope) error = %v", err)
	}
}

func TestSetMatrix(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "m.safetensors", sample(t))
	s, err := OpenFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string][]float32{
		"w32": {1, 2, 3, 4, 5, 6},
		"w16": {1, -2, 0.5, 65504},
		"wbf": {1.5, -0.25, 256},
	}
	for name, vals := range want {
		m, err := s.Matrix(name)
		if err != nil {
			t.Fatalf("Matrix(%s): %v", name, err)
		}
		if got := m.Float32(); !reflect.DeepEqual(got, vals) {
			t.Errorf("Matrix(%s) = %v, want %v", name, got, vals)
		}
	}
	m, _ := s.Matrix("w32")
	row := make([]float32, 3)
	m.Row(1, row)
	if !reflect.DeepEqual(row, []float32{4, 5, 6}) {
		t.Errorf("w32 row 1 = %v", row)
	}
}

func TestSetRejectsWrongKinds(t *testing.T) {
	s, err := OpenFiles(writeFile(t, t.TempDir(), "m.safetensors", sample(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checks := []struct {
		call func() error
		want string
	}{
		{func() error { _, err := s.Matrix("q"); return err }, `"q" has shape [4], want 2`},
		{func() error { _, err := s.Matrix("bias"); return err }, "want 2 dimensions"},
		{func() error { _, err := s.Vector("w32"); return err }, "want 1 dimension"},
		{func() error { _, err := s.Vector("q"); return err }, `"q": dtype I8`},
		{func() error { _, err := s.Vector("fp8"); return err }, `"fp8": dtype F8_E4M3`},
		{func() error { _, err := s.Matrix("missing"); return err }, `no tensor "missing"`},
		{func() error { _, err := s.Vector("missing"); return err }, `no tensor "missing"`},
	}
	for _, c := range checks {
		if err := c.call(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

func TestMatrixRejectsUnsupportedDType(t *testing.T) {
	data := encode(t, nil,
		testTensor{"q8", "I8", []int{2, 2}, []byte{1, 2, 3, 4}},
		testTensor{"f8", "F8_E4M3", []int{1, 2}, []byte{1, 2}},
	)
	s, err := OpenFiles(writeFile(t, t.TempDir(), "m.safetensors", data))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, dtype := range map[string]string{"q8": "I8", "f8": "F8_E4M3"} {
		_, err := s.Matrix(name)
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), dtype) {
			t.Errorf("Matrix(%s) error = %v, want tensor name and %s", name, err, dtype)
		}
	}
}

func TestOpenDirSingleFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, SingleFile, sample(t))
	writeFile(t, dir, "other.safetensors", sample(t))
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has("w32") {
		t.Error("model.safetensors not read")
	}
	s.Close()

	adapter := t.TempDir()
	writeFile(t, adapter, "adapter_model.safetensors", sample(t))
	s, err = OpenDir(adapter)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has("wbf") {
		t.Error("the folder's only safetensors file not read")
	}
	s.Close()
}

func TestOpenDirErrors(t *testing.T) {
	t.Run("empty folder", func(t *testing.T) {
		_, err := OpenDir(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "0 other") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("two unindexed files", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "a.safetensors", sample(t))
		writeFile(t, dir, "b.safetensors", sample(t))
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "2 other") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("missing shard", func(t *testing.T) {
		dir := twoShards(t)
		os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("tensor absent from shard", func(t *testing.T) {
		dir := twoShards(t)
		writeIndex(t, dir, map[string]string{"embed": "model-00002-of-00002.safetensors"})
		_, err := OpenDir(dir)
		if err == nil || !strings.Contains(err.Error(), `tensor "embed"`) || !strings.Contains(err.Error(), "does not hold it") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("shard outside folder", func(t *testing.T) {
		dir := twoShards(t)
		writeIndex(t, dir, map[string]string{"embed": "../model-00001-of-00002.safetensors"})
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "not a file inside") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("bad index json", func(t *testing.T) {
		dir := twoShards(t)
		writeFile(t, dir, IndexFile, []byte(`{"weight_map": `))
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("empty weight map", func(t *testing.T) {
		dir := twoShards(t)
		writeFile(t, dir, IndexFile, []byte(`{"metadata": {}}`))
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "weight_map") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("corrupt shard", func(t *testing.T) {
		dir := twoShards(t)
		p := filepath.Join(dir, "model-00001-of-00002.safetensors")
		data, _ := os.ReadFile(p)
		writeFile(t, dir, "model-00001-of-00002.safetensors", data[:len(data)-1])
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "outside the") {
			t.Errorf("error = %v", err)
		}
	})
}

func TestOpenFilesDuplicateName(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.safetensors", sample(t))
	b := writeFile(t, dir, "b.safetensors", sample(t))
	if _, err := OpenFiles(a, b); err == nil || !strings.Contains(err.Error(), "is in both") {
		t.Errorf("error = %v", err)
	}
	if _, err := OpenFiles(); err == nil {
		t.Error("OpenFiles() succeeded")
	}
}

// FuzzOpen feeds arbitrary bytes to the header parser that Open runs on a
// mapped file, and reads every tensor it accepts.
func FuzzOpen(f *testing.F) {
	f.Add(sample(f))
	f.Add(encode(f, nil, testTensor{"a", "F4", []int{2}, []byte{1}}))
	f.Add(withHeader([]byte(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`), f32Bytes(1)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse("fuzz", data)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			tt, _ := file.Tensor(name)
			if len(tt.Data)*8 < tt.Elems()*dtypeBits(tt.DType) {
				t.Fatalf("tensor %q: %d bytes for %d elements of %s", name, len(tt.Data), tt.Elems(), tt.DType)
			}
			toFloat32(tt)
		}
	})
}
