package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"rustexpert/eval"
)

// verdict is what a judge said of one answer: whether it compiled (compile-only) or passed (with tests),
// and a status to count.
type verdict struct {
	ok     bool
	status string
}

// contender is one way of judging answers. Each of its passes over a block is timed apart: "warm" is the
// same judge (and so the same caches) running the block again right after "cold".
type contender struct {
	name   string
	passes []string
	judge  func(ctx context.Context, block []answer) ([]verdict, error)
	runs   func() int64 // compiler processes started so far; nil when not counted

	walls    []time.Duration
	cpu      []time.Duration // user + sys of this process and of its waited-for children
	verdicts [][]verdict
	started  []int64
}

// interleave runs every contender over the answers block by block, each block in a rotated order, so
// that all of them see the same background load of a shared machine (a phase measured alone would be
// measured under whatever else ran at that time).
func interleave(ctx context.Context, contenders []*contender, answers []answer, block int) error {
	for _, c := range contenders {
		c.walls = make([]time.Duration, len(c.passes))
		c.cpu = make([]time.Duration, len(c.passes))
		c.verdicts = make([][]verdict, len(c.passes))
		c.started = make([]int64, len(c.passes))
	}
	for b, start := 0, 0; start < len(answers); b, start = b+1, start+block {
		chunk := answers[start:min(start+block, len(answers))]
		for k := range contenders {
			c := contenders[(b+k)%len(contenders)]
			for p := range c.passes {
				if err := c.time(ctx, p, chunk); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
			}
		}
		fmt.Printf("  %d/%d answers (load average %s)\n", start+len(chunk), len(answers), loadAverage())
	}
	return nil
}

func (c *contender) time(ctx context.Context, pass int, chunk []answer) error {
	var before int64
	if c.runs != nil {
		before = c.runs()
	}
	cpuBefore := cpuTime()
	start := time.Now()
	v, err := c.judge(ctx, chunk)
	if err != nil {
		return err
	}
	c.walls[pass] += time.Since(start)
	c.cpu[pass] += cpuTime() - cpuBefore
	c.verdicts[pass] = append(c.verdicts[pass], v...)
	if c.runs != nil {
		c.started[pass] += c.runs() - before
	}
	return nil
}

// cpuTime is the processor time used so far by this process and by the children it has waited for
// (compilers, cargo and the tests, which run one at a time per contender), user and system together.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var u syscall.Rusage
		if syscall.Getrusage(who, &u) == nil {
			total += time.Duration(u.Utime.Nano() + u.Stime.Nano())
		}
	}
	return total
}

// rows turns the contenders into table rows, the first contender's first pass being the baseline.
func rows(contenders []*contender, answers []answer) []row {
	baseline := contenders[0].verdicts[0]
	var out []row
	for _, c := range contenders {
		for p, pass := range c.passes {
			notes := []string{statusCounts(c.verdicts[p])}
			if c.runs != nil {
				notes = append(notes, fmt.Sprintf("%d compiler runs", c.started[p]))
			}
			if len(out) > 0 {
				notes = append(notes, disagreements(answers, baseline, c.verdicts[p]))
			}
			what := c.name
			if pass != "" {
				what += ", " + pass
			}
			out = append(out, row{what: what, answers: len(answers), wall: c.walls[p], cpu: c.cpu[p], note: strings.Join(notes, "; ")})
		}
	}
	return out
}

// toolchainNames name the baselines' toolchains, in the order findToolchains returns them.
var toolchainNames = []string{"rustup's proxy on PATH", "the sysroot's binary"}

// compilePhase times the baselines (one full rustc per answer, one at a time: rustc as found on PATH, and
// the sysroot's rustc) and the Checker: cold and warm
// with `callers` goroutines asking at once, cold with one caller (how the background checker asks today),
// and cold and warm with clippy as `serve` runs it.
func compilePhase(ctx context.Context, baselines []toolchain, tmp string, answers []answer, callers, block int) error {
	if _, err := rustcOnce(ctx, baselines[0], tmp, "pub fn warm() {}\n"); err != nil { // loads the toolchain into the page cache
		return err
	}
	var contenders []*contender
	for i, tc := range baselines {
		contenders = append(contenders, &contender{
			name:   fmt.Sprintf("baseline: `rustc --crate-type lib` (full codegen), one at a time, %s", toolchainNames[i]),
			passes: []string{""},
			judge: func(ctx context.Context, block []answer) ([]verdict, error) {
				return baselineRustc(ctx, tc, tmp, block)
			}})
	}
	for _, s := range []struct {
		clippy  bool
		callers int
		passes  []string
	}{{false, callers, []string{"cold", "warm"}}, {false, 1, []string{"cold"}}, {true, callers, []string{"cold", "warm"}}} {
		checker, err := eval.NewChecker(eval.Options{TempDir: tmp, Clippy: s.clippy})
		if err != nil {
			return err
		}
		name := "Checker"
		if s.clippy {
			name += " + clippy"
		}
		contenders = append(contenders, &contender{name: fmt.Sprintf("%s, %d callers", name, s.callers), passes: s.passes,
			judge: func(ctx context.Context, block []answer) ([]verdict, error) {
				return checkerPass(ctx, checker, block, s.callers)
			}, runs: checker.Runs})
	}
	fmt.Printf("\ncompile-only, %d answers in blocks of %d\n", len(answers), block)
	if err := interleave(ctx, contenders, answers, block); err != nil {
		return err
	}
	printTable(fmt.Sprintf("Compile-only, %d answers", len(answers)), rows(contenders, answers))
	return nil
}

// checkerPass checks every answer as the background checker does (extract, join, Check), with callers
// goroutines at once.
func checkerPass(ctx context.Context, checker *eval.Checker, answers []answer, callers int) ([]verdict, error) {
	verdicts := make([]verdict, len(answers))
	next := make(chan int)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for i := range next {
				p := extract(answers[i].text)
				if !p.ok {
					verdicts[i] = verdict{status: "no code"}
					continue
				}
				res, err := checker.Check(ctx, p.Program)
				if err != nil {
					select { // the first error is reported; the worker goes on taking answers so the feed never blocks
					case errs <- fmt.Errorf("answer %d: %w", i, err):
					default:
					}
					continue
				}
				verdicts[i] = compileVerdict(res.Compiles)
			}
		})
	}
	for i := range answers {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return verdicts, nil
}

func compileVerdict(compiles bool) verdict {
	if compiles {
		return verdict{ok: true, status: "compiles"}
	}
	return verdict{status: "fails"}
}

// testPhase times the baselines (one plain cargo test per answer, one at a time: cargo as found on PATH,
// and the sysroot's cargo) and the Harness on the
// first `tested` answers that answer an Exercism exercise: as `rustexpert eval` runs it (lints on, a
// worker per core; cold and warm), without lints, and without lints with one worker (the harness's own
// commands without the pool).
func testPhase(ctx context.Context, baselines []toolchain, tmp, exercism string, answers []answer, tested, block int) error {
	bench, err := eval.LoadBench(exercism)
	if err != nil {
		return err
	}
	subset := exerciseAnswers(answers, tested)
	var contenders []*contender
	for i, tc := range baselines {
		contenders = append(contenders, &contender{
			name:   fmt.Sprintf("baseline: `cargo test -- --include-ignored` in a fresh folder, one at a time, %s", toolchainNames[i]),
			passes: []string{""},
			judge: func(ctx context.Context, block []answer) ([]verdict, error) {
				return baselineCargo(ctx, tc, tmp, bench, block)
			}})
	}
	for _, s := range []struct {
		lints   bool
		workers int // 0: one per core
		passes  []string
	}{{true, 0, []string{"cold", "warm"}}, {false, 0, []string{"cold"}}, {false, 1, []string{"cold"}}} {
		harness, err := eval.NewHarness(eval.HarnessOptions{Lints: s.lints, Workers: s.workers, TempDir: tmp})
		if err != nil {
			return err
		}
		contenders = append(contenders, &contender{
			name:   fmt.Sprintf("Harness, lints %s, %d workers", map[bool]string{true: "on", false: "off"}[s.lints], harness.Workers()),
			passes: s.passes,
			judge: func(ctx context.Context, block []answer) ([]verdict, error) {
				return harnessPass(ctx, harness, bench, block)
			}})
	}
	fmt.Printf("\nwith tests, %d answers to exercises in blocks of %d\n", len(subset), block)
	if err := interleave(ctx, contenders, subset, block); err != nil {
		return err
	}
	printTable(fmt.Sprintf("With tests, %d answers", len(subset)), rows(contenders, subset))
	return nil
}

// exerciseAnswers returns the first limit answers that answer an exercise (all of them when limit < 0).
func exerciseAnswers(answers []answer, limit int) []answer {
	var out []answer
	for _, a := range answers {
		if a.exercise != "" && (limit < 0 || len(out) < limit) {
			out = append(out, a)
		}
	}
	return out
}

// harnessPass scores the answers with the harness.
func harnessPass(ctx context.Context, h *eval.Harness, bench eval.Bench, answers []answer) ([]verdict, error) {
	samples := make([]eval.Sample, len(answers))
	for i, a := range answers {
		samples[i] = eval.Sample{Problem: a.exercise, Index: i, Text: a.text}
	}
	results, err := h.Score(ctx, bench, samples, nil)
	if err != nil {
		return nil, err
	}
	verdicts := make([]verdict, len(results))
	for i, r := range results {
		verdicts[i] = verdict{ok: r.Passed, status: r.Status}
	}
	return verdicts, nil
}

// statusCounts lists how many answers got each status, most frequent first.
func statusCounts(verdicts []verdict) string {
	counts := map[string]int{}
	for _, v := range verdicts {
		counts[v.status]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// disagreements says on how many answers a contender's verdict differs from the baseline's, naming the
// first few.
func disagreements(answers []answer, want, got []verdict) string {
	var differ []string
	for i := range want {
		if want[i].ok != got[i].ok {
			differ = append(differ, fmt.Sprintf("%s %s: %s, baseline %s", answers[i].kind, answers[i].exercise, got[i].status, want[i].status))
		}
	}
	if len(differ) == 0 {
		return "same verdicts as the baseline"
	}
	return fmt.Sprintf("%d verdicts differ from the baseline (%s)", len(differ), strings.Join(differ[:min(len(differ), 5)], "; "))
}
