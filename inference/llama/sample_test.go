package llama

import (
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
