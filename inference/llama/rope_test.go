package llama

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"rustexpert/inference/tensor"
)

// TestLlama3RopeFactors checks Llama 3.1's RoPE scaling against the
// divisors transformers' _compute_llama3_parameters gives tiny-llama3's
// config (theta 10000, heads of 16, factor 8, low 1, high 4, original
// context 64: base inv_freq over the scaled one, printed by transformers
// 5.17): one frequency kept, two smoothed, five divided by the factor.
func TestLlama3RopeFactors(t *testing.T) {
	p := &ropeParameters{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 64}
	got, err := p.llama3Factors(10000, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.0, 1.2939759492874146, 7.667385101318359, 8, 8, 8, 8, 8}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 2e-6*want[i] {
			t.Errorf("factor %d: %g, transformers %g", i, got[i], want[i])
		}
	}
}

// TestLinearRope checks linear RoPE scaling (DeepSeek-Coder's config: every
// frequency divided by the factor) from a Hugging Face config and from
// GGUF's rope.scaling keys: both give the same factors and logits, which
// differ from the unscaled model's.
func TestLinearRope(t *testing.T) {
	dir := copyModel(t, "tiny-llama")
	editConfig(t, dir, map[string]any{"rope_scaling": map[string]any{"type": "linear", "factor": 4.0}})
	hf, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	if len(hf.RopeFactors) != hf.HeadDim/2 || slices.ContainsFunc(hf.RopeFactors, func(f float32) bool { return f != 4 }) {
		t.Fatalf("RopeFactors %v, want %d times 4", hf.RopeFactors, hf.HeadDim/2)
	}
	file, _, err := LoadGGUF(toGGUF(t, dir, "llama", tensor.F32, false))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if !slices.Equal(file.RopeFactors, hf.RopeFactors) {
		t.Errorf("from GGUF: RopeFactors %v, from the config %v", file.RopeFactors, hf.RopeFactors)
	}
	plain, err := LoadDir(filepath.Join("testdata", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	prompt := readCases(t, filepath.Join("testdata", "tiny-llama"))[2].Prompt
	_, scaled := runPrompt(t, hf, prompt)
	_, fromFile := runPrompt(t, file, prompt)
	_, unscaled := runPrompt(t, plain, prompt)
	if e := relErr(fromFile, scaled); e > 1e-5 {
		t.Errorf("GGUF and Hugging Face logits differ by %.2e of their scale", e)
	}
	if e := relErr(scaled, unscaled); e < 1e-3 {
		t.Errorf("scaled and unscaled logits differ by only %.2e of their scale", e)
	}
}
