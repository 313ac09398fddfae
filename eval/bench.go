package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Benchmark formats.
const (
	FormatMultiPLE = "multipl-e" // MultiPL-E's Rust problems: prompt + completion + tests, pass = exit 0
	FormatExercism = "exercism"  // Exercism's Rust track: the answer is src/lib.rs, pass = cargo's tests pass
)

// Statuses of a scored answer. Only StatusOK passes.
const (
	StatusOK           = "ok"            // compiled and the tests passed
	StatusNoCode       = "no_code"       // the answer holds no code
	StatusCompileError = "compile_error" // the compiler refused the program
	StatusTestFailed   = "test_failed"   // the tests ran and failed (a panic, a non-zero exit)
	StatusTimeout      = "timeout"       // the compiler or the tests ran past their wall-clock or CPU limit
	StatusMemoryLimit  = "memory_limit"  // an allocation failed at the address-space limit
	StatusOutputLimit  = "output_limit"  // the program wrote more than the output limit
	StatusCrashed      = "crashed"       // killed by a signal (stack overflow, abort, segfault)
)

// Statuses lists every status in report order.
var Statuses = []string{StatusOK, StatusNoCode, StatusCompileError, StatusTestFailed, StatusTimeout, StatusMemoryLimit, StatusOutputLimit, StatusCrashed}

// Problem is one task of a benchmark.
type Problem struct {
	Name     string
	Category string
	Format   string
	Prompt   string   // what the model is asked: MultiPL-E's code prefix, Exercism's instructions and stub
	Tests    string   // MultiPL-E: the code appended after the completion
	Stop     []string // stop strings of the generation (MultiPL-E's stop_tokens)
	Dir      string   // Exercism: the exercise folder (Cargo.toml, tests/)
	Edition  string   // Exercism: the edition of Cargo.toml
}

// Bench is a set of problems of one format.
type Bench struct {
	Name     string
	Format   string
	Problems []Problem
}

// Problem returns the problem with the given name.
func (b Bench) Problem(name string) (Problem, bool) {
	for _, p := range b.Problems {
		if p.Name == name {
			return p, true
		}
	}
	return Problem{}, false
}

// LoadBench reads a benchmark: a file is MultiPL-E problems (JSONL or a JSON array); a folder is Exercism
// exercises (one sub-folder each, or one exercise).
func LoadBench(path string) (Bench, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Bench{}, fmt.Errorf("bench: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(filepath.Clean(path)), filepath.Ext(path))
	if info.IsDir() {
		problems, err := ReadExercism(path)
		return Bench{Name: name, Format: FormatExercism, Problems: problems}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Bench{}, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	problems, err := ReadMultiPLE(f, path)
	for i := range problems {
		if problems[i].Category == "" {
			problems[i].Category = name
		}
	}
	return Bench{Name: name, Format: FormatMultiPLE, Problems: problems}, err
}

// Sample is one answer to score: a problem's name, the answer's index among the problem's samples, and
// its text (a plain completion or code, or a chat answer in Markdown).
type Sample struct {
	Problem string
	Index   int
	Text    string
}

// SampleResult is the verdict on one answer.
type SampleResult struct {
	Problem  string  `json:"problem"`
	Category string  `json:"category"`
	Sample   int     `json:"sample"`
	Status   string  `json:"status"`
	Compiled bool    `json:"compiled"`
	Passed   bool    `json:"passed"`
	Lints    int     `json:"lints"` // clippy's lints on compiled code; -1 when not counted
	Seconds  float64 `json:"seconds"`
	Detail   string  `json:"detail,omitempty"` // the first error, the failing assertion or the limit passed
}

// HarnessOptions configure a Harness. Zero values take the defaults.
type HarnessOptions struct {
	Workers        int           // answers scored at once; the number of cores when zero
	CompileTimeout time.Duration // rustc (MultiPL-E, default 15 s) and cargo's build (Exercism, default 60 s)
	RunTimeout     time.Duration // the program (MultiPL-E, default 5 s) and the tests (Exercism, default 30 s)
	Memory         int64         // address-space limit of the program under test; 2 GiB when zero
	Output         int           // output kept of a run; more ends it with output_limit; 1 MiB when zero
	Edition        string        // edition of MultiPL-E programs; "2021" when empty
	Lints          bool          // count clippy's lints of compiled answers
	TempDir        string        // parent of the per-answer folders; os.TempDir() when empty
}

// Harness scores answers to benchmark problems in a Sandbox.
type Harness struct {
	opts    HarnessOptions
	sandbox *Sandbox
	rustc   string
	cargo   string
	path    string

	mu        sync.Mutex
	checkers  map[string]*Checker // clippy checkers per edition, made on first use
	rustcInfo []byte              // cargo's rustc info cache from the first Exercism build, seeded into later ones
}

// NewHarness finds the Rust toolchain (rustc and cargo of rustc's sysroot) and probes the sandbox.
func NewHarness(opts HarnessOptions) (*Harness, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Memory <= 0 {
		opts.Memory = 2 << 30
	}
	if opts.Output <= 0 {
		opts.Output = 1 << 20
	}
	if opts.Edition == "" {
		opts.Edition = defaultEdition
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	onPath, err := exec.LookPath("rustc")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoRustc, err)
	}
	sysroot, err := exec.Command(onPath, "--print", "sysroot").Output()
	if err != nil {
		return nil, fmt.Errorf("eval: asking %s for its sysroot: %w", onPath, err)
	}
	root := strings.TrimSpace(string(sysroot))
	cargoOnPath, _ := exec.LookPath("cargo")
	return &Harness{
		opts:     opts,
		sandbox:  NewSandbox(),
		rustc:    toolchainBinary(root, "rustc", onPath),
		cargo:    toolchainBinary(root, "cargo", cargoOnPath),
		path:     filepath.Join(root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		checkers: map[string]*Checker{},
	}, nil
}

// Isolation says how answers are isolated, for reports.
func (h *Harness) Isolation() string { return h.sandbox.Isolation() }

// Workers returns how many answers are scored at once.
func (h *Harness) Workers() int { return h.opts.Workers }

// Score scores every sample against its problem of b, a worker pool of HarnessOptions.Workers at once,
// and calls each (one call at a time) with every result as it is ready. The results are in the order of
// samples. The error is only for failures of the harness itself (an unknown problem, no temporary folder,
// a toolchain that does not start, ctx ending); the first one stops the rest.
func (h *Harness) Score(ctx context.Context, b Bench, samples []Sample, each func(SampleResult)) ([]SampleResult, error) {
	for _, s := range samples {
		if _, ok := b.Problem(s.Problem); !ok {
			return nil, fmt.Errorf("eval: bench %s has no problem %q", b.Name, s.Problem)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]SampleResult, len(samples))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(h.opts.Workers, max(len(samples), 1)) {
		wg.Go(func() {
			for i := range next {
				p, _ := b.Problem(samples[i].Problem)
				r, err := h.ScoreOne(ctx, p, samples[i])
				if err != nil {
					cancel(err)
					continue
				}
				results[i] = r
				if each != nil {
					mu.Lock()
					each(r)
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range samples {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// ScoreOne scores one answer to p.
func (h *Harness) ScoreOne(ctx context.Context, p Problem, s Sample) (SampleResult, error) {
	start := time.Now()
	r := SampleResult{Problem: p.Name, Category: p.Category, Sample: s.Index, Lints: -1}
	var err error
	switch p.Format {
	case FormatMultiPLE:
		err = h.scoreMultiPLE(ctx, p, s.Text, &r)
	case FormatExercism:
		err = h.scoreExercism(ctx, p, s.Text, &r)
	default:
		err = fmt.Errorf("eval: problem %s has unknown format %q", p.Name, p.Format)
	}
	r.Seconds = time.Since(start).Seconds()
	return r, err
}

// isMarkdown reports whether an answer is Markdown with code fences rather than bare code: some line
// opens a fence (at most three spaces in, as CommonMark allows). Fences inside Rust doc comments
// ("/// ```") do not count, so bare code with doc tests stays code.
func isMarkdown(text string) bool {
	for line := range strings.Lines(text) {
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) <= 3 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			return true
		}
	}
	return false
}

// environment is what a compiler or program under test sees: the toolchain on PATH, HOME and the cargo
// home in its own folder, no inherited secrets.
func (h *Harness) environment(dir string) []string {
	return []string{
		"PATH=" + h.path,
		"HOME=" + dir,
		"TMPDIR=" + dir,
		"CARGO_HOME=" + filepath.Join(dir, ".cargo"),
		"RUSTC=" + h.rustc,
		"CARGO_INCREMENTAL=0",
		// Test builds without debug info: the same code and test results, and an Exercism build takes about
		// a quarter less time (bench/BENCHMARKS.md, "Checker throughput").
		"CARGO_PROFILE_DEV_DEBUG=0",
		"CARGO_TERM_COLOR=never",
		"RUST_BACKTRACE=0",
		"MALLOC_ARENA_MAX=2", // glibc reserves 64 MiB of address space per arena; the memory limit counts it
	}
}

func (h *Harness) compileLimits(def time.Duration) Limits {
	timeout := cmp(h.opts.CompileTimeout, def)
	return Limits{Timeout: timeout, CPU: 2 * timeout, FileSize: 1 << 30, Output: 8 << 20}
}

func (h *Harness) runLimits(def time.Duration) Limits {
	timeout := cmp(h.opts.RunTimeout, def)
	return Limits{Timeout: timeout, CPU: 2 * timeout, Memory: h.opts.Memory, FileSize: 64 << 20, Output: h.opts.Output}
}

// cmp returns d when set, else def.
func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// lineRange is a span of 1-based lines of a program; zero counts every line.
type lineRange struct{ first, last int }

// lints counts clippy's lints of compiled code when asked, those in lines when it is set (MultiPL-E's
// prompt and tests are not the answer's); a checker that cannot run leaves them uncounted.
func (h *Harness) lints(ctx context.Context, p Program, edition string, lines lineRange, r *SampleResult) {
	if !h.opts.Lints {
		return
	}
	checker, err := h.checker(edition)
	if err != nil {
		return
	}
	res, err := checker.Check(ctx, p)
	if err != nil || !res.Compiles || res.Lints < 0 {
		return
	}
	if lines == (lineRange{}) {
		r.Lints = res.Lints
		return
	}
	r.Lints = 0
	for _, d := range res.Diagnostics {
		if isLint(d) && d.Line >= lines.first && d.Line <= lines.last {
			r.Lints++
		}
	}
}

func (h *Harness) checker(edition string) (*Checker, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.checkers[edition]; ok {
		return c, nil
	}
	c, err := NewChecker(Options{Edition: edition, Clippy: true, TempDir: h.opts.TempDir})
	if err != nil {
		return nil, err
	}
	h.checkers[edition] = c
	return c, nil
}

const sigXCPU, sigXFSZ = syscall.SIGXCPU, syscall.SIGXFSZ

// runStatus classifies a run of the program under test.
func runStatus(o Outcome) string {
	switch {
	case o.TimedOut || o.Signal == sigXCPU:
		return StatusTimeout
	case o.OutputExceeded || o.Signal == sigXFSZ:
		return StatusOutputLimit
	case isAllocationFailure(o.Output):
		return StatusMemoryLimit
	case o.Signal != 0:
		return StatusCrashed
	case o.ExitCode != 0:
		return StatusTestFailed
	}
	return StatusOK
}

// isAllocationFailure recognizes Rust's report of an allocation refused at the address-space limit.
func isAllocationFailure(output []byte) bool {
	text := string(output)
	return strings.Contains(text, "memory allocation of ") && strings.Contains(text, " failed") ||
		strings.Contains(text, "failed to allocate") || strings.Contains(text, "out of memory")
}

// runDetail explains a failed run: the limit, or the first panic with its message.
func runDetail(o Outcome, status string) string {
	switch status {
	case StatusTestFailed, StatusCrashed:
		lines := strings.Split(string(o.Output), "\n")
		for i, line := range lines {
			if strings.Contains(line, "panicked at") {
				return clip(strings.TrimSpace(strings.Join(lines[i:min(i+3, len(lines))], " ")), 300)
			}
		}
		if o.Signal != 0 {
			return fmt.Sprintf("killed by signal %d (%s)", int(o.Signal), o.Signal)
		}
		return clip(fmt.Sprintf("exit status %d: %s", o.ExitCode, lastLines(o.Output, 3)), 300)
	}
	return statusDetail(status)
}

func statusDetail(status string) string {
	switch status {
	case StatusTimeout:
		return "passed the time limit"
	case StatusMemoryLimit:
		return "an allocation failed at the memory limit"
	case StatusOutputLimit:
		return "wrote more than the output limit"
	}
	return ""
}

func lastLines(output []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(output)), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], " ")
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Completion is one answer of a completions file.
type Completion struct {
	Name       string
	Completion string
	Line       int
}

// completionLine is a line of a completions file: MultiPL-E style {name, completion}, or {name,
// completions: [...]} for all samples of a problem at once.
type completionLine struct {
	Name        string   `json:"name"`
	Completion  *string  `json:"completion"`
	Completions []string `json:"completions"`
}

// ReadCompletions reads a JSONL file of answers that already exist, in file order: each line
// {"name": PROBLEM, "completion": TEXT} or {"name": PROBLEM, "completions": [TEXT, …]}. source names the
// input in errors.
func ReadCompletions(r io.Reader, source string) ([]Completion, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), maxBenchLine)
	var out []Completion
	for line := 1; scanner.Scan(); line++ {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		var c completionLine
		if err := json.Unmarshal(text, &c); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("%s:%d: field name is empty", source, line)
		case c.Completion == nil && c.Completions == nil:
			return nil, fmt.Errorf("%s:%d: neither completion nor completions is set", source, line)
		case c.Completion != nil:
			out = append(out, Completion{Name: c.Name, Completion: *c.Completion, Line: line})
		}
		for _, text := range c.Completions {
			out = append(out, Completion{Name: c.Name, Completion: text, Line: line})
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no completions", source)
	}
	return out, nil
}
