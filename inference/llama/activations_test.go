package llama

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestQ8PromptActivations checks ActivationsQ8Prompt on a file whose
// matrices the int8 kernels take through their exact int8 forms (Q5_0 →
// Q8_0): a prompt's multiplies take int8 activations (its logits are not the
// float32 path's, and stay within the int8 path's distance from
// transformers), generated tokens' take float32 ones (Forward gives the
// float32 path's bits, the cache being float32 too), and decoding reads the
// file's own matrices.
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
	if got, want := mixed.WeightTypes(), exact.WeightTypes(); got != want {
		t.Errorf("WeightTypes: %q, want the file's own %q (decoding reads them)", got, want)
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
	seq, seqExact := mixed.NewSequence(), exact.NewSequence()
	for i, tok := range c.Prompt {
		got := forwardOne(t, mixed, seq, tok)
		if want := forwardOne(t, exact, seqExact, tok); !slices.Equal(got, want) {
			t.Fatalf("token %d: Forward's logits are not the float32 path's bits", i)
		}
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
