package llama

import (
	"math/rand/v2"
	"slices"

	"rustexpert/inference/tensor"
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
	rng   *rand.Rand
	seen  map[int]bool
	idx   []int       // candidate tokens
	probs []float32   // their probabilities relative to the best (candidateWeights)
	pairs []candidate // sorting scratch
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
// are left out.
const negligible = 30

// draw samples from softmax(logits/temperature) restricted to the top-k
// tokens and then to the smallest set of most likely tokens (ties by lower
// id) whose probability reaches top-p: the random number picks a token along
// that set from the most likely, or, with top-p off, along the candidates in
// id order. Only the tokens that can be in the top-p set are sorted: with a
// small model's flat logits thousands of tokens are within reach of the best,
// and sorting them all for every token of every answer took longer than
// computing the logits.
func (s *Sampler) draw(logits []float32) int {
	best := logits[Argmax(logits)]
	floor := best - float32(negligible*s.Temperature)
	s.idx = s.idx[:0]
	for i, l := range logits {
		if l >= floor {
			s.idx = append(s.idx, i)
		}
	}
	before := func(a, b int) bool { return logits[a] > logits[b] || logits[a] == logits[b] && a < b }
	if s.TopK > 0 && s.TopK < len(s.idx) {
		s.idx = bestK(s.idx, s.TopK, before)
		slices.Sort(s.idx) // back in id order, as without top-k
	}
	s.probs = candidateWeights(s.probs, logits, s.idx, best, s.Temperature)
	var sum float64
	for _, p := range s.probs {
		sum += float64(p)
	}
	keep := s.nucleus(sum, before)
	var total float64
	for _, p := range s.probs[:keep] {
		total += float64(p)
	}
	r := s.rng.Float64() * total
	for i, p := range s.probs[:keep] {
		r -= float64(p)
		if r < 0 {
			return s.idx[i]
		}
	}
	return s.idx[keep-1]
}

// candidateWeights returns, in buf, exp((logit − best)/temperature) of the candidates idx, computed
// in float32 by the vector exponential (tensor.Exp): at a temperature near 1 a draw has tens
// of thousands of candidates, and one float64 exponential each cost more than the rest of it.
func candidateWeights(buf, logits []float32, idx []int, best float32, temperature float64) []float32 {
	buf = buf[:0]
	inv := float32(1 / temperature)
	for _, i := range idx {
		buf = append(buf, (logits[i]-best)*inv)
	}
	tensor.Exp(buf)
	return buf
}

// nucleus orders the candidates (s.idx, their probabilities in s.probs,
// summing to sum) from the most likely and returns how many form the
// smallest prefix whose share reaches s.TopP (all of them, unsorted, when
// top-p is off). It sorts only the candidates above a cut whose mass alone reaches
// top-p, the rest never being part of the prefix; where the sorted part's
// running share falls short after all (rounding), it sorts everything.
func (s *Sampler) nucleus(sum float64, before func(a, b int) bool) int {
	if s.TopP <= 0 || s.TopP >= 1 {
		return len(s.idx) // in id order: the same distribution, no sorting
	}
	n := len(s.idx)
	for _, cut := range []float64{1e-2, 1e-4, 1e-6} {
		if m := s.partition(cut); m < n && s.massAbove(m) >= s.TopP*sum {
			n = m
			break
		}
	}
	s.sortCandidates(n, before)
	if k, ok := prefixReaching(s.probs[:n], sum, s.TopP); ok || n == len(s.idx) {
		return k
	}
	s.sortCandidates(len(s.idx), before)
	k, _ := prefixReaching(s.probs, sum, s.TopP)
	return k
}

// partition moves the candidates with probability above cut (the best has
// 1) to the front and returns how many there are.
func (s *Sampler) partition(cut float64) int {
	m := 0
	for i, p := range s.probs {
		if float64(p) > cut {
			s.probs[i], s.probs[m] = s.probs[m], p
			s.idx[i], s.idx[m] = s.idx[m], s.idx[i]
			m++
		}
	}
	return m
}

func (s *Sampler) massAbove(m int) float64 {
	var mass float64
	for _, p := range s.probs[:m] {
		mass += float64(p)
	}
	return mass
}

// sortCandidates sorts the first n candidates, and their probabilities
// with them, most likely first.
func (s *Sampler) sortCandidates(n int, before func(a, b int) bool) {
	pairs := s.pairs[:0]
	for i := range n {
		pairs = append(pairs, candidate{s.idx[i], s.probs[i]})
	}
	slices.SortFunc(pairs, func(a, b candidate) int {
		switch {
		case before(a.id, b.id):
			return -1
		case before(b.id, a.id):
			return 1
		}
		return 0
	})
	for i, c := range pairs {
		s.idx[i], s.probs[i] = c.id, c.p
	}
	s.pairs = pairs
}

type candidate struct {
	id int
	p  float32
}

// prefixReaching returns how many of the sorted probabilities (of a total
// sum) form the smallest prefix whose share reaches topP, and whether any
// does.
func prefixReaching(probs []float32, sum, topP float64) (int, bool) {
	var acc float64
	for i, p := range probs {
		acc += float64(p) / sum
		if acc >= topP {
			return i + 1, true
		}
	}
	return len(probs), false
}

// bestK returns the k candidates of idx that come first in the order
// before (unordered), through a heap that keeps the k best seen so far.
func bestK(idx []int, k int, before func(a, b int) bool) []int {
	h := slices.Clone(idx[:k])
	// h is a heap whose root is the worst of the k kept.
	worse := func(i, j int) bool { return before(h[j], h[i]) }
	down := func(i int) {
		for {
			w := i
			for _, c := range []int{2*i + 1, 2*i + 2} {
				if c < len(h) && worse(c, w) {
					w = c
				}
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, t := range idx[k:] {
		if before(t, h[0]) {
			h[0] = t
			down(0)
		}
	}
	return append(idx[:0], h...)
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
