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
