package llama

import (
	"path/filepath"
	"slices"
	"testing"

	"rustexpert/inference/tensor"
)

// TestQ8PromptActivations checks ActivationsQ8Prompt on a file whose
// matrices the int8 kernels take through their exact int8 forms (Q5_0 →
// Q8_0): a prompt's multiplies take int8 activations (its logits are not the
// float32 path's, and stay within the int8 path's distance from
// transformers); generated tokens' multiply the forms with float32
// activations (Forward's logits within float32 rounding of the float32
// path's given the same requantized Q6_K head, where int8 activations are
// 1e-2 away), the float32 kernels reading the forms' interleaved copies
// where they read one; the caches stay float32.
func TestQ8PromptActivations(t *testing.T) {
	const name = "Q5_0"
	dir := filepath.Join("testdata", "tiny-kquants", name)
	mixed, exact := loadKQuant(t, name), loadKQuant(t, name)
	mixed.SetActivations(ActivationsQ8Prompt)
	exact.SetActivations(ActivationsF32)
	if got := mixed.Activations(); got != ActivationsQ8Prompt {
		t.Fatalf("Activations() = %q after SetActivations(q8-prompt)", got)
	}
	if !mixed.output.Q8Ready() {
		t.Skip("no int8 kernels on this CPU or build")
	}
	if mixed.halfCache() {
		t.Error("q8-prompt sequences keep float16 caches; want float32, as generated tokens compute in float32")
	}
	if got := mixed.WeightTypes(); got != "Q5_0→Q8_0 ×14, Q5_0 ×1, Q6_K→Q8_0 ×1" { // the embeddings keep their own
		t.Errorf("WeightTypes: %q, want the int8 forms decoding reads", got)
	}
	probe := &tensor.Matrix{Type: tensor.Q8_0, Rows: 16, Cols: tensor.QK} // a weight matrix of the forms' format
	for _, w := range mixed.matrices() {
		if f := w.Int8Form(); f != nil && f.Interleaved() != probe.Interleavable() {
			t.Fatalf("a %s form: interleaved %v, the decoding kernels read a copy %v", f.Type, f.Interleaved(), probe.Interleavable())
		}
	}
	c := readCases(t, dir)[0]
	_, last := runPrompt(t, mixed, c.Prompt)
	_, lastExact := runPrompt(t, exact, c.Prompt)
	if slices.Equal(last, lastExact) {
		t.Error("a prompt's logits are the float32 path's bits: its multiplies did not take int8 activations")
	}
	if e := relErr(last, readF32(t, filepath.Join(dir, c.Logits))); e > 4e-2 {
		t.Errorf("prompt logits differ from transformers' by %.2e of their scale, want ≤ 4e-2", e)
	}
	exact.output = mixed.output.Int8Form() // the Q6_K head requantized: both read the same values
	seq, seqExact := mixed.NewSequence(), exact.NewSequence()
	worst := 0.0
	for _, tok := range c.Prompt {
		worst = max(worst, relErr(forwardOne(t, mixed, seq, tok), forwardOne(t, exact, seqExact, tok)))
	}
	t.Logf("Forward's logits within %.2e of the float32 path's scale", worst)
	if worst > 1e-4 {
		t.Errorf("Forward's logits differ from the float32 path's by %.2e of their scale, want ≤ 1e-4 (float32 activations)", worst)
	}
}

// forwardOne runs one generated token of seq and returns its logits.
func forwardOne(t *testing.T, m *Model, seq *Sequence, tok int) []float32 {
	t.Helper()
	out, err := m.Forward([]Step{{Seq: seq, Token: tok, Logits: true}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestParseActivations checks the names the engine's setting takes.
func TestParseActivations(t *testing.T) {
	for _, s := range []string{"f32", "q8", "q8-prompt"} {
		if a, err := ParseActivations(s); err != nil || string(a) != s {
			t.Errorf("ParseActivations(%q) = %q, %v", s, a, err)
		}
	}
	if _, err := ParseActivations("int8"); err == nil {
		t.Error("ParseActivations(\"int8\") accepted")
	}
}
