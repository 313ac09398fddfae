package eval

import (
	"fmt"
	"math"
)

// PassAtK is the unbiased estimate of pass@k for one problem from n samples of which c passed (Chen et
// al., "Evaluating Large Language Models Trained on Code"): 1 - C(n-c, k) / C(n, k), the chance that k
// samples drawn without replacement hold at least one that passes. The ratio of binomials is computed as
// the product of (1 - k/i) for i from n-c+1 to n, which never forms the large binomials. It is NaN when k
// is not in 1..n or c is not in 0..n.
func PassAtK(n, c, k int) float64 {
	if n < 1 || k < 1 || k > n || c < 0 || c > n {
		return math.NaN()
	}
	if n-c < k {
		return 1
	}
	fail := 1.0
	for i := n - c + 1; i <= n; i++ {
		fail *= 1 - float64(k)/float64(i)
	}
	return 1 - fail
}

// MeanPassAtK averages PassAtK over problems, given each problem's sample count and passes. Problems with
// fewer than k samples are left out; ok is false when none is left.
func MeanPassAtK(samples, passes []int, k int) (mean float64, ok bool) {
	sum, count := 0.0, 0
	for i := range samples {
		if samples[i] < k {
			continue
		}
		sum += PassAtK(samples[i], passes[i], k)
		count++
	}
	if count == 0 {
		return 0, false
	}
	return sum / float64(count), true
}

// Summary aggregates the results of one benchmark run.
type Summary struct {
	Problems       int                 `json:"problems"`
	Samples        int                 `json:"samples"`
	N              int                 `json:"n"` // most samples of one problem
	Passed         int                 `json:"passed"`
	PassAtK        map[string]float64  `json:"pass_at_k"` // "pass@1", "pass@10", … for k up to the fewest samples of a problem
	CompileRate    float64             `json:"compile_rate"`
	LintsPerAnswer float64             `json:"lints_per_answer"` // mean clippy lints of compiled answers whose lints were counted
	LintedAnswers  int                 `json:"linted_answers"`
	Statuses       map[string]int      `json:"statuses"`
	Categories     map[string]*Summary `json:"categories,omitempty"`
	Unsolved       []string            `json:"unsolved,omitempty"` // problems no sample passed, in order
}

// passKs are the k reported, those not above the samples of every problem.
var passKs = []int{1, 5, 10, 100}

// Summarize computes pass@k (unbiased, averaged over problems), the compile rate, lints per answer and
// the statuses, overall and per category.
func Summarize(results []SampleResult) Summary {
	s := summarize(results)
	byCategory := map[string][]SampleResult{}
	for _, r := range results {
		byCategory[r.Category] = append(byCategory[r.Category], r)
	}
	if len(byCategory) > 0 {
		s.Categories = map[string]*Summary{}
		for _, name := range sortedKeys(byCategory) {
			c := summarize(byCategory[name])
			c.Unsolved = nil
			s.Categories[name] = &c
		}
	}
	return s
}

func summarize(results []SampleResult) Summary {
	s := Summary{PassAtK: map[string]float64{}, Statuses: map[string]int{}}
	var order []string
	samples, passes := map[string]int{}, map[string]int{}
	compiled, lints := 0, 0
	for _, r := range results {
		if _, ok := samples[r.Problem]; !ok {
			order = append(order, r.Problem)
		}
		samples[r.Problem]++
		s.Statuses[r.Status]++
		if r.Passed {
			passes[r.Problem]++
			s.Passed++
		}
		if r.Compiled {
			compiled++
			if r.Lints >= 0 {
				lints += r.Lints
				s.LintedAnswers++
			}
		}
	}
	s.Problems, s.Samples = len(order), len(results)
	if s.Samples == 0 {
		return s
	}
	ns, cs := make([]int, len(order)), make([]int, len(order))
	for i, name := range order {
		ns[i], cs[i] = samples[name], passes[name]
		s.N = max(s.N, ns[i])
		if cs[i] == 0 {
			s.Unsolved = append(s.Unsolved, name)
		}
	}
	for _, k := range passKs {
		if k > slicesMin(ns) {
			break
		}
		s.PassAtK[fmt.Sprintf("pass@%d", k)], _ = MeanPassAtK(ns, cs, k)
	}
	s.CompileRate = float64(compiled) / float64(s.Samples)
	if s.LintedAnswers > 0 {
		s.LintsPerAnswer = float64(lints) / float64(s.LintedAnswers)
	}
	return s
}

func slicesMin(values []int) int {
	m := values[0]
	for _, v := range values[1:] {
		m = min(m, v)
	}
	return m
}
