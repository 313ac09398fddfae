// Command arena measures the arena leaderboard's fit: Bradley–Terry maximum likelihood with a
// 1,000-round bootstrap over 100,000 synthetic votes among 10 models of known strengths (target
// ≤ 2 s). It checks that the fit recovers the models' order and prints the seconds of the fit, of
// the online Elo pass and of the whole.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"rustexpert/arena"
)

func main() {
	votes := flag.Int("votes", 100_000, "synthetic votes")
	models := flag.Int("models", 10, "models")
	rounds := flag.Int("rounds", arena.DefaultRounds, "bootstrap rounds")
	runs := flag.Int("runs", 5, "timed runs (the median is reported)")
	workers := flag.Int("workers", 0, "bootstrap workers (0: one per CPU)")
	flag.Parse()
	if *models < 2 || *votes < 1 || *runs < 1 {
		log.Fatal("arena: need at least 2 models, 1 vote and 1 run")
	}
	names, truth := strengths(*models)
	battles := synthetic(*votes, names, truth)
	var times []time.Duration
	var res arena.Result
	for range *runs {
		start := time.Now()
		var err error
		res, err = arena.Fit(battles, arena.Options{Rounds: *rounds, Seed: 1, Workers: *workers})
		if err != nil {
			log.Fatalf("arena: fit: %v", err)
		}
		times = append(times, time.Since(start))
	}
	start := time.Now()
	arena.Elo(battles, arena.DefaultMean)
	elo := time.Since(start)
	fmt.Printf("votes=%d models=%d rounds=%d runs=%d workers=%d (0: one per CPU)\n", *votes, *models, *rounds, *runs, *workers)
	fmt.Printf("fit+bootstrap median %.3f s (min %.3f s, max %.3f s); online Elo %.1f ms\n",
		median(times).Seconds(), slices.Min(times).Seconds(), slices.Max(times).Seconds(), float64(elo.Microseconds())/1000)
	ok := report(res, truth)
	if !ok {
		fmt.Println("FAIL: the recovered order differs from the true one")
		os.Exit(1)
	}
	fmt.Println("order recovered: ok")
}

// strengths are the true Elo-scale ratings: m0 best, 40 points apart.
func strengths(m int) ([]string, map[string]float64) {
	names := make([]string, m)
	truth := map[string]float64{}
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
		truth[names[i]] = 1200 - 40*float64(i)
	}
	return names, truth
}

// synthetic draws votes between random pairs: the better model wins with the Bradley–Terry
// probability, 10% of votes are ties and 5% both bad.
func synthetic(n int, names []string, truth map[string]float64) []arena.Battle {
	rng := rand.New(rand.NewPCG(2026, 11))
	out := make([]arena.Battle, n)
	for k := range out {
		i := rng.IntN(len(names))
		j := (i + 1 + rng.IntN(len(names)-1)) % len(names)
		a, b := names[i], names[j]
		pa := 1 / (1 + math.Pow(10, (truth[b]-truth[a])/400))
		o := arena.WinB
		switch u := rng.Float64(); {
		case u < 0.10:
			o = arena.Tie
		case u < 0.15:
			o = arena.BothBad
		case rng.Float64() < pa:
			o = arena.WinA
		}
		out[k] = arena.Battle{A: a, B: b, Outcome: o}
	}
	return out
}

// report prints the leaderboard next to the truth and says whether the order matches.
func report(res arena.Result, truth map[string]float64) bool {
	ok := true
	fmt.Println("place model  true    BT      95% CI            Elo")
	for k, r := range res.Ratings {
		want := fmt.Sprintf("m%d", k)
		if r.Model != want {
			ok = false
		}
		fmt.Printf("%5d %-5s %7.1f %7.1f [%7.1f, %7.1f] %7.1f\n", k+1, r.Model, truth[r.Model]-truthMean(truth)+arena.DefaultMean,
			r.Score, r.Lo, r.Hi, r.Elo)
	}
	return ok
}

func truthMean(truth map[string]float64) float64 {
	var s float64
	for _, v := range truth {
		s += v
	}
	return s / float64(len(truth))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
