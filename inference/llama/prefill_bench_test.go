package llama

import (
	"slices"
	"testing"
	"time"
)

func BenchmarkPromptBundled(b *testing.B)   { benchPrompt(b, ActivationsF32) }
func BenchmarkPromptBundledQ8(b *testing.B) { benchPrompt(b, ActivationsQ8) }

// BenchmarkPromptBundledNoAMX is BenchmarkPromptBundled with the AMX tile
// path off: the AVX-512 MulMat it replaces.
func BenchmarkPromptBundledNoAMX(b *testing.B) {
	benchPromptWith(b, func(m *Model) { m.SetAMX(false) })
}

// BenchmarkPromptPaths alternates a 200-token prompt through the two prompt
// paths, one prompt each per round, and reports each path's median time:
// the AMX tiles (MulMatAMX) and the AVX-512 path. Alternating keeps a shared
// machine's changing speed out of the comparison.
func BenchmarkPromptPaths(b *testing.B) {
	m := benchModel(b, ActivationsF32)
	defer m.Close()
	if !m.AMX() {
		b.Skip("no AMX tiles on this CPU")
	}
	paths := []struct {
		name              string
		noAMX, unprepared bool
	}{{"tiles", false, false}, {"unprepared", false, true}, {"vector", true, false}}
	times := make([][]float64, len(paths))
	for b.Loop() {
		for i, p := range paths {
			m.noAMX = p.noAMX
			start := time.Now()
			runBenchPrompt(b, m)
			times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
		}
	}
	for i, p := range paths {
		slices.Sort(times[i])
		b.ReportMetric(times[i][len(times[i])/2], p.name+"-ms")
	}
}

func BenchmarkDecodeBundled(b *testing.B)   { benchDecode(b, ActivationsF32) }
func BenchmarkDecodeBundledQ8(b *testing.B) { benchDecode(b, ActivationsQ8) }

func benchModel(b *testing.B, a Activations) *Model {
	m, _, err := LoadGGUF(bundledGGUF(b))
	if err != nil {
		b.Fatal(err)
	}
	m.SetActivations(a)
	return m
}

func benchPrompt(b *testing.B, a Activations) {
	benchPromptWith(b, func(m *Model) { m.SetActivations(a) })
}

func benchPromptWith(b *testing.B, set func(*Model)) {
	m := benchModel(b, ActivationsF32)
	defer m.Close()
	set(m)
	for b.Loop() {
		runBenchPrompt(b, m)
	}
}

// runBenchPrompt runs a 200-token prompt in a new sequence.
func runBenchPrompt(b testing.TB, m *Model) {
	seq := m.NewSequence()
	steps := make([]Step, 200)
	for i := range steps {
		steps[i] = Step{Seq: seq, Token: 100 + i, Logits: i == len(steps)-1}
	}
	if _, err := m.Prompt(steps); err != nil {
		b.Fatal(err)
	}
}

func benchDecode(b *testing.B, a Activations) {
	m := benchModel(b, a)
	defer m.Close()
	seq := m.NewSequence()
	prompt := make([]Step, 32)
	for i := range prompt {
		prompt[i] = Step{Seq: seq, Token: 100 + i}
	}
	if _, err := m.Prompt(prompt); err != nil {
		b.Fatal(err)
	}
	tok := 7
	for b.Loop() {
		if seq.Len() >= 1000 {
			seq = seq.CloneUpTo(m, 32)
		}
		out, err := m.Forward([]Step{{Seq: seq, Token: tok, Logits: true}})
		if err != nil {
			b.Fatal(err)
		}
		tok = Argmax(out[0])
	}
}
