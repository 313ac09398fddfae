package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// goldenDir is where the llama package keeps the reference models that
// make_goldens.py writes.
const goldenDir = "../llama/testdata"

// probeEntry is one tensor of a folder's probe.json.
type probeEntry struct {
	DType string    `json:"dtype"`
	Shape []int     `json:"shape"`
	First []float64 `json:"first"`
}

// probeDType maps the torch dtype names in probe.json to safetensors names.
func probeDType(torchName string) string {
	switch torchName {
	case "float32":
		return "F32"
	case "float16":
		return "F16"
	case "bfloat16":
		return "BF16"
	}
	return torchName
}

// readProbe loads dir/probe.json, skipping the test when the goldens are not
// there.
func readProbe(t *testing.T, dir string) map[string]probeEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "probe.json"))
	if os.IsNotExist(err) {
		t.Skipf("%s has no probe.json; run make_goldens.py in %s", dir, goldenDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]probeEntry
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatalf("%s/probe.json: %v", dir, err)
	}
	if len(probe) == 0 {
		t.Fatalf("%s/probe.json lists no tensors", dir)
	}
	return probe
}

// TestGoldenModels opens every reference folder through OpenDir and checks
// each tensor's dtype, shape and first values against what the Python
// safetensors reader saw when the goldens were made.
func TestGoldenModels(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-llama-lora", "tiny-qwen2", "tiny-mistral"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, name)
			probe := readProbe(t, dir)
			s, err := OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(s.Names()) != len(probe) {
				t.Errorf("%d tensors, probe.json lists %d", len(s.Names()), len(probe))
			}
			for tname, want := range probe {
				checkProbe(t, s, tname, want)
			}
		})
	}
}

// TestGoldenTinyLlamaShards checks that tiny-llama really is split over two
// shards, so TestGoldenModels covers the index path.
func TestGoldenTinyLlamaShards(t *testing.T) {
	dir := filepath.Join(goldenDir, "tiny-llama")
	readProbe(t, dir)
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.files) != 2 {
		t.Errorf("tiny-llama opened %d files, want 2 shards", len(s.files))
	}
	if s.Has("lm_head.weight") {
		t.Error("tiny-llama has lm_head.weight, but its embeddings are tied")
	}
}

// checkProbe compares one tensor of s with its probe entry, reading it as a
// matrix or a vector as its shape allows.
func checkProbe(t *testing.T, s *Set, name string, want probeEntry) {
	t.Helper()
	tt, err := s.Tensor(name)
	if err != nil {
		t.Error(err)
		return
	}
	if tt.DType != probeDType(want.DType) || !reflect.DeepEqual(tt.Shape, want.Shape) {
		t.Errorf("%s: %s %v, want %s %v", name, tt.DType, tt.Shape, want.DType, want.Shape)
		return
	}
	got, err := values(s, name, len(tt.Shape))
	if err != nil {
		t.Error(err)
		return
	}
	for i, w := range want.First {
		if got[i] != float32(w) {
			t.Errorf("%s[%d] = %v, want %v", name, i, got[i], w)
		}
	}
}

// values reads a tensor through Matrix, Vector or Floats by its rank.
func values(s *Set, name string, rank int) ([]float32, error) {
	switch rank {
	case 1:
		return s.Vector(name)
	case 2:
		m, err := s.Matrix(name)
		if err != nil {
			return nil, err
		}
		return m.Float32(), nil
	}
	return s.Floats(name)
}
