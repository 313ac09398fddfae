package arena

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Convergence of the MM iterations: stop when no log-strength moves more than fitTolerance, or
// after fitMaxIterations.
const (
	fitTolerance     = 1e-9
	fitMaxIterations = 20000
)

// fitCounts fits Bradley–Terry strengths to per-pair counts (wins of the pair's first model, of its
// second, ties) by Hunter's MM iterations: p_i ← W_i / Σ_j n_ij / (p_i + p_j), where W_i counts i's
// wins (ties half) and n_ij the battles of i and j, each pair of models with a virtual tie of weight
// prior. start, when given, is a warm start (log strengths). It returns natural-log strengths with
// mean 0.
func fitCounts(m int, pairs []pair, counts []float64, prior float64, start []float64) []float64 {
	n := make([]float64, m*m)
	wins := make([]float64, m)
	for i := range m {
		for j := range m {
			if i != j {
				n[i*m+j] = prior
			}
		}
		wins[i] = prior / 2 * float64(m-1)
	}
	for p, pr := range pairs {
		w1, w2, t := counts[3*p], counts[3*p+1], counts[3*p+2]
		n[pr.i*m+pr.j] += w1 + w2 + t
		n[pr.j*m+pr.i] += w1 + w2 + t
		wins[pr.i] += w1 + t/2
		wins[pr.j] += w2 + t/2
	}
	strength := make([]float64, m)
	for i := range strength {
		strength[i] = 1
		if start != nil {
			strength[i] = math.Exp(start[i])
		}
	}
	next := make([]float64, m)
	for range fitMaxIterations {
		for i := range m {
			var denom float64
			row := n[i*m : (i+1)*m]
			for j, nij := range row {
				if nij != 0 {
					denom += nij / (strength[i] + strength[j])
				}
			}
			next[i] = wins[i] / denom
		}
		moved := normalize(next, strength)
		strength, next = next, strength
		if moved < fitTolerance {
			break
		}
	}
	out := make([]float64, m)
	for i, s := range strength {
		out[i] = math.Log(s)
	}
	return out
}

// normalize scales p to geometric mean 1 and returns the largest change of a log strength from prev.
func normalize(p, prev []float64) float64 {
	var sum float64
	for _, v := range p {
		sum += math.Log(v)
	}
	scale := math.Exp(-sum / float64(len(p)))
	var moved float64
	for i := range p {
		p[i] *= scale
		moved = max(moved, math.Abs(math.Log(p[i])-math.Log(prev[i])))
	}
	return moved
}

// bootstrap refits the ratings on Rounds resamples of the battles (drawn with replacement, as many
// as there are battles). Round r draws from a generator seeded by (Seed, r) and writes only its own
// slot, so the result does not depend on the number of workers. Each resample is tallied into
// per-pair counts and fitted from the point estimate.
func bootstrap(c compact, point []float64, opts Options) [][]float64 {
	rounds := opts.Rounds
	if rounds == 0 || len(c.codes) == 0 {
		return nil
	}
	start := make([]float64, len(point))
	for i, v := range point {
		start[i] = (v - opts.Mean) * math.Ln10 / eloScale
	}
	samples := make([][]float64, rounds)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, rounds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			counts := make([]float64, 3*len(c.pairs))
			for r := w; r < rounds; r += workers {
				samples[r] = resampleFit(c, counts, start, opts, r)
			}
		})
	}
	wg.Wait()
	return samples
}

// resampleFit draws one bootstrap resample into counts and fits it.
func resampleFit(c compact, counts, start []float64, opts Options, round int) []float64 {
	clear(counts)
	rng := rand.New(rand.NewPCG(opts.Seed, uint64(round)))
	n := uint64(len(c.codes))
	codes := c.codes
	for range codes {
		counts[codes[rng.Uint64N(n)]]++
	}
	s := fitCounts(len(c.models), c.pairs, counts, opts.Prior, start)
	toElo(s, opts.Mean)
	return s
}

// Elo is the online Elo rating of every model after the battles in order: each starts at mean,
// and each battle moves both sides by EloK times the surprise (ties and both-bad count as half a
// win). Invalid battles are skipped.
func Elo(battles []Battle, mean float64) map[string]float64 {
	if mean == 0 {
		mean = DefaultMean
	}
	rating := map[string]float64{}
	get := func(name string) float64 {
		if v, ok := rating[name]; ok {
			return v
		}
		return mean
	}
	for _, b := range battles {
		if b.A == "" || b.B == "" || b.A == b.B || b.Outcome < WinA || b.Outcome > BothBad {
			continue
		}
		ra, rb := get(b.A), get(b.B)
		expectA := 1 / (1 + math.Pow(eloBase, (rb-ra)/eloScale))
		scoreA := 0.5
		switch b.Outcome {
		case WinA:
			scoreA = 1
		case WinB:
			scoreA = 0
		}
		rating[b.A] = ra + EloK*(scoreA-expectA)
		rating[b.B] = rb + EloK*((1-scoreA)-(1-expectA))
	}
	return rating
}
