package llama

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses next tokens from logits.
type Sampling struct {
	Temperature float64 // 0 means greedy
	TopP        float64 // 0 or 1 keeps every token
	TopK        int     // 0 keeps every token
	// RepeatPenalty above 1 makes tokens already in the sequence less likely
	// (divides positive logits, multiplies negative ones), as in transformers.
	RepeatPenalty float64
}

// Sampler draws tokens for one sequence with its own random stream, so a seed
// reproduces the same answer.
type Sampler struct {
	Sampling
	rng  *rand.Rand
	seen map[int]bool
	idx  []int
}

// NewSampler returns a sampler seeded with seed.
func NewSampler(s Sampling, seed uint64) *Sampler {
	return &Sampler{Sampling: s, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seen: map[int]bool{}}
}

// Observe records a token of the sequence for the repetition penalty.
func (s *Sampler) Observe(token int) { s.seen[token] = true }

// Next picks the next token from logits, which it may modify.
func (s *Sampler) Next(logits []float32) int {
	s.penalize(logits)
	if s.Temperature <= 0 {
		return Argmax(logits)
	}
	return s.draw(logits)
}

func (s *Sampler) penalize(logits []float32) {
	p := float32(s.RepeatPenalty)
	if p <= 0 || p == 1 {
		return
	}
	for t := range s.seen {
		if logits[t] > 0 {
			logits[t] /= p
		} else {
			logits[t] *= p
		}
	}
}

// negligible is how far below the best logit, in units of the temperature,
// a token's probability is too small to matter (e^-30 ≈ 1e-13): such tokens
// are left out before sorting.
const negligible = 30

// draw samples from softmax(logits/temperature) restricted to the top-k
// tokens and then to the smallest set whose probability reaches top-p.
func (s *Sampler) draw(logits []float32) int {
	best := logits[Argmax(logits)]
	floor := best - float32(negligible*s.Temperature)
	s.idx = s.idx[:0]
	for i, l := range logits {
		if l >= floor {
			s.idx = append(s.idx, i)
		}
	}
	slices.SortFunc(s.idx, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return a - b
	})
	keep := len(s.idx)
	if s.TopK > 0 && s.TopK < keep {
		keep = s.TopK
	}
	probs := make([]float64, keep)
	top := float64(logits[s.idx[0]])
	var sum float64
	for i := range keep {
		probs[i] = math.Exp((float64(logits[s.idx[i]]) - top) / s.Temperature)
		sum += probs[i]
	}
	keep = nucleus(probs, sum, s.TopP)
	var total float64
	for _, p := range probs[:keep] {
		total += p
	}
	r := s.rng.Float64() * total
	for i, p := range probs[:keep] {
		r -= p
		if r < 0 {
			return s.idx[i]
		}
	}
	return s.idx[keep-1]
}

// nucleus returns how many of the sorted probabilities (summing to sum) form
// the smallest prefix whose share reaches topP.
func nucleus(probs []float64, sum, topP float64) int {
	if topP <= 0 || topP >= 1 {
		return len(probs)
	}
	var acc float64
	for i, p := range probs {
		acc += p / sum
		if acc >= topP {
			return i + 1
		}
	}
	return len(probs)
}

// Argmax is the index of the largest value (the first of equals).
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
