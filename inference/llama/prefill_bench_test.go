package llama

import "testing"

func BenchmarkPromptBundled(b *testing.B) {
	m, _, err := LoadGGUF(bundledGGUF(b))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	steps := make([]Step, 200)
	for b.Loop() {
		seq := m.NewSequence()
		for i := range steps {
			steps[i] = Step{Seq: seq, Token: 100 + i, Logits: i == len(steps)-1}
		}
		if _, err := m.Prompt(steps); err != nil {
			b.Fatal(err)
		}
	}
}
