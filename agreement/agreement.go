// Package agreement measures how well annotators agree on nominal labels, such
// as which answer to a prompt they picked as best: Cohen's kappa for a pair of
// annotators and Krippendorff's alpha for any number of them with missing
// ratings.
package agreement

import (
	"maps"
	"slices"
)

// Rating is the category one annotator gave one unit (a prompt), for example the
// ID of the answer picked as best, or "tie".
type Rating struct {
	Unit      string
	Annotator string
	Value     string
}

// PairKappa is Cohen's kappa between annotators A and B over N shared units.
type PairKappa struct {
	A, B  string
	Kappa float64
	N     int
}

// table maps unit → annotator → value.
type table map[string]map[string]string

// tableOf collects ratings. An empty Value is a missing rating and is ignored;
// when an annotator rated a unit more than once the last rating counts, since a
// re-label replaces the earlier judgement.
func tableOf(ratings []Rating) table {
	t := table{}
	for _, r := range ratings {
		if r.Value == "" {
			continue
		}
		if t[r.Unit] == nil {
			t[r.Unit] = map[string]string{}
		}
		t[r.Unit][r.Annotator] = r.Value
	}
	return t
}

// CohenKappa returns Cohen's kappa between annotators a and b over the n units
// both rated. ok is false when n < 2 or when kappa is undefined because both
// annotators used one and the same category for every shared unit.
func CohenKappa(ratings []Rating, a, b string) (kappa float64, n int, ok bool) {
	return tableOf(ratings).cohen(a, b)
}

// cohen computes kappa = (p_o - p_e) / (1 - p_e) in integers scaled by n², so
// the undefined case is an exact comparison rather than a float test.
func (t table) cohen(a, b string) (float64, int, bool) {
	countA, countB := map[string]int{}, map[string]int{}
	n, agreed := 0, 0
	for _, values := range t {
		valueA, ratedA := values[a]
		valueB, ratedB := values[b]
		if !ratedA || !ratedB {
			continue
		}
		n++
		countA[valueA]++
		countB[valueB]++
		if valueA == valueB {
			agreed++
		}
	}
	if n < 2 {
		return 0, n, false
	}
	chance := 0 // p_e · n²
	for value, count := range countA {
		chance += count * countB[value]
	}
	if chance == n*n {
		return 0, n, false
	}
	return float64(n*agreed-chance) / float64(n*n-chance), n, true
}

// KrippendorffAlpha returns Krippendorff's alpha for nominal data over the units
// with at least two ratings, computed from the coincidence matrix:
// alpha = 1 - (n-1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k. ok is false when no unit
// has two ratings or when every pairable rating has the same value, where
// alpha is undefined.
func KrippendorffAlpha(ratings []Rating) (alpha float64, units int, ok bool) {
	t := tableOf(ratings)
	valueTotals := map[string]int{} // n_c
	pairable := 0                   // n
	observed := 0.0                 // Σ_{c≠k} o_ck
	// Sorted units make the float sum, and so the result, independent of map order.
	for _, unit := range slices.Sorted(maps.Keys(t)) {
		m := len(t[unit])
		if m < 2 {
			continue
		}
		units++
		pairable += m
		counts := map[string]int{}
		for _, value := range t[unit] {
			counts[value]++
		}
		same := 0
		for value, count := range counts {
			valueTotals[value] += count
			same += count * count
		}
		// Each ordered pair of different values in the unit adds 1/(m-1).
		observed += float64(m*m-same) / float64(m-1)
	}
	expected := pairable * pairable // becomes Σ_{c≠k} n_c·n_k
	for _, total := range valueTotals {
		expected -= total * total
	}
	if units == 0 || expected == 0 {
		return 0, units, false
	}
	return 1 - float64(pairable-1)*observed/float64(expected), units, true
}

// PairwiseKappa returns Cohen's kappa for every pair of annotators sharing at
// least two units, sorted by A then B with A < B. Pairs whose kappa is undefined
// are left out, because NaN can be neither shown nor encoded as JSON.
func PairwiseKappa(ratings []Rating) []PairKappa {
	t := tableOf(ratings)
	seen := map[string]bool{}
	for _, values := range t {
		for annotator := range values {
			seen[annotator] = true
		}
	}
	annotators := slices.Sorted(maps.Keys(seen))
	var pairs []PairKappa
	for i, a := range annotators {
		for _, b := range annotators[i+1:] {
			if kappa, n, ok := t.cohen(a, b); ok {
				pairs = append(pairs, PairKappa{A: a, B: b, Kappa: kappa, N: n})
			}
		}
	}
	return pairs
}
