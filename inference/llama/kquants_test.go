package llama

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rustexpert/inference/gguf"
	"rustexpert/inference/tensor"
)

// kquantFiles are the files in testdata/tiny-kquants (without .gguf).
var kquantFiles = []string{"Q4_K_M", "Q3_K_M", "Q2_K", "Q5_0", "Q5_1", "IQ4_NL", "IQ4_XS", "IQ1_IQ3"}

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

// kquantTol is the logits' allowed difference from llama.cpp's for a file
// of tiny-kquants: 5e-2 of their scale, and 7e-2 for the 1- to 3-bit
// formats, where llama.cpp's own logits are 2.4–3.2e-2 from transformers'
// (its 8-bit activations against weights of a few levels) and the engine's
// int8 path's 2.6–2.8e-2: their distance is up to the sum (its float32
// path's is llama.cpp's alone).
func kquantTol(file string) float64 {
	if file == "IQ1_IQ3.gguf" {
		return 7e-2
	}
	return 5e-2
}

// TestKQuantFiles loads GGUF files that llama.cpp's quantizer wrote in the
// formats people download (Q4_K_M, Q3_K_M, Q2_K, Q5_0, Q5_1, IQ4_NL, IQ4_XS:
// every K format, the 5-bit and the 4-bit non-linear ones; IQ1_IQ3: the 1- to
// 3-bit IQ formats, from ggml's quantizer) and compares the engine's logits
// and greedy tokens with llama.cpp's own. llama.cpp multiplies these formats
// with activations rounded to 8 bits, so the logits agree to that error, not
// to float32's.
func TestKQuantFiles(t *testing.T) {
	ref := readLlamaCppRef(t)
	if len(ref.Files) != len(kquantFiles) {
		t.Fatalf("%d reference files, want %d", len(ref.Files), len(kquantFiles))
	}
	for name, file := range ref.Files {
		t.Run(name, func(t *testing.T) {
			checkFormats(t, filepath.Join("testdata", "tiny-kquants", name), file.Formats)
			m := loadKQuant(t, strings.TrimSuffix(name, ".gguf"))
			tol := kquantTol(name)
			for _, a := range []Activations{ActivationsF32, ActivationsQ8} {
				m.SetActivations(a)
				for i, c := range file.Cases {
					seq, last := runPrompt(t, m, c.Prompt)
					e := relErr(last, c.Logits)
					t.Logf("%s case %d: logits differ from llama.cpp's by %.2e of their scale", a, i, e)
					if e > tol {
						t.Errorf("%s case %d: logits differ from llama.cpp's by %.2e of their scale, want ≤ %.0e", a, i, e, tol)
					}
					got := greedy(t, m, seq, last, len(c.Greedy))
					margin := 2 * tol * scale(c.Logits) // twice the logits' allowed difference
					n := sureSteps(c.Gaps, margin)
					if !slices.Equal(got[:n], c.Greedy[:n]) {
						t.Errorf("%s case %d: greedy tokens (the first %d, where llama.cpp's top two differ by over %.2f)\n got  %v\n want %v",
							a, i, n, margin, got[:n], c.Greedy[:n])
					}
				}
			}
		})
	}
}

// loadKQuant loads testdata/tiny-kquants/<name>.gguf, closed when the test ends.
func loadKQuant(t *testing.T, name string) *Model {
	t.Helper()
	m, _, err := LoadGGUF(filepath.Join("testdata", "tiny-kquants", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// scale is max|v|.
func scale(v []float32) float64 {
	var s float64
	for _, x := range v {
		s = max(s, math.Abs(float64(x)))
	}
	return s
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
	for _, name := range kquantFiles {
		t.Run(name, func(t *testing.T) {
			m := loadKQuant(t, name)
			m.SetActivations(ActivationsF32)
			checkGoldens(t, m, filepath.Join("testdata", "tiny-kquants", name), 1e-3)
		})
	}
}

// TestKQuantGoldensInt8 compares the int8 path (int8 activations, and the
// weights' int8 forms: Q4_K as Q4_1, Q5_0 exactly as Q8_0, the others
// requantized to Q8_0) with transformers' float32 goldens: the logits
// within 4·10⁻² of their scale (IQ4_NL's form is exact, IQ4_XS's
// rounds each 32 values' scale to float16). On these random weights the int8
// activations alone (Q5_0, whose form is exact) move the logits by
// 1.5–2.3·10⁻²; llama.cpp's own logits differ from transformers' by
// 1.4–3.4·10⁻² (measured 2026-11-28).
func TestKQuantGoldensInt8(t *testing.T) {
	for _, name := range kquantFiles {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "tiny-kquants", name)
			m := loadKQuant(t, name)
			m.SetActivations(ActivationsQ8)
			if !m.output.Q8Ready() {
				t.Skip("no int8 kernels on this CPU or build")
			}
			for i, c := range readCases(t, dir) {
				_, last := runPrompt(t, m, c.Prompt)
				e := relErr(last, readF32(t, filepath.Join(dir, c.Logits)))
				t.Logf("case %d: logits differ from transformers' by %.2e of their scale", i, e)
				if e > 4e-2 {
					t.Errorf("case %d: logits differ from transformers' by %.2e of their scale, want ≤ 4e-2", i, e)
				}
			}
		})
	}
}

// TestInt8FormsMadeOnce checks that int8 activations give the K-format
// weights their int8 forms once (at load, or at the first SetActivations),
// that WeightTypes and WeightBytes then describe what decoding reads, and
// that float32 activations go back to the file's own formats.
func TestInt8FormsMadeOnce(t *testing.T) {
	m := loadKQuant(t, "Q4_K_M")
	m.SetActivations(ActivationsF32)
	exact, bytes := m.WeightTypes(), m.WeightBytes()
	m.SetActivations(ActivationsQ8)
	if !m.output.Q8Ready() {
		t.Skip("no int8 kernels on this CPU or build")
	}
	if again := m.int8Forms(); len(again) != 0 {
		t.Errorf("a second SetActivations(q8) made %d more int8 forms", len(again))
	}
	if got := m.WeightTypes(); got != "Q4_K→Q4_1 ×12, Q6_K→Q8_0 ×3, Q4_K ×1" { // the embeddings, read a row at a time, keep their own
		t.Errorf("WeightTypes with int8 activations: %q", got)
	}
	if exact != "Q4_K ×13, Q6_K ×3" {
		t.Errorf("WeightTypes with float32 activations: %q", exact)
	}
	if q8 := m.WeightBytes(); q8 <= bytes {
		t.Errorf("WeightBytes: %d with int8 forms, %d without", q8, bytes)
	}
}

// TestPreferredActivations checks that K-format files prefer int8
// activations wherever the int8 kernels exist (on AVX-512 machines with AMX
// too, whose default is float32): for prompts only where the CPU has the
// int8 tile kernel and AVX-512, everywhere on AVX2 machines; that Q4_0
// files prefer q8-prompt where that tile kernel is, else the default; and
// that float32 models keep the default.
func TestPreferredActivations(t *testing.T) {
	k := loadKQuant(t, "Q4_K_M")
	want := ActivationsF32
	if tensor.HasInt8Form(k.output.Type) {
		want = ActivationsQ8 // this CPU has the int8 kernels
		if DefaultActivations() != ActivationsQ8 && tensor.Int8Tiles() {
			want = ActivationsQ8Prompt
		}
	}
	if got := k.PreferredActivations(); got != want {
		t.Errorf("Q4_K_M file: %s, want %s", got, want)
	}
	f, err := LoadDir(filepath.Join("testdata", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.PreferredActivations(); got != DefaultActivations() {
		t.Errorf("float32 model: %s, want the default %s", got, DefaultActivations())
	}
	q, _, err := LoadGGUF(toGGUF(t, filepath.Join("testdata", "tiny-llama"), "llama", tensor.Q4_0, false))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	want = DefaultActivations()
	if want == ActivationsF32 && tensor.Int8Tiles() {
		want = ActivationsQ8Prompt
	}
	if got := q.PreferredActivations(); got != want {
		t.Errorf("Q4_0 model: %s, want %s", got, want)
	}
}
