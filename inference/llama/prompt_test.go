package llama

import (
	"math"
	"path/filepath"
	"testing"
)

// piecesLogits runs tokens through m.Prompt in pieces of the given sizes (one sequence) and
// returns the last step's logits.
func piecesLogits(t *testing.T, m *Model, tokens []int, pieces ...int) []float32 {
	t.Helper()
	seq := m.NewSequence()
	var last []float32
	at := 0
	for _, n := range pieces {
		steps := make([]Step, n)
		for i := range steps {
			steps[i] = Step{Seq: seq, Token: tokens[at+i], Logits: at+i == len(tokens)-1}
		}
		out, err := m.Prompt(steps)
		if err != nil {
			t.Fatal(err)
		}
		last = out[n-1]
		at += n
	}
	return last
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// A prompt step's logits are the same bits however the prompt is cut into batches and whatever
// else is in its batch: what a cached prefix and batched requests rely on.
func TestPromptStepsDoNotDependOnTheirBatch(t *testing.T) {
	m, err := LoadDir(filepath.Join("testdata", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]int, 40)
	for i := range tokens {
		tokens[i] = (i*37 + 11) % m.Vocab
	}
	whole := piecesLogits(t, m, tokens, 40)
	if len(whole) != m.Vocab {
		t.Fatalf("%d logits", len(whole))
	}
	for _, pieces := range [][]int{{25, 15}, {1, 39}, {10, 10, 10, 10}, {39, 1}} {
		if got := piecesLogits(t, m, tokens, pieces...); !sameBits(got, whole) {
			t.Errorf("prompt in pieces %v: logits differ from the whole prompt's (relative %.1e)", pieces, relErr(got, whole))
		}
	}
	// Two sequences in one batch, the other one's steps before and between.
	a, b := m.NewSequence(), m.NewSequence()
	var steps []Step
	for i := range 40 {
		steps = append(steps, Step{Seq: b, Token: (i*5 + 3) % m.Vocab})
		steps = append(steps, Step{Seq: a, Token: tokens[i], Logits: i == 39})
	}
	out, err := m.Prompt(steps)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[len(out)-1]; !sameBits(got, whole) {
		t.Errorf("interleaved with another sequence: logits differ (relative %.1e)", relErr(got, whole))
	}
	var grouped []Step
	c, d := m.NewSequence(), m.NewSequence()
	for i := range 40 {
		grouped = append(grouped, Step{Seq: c, Token: (i*5 + 3) % m.Vocab})
	}
	for i := range 40 {
		grouped = append(grouped, Step{Seq: d, Token: tokens[i], Logits: i == 39})
	}
	out, err = m.Prompt(grouped)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[len(out)-1]; !sameBits(got, whole) {
		t.Errorf("after another sequence's prompt in the batch: logits differ (relative %.1e)", relErr(got, whole))
	}
}

// The last layer runs only for the steps that ask for logits (lastLayer): logits asked in the
// middle of a prompt, of two sequences at once, or of no step at all give the bits that a
// prompt ending at that step gives, and the caches they leave (the last layer's keys and values
// of every step included) decode the next token to the same bits as a prompt that asked for
// every step's logits.
func TestLastLayerOnlyForLogits(t *testing.T) {
	models := map[string]func() (*Model, error){
		"tiny-llama": func() (*Model, error) { return LoadDir(filepath.Join("testdata", "tiny-llama")) },
		"the bundled GGUF": func() (*Model, error) { // Q4_1: AMX prompts and int8-piece decoding where the CPU has them
			m, _, err := LoadGGUF(bundledGGUF(t))
			return m, err
		},
	}
	for _, dir := range []string{"tiny-llama", "the bundled GGUF"} {
		m, err := models[dir]()
		if err != nil {
			t.Fatal(err)
		}
		tokens := make([]int, 40)
		for i := range tokens {
			tokens[i] = (i*37 + 11) % m.Vocab
		}
		asked := map[int]bool{9: true, 24: true, 39: true}
		seqA, seqB, seqAll, seqNone := m.NewSequence(), m.NewSequence(), m.NewSequence(), m.NewSequence()
		var steps, all, none []Step
		for i, tok := range tokens {
			steps = append(steps, Step{Seq: seqA, Token: tok, Logits: asked[i]}, Step{Seq: seqB, Token: tok, Logits: asked[i]})
			all = append(all, Step{Seq: seqAll, Token: tok, Logits: true})
			none = append(none, Step{Seq: seqNone, Token: tok})
		}
		out := prompt(t, m, steps)
		outAll := prompt(t, m, all)
		if outNone := prompt(t, m, none); len(outNone) != len(none) || outNone[0] != nil || outNone[39] != nil {
			t.Fatalf("%s: a prompt asking for no logits returned %d results, first %v", dir, len(outNone), outNone[0] != nil)
		}
		for i := range tokens {
			for s, got := range [][]float32{out[2*i], out[2*i+1]} {
				switch {
				case !asked[i] && got != nil:
					t.Fatalf("%s: step %d of sequence %d has logits it did not ask for", dir, i, s)
				case asked[i] && !sameBits(got, outAll[i]):
					t.Fatalf("%s: step %d of sequence %d: logits differ from a prompt asking for all (relative %.1e)", dir, i, s, relErr(got, outAll[i]))
				}
			}
		}
		next := 7 % m.Vocab
		want := forward(t, m, []Step{{Seq: seqAll, Token: next, Logits: true}})[0]
		for s, seq := range []*Sequence{seqA, seqB, seqNone} {
			if got := forward(t, m, []Step{{Seq: seq, Token: next, Logits: true}})[0]; !sameBits(got, want) {
				t.Fatalf("%s: sequence %d decodes the next token differently (relative %.1e): its last layer's cache differs", dir, s, relErr(got, want))
			}
		}
	}
}

// prompt and forward run steps through m.Prompt and m.Forward, failing the test on an error.
func prompt(t *testing.T, m *Model, steps []Step) [][]float32  { return must(t, m.Prompt, steps) }
func forward(t *testing.T, m *Model, steps []Step) [][]float32 { return must(t, m.Forward, steps) }

func must(t *testing.T, run func([]Step) ([][]float32, error), steps []Step) [][]float32 {
	t.Helper()
	out, err := run(steps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
