package llama

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The goldens under testdata were made by transformers (make_goldens.py): each
// case has prompt token ids, the last position's logits and 64 greedy tokens.
type goldenCase struct {
	Prompt    []int  `json:"prompt"`
	Logits    string `json:"logits"`
	LogitsAll string `json:"logits_all"`
	Greedy    []int  `json:"greedy"`
}

func readCases(t *testing.T, dir string) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

// relErr is max|got-want| / max|want|: the error relative to the logits' scale.
func relErr(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = max(diff, math.Abs(float64(got[i]-want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return diff / scale
}

// checkGoldens compares m's logits and greedy continuations with the cases in
// dir, allowing tol relative error in the logits.
func checkGoldens(t *testing.T, m *Model, dir string, tol float64) {
	for i, c := range readCases(t, dir) {
		seq := m.NewSequence()
		steps := make([]Step, len(c.Prompt))
		for j, tok := range c.Prompt {
			steps[j] = Step{Seq: seq, Token: tok, Logits: c.LogitsAll != "" || j == len(c.Prompt)-1}
		}
		out, err := m.Prompt(steps)
		if err != nil {
			t.Fatal(err)
		}
		last := out[len(out)-1]
		if e := relErr(last, readF32(t, filepath.Join(dir, c.Logits))); e > tol {
			t.Errorf("case %d: logits differ by %.2e of their scale, want ≤ %.0e", i, e, tol)
		}
		t.Logf("case %d (%d prompt tokens): logits relative error %.2e", i, len(c.Prompt), relErr(last, readF32(t, filepath.Join(dir, c.Logits))))
		if c.LogitsAll != "" {
			all := readF32(t, filepath.Join(dir, c.LogitsAll))
			for p := range out {
				if e := relErr(out[p], all[p*m.Vocab:(p+1)*m.Vocab]); e > tol {
					t.Errorf("case %d position %d: logits differ by %.2e", i, p, e)
				}
			}
		}
		if got := greedy(t, m, seq, last, len(c.Greedy)); !slices.Equal(got, c.Greedy) {
			t.Errorf("case %d: greedy continuation\n got  %v\n want %v", i, got, c.Greedy)
		}
	}
}

// greedy continues seq for n tokens, one Forward step at a time.
func greedy(t *testing.T, m *Model, seq *Sequence, logits []float32, n int) []int {
	var out []int
	for range n {
		tok := Argmax(logits)
		out = append(out, tok)
		res, err := m.Forward([]Step{{Seq: seq, Token: tok, Logits: true}})
		if err != nil {
			t.Fatal(err)
		}
		logits = res[0]
	}
	return out
}

func TestGoldensHuggingFaceFolders(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2", "tiny-mistral", "tiny-qwen3", "tiny-llama3"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadDir(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkGoldens(t, m, filepath.Join("testdata", name), 1e-3)
		})
	}
}

func TestGoldensLoRAAdapter(t *testing.T) {
	m, err := LoadDir(filepath.Join("testdata", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.ApplyAdapter(filepath.Join("testdata", "tiny-llama-lora")); err != nil {
		t.Fatal(err)
	}
	checkGoldens(t, m, filepath.Join("testdata", "tiny-llama-lora"), 1e-3)
}

// bundledGGUF finds the bundled base model, or skips.
func bundledGGUF(t testing.TB) string {
	if p := os.Getenv("RUSTEXPERT_TEST_GGUF"); p != "" {
		return p
	}
	p := filepath.Join("..", "..", "models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skip("the bundled model is not fetched (make models); set RUSTEXPERT_TEST_GGUF to its path")
	}
	return p
}

func TestGoldensBundledGGUF(t *testing.T) {
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkGoldens(t, m, filepath.Join("testdata", "smollm2"), 1e-3)
}

// TestGoldensBundledGGUFNoAMX checks the AVX-512 prompt path against the
// goldens too, on machines where prompts otherwise run on the AMX tiles.
func TestGoldensBundledGGUFNoAMX(t *testing.T) {
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.AMX() {
		t.Skip("prompts do not use AMX tiles here; TestGoldensBundledGGUF covers the vector path")
	}
	m.SetAMX(false)
	checkGoldens(t, m, filepath.Join("testdata", "smollm2"), 1e-3)
}

// TestPromptAMXMatchesVectorPath compares a prompt's logits through the AMX
// tiles with the AVX-512 path's: both sum exact products in float32, so
// they agree to float32 rounding, far inside the goldens' tolerance.
func TestPromptAMXMatchesVectorPath(t *testing.T) {
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.AMX() {
		t.Skip("no AMX tiles on this CPU")
	}
	for i, c := range readCases(t, filepath.Join("testdata", "smollm2")) {
		m.SetAMX(true)
		_, amx := runPrompt(t, m, c.Prompt)
		m.SetAMX(false)
		_, vec := runPrompt(t, m, c.Prompt)
		if e := relErr(amx, vec); e > 2e-5 {
			t.Errorf("case %d: AMX logits differ from the vector path's by %.2e of their scale", i, e)
		} else {
			t.Logf("case %d: AMX and vector paths differ by %.2e of the logits' scale", i, e)
		}
	}
}
