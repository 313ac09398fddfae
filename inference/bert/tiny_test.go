package bert

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tinyDir is a random 2-layer BERT with goldens from transformers (made by
// testdata/make_tiny.py).
const tinyDir = "testdata/tiny"

func TestTinyMatchesTransformers(t *testing.T) {
	enc, err := Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	goldens := readGoldens(t, filepath.Join(tinyDir, "goldens.jsonl"))
	var texts []string
	for i, g := range goldens {
		texts = append(texts, g.Text)
		if ids := enc.Tokenizer().Encode(g.Text); !slices.Equal(ids, g.IDs) {
			t.Errorf("golden %d %q: ids %v, want %v", i, g.Text, ids, g.IDs)
		}
	}
	got, err := enc.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range goldens {
		if c := cosine(got[i], g.Embedding); !(c >= 1-1e-5) {
			t.Errorf("golden %d %q: cosine %.7f", i, g.Text, c)
		}
		for j := range g.Embedding {
			if d := math.Abs(float64(got[i][j] - g.Embedding[j])); d > 1e-4 {
				t.Fatalf("golden %d %q: component %d is %g, want %g", i, g.Text, j, got[i][j], g.Embedding[j])
			}
		}
	}
}

func TestEmbedDoesNotDependOnTheBatch(t *testing.T) {
	enc, err := Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	texts := []string{"the borrow checker", "fn main() { let x = 5; }", "", "rust vec"}
	all, err := enc.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := enc.Embed([]string{text})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one[0], all[i]) {
			t.Errorf("%q alone differs from %q in a batch of %d", text, text, len(texts))
		}
	}
	if out, err := enc.Embed(nil); err != nil || len(out) != 0 {
		t.Fatalf("no texts: %v, %v", out, err)
	}
}

func TestEmbedAfterClose(t *testing.T) {
	enc, err := Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Embed([]string{"rust"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Embed after Close: %v, want ErrClosed", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// copyTiny copies the tiny model to a temporary folder for a test to break.
func copyTiny(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(tinyDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tinyDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// edit rewrites the file name of dir by replacing old with new once.
func edit(t *testing.T, dir, name, old, new string) {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", name, old)
	}
	os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func TestLoadRefusesBadModels(t *testing.T) {
	cases := []struct {
		name  string
		brk   func(t *testing.T, dir string)
		wants []string // all in the error
	}{
		{"no config", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "config.json")) }, []string{"config.json"}},
		{"no tokenizer", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "tokenizer.json")) }, []string{"tokenizer.json"}},
		{"no weights", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.safetensors")) }, []string{"model.safetensors"}},
		{"truncated weights", func(t *testing.T, d string) {
			p := filepath.Join(d, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, []string{"model.safetensors"}},
		{"garbage weights", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("\xff\xff\xff\xff\xff\xff\xff\x7fnot a header"), 0o644)
		}, []string{"model.safetensors"}},
		{"intermediate size", func(t *testing.T, d string) {
			edit(t, d, "config.json", `"intermediate_size": 64`, `"intermediate_size": 48`)
		}, []string{"encoder.layer.0.intermediate.dense.weight", "[64 32]"}},
		{"hidden size", func(t *testing.T, d string) {
			edit(t, d, "config.json", `"hidden_size": 32`, `"hidden_size": 30`)
		}, []string{"hidden_size 30", "num_attention_heads 4"}},
		{"layers", func(t *testing.T, d string) {
			edit(t, d, "config.json", `"num_hidden_layers": 2`, `"num_hidden_layers": 3`)
		}, []string{"encoder.layer.2."}},
		{"vocab size", func(t *testing.T, d string) {
			edit(t, d, "config.json", `"vocab_size": 43`, `"vocab_size": 50`)
		}, []string{"word_embeddings", "vocab_size"}},
		{"activation", func(t *testing.T, d string) {
			edit(t, d, "config.json", `"hidden_act": "gelu"`, `"hidden_act": "relu"`)
		}, []string{"config.json", "hidden_act"}},
		{"pooling", func(t *testing.T, d string) {
			edit(t, d, "1_Pooling/config.json", `"pooling_mode_cls_token": false`, `"pooling_mode_cls_token": true`)
		}, []string{"1_Pooling", "pooling_mode_mean_tokens"}},
		{"max_seq_length", func(t *testing.T, d string) {
			edit(t, d, "sentence_bert_config.json", `"max_seq_length": 12`, `"max_seq_length": 100`)
		}, []string{"sentence_bert_config.json", "max_seq_length 100"}},
		{"module", func(t *testing.T, d string) {
			edit(t, d, "modules.json", "models.Pooling", "models.Dense")
		}, []string{"modules.json", "models.Dense"}},
		{"tokenizer model", func(t *testing.T, d string) {
			edit(t, d, "tokenizer.json", `"type": "WordPiece"`, `"type": "BPE"`)
		}, []string{"tokenizer.json", "model.type"}},
		{"token beyond embeddings", func(t *testing.T, d string) {
			edit(t, d, "tokenizer.json", `";": 42`, `";": 4200`)
		}, []string{"tokenizer.json", "4200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyTiny(t)
			c.brk(t, dir)
			enc, err := Load(dir)
			if err == nil {
				enc.Close()
				t.Fatal("Load succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
