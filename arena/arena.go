// Package arena rates models from blind pairwise battles: a Bradley–Terry model fitted by
// maximum likelihood (minorization–maximization over per-pair win counts) with bootstrap
// confidence intervals, an online Elo rating as a secondary view, and win-fraction and
// battle-count matrices. Ratings are on the Elo scale: 400·log10 of the strength, shifted so that
// the ratings' mean is Options.Mean. It is pure: no I/O, no shared state.
package arena

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Outcome is how one battle ended.
type Outcome int8

// Outcomes of a battle. BothBad counts as a tie for the ratings: neither answer was better.
const (
	WinA Outcome = iota
	WinB
	Tie
	BothBad
)

// Battle is one voted battle between models A and B.
type Battle struct {
	A, B    string
	Outcome Outcome
}

// Options tune Fit; zero values take the defaults.
type Options struct {
	// Rounds is the number of bootstrap rounds (default 1000; negative: none).
	Rounds int
	// Seed makes the bootstrap reproducible: round r draws from a generator seeded by (Seed, r).
	Seed uint64
	// Mean is the ratings' mean on the Elo scale (default 1000).
	Mean float64
	// Prior is the weight of a virtual tie added to every pair of models (default 0.01), so that a
	// model that never won, or models never compared, still get finite ratings.
	Prior float64
	// Workers run bootstrap rounds in parallel (default: the number of CPUs).
	Workers int
	// Level is the confidence level of the intervals (default 0.95).
	Level float64
}

// Defaults of Options.
const (
	DefaultRounds = 1000
	DefaultMean   = 1000
	DefaultPrior  = 0.01
	DefaultLevel  = 0.95
	// EloK is the online Elo update step, as in Chatbot Arena's online view.
	EloK = 4
	// eloScale and eloBase define the Elo scale: a 400-point lead means 10:1 odds.
	eloScale = 400
	eloBase  = 10
)

func (o Options) withDefaults() Options {
	if o.Rounds == 0 {
		o.Rounds = DefaultRounds
	}
	if o.Rounds < 0 {
		o.Rounds = 0
	}
	if o.Mean == 0 {
		o.Mean = DefaultMean
	}
	if o.Prior <= 0 {
		o.Prior = DefaultPrior
	}
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = DefaultLevel
	}
	return o
}

// Rating is one model's place on the leaderboard.
type Rating struct {
	Model string
	// Rank is 1 + the number of models whose interval lies wholly above this model's interval.
	Rank int
	// Score is the Bradley–Terry rating on the Elo scale; Lo and Hi bound its bootstrap interval.
	Score, Lo, Hi float64
	// Elo is the online Elo rating after every battle in order (K = EloK, start at Options.Mean).
	Elo float64
	// Battles counts the model's battles; Wins counts its wins, ties as half a win.
	Battles int
	Wins    float64
}

// WinRate is the share of the model's battles it won, ties counting half.
func (r Rating) WinRate() float64 {
	if r.Battles == 0 {
		return 0
	}
	return r.Wins / float64(r.Battles)
}

// Result is a fitted leaderboard.
type Result struct {
	// Ratings are sorted by Score, best first.
	Ratings []Rating
	// Models names the rows and columns of the matrices, in the order of Ratings.
	Models []string
	// WinFraction[i][j] is the share of battles between models i and j that i won, ties counting
	// half; NaN where they never met (and on the diagonal).
	WinFraction [][]float64
	// Count[i][j] is the number of battles between models i and j.
	Count [][]int
	// Rounds is the number of bootstrap rounds behind the intervals.
	Rounds int
}

// ErrBattle marks a battle that cannot be counted.
var ErrBattle = errors.New("bad battle")

// compact is the battles over model indexes: every battle one code, pair·3 + outcome, where the
// outcome is seen from the pair's first (lower-index) model: 0 it won, 1 it lost, 2 a tie.
type compact struct {
	models []string
	pairs  []pair
	codes  []int32
}

type pair struct{ i, j int }

// compile interns the model names and codes every battle.
func compile(battles []Battle) (compact, error) {
	index := map[string]int{}
	var c compact
	id := func(name string) int {
		k, ok := index[name]
		if !ok {
			k = len(c.models)
			index[name] = k
			c.models = append(c.models, name)
		}
		return k
	}
	type side struct{ i, j int }
	seen := map[side]int{}
	c.codes = make([]int32, len(battles))
	for n, b := range battles {
		if b.A == "" || b.B == "" || b.A == b.B {
			return compact{}, fmt.Errorf("%w %d: models %q and %q (two different names needed)", ErrBattle, n, b.A, b.B)
		}
		if b.Outcome < WinA || b.Outcome > BothBad {
			return compact{}, fmt.Errorf("%w %d: outcome %d is unknown", ErrBattle, n, b.Outcome)
		}
		i, j := id(b.A), id(b.B)
		out := int32(2)
		switch b.Outcome {
		case WinA:
			out = 0
		case WinB:
			out = 1
		}
		if i > j {
			i, j = j, i
			if out < 2 {
				out = 1 - out
			}
		}
		p, ok := seen[side{i, j}]
		if !ok {
			p = len(c.pairs)
			seen[side{i, j}] = p
			c.pairs = append(c.pairs, pair{i, j})
		}
		c.codes[n] = int32(p)*3 + out
	}
	return c, nil
}

// tally counts the codes: per pair, wins of its first model, wins of its second, ties.
func (c compact) tally() []float64 {
	counts := make([]float64, 3*len(c.pairs))
	for _, code := range c.codes {
		counts[code]++
	}
	return counts
}

// Fit rates the models of the battles. Ties and both-bad votes count as half a win for each side.
// A battle naming one model twice, or no model, is an error naming the battle's index.
func Fit(battles []Battle, opts Options) (Result, error) {
	opts = opts.withDefaults()
	c, err := compile(battles)
	if err != nil {
		return Result{}, err
	}
	if len(c.models) == 0 {
		return Result{}, nil
	}
	counts := c.tally()
	scores := fitCounts(len(c.models), c.pairs, counts, opts.Prior, nil)
	toElo(scores, opts.Mean)
	samples := bootstrap(c, scores, opts)
	elo := Elo(battles, opts.Mean)
	return assemble(c, counts, scores, samples, elo, opts), nil
}

// assemble builds the sorted leaderboard and its matrices.
func assemble(c compact, counts, scores []float64, samples [][]float64, elo map[string]float64, opts Options) Result {
	m := len(c.models)
	ratings := make([]Rating, m)
	for k, name := range c.models {
		ratings[k] = Rating{Model: name, Score: scores[k], Lo: scores[k], Hi: scores[k], Elo: elo[name]}
	}
	for p, pr := range c.pairs {
		w1, w2, t := counts[3*p], counts[3*p+1], counts[3*p+2]
		n := int(w1 + w2 + t)
		ratings[pr.i].Battles += n
		ratings[pr.j].Battles += n
		ratings[pr.i].Wins += w1 + t/2
		ratings[pr.j].Wins += w2 + t/2
	}
	if len(samples) > 0 {
		col := make([]float64, len(samples))
		for k := range ratings {
			for r, s := range samples {
				col[r] = s[k]
			}
			slices.Sort(col)
			ratings[k].Lo = quantile(col, (1-opts.Level)/2)
			ratings[k].Hi = quantile(col, 1-(1-opts.Level)/2)
		}
	}
	order := make([]int, m)
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if d := ratings[b].Score - ratings[a].Score; d != 0 {
			if d > 0 {
				return 1
			}
			return -1
		}
		return 0
	})
	res := Result{Rounds: len(samples)}
	pos := make([]int, m)
	for at, k := range order {
		res.Ratings = append(res.Ratings, ratings[k])
		res.Models = append(res.Models, c.models[k])
		pos[k] = at
	}
	for i := range res.Ratings {
		res.Ratings[i].Rank = 1
		for j := range res.Ratings {
			if res.Ratings[j].Lo > res.Ratings[i].Hi {
				res.Ratings[i].Rank++
			}
		}
	}
	res.WinFraction, res.Count = matrices(c, counts, pos)
	return res
}

// matrices lays the pair counts out by leaderboard position.
func matrices(c compact, counts []float64, pos []int) ([][]float64, [][]int) {
	m := len(c.models)
	frac := make([][]float64, m)
	count := make([][]int, m)
	for i := range frac {
		frac[i] = make([]float64, m)
		count[i] = make([]int, m)
		for j := range frac[i] {
			frac[i][j] = math.NaN()
		}
	}
	for p, pr := range c.pairs {
		w1, w2, t := counts[3*p], counts[3*p+1], counts[3*p+2]
		n := w1 + w2 + t
		a, b := pos[pr.i], pos[pr.j]
		count[a][b], count[b][a] = int(n), int(n)
		frac[a][b] = (w1 + t/2) / n
		frac[b][a] = (w2 + t/2) / n
	}
	return frac, count
}

// quantile is the q-quantile of sorted values, interpolating linearly between neighbours.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[lo+1]*f
}

// toElo turns natural-log strengths into Elo-scale ratings with the given mean.
func toElo(logStrength []float64, mean float64) {
	var sum float64
	for _, v := range logStrength {
		sum += v
	}
	avg := sum / float64(len(logStrength))
	for k, v := range logStrength {
		logStrength[k] = mean + eloScale*(v-avg)/math.Ln10
	}
}
