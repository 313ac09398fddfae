package llama

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"rustexpert/inference/gguf"
)

// llamaCppRef is testdata/tiny-kquants/llamacpp.json (make_kquants.py):
// files quantized by llama.cpp, with llama.cpp's logits and greedy tokens.
type llamaCppRef struct {
	Files map[string]struct {
		Formats map[string]string `json:"formats"`
		Cases   []struct {
			Prompt []int     `json:"prompt"`
			Logits []float32 `json:"logits"`
			Greedy []int     `json:"greedy"`
			Gaps   []float64 `json:"gaps"`
		} `json:"cases"`
	} `json:"files"`
}

func readLlamaCppRef(t *testing.T) llamaCppRef {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "tiny-kquants", "llamacpp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref llamaCppRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestKQuantFiles loads GGUF files that llama.cpp's quantizer wrote in the
// formats people download (Q4_K_M, Q3_K_M, Q2_K, Q5_0, Q5_1: every K format
// and the 5-bit ones) and compares the engine's logits and greedy tokens
// with llama.cpp's own. llama.cpp multiplies these formats with activations
// rounded to 8 bits, so the logits agree to that error, not to float32's.
func TestKQuantFiles(t *testing.T) {
	ref := readLlamaCppRef(t)
	if len(ref.Files) != 5 {
		t.Fatalf("%d reference files, want 5", len(ref.Files))
	}
	for name, file := range ref.Files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "tiny-kquants", name)
			checkFormats(t, path, file.Formats)
			m, _, err := LoadGGUF(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for _, a := range []Activations{ActivationsF32, ActivationsQ8} {
				m.SetActivations(a)
				for i, c := range file.Cases {
					seq := m.NewSequence()
					steps := make([]Step, len(c.Prompt))
					for j, tok := range c.Prompt {
						steps[j] = Step{Seq: seq, Token: tok, Logits: j == len(c.Prompt)-1}
					}
					out, err := m.Prompt(steps)
					if err != nil {
						t.Fatal(err)
					}
					last := out[len(out)-1]
					e := relErr(last, c.Logits)
					t.Logf("%s case %d: logits differ from llama.cpp's by %.2e of their scale", a, i, e)
					if e > 5e-2 {
						t.Errorf("%s case %d: logits differ from llama.cpp's by %.2e of their scale, want ≤ 5e-2", a, i, e)
					}
					got := greedy(t, m, seq, last, len(c.Greedy))
					n := sureSteps(c.Gaps, 0.1)
					if !slices.Equal(got[:n], c.Greedy[:n]) {
						t.Errorf("%s case %d: greedy tokens (the first %d, where llama.cpp's top two differ by over 0.1)\n got  %v\n want %v",
							a, i, n, got[:n], c.Greedy[:n])
					}
				}
			}
		})
	}
}

// sureSteps is the number of greedy steps before the first whose top two
// logits were within margin of each other.
func sureSteps(gaps []float64, margin float64) int {
	for i, g := range gaps {
		if g <= margin {
			return i
		}
	}
	return len(gaps)
}

// checkFormats checks that the file holds the tensor formats the reference
// lists (so each format is really exercised).
func checkFormats(t *testing.T, path string, want map[string]string) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, format := range want {
		info, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Type.String() != format {
			t.Errorf("%s: %s, reference says %s", name, info.Type, format)
		}
	}
}

// TestKQuantGoldens compares the engine on the same files with transformers
// (make_goldens.py: the weights dequantized to float32 by gguf-py), the
// float32 activations' path within the goldens' 1e-3.
func TestKQuantGoldens(t *testing.T) {
	for _, name := range []string{"Q4_K_M", "Q3_K_M", "Q2_K", "Q5_0", "Q5_1"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "tiny-kquants")
			m, _, err := LoadGGUF(filepath.Join(dir, name+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			m.SetActivations(ActivationsF32)
			checkGoldens(t, m, filepath.Join(dir, name), 1e-3)
		})
	}
}
