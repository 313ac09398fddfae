package eval

import (
	"math"
	"math/big"
	"slices"
	"testing"
)

// exactPassAtK computes 1 - C(n-c, k)/C(n, k) with exact integers.
func exactPassAtK(n, c, k int) float64 {
	num := new(big.Int).Binomial(int64(n-c), int64(k))
	den := new(big.Int).Binomial(int64(n), int64(k))
	ratio, _ := new(big.Rat).SetFrac(num, den).Float64()
	return 1 - ratio
}

func TestPassAtKKnownValues(t *testing.T) {
	for _, tc := range []struct {
		n, c, k int
		want    float64
	}{
		{1, 0, 1, 0},
		{1, 1, 1, 1},
		{10, 1, 1, 0.1},
		{10, 3, 1, 0.3},
		{10, 0, 10, 0},
		{10, 1, 10, 1},
		{5, 5, 3, 1},
		{10, 5, 5, 1 - 1.0/252},      // C(5,5)/C(10,5)
		{4, 1, 2, 0.5},               // 1 - C(3,2)/C(4,2) = 1 - 3/6
		{20, 2, 5, 1 - 8568.0/15504}, // C(18,5) = 8568, C(20,5) = 15504
		{200, 1, 100, 0.5},           // one pass among 200, half drawn
		{200, 10, 1, 0.05},           // pass@1 is c/n
		{200, 37, 10, exactPassAtK(200, 37, 10)},
		{1000, 3, 100, exactPassAtK(1000, 3, 100)},
	} {
		got := PassAtK(tc.n, tc.c, tc.k)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("PassAtK(n=%d, c=%d, k=%d) = %.15f, want %.15f", tc.n, tc.c, tc.k, got, tc.want)
		}
	}
}

func TestPassAtKRefusesImpossibleCounts(t *testing.T) {
	for _, tc := range [][3]int{{0, 0, 1}, {5, 6, 1}, {5, -1, 1}, {5, 1, 0}, {5, 1, 6}} {
		if got := PassAtK(tc[0], tc[1], tc[2]); !math.IsNaN(got) {
			t.Errorf("PassAtK%v = %v, want NaN", tc, got)
		}
	}
}

func TestMeanPassAtKSkipsProblemsWithTooFewSamples(t *testing.T) {
	mean, ok := MeanPassAtK([]int{10, 10, 3}, []int{1, 0, 3}, 5)
	want := (exactPassAtK(10, 1, 5) + 0) / 2
	if !ok || math.Abs(mean-want) > 1e-12 {
		t.Errorf("mean = %v, %v; want %v", mean, ok, want)
	}
	if _, ok := MeanPassAtK([]int{3}, []int{1}, 5); ok {
		t.Error("no problem has 5 samples, yet a mean came back")
	}
}

func TestSummarize(t *testing.T) {
	results := []SampleResult{
		{Problem: "a", Category: "strings", Sample: 0, Status: StatusOK, Compiled: true, Passed: true, Lints: 2},
		{Problem: "a", Category: "strings", Sample: 1, Status: StatusTestFailed, Compiled: true, Lints: 0},
		{Problem: "b", Category: "math", Sample: 0, Status: StatusCompileError, Lints: -1},
		{Problem: "b", Category: "math", Sample: 1, Status: StatusNoCode, Lints: -1},
		{Problem: "c", Category: "math", Sample: 0, Status: StatusTimeout, Compiled: true, Lints: -1},
		{Problem: "c", Category: "math", Sample: 1, Status: StatusOK, Compiled: true, Passed: true, Lints: 1},
	}
	s := Summarize(results)
	if s.Problems != 3 || s.Samples != 6 || s.N != 2 || s.Passed != 2 {
		t.Errorf("counts %+v", s)
	}
	if got := s.PassAtK["pass@1"]; math.Abs(got-(0.5+0+0.5)/3) > 1e-12 || len(s.PassAtK) != 1 {
		t.Errorf("pass@k = %v", s.PassAtK)
	}
	if s.CompileRate != 4.0/6 || s.LintedAnswers != 3 || s.LintsPerAnswer != 1 {
		t.Errorf("compile rate %v, lints %v over %d", s.CompileRate, s.LintsPerAnswer, s.LintedAnswers)
	}
	if !slices.Equal(s.Unsolved, []string{"b"}) || s.Statuses[StatusOK] != 2 || s.Statuses[StatusNoCode] != 1 {
		t.Errorf("unsolved %v, statuses %v", s.Unsolved, s.Statuses)
	}
	math1 := s.Categories["math"]
	if math1 == nil || math1.Problems != 2 || math1.PassAtK["pass@1"] != 0.25 || math1.CompileRate != 0.5 {
		t.Errorf("math category %+v", math1)
	}
	if str := s.Categories["strings"]; str == nil || str.PassAtK["pass@1"] != 0.5 {
		t.Errorf("strings category %+v", str)
	}
	if empty := Summarize(nil); empty.Samples != 0 || len(empty.PassAtK) != 0 {
		t.Errorf("empty summary %+v", empty)
	}
}
