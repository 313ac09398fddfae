package llama

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A generated token's attention over a float16 cache gives every query head the same bits
// whether the heads are taken one at a time (attend), a key-value head's group at once
// (attendGroup) or the group in parts of the keys and halves of the outputs (attendSplit), for
// one sequence and for two of different lengths.
func TestAttentionPathsAgree(t *testing.T) {
	m, _, err := LoadGGUF(bundledGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetActivations(ActivationsQ8)
	seqs := []*Sequence{m.NewSequence(), m.NewSequence()}
	for k, n := range []int{300, 281} {
		fill := make([]Step, n)
		for i := range fill {
			fill[i] = Step{Seq: seqs[k], Token: 100 + (i*7+k)%5000}
		}
		if _, err := m.Prompt(fill); err != nil {
			t.Fatal(err)
		}
	}
	if !seqs[0].half() || m.Heads == m.KVHeads {
		t.Fatal("the bundled model with int8 activations should keep a float16 cache and share key-value heads")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, batch := range [][]*Sequence{seqs[:1], seqs} {
		steps, pos := make([]Step, len(batch)), make([]int, len(batch))
		for i, s := range batch {
			steps[i], pos[i] = Step{Seq: s}, s.Len()-1
		}
		b := m.newBuffers(len(steps), false, pos)
		for i := range b.q {
			b.q[i] = float32(r.NormFloat64())
		}
		for _, l := range []int{0, m.Layers - 1} {
			clear(b.att)
			m.parallel(len(steps)*m.Heads, 1, func(lo, hi int) {
				var scores []float32
				for t := lo; t < hi; t++ {
					scores = m.attend(b.att, b.q, steps[t/m.Heads].Seq, l, t/m.Heads, t%m.Heads, pos[t/m.Heads], scores)
				}
			})
			want := slices.Clone(b.att)
			clear(b.att)
			for t := range len(steps) * m.KVHeads {
				m.attendGroup(b.att, b.q, steps[t/m.KVHeads].Seq, l, t/m.KVHeads, t%m.KVHeads, pos[t/m.KVHeads], nil)
			}
			sameAttention(t, "attendGroup", len(batch), l, b.att, want)
			clear(b.att)
			m.attendSplit(b, steps, pos, l)
			sameAttention(t, "attendSplit", len(batch), l, b.att, want)
		}
	}
}

func sameAttention(t *testing.T, what string, batch, layer int, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s, batch %d, layer %d: value %d is %g, one head at a time gives %g", what, batch, layer, i, got[i], want[i])
		}
	}
}
