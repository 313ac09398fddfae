package llama

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestSamplerGreedyAndRestrictions(t *testing.T) {
	logits := []float32{0.1, 2, -1, 1.9}
	cases := []struct {
		name string
		s    Sampling
		want int
	}{
		{"greedy", Sampling{}, 1},
		{"top-k 1", Sampling{Temperature: 1, TopK: 1}, 1},
		{"top-p tiny", Sampling{Temperature: 1, TopP: 0.01}, 1},
		{"penalty moves the argmax", Sampling{RepeatPenalty: 1.1}, 3},
	}
	for _, c := range cases {
		for seed := range uint64(20) {
			s := NewSampler(c.s, seed)
			s.Observe(1)
			if got := s.Next(slices.Clone(logits)); got != c.want {
				t.Fatalf("%s, seed %d: got %d, want %d", c.name, seed, got, c.want)
			}
		}
	}
}

func TestSamplerFollowsTheDistribution(t *testing.T) {
	probs := []float64{0.5, 0.3, 0.15, 0.05}
	logits := make([]float32, len(probs))
	for i, p := range probs {
		logits[i] = float32(math.Log(p))
	}
	check := func(name string, s Sampling, want []float64) {
		counts := make([]float64, len(probs))
		sampler := NewSampler(s, 7)
		const draws = 40000
		for range draws {
			counts[sampler.Next(slices.Clone(logits))]++
		}
		for i := range want {
			if got := counts[i] / draws; math.Abs(got-want[i]) > 0.01 {
				t.Errorf("%s: token %d drawn %.3f of the time, want %.3f", name, i, got, want[i])
			}
		}
	}
	check("temperature 1", Sampling{Temperature: 1}, probs)
	check("top-k 2", Sampling{Temperature: 1, TopK: 2}, []float64{0.5 / 0.8, 0.3 / 0.8, 0, 0})
	check("top-p 0.9", Sampling{Temperature: 1, TopP: 0.9}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0})
	// Temperature 0.5 squares the odds: p² normalised.
	var z float64
	for _, p := range probs {
		z += p * p
	}
	check("temperature 0.5", Sampling{Temperature: 0.5}, []float64{0.25 / z, 0.09 / z, 0.0225 / z, 0.0025 / z})
}

func TestSamplerSeedReproduces(t *testing.T) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	draw := func(seed uint64) []int {
		s := NewSampler(Sampling{Temperature: 1.2, TopP: 0.95}, seed)
		var out []int
		for range 50 {
			out = append(out, s.Next(slices.Clone(logits)))
		}
		return out
	}
	if !slices.Equal(draw(3), draw(3)) {
		t.Fatal("the same seed gave different draws")
	}
	if slices.Equal(draw(3), draw(4)) {
		t.Fatal("different seeds gave the same 50 draws")
	}
}

// drawSorted is Sampler.draw as the definition reads: every candidate within
// negligible·T of the best sorted (most likely first, ties by lower id), the
// top-k kept, then the smallest prefix whose share of their probability sum
// (added in id order) reaches top-p, drawn from with the sampler's stream —
// with top-p off, the top-k kept in id order.
func drawSorted(s *Sampler, logits []float32) int {
	best := logits[Argmax(logits)]
	var idx []int
	for i, l := range logits {
		if l >= best-float32(negligible*s.Temperature) {
			idx = append(idx, i)
		}
	}
	byRank := slices.Clone(idx)
	slices.SortStableFunc(byRank, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	if s.TopK > 0 && s.TopK < len(byRank) {
		byRank = byRank[:s.TopK]
		kept := map[int]bool{}
		for _, i := range byRank {
			kept[i] = true
		}
		idx = slices.DeleteFunc(idx, func(i int) bool { return !kept[i] })
	}
	w := candidateWeights(nil, logits, idx, best, s.Temperature) // the sampler's float32 weights
	byID := map[int]float64{}
	for j, i := range idx {
		byID[i] = float64(w[j])
	}
	prob := func(i int) float64 { return byID[i] }
	var sum float64
	for _, i := range idx {
		sum += prob(i)
	}
	keep := len(byRank)
	if s.TopP <= 0 || s.TopP >= 1 {
		byRank = idx // id order
	} else {
		var acc float64
		for k, i := range byRank {
			acc += prob(i) / sum
			if acc >= s.TopP {
				keep = k + 1
				break
			}
		}
	}
	var total float64
	for _, i := range byRank[:keep] {
		total += prob(i)
	}
	r := s.rng.Float64() * total
	for _, i := range byRank[:keep] {
		r -= prob(i)
		if r < 0 {
			return i
		}
	}
	return byRank[keep-1]
}

// The sampler sorts only the candidates that can be in the nucleus; it draws
// the tokens of the definition (drawSorted), seed for seed, over flat and
// peaked logits with ties, for several temperatures, top-p and top-k.
func TestSamplerDrawsAsTheDefinition(t *testing.T) {
	settings := []Sampling{
		{Temperature: 0.7, TopP: 0.95}, {Temperature: 0.2, TopP: 0.95}, {Temperature: 1, TopP: 0.5},
		{Temperature: 1.2, TopP: 0.999}, {Temperature: 1}, {Temperature: 0.8, TopK: 40},
		{Temperature: 0.8, TopK: 40, TopP: 0.9}, {Temperature: 1.5, TopP: 0.99, TopK: 2000},
	}
	for shape := range 6 {
		logits := make([]float32, 3000)
		for i := range logits {
			x := float64(i*7919%3000) / 3000
			switch shape % 3 {
			case 0: // flat: thousands within reach of the best
				logits[i] = float32(4 * math.Sin(13*x+float64(shape)))
			case 1: // peaked: a few tokens hold most of the mass
				logits[i] = float32(-20*x*x + 3*math.Cos(41*x))
			case 2: // coarse: many exact ties
				logits[i] = float32(math.Round(6 * math.Sin(5*x+float64(shape))))
			}
		}
		for _, set := range settings {
			fast, ref := NewSampler(set, uint64(shape)), NewSampler(set, uint64(shape))
			for d := range 25 {
				if got, want := fast.draw(slices.Clone(logits)), drawSorted(ref, logits); got != want {
					t.Fatalf("logits %d, %+v, draw %d: token %d, the definition draws %d", shape, set, d, got, want)
				}
			}
		}
	}
}

// BenchmarkSamplerDraw times one draw over 49,152 logits shaped like a small
// model's (flat: thousands within reach of the best) at the chat page's
// defaults (T 0.7, top-p off), a generation job's (top-p 0.95) and T 1.0.
func BenchmarkSamplerDraw(b *testing.B) {
	logits := make([]float32, 49152)
	for i := range logits {
		x := float64(i*7919%49152) / 49152
		logits[i] = float32(5*math.Sin(29*x) + 3*math.Cos(211*x))
	}
	for _, set := range []Sampling{{Temperature: 0.7}, {Temperature: 0.7, TopP: 0.95}, {Temperature: 1, TopP: 0.95}} {
		b.Run(fmt.Sprintf("T=%g,top-p=%g", set.Temperature, set.TopP), func(b *testing.B) {
			s := NewSampler(set, 1)
			work := make([]float32, len(logits))
			for b.Loop() {
				copy(work, logits)
				s.Next(work)
			}
		})
	}
}
