package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"rustexpert/bundled"
	"rustexpert/eval"
	"rustexpert/inference"
	"rustexpert/inference/bert"
	"rustexpert/inference/builtin"
	"rustexpert/rag"
	"rustexpert/store"
)

const evalUsage = `usage: rustexpert eval --bench FILE|DIR (--model NAME [--n N] [--rag] [--save-completions FILE [--generate-only]] | --completions FILE [--name NAME]) [flags]
       rustexpert eval runs [--svg FILE]
       rustexpert eval report --jobs IDS [--held-out] --runs IDS [--out-dir DIR] [--readme FILE]
A FILE bench is MultiPL-E's Rust format (JSONL: name, prompt, tests, stop_tokens); a DIR bench is
Exercism's Rust track (one folder per exercise). The JSON summary goes to stdout, progress to stderr.`

// evalFlags are the options of one eval run.
type evalFlags struct {
	bench, model, completions string
	name, saveCompletions     string
	generateOnly              bool
	n                         int
	useRAG                    bool
	maxTokens                 int
	temperature, topP         float64
	seed                      int64
	limit                     int
	problems                  string
	workers, genWorkers       int
	lints                     bool
	compileTimeout            time.Duration
	runTimeout                time.Duration
	memoryMB                  int
	edition                   string
}

// eval scores a model (or existing completions) on a benchmark, stores the run and prints its summary.
func (e *cliEnv) eval(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "runs" {
		return e.evalRuns(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "report" {
		return e.evalReport(ctx, args[1:])
	}
	var cfg Config
	fs := e.flags("eval", &cfg)
	f := evalFlags{}
	fs.StringVar(&f.bench, "bench", "", "MultiPL-E Rust file (JSONL) or Exercism Rust folder")
	fs.StringVar(&f.model, "model", "", "registered model to generate the answers (rustexpert models list)")
	fs.StringVar(&f.completions, "completions", "", "JSONL of existing answers {name, completion} to score instead of a model")
	fs.IntVar(&f.n, "n", 1, "answers per problem (with --model)")
	fs.StringVar(&f.name, "name", "", "name of the run in reports (default: the model, +rag with --rag, or completions:FILE)")
	fs.StringVar(&f.saveCompletions, "save-completions", "", "also write the model's answers to this JSONL completions file")
	fs.BoolVar(&f.generateOnly, "generate-only", false, "with --save-completions: stop after writing the answers (no Rust toolchain needed; score them later with --completions)")
	fs.BoolVar(&f.useRAG, "rag", false, "answer with retrieved Rust documentation (the model's +rag variant)")
	fs.IntVar(&f.maxTokens, "max-tokens", 1024, "max_tokens of every answer")
	fs.Float64Var(&f.temperature, "temperature", -1, "sampling temperature (default 0.2 for --n 1, 0.8 above)")
	fs.Float64Var(&f.topP, "top-p", 0.95, "top_p of every answer")
	fs.Int64Var(&f.seed, "seed", -1, "sampling seed; -1 for none")
	fs.IntVar(&f.limit, "limit", 0, "only the first N problems (0: all)")
	fs.StringVar(&f.problems, "problems", "", "only these problems, comma-separated")
	fs.IntVar(&f.workers, "workers", 0, "answers compiled and tested at once (default: the number of cores)")
	fs.IntVar(&f.genWorkers, "gen-workers", 4, "problems asked of the model at once")
	fs.BoolVar(&f.lints, "lints", true, "count clippy's lints of compiled answers")
	fs.DurationVar(&f.compileTimeout, "compile-timeout", 0, "compile limit (default 15s rustc, 60s cargo)")
	fs.DurationVar(&f.runTimeout, "run-timeout", 0, "test run limit (default 5s MultiPL-E, 30s Exercism)")
	fs.IntVar(&f.memoryMB, "memory-mb", 2048, "address-space limit of the program under test, MiB")
	fs.StringVar(&f.edition, "edition", "2021", "Rust edition of MultiPL-E programs")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	bench, known, err := loadBench(f)
	if err != nil {
		return err
	}
	if f.generateOnly {
		return e.evalGenerateOnly(ctx, cfg, f, bench, known)
	}
	harness, err := eval.NewHarness(eval.HarnessOptions{Workers: f.workers, CompileTimeout: f.compileTimeout, RunTimeout: f.runTimeout,
		Memory: int64(f.memoryMB) << 20, Edition: f.edition, Lints: f.lints})
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	began := time.Now()
	label, samples, err := e.evalSamples(ctx, cfg, st, f, bench, known)
	if err != nil {
		return err
	}
	generated := time.Since(began)
	if f.saveCompletions != "" {
		if err := writeCompletions(f.saveCompletions, samples); err != nil {
			return err
		}
	}
	if f.name != "" {
		label = f.name
	}
	return e.scoreAndStore(ctx, st, harness, f, bench, label, samples, generated)
}

func (f *evalFlags) check() error {
	switch {
	case f.bench == "":
		return usageError{"eval: --bench is required\n" + evalUsage}
	case (f.model == "") == (f.completions == ""):
		return usageError{"eval: give either --model or --completions\n" + evalUsage}
	case f.n < 1 || f.n > 100:
		return usageError{fmt.Sprintf("eval: --n %d: want 1 to 100", f.n)}
	case f.completions != "" && (f.useRAG || f.n != 1 || f.saveCompletions != ""):
		return usageError{"eval: --rag, --n and --save-completions go with --model; --completions files hold their own samples"}
	case f.generateOnly && f.saveCompletions == "":
		return usageError{"eval: --generate-only needs --save-completions FILE"}
	case f.limit < 0 || f.maxTokens < 1 || f.memoryMB < 16 || f.genWorkers < 1:
		return usageError{"eval: --limit, --max-tokens, --memory-mb (16 or more) and --gen-workers must be positive"}
	}
	if f.temperature < 0 {
		f.temperature = 0.2
		if f.n > 1 {
			f.temperature = 0.8
		}
	}
	return nil
}

// loadBench reads the bench and keeps the problems asked for; known holds every problem's name.
func loadBench(f evalFlags) (bench eval.Bench, known map[string]bool, err error) {
	bench, err = eval.LoadBench(f.bench)
	if err != nil {
		return eval.Bench{}, nil, err
	}
	known = map[string]bool{}
	for _, p := range bench.Problems {
		known[p.Name] = true
	}
	if f.problems != "" {
		var kept []eval.Problem
		for _, name := range strings.Split(f.problems, ",") {
			p, ok := bench.Problem(strings.TrimSpace(name))
			if !ok {
				return eval.Bench{}, nil, usageError{fmt.Sprintf("eval: --problems: bench %s has no problem %q", bench.Name, name)}
			}
			kept = append(kept, p)
		}
		bench.Problems = kept
	}
	if f.limit > 0 && f.limit < len(bench.Problems) {
		bench.Problems = bench.Problems[:f.limit]
	}
	return bench, known, nil
}

// evalGenerateOnly asks the model and writes its answers as a completions file; nothing is scored
// or stored, so a machine without the Rust toolchain (a GPU server) can do this half.
func (e *cliEnv) evalGenerateOnly(ctx context.Context, cfg Config, f evalFlags, bench eval.Bench, known map[string]bool) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	label, samples, err := e.evalSamples(ctx, cfg, st, f, bench, known)
	if err != nil {
		return err
	}
	if err := writeCompletions(f.saveCompletions, samples); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d answers of %s to %d problems written to %s\n", len(samples), label, len(bench.Problems), f.saveCompletions)
	return nil
}

// writeCompletions writes samples as a completions file ({name, completion} per line, in sample order);
// a half-written file never looks complete.
func writeCompletions(path string, samples []eval.Sample) error {
	err := writeOutput(path, nil, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, s := range samples {
			if err := enc.Encode(map[string]string{"name": s.Problem, "completion": s.Text}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save completions to %s: %w", path, err)
	}
	return nil
}

// evalSamples reads the completions file or asks the model; it returns the run's model label too.
func (e *cliEnv) evalSamples(ctx context.Context, cfg Config, st *store.Store, f evalFlags, bench eval.Bench, known map[string]bool) (string, []eval.Sample, error) {
	if f.completions != "" {
		samples, err := completionSamples(f.completions, bench, known)
		return "completions:" + filepath.Base(f.completions), samples, err
	}
	if _, err := bundled.Register(ctx, st, cfg.ModelsDir); err != nil {
		return "", nil, err
	}
	m, err := st.ModelByName(ctx, f.model)
	if err != nil {
		return "", nil, err
	}
	engines := builtin.NewPool()
	defer engines.Close()
	gen, err := generatorFor(e.getenv, engines)(m)
	if err != nil {
		return "", nil, err
	}
	label := m.Name
	if f.useRAG {
		retrieve, closeRetriever := e.docsRetriever(cfg, st)
		defer closeRetriever()
		gen, label = rag.Augmented{Gen: gen, Retrieve: retrieve}, m.Name+"+rag"
	}
	samples, err := e.generateSamples(ctx, gen, m.ServedName, f, bench)
	return label, samples, err
}

// completionSamples reads a completions file: each problem's samples in file order; names the bench
// does not have are an error; problems filtered out of the bench are skipped.
func completionSamples(path string, bench eval.Bench, known map[string]bool) ([]eval.Sample, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("completions: %w", err)
	}
	defer file.Close()
	completions, err := eval.ReadCompletions(file, path)
	if err != nil {
		return nil, err
	}
	next := map[string]int{}
	var samples []eval.Sample
	for _, c := range completions {
		if _, ok := bench.Problem(c.Name); !ok {
			if known[c.Name] {
				continue
			}
			return nil, problemsError{fmt.Sprintf("%s:%d: bench %s has no problem %q", path, c.Line, bench.Name, c.Name)}
		}
		samples = append(samples, eval.Sample{Problem: c.Name, Index: next[c.Name], Text: c.Completion})
		next[c.Name]++
	}
	if len(samples) == 0 {
		return nil, problemsError{fmt.Sprintf("%s: no completion for the problems chosen", path)}
	}
	return samples, nil
}

// docsRetriever returns retrieval over the indexed docs for "+rag" answers: hybrid where the embedder
// and its vectors exist, else BM25.
func (e *cliEnv) docsRetriever(cfg Config, st *store.Store) (rag.Retriever, func()) {
	enc, err := bert.Load(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir))
	var emb rag.Embedder
	closeFn := func() {}
	if err == nil {
		emb, closeFn = enc, func() { enc.Close() }
	} else {
		fmt.Fprintln(e.stderr, "note: --rag ranks by BM25 only (no embedder)")
	}
	return indexRetriever(rag.NewIndex(st), emb), closeFn
}

// ragContextHits is how many chunks retrieval offers a "+rag" answer (the token budget keeps what fits).
const ragContextHits = 8

// generateSamples asks the model for n answers to every problem, --gen-workers problems at once. A
// problem the model fails to answer gets empty answers (scored no_code) and a note on stderr; when it
// answers none, that is an error (a model server that is down is not a model that writes no code).
func (e *cliEnv) generateSamples(ctx context.Context, gen inference.Generator, served string, f evalFlags, bench eval.Bench) ([]eval.Sample, error) {
	answers := make([][]string, len(bench.Problems))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, failed := 0, 0
	var firstErr error
	for range min(f.genWorkers, len(bench.Problems)) {
		wg.Go(func() {
			for i := range next {
				texts, err := askModel(ctx, gen, served, f, bench.Problems[i])
				mu.Lock()
				done++
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: the model failed: %v\n", bench.Problems[i].Name, err)
					failed++
					firstErr = cmp.Or(firstErr, err)
				}
				fmt.Fprintf(e.stderr, "generated %d/%d (%s)\n", done, len(bench.Problems), bench.Problems[i].Name)
				mu.Unlock()
				answers[i] = texts
			}
		})
	}
	for i := range bench.Problems {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if failed == len(bench.Problems) {
		return nil, fmt.Errorf("the model answered none of the %d problems; the first failure: %w", failed, firstErr)
	}
	var samples []eval.Sample
	for i, p := range bench.Problems {
		for j := range f.n {
			text := ""
			if j < len(answers[i]) {
				text = answers[i][j]
			}
			samples = append(samples, eval.Sample{Problem: p.Name, Index: j, Text: text})
		}
	}
	return samples, nil
}

func askModel(ctx context.Context, gen inference.Generator, served string, f evalFlags, p eval.Problem) ([]string, error) {
	params := inference.Params{Temperature: f.temperature, TopP: f.topP, MaxTokens: f.maxTokens, Stop: p.Stop}
	if f.seed >= 0 {
		params.Seed = &f.seed
	}
	res, err := gen.Chat(ctx, inference.Request{Model: served, Messages: []inference.Message{{Role: "user", Content: evalQuestion(p)}},
		Params: params, N: f.n}, nil)
	if err != nil {
		return nil, err
	}
	texts := make([]string, 0, len(res.Choices))
	for _, c := range res.Choices {
		texts = append(texts, c.Text)
	}
	return texts, nil
}

// evalQuestion is the user message for a problem: Exercism's prompt asks for src/lib.rs already;
// a MultiPL-E prompt is code to continue.
func evalQuestion(p eval.Problem) string {
	if p.Format == eval.FormatExercism {
		return p.Prompt
	}
	return "Complete this Rust function. Reply with the whole function in one ```rust code block.\n\n```rust\n" + p.Prompt + "```\n"
}

// evalOutput is the JSON summary printed on stdout.
type evalOutput struct {
	RunID             int64   `json:"run_id"`
	Model             string  `json:"model"`
	Bench             string  `json:"bench"`
	Format            string  `json:"format"`
	Isolation         string  `json:"isolation"`
	Workers           int     `json:"workers"`
	GenerationSeconds float64 `json:"generation_seconds"`
	ScoringSeconds    float64 `json:"scoring_seconds"`
	eval.Summary
}

// scoreAndStore records the run, scores every sample (each result stored as it is ready) and prints the
// summary.
func (e *cliEnv) scoreAndStore(ctx context.Context, st *store.Store, h *eval.Harness, f evalFlags, bench eval.Bench,
	label string, samples []eval.Sample, generated time.Duration) error {
	n := 1
	perProblem := map[string]int{}
	for _, s := range samples {
		perProblem[s.Problem]++
		n = max(n, perProblem[s.Problem])
	}
	settings, _ := json.Marshal(map[string]any{"temperature": f.temperature, "top_p": f.topP, "max_tokens": f.maxTokens,
		"seed": f.seed, "rag": f.useRAG, "lints": f.lints, "compile_timeout": f.compileTimeout.String(),
		"run_timeout": f.runTimeout.String(), "memory_mb": f.memoryMB, "edition": f.edition, "problems": len(bench.Problems),
		"isolation": h.Isolation()})
	run, err := st.CreateEvalRun(ctx, store.EvalRunInput{Model: label, Bench: bench.Name, Format: bench.Format, N: n, SettingsJSON: string(settings)})
	if err != nil {
		return err
	}
	texts := map[string]string{}
	for _, s := range samples {
		texts[fmt.Sprintf("%s#%d", s.Problem, s.Index)] = s.Text
	}
	var saveErr error
	scored := 0
	began := time.Now()
	results, err := h.Score(ctx, bench, samples, func(r eval.SampleResult) {
		scored++
		fmt.Fprintf(e.stderr, "[%d/%d] %s#%d %s %.1fs %s\n", scored, len(samples), r.Problem, r.Sample, r.Status, r.Seconds, r.Detail)
		if saveErr == nil {
			saveErr = st.SaveEvalResult(ctx, run.ID, store.EvalResult{Problem: r.Problem, Sample: r.Sample, Category: r.Category,
				Status: r.Status, Compiled: r.Compiled, Passed: r.Passed, Lints: r.Lints, Seconds: r.Seconds, Detail: r.Detail,
				Completion: texts[fmt.Sprintf("%s#%d", r.Problem, r.Sample)]})
		}
	})
	if err == nil {
		err = saveErr
	}
	if err != nil {
		_ = st.FinishEvalRun(context.WithoutCancel(ctx), run.ID, store.EvalFailed, "", err.Error())
		return err
	}
	out := evalOutput{RunID: run.ID, Model: label, Bench: bench.Name, Format: bench.Format, Isolation: h.Isolation(),
		Workers: h.Workers(), GenerationSeconds: roundTo(generated.Seconds(), 2), ScoringSeconds: roundTo(time.Since(began).Seconds(), 2),
		Summary: eval.Summarize(results)}
	summary, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := st.FinishEvalRun(ctx, run.ID, store.EvalDone, string(summary), ""); err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func roundTo(v float64, digits int) float64 {
	scale := 1.0
	for range digits {
		scale *= 10
	}
	return float64(int64(v*scale+0.5)) / scale
}

// evalRuns lists the stored runs with their headline figures and, with --svg, plots them.
func (e *cliEnv) evalRuns(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("eval runs", &cfg)
	svg := fs.String("svg", "", "write a bar chart of pass@1 and compile rate per run to this SVG file")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.EvalRuns(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%-4s %-24s %-20s %-9s %3s %-8s %7s %8s %6s  %s\n", "id", "model", "bench", "format", "n", "status", "pass@1", "compiles", "lints", "started")
	var rows []runFigures
	for _, r := range runs {
		fig := figuresOf(r)
		rows = append(rows, fig)
		fmt.Fprintf(e.stdout, "%-4d %-24s %-20s %-9s %3d %-8s %7.3f %8.3f %6.2f  %s\n", r.ID, r.Model, r.Bench, r.Format, r.N, r.Status,
			fig.PassAt1, fig.CompileRate, fig.Lints, r.Started.Format("2006-01-02 15:04"))
	}
	if *svg == "" {
		return nil
	}
	if err := os.WriteFile(*svg, []byte(runsSVG(rows)), 0o644); err != nil {
		return fmt.Errorf("eval runs --svg: %w", err)
	}
	fmt.Fprintf(e.stderr, "wrote %s\n", *svg)
	return nil
}

// runFigures are a run's headline figures, read from its stored summary.
type runFigures struct {
	Label                       string
	PassAt1, CompileRate, Lints float64
}

func figuresOf(r store.EvalRun) runFigures {
	var s eval.Summary
	_ = json.Unmarshal([]byte(r.SummaryJSON), &s)
	return runFigures{Label: fmt.Sprintf("#%d %s · %s", r.ID, r.Model, r.Bench), PassAt1: s.PassAtK["pass@1"],
		CompileRate: s.CompileRate, Lints: s.LintsPerAnswer}
}

// runsSVG draws one row per run: a bar for pass@1 and one for the compile rate, on a 0–1 scale.
func runsSVG(rows []runFigures) string {
	const left, width, rowHeight = 320, 400, 34
	var b strings.Builder
	height := 40 + rowHeight*len(rows)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+80, height)
	fmt.Fprintf(&b, `<text x="%d" y="16">pass@1 (dark) and compile rate (light), 0 to 1</text>`+"\n", left)
	for i, r := range rows {
		y := 28 + i*rowHeight
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", y+16, html.EscapeString(r.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="12" fill="#1f5fa8"/>`+"\n", left, y+2, r.PassAt1*width)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.3f</text>`+"\n", left+r.PassAt1*width+4, y+12, r.PassAt1)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="12" fill="#9cc3ee"/>`+"\n", left, y+16, r.CompileRate*width)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.3f</text>`+"\n", left+r.CompileRate*width+4, y+26, r.CompileRate)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="24" x2="%d" y2="%d" stroke="#444"/>`+"\n", left, left, height)
	b.WriteString("</svg>\n")
	return b.String()
}
