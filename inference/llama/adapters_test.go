package llama

import (
	"path/filepath"
	"slices"
	"testing"
)

// bundledAdapters loads the bundled base model with the bundled v1 and v2 adapters added
// (ids 1 and 2), for both activations the CPU runs.
func bundledAdapters(t *testing.T, a Activations) *Model {
	t.Helper()
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	m.SetActivations(a)
	for i, name := range []string{"v1", "v2"} {
		id, err := m.AddAdapter(filepath.Join("..", "..", "models", name))
		if err != nil {
			t.Fatal(err)
		}
		if id != i+1 {
			t.Fatalf("adapter %s got id %d, want %d", name, id, i+1)
		}
	}
	return m
}

// Sequences of the base model and of two adapters prefill and decode together, each with the
// logits it gets alone; the adapters change them, and adapter 1 added to the shared model is
// the adapter ApplyAdapter gives a model of its own.
func TestAdaptersInOneBatch(t *testing.T) {
	for _, a := range []Activations{ActivationsF32, ActivationsQ8} {
		t.Run(string(a), func(t *testing.T) {
			m := bundledAdapters(t, a)
			prompt := []int{1, 504, 3459, 314, 260, 7071, 30, 2}
			steps := func(seq *Sequence, toks []int) []Step {
				out := make([]Step, len(toks))
				for i, tok := range toks {
					out[i] = Step{Seq: seq, Token: tok, Logits: i == len(toks)-1}
				}
				return out
			}
			// Alone: each adapter's prompt, then one generated token.
			var alone [][]float32
			for id := range 3 {
				seq := m.NewSequenceWith(id)
				if _, err := m.Prompt(steps(seq, prompt)); err != nil {
					t.Fatal(err)
				}
				out, err := m.Forward([]Step{{Seq: seq, Token: 42, Logits: true}})
				if err != nil {
					t.Fatal(err)
				}
				alone = append(alone, out[0])
			}
			if slices.Equal(alone[0], alone[1]) || slices.Equal(alone[1], alone[2]) {
				t.Fatal("the adapters do not change the logits")
			}
			// Together: the three prompts in one call, then the three tokens in one batch.
			seqs := []*Sequence{m.NewSequenceWith(2), m.NewSequenceWith(0), m.NewSequenceWith(1)}
			var all []Step
			for _, s := range seqs {
				all = append(all, steps(s, prompt)...)
			}
			if _, err := m.Prompt(all); err != nil {
				t.Fatal(err)
			}
			out, err := m.Forward([]Step{{Seq: seqs[0], Token: 42, Logits: true}, {Seq: seqs[1], Token: 42, Logits: true}, {Seq: seqs[2], Token: 42, Logits: true}})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range seqs {
				if !slices.Equal(out[i], alone[s.Adapter()]) {
					t.Errorf("adapter %d in a mixed batch: logits differ from alone", s.Adapter())
				}
			}
			own, _, err := LoadGGUF(bundledGGUF(t))
			if err != nil {
				t.Fatal(err)
			}
			defer own.Close()
			own.SetActivations(a)
			if err := own.ApplyAdapter(filepath.Join("..", "..", "models", "v1")); err != nil {
				t.Fatal(err)
			}
			seq := own.NewSequence()
			if _, err := own.Prompt(steps(seq, prompt)); err != nil {
				t.Fatal(err)
			}
			got, err := own.Forward([]Step{{Seq: seq, Token: 42, Logits: true}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[0], alone[1]) {
				t.Error("v1 applied to a model of its own differs from v1 added to the shared one")
			}
			if _, err := m.Forward([]Step{{Seq: m.NewSequenceWith(3), Token: 42}}); err == nil {
				t.Error("a sequence of adapter 3 (of 2) ran")
			}
		})
	}
}
