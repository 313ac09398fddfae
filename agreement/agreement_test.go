package agreement

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// ratingsFrom builds ratings from rows of values per annotator; "" is a missing rating.
func ratingsFrom(annotators []string, rows [][]string) []Rating {
	var ratings []Rating
	for i, annotator := range annotators {
		for unit, value := range rows[i] {
			ratings = append(ratings, Rating{Unit: fmt.Sprintf("u%02d", unit+1), Annotator: annotator, Value: value})
		}
	}
	return ratings
}

func near(got, want float64) bool {
	return math.Abs(got-want) < 1e-9
}

// TestKrippendorffAlphaWorkedExample uses the reliability data matrix of
// Krippendorff's "Computing Krippendorff's Alpha-Reliability" (2011): four
// observers, twelve units, values 1–5, with missing ratings. The paper gives
// alpha = 0.743 for nominal data. Unit 12 has a single rating and is not
// pairable, leaving 11 units.
func TestKrippendorffAlphaWorkedExample(t *testing.T) {
	ratings := ratingsFrom([]string{"A", "B", "C", "D"}, [][]string{
		{"1", "2", "3", "3", "2", "1", "4", "1", "2", "", "", ""},
		{"1", "2", "3", "3", "2", "2", "4", "1", "2", "5", "", "3"},
		{"", "3", "3", "3", "2", "3", "4", "2", "2", "5", "1", ""},
		{"1", "2", "3", "3", "2", "4", "4", "1", "2", "5", "1", ""},
	})
	alpha, units, ok := KrippendorffAlpha(ratings)
	if !ok || units != 11 {
		t.Fatalf("alpha = %v, units = %d, ok = %v; want 11 units", alpha, units, ok)
	}
	if math.Round(alpha*1000)/1000 != 0.743 {
		t.Errorf("alpha = %.6f, want 0.743", alpha)
	}
}

// TestKrippendorffAlphaBinaryExample is the paper's two-observer binary case
// without missing data (alpha = 0.095). By hand: four units disagree, so
// o_01 = o_10 = 4; o_00 = 10 and o_11 = 2; n_0 = 14, n_1 = 6, n = 20;
// alpha = 1 - 19·8 / (2·14·6) = 1 - 76/84 = 2/21.
func TestKrippendorffAlphaBinaryExample(t *testing.T) {
	ratings := ratingsFrom([]string{"A", "B"}, [][]string{
		{"0", "1", "0", "0", "0", "0", "0", "0", "1", "0"},
		{"1", "1", "1", "0", "0", "1", "0", "0", "0", "0"},
	})
	alpha, units, ok := KrippendorffAlpha(ratings)
	if !ok || units != 10 || !near(alpha, 2.0/21) {
		t.Errorf("alpha = %v, units = %d, ok = %v; want 2/21 over 10 units", alpha, units, ok)
	}
}

// TestCohenKappaTwoCategories: 50 units, both say yes on 20, A yes/B no on 5,
// A no/B yes on 10, both no on 15. p_o = 35/50 = 0.7; A says yes 25/50 = 0.5,
// B says yes 30/50 = 0.6; p_e = 0.5·0.6 + 0.5·0.4 = 0.5; kappa = 0.2/0.5 = 0.4.
func TestCohenKappaTwoCategories(t *testing.T) {
	var ratings []Rating
	add := func(count int, a, b string) {
		for range count {
			unit := fmt.Sprintf("p%d", len(ratings)/2)
			ratings = append(ratings, Rating{Unit: unit, Annotator: "ann", Value: a}, Rating{Unit: unit, Annotator: "bea", Value: b})
		}
	}
	add(20, "yes", "yes")
	add(5, "yes", "no")
	add(10, "no", "yes")
	add(15, "no", "no")
	kappa, n, ok := CohenKappa(ratings, "ann", "bea")
	if !ok || n != 50 || !near(kappa, 0.4) {
		t.Errorf("kappa = %v, n = %d, ok = %v; want 0.4 over 50", kappa, n, ok)
	}
}

// TestCohenKappaBestAnswer is the app's use: which answer was best, or a tie.
// Agreement on 7 of 10 units, p_o = 0.7. Both annotators picked "11" five
// times, "12" three times and "tie" twice, so p_e = (25+9+4)/100 = 0.38 and
// kappa = (0.7-0.38)/(1-0.38) = 0.32/0.62 = 16/31.
func TestCohenKappaBestAnswer(t *testing.T) {
	ratings := ratingsFrom([]string{"alice", "bob"}, [][]string{
		{"11", "11", "11", "11", "12", "12", "12", "tie", "tie", "11"},
		{"11", "11", "11", "12", "12", "12", "tie", "tie", "11", "11"},
	})
	kappa, n, ok := CohenKappa(ratings, "alice", "bob")
	if !ok || n != 10 || !near(kappa, 16.0/31) {
		t.Errorf("kappa = %v, n = %d, ok = %v; want 16/31 over 10", kappa, n, ok)
	}
	if reversed, _, _ := CohenKappa(ratings, "bob", "alice"); !near(reversed, kappa) {
		t.Errorf("kappa is not symmetric: %v vs %v", reversed, kappa)
	}
}

func TestPerfectAgreement(t *testing.T) {
	ratings := ratingsFrom([]string{"a", "b", "c"}, [][]string{
		{"x", "y", "z", "x"},
		{"x", "y", "z", "x"},
		{"x", "y", "", "x"},
	})
	if kappa, n, ok := CohenKappa(ratings, "a", "c"); !ok || n != 3 || kappa != 1 {
		t.Errorf("kappa = %v, n = %d, ok = %v; want 1 over 3", kappa, n, ok)
	}
	if alpha, units, ok := KrippendorffAlpha(ratings); !ok || units != 4 || alpha != 1 {
		t.Errorf("alpha = %v, units = %d, ok = %v; want 1 over 4", alpha, units, ok)
	}
}

func TestSystematicDisagreement(t *testing.T) {
	// p_o = 0 and p_e = 0.5, so kappa = -0.5/0.5 = -1.
	ratings := ratingsFrom([]string{"a", "b"}, [][]string{{"x", "y", "x", "y"}, {"y", "x", "y", "x"}})
	if kappa, _, ok := CohenKappa(ratings, "a", "b"); !ok || kappa != -1 {
		t.Errorf("kappa = %v, ok = %v; want -1", kappa, ok)
	}
	if alpha, _, ok := KrippendorffAlpha(ratings); !ok || alpha >= 0 {
		t.Errorf("alpha = %v, ok = %v; want below 0", alpha, ok)
	}
}

func TestUndefinedAndTooFew(t *testing.T) {
	oneCategory := ratingsFrom([]string{"a", "b"}, [][]string{{"tie", "tie", "tie"}, {"tie", "tie", "tie"}})
	if _, n, ok := CohenKappa(oneCategory, "a", "b"); ok || n != 3 {
		t.Errorf("one category: n = %d, ok = %v; want undefined over 3", n, ok)
	}
	if _, units, ok := KrippendorffAlpha(oneCategory); ok || units != 3 {
		t.Errorf("one category: units = %d, ok = %v; want undefined over 3", units, ok)
	}

	oneShared := ratingsFrom([]string{"a", "b"}, [][]string{{"x", "y", ""}, {"x", "", "y"}})
	if _, n, ok := CohenKappa(oneShared, "a", "b"); ok || n != 1 {
		t.Errorf("one shared unit: n = %d, ok = %v", n, ok)
	}
	if _, n, ok := CohenKappa(oneShared, "a", "nobody"); ok || n != 0 {
		t.Errorf("unknown annotator: n = %d, ok = %v", n, ok)
	}
	if _, units, ok := KrippendorffAlpha(nil); ok || units != 0 {
		t.Errorf("no ratings: units = %d, ok = %v", units, ok)
	}
	single := ratingsFrom([]string{"a", "b"}, [][]string{{"x", ""}, {"", "y"}})
	if _, units, ok := KrippendorffAlpha(single); ok || units != 0 {
		t.Errorf("no pairable unit: units = %d, ok = %v", units, ok)
	}
}

func TestLaterRatingReplacesEarlier(t *testing.T) {
	ratings := ratingsFrom([]string{"a", "b"}, [][]string{{"x", "y"}, {"x", "y"}})
	ratings = append([]Rating{{Unit: "u01", Annotator: "a", Value: "y"}}, ratings...)
	if kappa, n, ok := CohenKappa(ratings, "a", "b"); !ok || n != 2 || kappa != 1 {
		t.Errorf("kappa = %v, n = %d, ok = %v; the later rating should count", kappa, n, ok)
	}
	relabelled := append(ratings, Rating{Unit: "u01", Annotator: "a", Value: "y"})
	if kappa, _, ok := CohenKappa(relabelled, "a", "b"); !ok || kappa == 1 {
		t.Errorf("kappa = %v after a relabel to disagree, want below 1", kappa)
	}
}

func TestPairwiseKappa(t *testing.T) {
	ratings := ratingsFrom([]string{"carol", "alice", "bob", "dave"}, [][]string{
		{"11", "12", "11", "tie", ""},
		{"11", "12", "12", "tie", "11"},
		{"11", "12", "11", "11", "12"},
		{"", "", "", "", "12"}, // shares one unit with each: left out
	})
	got := PairwiseKappa(ratings)
	wantPairs := [][2]string{{"alice", "bob"}, {"alice", "carol"}, {"bob", "carol"}}
	var gotPairs [][2]string
	for _, p := range got {
		gotPairs = append(gotPairs, [2]string{p.A, p.B})
		kappa, n, _ := CohenKappa(ratings, p.A, p.B)
		if p.Kappa != kappa || p.N != n {
			t.Errorf("%s/%s = %v over %d, CohenKappa says %v over %d", p.A, p.B, p.Kappa, p.N, kappa, n)
		}
	}
	if !slices.Equal(gotPairs, wantPairs) {
		t.Errorf("pairs = %v, want %v", gotPairs, wantPairs)
	}
	if len(PairwiseKappa(nil)) != 0 {
		t.Error("pairs from no ratings")
	}
}
