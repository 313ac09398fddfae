package arena

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// repeat is n battles of a against b with the outcome.
func repeat(n int, a, b string, o Outcome) []Battle {
	out := make([]Battle, n)
	for i := range out {
		out[i] = Battle{A: a, B: b, Outcome: o}
	}
	return out
}

func join(parts ...[]Battle) []Battle {
	var out []Battle
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func byModel(res Result) map[string]Rating {
	m := map[string]Rating{}
	for _, r := range res.Ratings {
		m[r.Model] = r
	}
	return m
}

// Two models, x winning 3 of 4: the rating difference is the log-odds on the Elo scale, 400·log10(3).
func TestTwoModelsGiveTheLogitDifference(t *testing.T) {
	battles := join(repeat(750, "x", "y", WinA), repeat(250, "x", "y", WinB))
	res, err := Fit(battles, Options{Rounds: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := byModel(res)
	want := 400 * math.Log10(3)
	if d := r["x"].Score - r["y"].Score; math.Abs(d-want) > 0.01 {
		t.Fatalf("x - y = %.4f, want %.4f", d, want)
	}
	if mean := (r["x"].Score + r["y"].Score) / 2; math.Abs(mean-1000) > 1e-9 {
		t.Errorf("mean %.6f, want 1000", mean)
	}
	if r["x"].Battles != 1000 || r["x"].Wins != 750 || r["x"].WinRate() != 0.75 || res.Ratings[0].Model != "x" {
		t.Errorf("x: %+v (first %q)", r["x"], res.Ratings[0].Model)
	}
}

// The sides a battle is written in do not matter: x as B winning is x winning.
func TestSidesAreSymmetric(t *testing.T) {
	a, _ := Fit(join(repeat(30, "x", "y", WinA), repeat(10, "x", "y", WinB)), Options{Rounds: -1})
	b, _ := Fit(join(repeat(30, "y", "x", WinB), repeat(10, "y", "x", WinA)), Options{Rounds: -1})
	if math.Abs(byModel(a)["x"].Score-byModel(b)["x"].Score) > 1e-6 {
		t.Fatalf("x rated %.4f and %.4f by side", byModel(a)["x"].Score, byModel(b)["x"].Score)
	}
}

// A cycle where every model beats the next as often as it loses to the previous one: equal ratings.
func TestSymmetricDataGivesEqualRatings(t *testing.T) {
	battles := join(repeat(20, "a", "b", WinA), repeat(20, "b", "c", WinA), repeat(20, "c", "a", WinA),
		repeat(20, "a", "b", WinB), repeat(20, "b", "c", WinB), repeat(20, "c", "a", WinB))
	res, err := Fit(battles, Options{Rounds: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Ratings {
		if math.Abs(r.Score-1000) > 1e-6 || r.Rank != 1 {
			t.Errorf("%s: %.6f rank %d, want 1000 rank 1", r.Model, r.Score, r.Rank)
		}
	}
}

// A tie is half a win each: one win and one loss rate like two ties, and ties alone give equal ratings.
func TestTiesCountHalf(t *testing.T) {
	// x: 6 wins, 2 losses, 4 ties → 8 of 12; the same as 8 wins and 4 losses.
	withTies := join(repeat(6, "x", "y", WinA), repeat(2, "x", "y", WinB), repeat(2, "x", "y", Tie), repeat(2, "x", "y", BothBad))
	noTies := join(repeat(8, "x", "y", WinA), repeat(4, "x", "y", WinB))
	a, _ := Fit(withTies, Options{Rounds: -1})
	b, _ := Fit(noTies, Options{Rounds: -1})
	da, db := byModel(a)["x"].Score-byModel(a)["y"].Score, byModel(b)["x"].Score-byModel(b)["y"].Score
	if math.Abs(da-db) > 1e-6 || math.Abs(da-400*math.Log10(2)) > 0.5 {
		t.Fatalf("with ties %.4f, without %.4f, want both ≈ %.4f", da, db, 400*math.Log10(2))
	}
	if w := byModel(a)["x"].Wins; w != 8 {
		t.Errorf("x has %.1f wins, want 8", w)
	}
	tied, _ := Fit(repeat(10, "x", "y", Tie), Options{Rounds: -1})
	if d := tied.Ratings[0].Score - tied.Ratings[1].Score; math.Abs(d) > 1e-9 {
		t.Errorf("ties only: difference %.6f", d)
	}
}

// synthetic draws n battles over models with the given true Elo-scale ratings.
func synthetic(n int, truth map[string]float64, names []string, seed uint64) []Battle {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([]Battle, n)
	for k := range out {
		i := rng.IntN(len(names))
		j := (i + 1 + rng.IntN(len(names)-1)) % len(names)
		a, b := names[i], names[j]
		pa := 1 / (1 + math.Pow(10, (truth[b]-truth[a])/400))
		o := WinB
		if u := rng.Float64(); u < 0.1 {
			o = Tie
		} else if rng.Float64() < pa {
			o = WinA
		}
		out[k] = Battle{A: a, B: b, Outcome: o}
	}
	return out
}

// The intervals hold the point estimate, and ten times the battles give narrower ones.
func TestIntervalsContainTheEstimateAndShrink(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	truth := map[string]float64{"a": 1100, "b": 1030, "c": 970, "d": 900}
	width := map[int]float64{}
	for _, n := range []int{400, 4000} {
		res, err := Fit(synthetic(n, truth, names, 7), Options{Rounds: 300, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rounds != 300 {
			t.Fatalf("%d rounds", res.Rounds)
		}
		for _, r := range res.Ratings {
			if r.Lo > r.Score || r.Hi < r.Score || r.Lo >= r.Hi {
				t.Errorf("n=%d %s: %.1f outside [%.1f, %.1f]", n, r.Model, r.Score, r.Lo, r.Hi)
			}
			width[n] += (r.Hi - r.Lo) / float64(len(res.Ratings))
		}
		if n == 4000 {
			for k, want := range names {
				if res.Ratings[k].Model != want {
					t.Errorf("place %d: %s, want %s", k+1, res.Ratings[k].Model, want)
				}
			}
		}
	}
	// The width goes as 1/√n: about 3.16 times narrower; allow noise.
	if ratio := width[400] / width[4000]; ratio < 2.5 || ratio > 4 {
		t.Fatalf("mean interval width %.1f at 400 battles, %.1f at 4000: ratio %.2f, want ≈ 3.16", width[400], width[4000], ratio)
	}
}

// The same seed gives the same intervals whatever the number of workers; another seed differs.
func TestBootstrapIsDeterministicBySeed(t *testing.T) {
	battles := synthetic(2000, map[string]float64{"a": 1050, "b": 1000, "c": 950}, []string{"a", "b", "c"}, 1)
	one, _ := Fit(battles, Options{Rounds: 100, Seed: 42, Workers: 1})
	four, _ := Fit(battles, Options{Rounds: 100, Seed: 42, Workers: 4})
	other, _ := Fit(battles, Options{Rounds: 100, Seed: 43, Workers: 4})
	if !reflect.DeepEqual(one.Ratings, four.Ratings) {
		t.Fatalf("1 worker %+v\n4 workers %+v", one.Ratings, four.Ratings)
	}
	if reflect.DeepEqual(one.Ratings, other.Ratings) {
		t.Fatal("another seed gave the same intervals")
	}
}

// A model that never wins still gets a finite rating, below the others.
func TestNeverWinningModelIsFinite(t *testing.T) {
	res, err := Fit(join(repeat(50, "x", "y", WinA), repeat(5, "y", "z", Tie)), Options{Rounds: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Ratings {
		if math.IsInf(r.Score, 0) || math.IsNaN(r.Score) || math.IsNaN(r.Lo) || math.IsNaN(r.Hi) {
			t.Fatalf("%s: %+v", r.Model, r)
		}
	}
	if res.Ratings[0].Model != "x" || res.Ratings[2].Model != "y" && res.Ratings[2].Model != "z" {
		t.Errorf("order %v", res.Models)
	}
}

func TestMatrices(t *testing.T) {
	battles := join(repeat(3, "x", "y", WinA), repeat(1, "y", "x", WinA), repeat(2, "x", "y", Tie), repeat(4, "y", "z", WinA))
	res, err := Fit(battles, Options{Rounds: -1})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for k, m := range res.Models {
		pos[m] = k
	}
	x, y, z := pos["x"], pos["y"], pos["z"]
	if res.Count[x][y] != 6 || res.Count[y][x] != 6 || res.Count[y][z] != 4 || res.Count[x][z] != 0 {
		t.Fatalf("counts %v (order %v)", res.Count, res.Models)
	}
	if f := res.WinFraction[x][y]; math.Abs(f-4.0/6) > 1e-12 {
		t.Errorf("x over y %.4f, want 4/6", f)
	}
	if f := res.WinFraction[y][x]; math.Abs(f-2.0/6) > 1e-12 {
		t.Errorf("y over x %.4f, want 2/6", f)
	}
	if !math.IsNaN(res.WinFraction[x][z]) || !math.IsNaN(res.WinFraction[x][x]) {
		t.Errorf("never met: %v", res.WinFraction[x])
	}
}

// Elo moves by K/2 on the first battle between equals, and a tie between equals moves nothing.
func TestEloOnline(t *testing.T) {
	r := Elo([]Battle{{A: "x", B: "y", Outcome: WinA}}, 1000)
	if r["x"] != 1002 || r["y"] != 998 {
		t.Fatalf("after one win: %v", r)
	}
	r = Elo([]Battle{{A: "x", B: "y", Outcome: Tie}, {A: "x", B: "y", Outcome: BothBad}}, 1000)
	if r["x"] != 1000 || r["y"] != 1000 {
		t.Fatalf("after ties: %v", r)
	}
	// Order matters: the same battles in another order end elsewhere.
	a := Elo([]Battle{{A: "x", B: "y", Outcome: WinA}, {A: "x", B: "y", Outcome: WinB}}, 1000)
	b := Elo([]Battle{{A: "x", B: "y", Outcome: WinB}, {A: "x", B: "y", Outcome: WinA}}, 1000)
	if a["x"] >= 1000 || b["x"] <= 1000 {
		t.Errorf("x after win then loss %.4f, after loss then win %.4f", a["x"], b["x"])
	}
}

func TestBadBattlesAreErrors(t *testing.T) {
	for _, b := range []Battle{{A: "x", B: "x"}, {A: "", B: "y"}, {A: "x", B: "y", Outcome: 9}} {
		_, err := Fit([]Battle{{A: "p", B: "q"}, b}, Options{})
		if !errors.Is(err, ErrBattle) {
			t.Errorf("%+v: %v, want ErrBattle", b, err)
		}
	}
	res, err := Fit(nil, Options{})
	if err != nil || len(res.Ratings) != 0 {
		t.Errorf("no battles: %+v, %v", res, err)
	}
}

func TestIdentityNamedIn(t *testing.T) {
	id := Identity{Names: []string{"v2", "base"}, Families: []string{Family("models/base/SmolLM2-135M-Instruct.Q4_1.gguf")}}
	if id.Families[0] != "SmolLM" {
		t.Fatalf("family %q, want SmolLM", id.Families[0])
	}
	for answer, want := range map[string]string{
		"I am V2, a helpful model.":        "v2",
		"As smollm2 I think…":              "SmolLM",
		"I'm SmolLM.":                      "SmolLM",
		"Use v20 of the crate.":            "",
		"the database layer":               "",
		"(base) case":                      "base",
		"nothing to see":                   "",
		"xsmollm is not a family mention.": "",
	} {
		if got := id.NamedIn(answer); got != want {
			t.Errorf("%q: named %q, want %q", answer, got, want)
		}
	}
	if f := Family("gpt"); f != "" {
		t.Errorf("Family(gpt) = %q, want none (too short)", f)
	}
}
