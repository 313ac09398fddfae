package llama

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyModel copies a test model folder so a test can break it.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// editConfig changes config.json's fields.
func editConfig(t *testing.T, dir string, change map[string]any) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	data, _ := os.ReadFile(path)
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	data, _ = json.Marshal(cfg)
	os.WriteFile(path, data, 0o644)
}

func TestLoadDirRefusesBrokenModels(t *testing.T) {
	cases := []struct {
		name   string
		base   string
		break_ func(t *testing.T, dir string)
		want   string
	}{
		{"shape disagrees with the config", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"intermediate_size": 96})
		}, "model.layers.0.mlp.gate_proj.weight is 128×64, the config needs 96×64"},
		{"more layers than tensors", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"num_hidden_layers": 3})
		}, "tensor model.layers.2.self_attn.q_proj.weight is missing"},
		{"unsupported architecture", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"model_type": "gemma2"})
		}, `model_type "gemma2" is not supported`},
		{"scaled rope without its parameters", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"rope_parameters": map[string]any{"rope_type": "llama3", "rope_theta": 500000}})
		}, "rope_type llama3: factor 0, low_freq_factor 0, high_freq_factor 0, original_max_position_embeddings 0"},
		{"linear rope without a factor", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"rope_scaling": map[string]any{"type": "linear"}})
		}, "rope_type linear: factor 0, want a positive number"},
		{"unsupported scaled rope", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"rope_parameters": map[string]any{"rope_type": "yarn", "factor": 4}})
		}, `RoPE type "yarn" is not supported (supported: default, linear, llama3)`},
		{"heads do not divide", "tiny-llama", func(t *testing.T, dir string) {
			editConfig(t, dir, map[string]any{"num_key_value_heads": 3})
		}, "4 attention heads are not a multiple of 3 key/value heads"},
		{"no config", "tiny-llama", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "config.json"))
		}, "model config"},
		{"config not JSON", "tiny-llama", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{hidden_size: 64"), 0o644)
		}, "config.json"},
		{"truncated shard", "tiny-llama", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "model-00002-of-00002.safetensors")
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o644)
		}, "model-00002-of-00002.safetensors"},
		{"corrupt header", "tiny-qwen2", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "model.safetensors")
			data, _ := os.ReadFile(path)
			copy(data[8:], "garbage!")
			os.WriteFile(path, data, 0o644)
		}, "model.safetensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyModel(t, c.base)
			c.break_(t, dir)
			m, err := LoadDir(dir)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestAdapterForAnotherBaseIsRefused(t *testing.T) {
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.ApplyAdapter(filepath.Join("testdata", "tiny-llama-lora"))
	if err == nil || !strings.Contains(err.Error(), "adapter for another base model?") {
		t.Fatalf("got %v, want a shape mismatch that suggests another base model", err)
	}
	err = m.ApplyAdapter(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "adapter_config.json") {
		t.Fatalf("empty folder: got %v", err)
	}
}

func TestForwardRefusesBadSteps(t *testing.T) {
	m, err := LoadDir(filepath.Join("testdata", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	seq := m.NewSequence()
	if _, err := m.Forward([]Step{{Seq: seq, Token: m.Vocab}}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("token past the vocabulary: %v", err)
	}
	steps := make([]Step, m.ContextLen+1)
	for i := range steps {
		steps[i] = Step{Seq: seq, Token: 1}
	}
	if _, err := m.Forward(steps); err == nil || !strings.Contains(err.Error(), "context length") {
		t.Fatalf("past the context: %v", err)
	}
	if seq.Len() != 0 {
		t.Fatalf("a refused batch left %d positions in the cache", seq.Len())
	}
}
