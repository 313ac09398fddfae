package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sourceFileName is the name of the checked file inside a check's directory, and so in rustc's spans.
const sourceFileName = "main.rs"

// Defaults for the zero values of Options.
const (
	defaultEdition        = "2021"
	defaultTimeout        = 15 * time.Second
	defaultMaxOutputBytes = 1 << 20
	defaultCacheEntries   = 4096
)

// Options configure a Checker. Zero values take the defaults.
type Options struct {
	Edition        string        // Rust edition passed to rustc; "2021" when empty.
	Timeout        time.Duration // limit for one compiler run; 15s when zero.
	Clippy         bool          // also run clippy-driver and count its lints.
	MaxOutputBytes int           // compiler output read per run; 1 MiB when zero.
	TempDir        string        // parent of the per-check directories; os.TempDir() when empty.
	CacheEntries   int           // results kept in memory; 4096 when zero.
}

// Result is the compiler's verdict on a Program.
type Result struct {
	Compiles    bool
	Errors      int
	Warnings    int
	First       *Diagnostic  // first error, nil when there is none
	Diagnostics []Diagnostic // errors, warnings and clippy lints, at most 50
	// Lints counts clippy's lints when Options.Clippy is set and the code compiles (clippy's verdict on code
	// that does not compile says nothing more); -1 when clippy-driver is missing or did not run to the end.
	Lints     int
	TimedOut  bool          // a compiler run passed Options.Timeout; the counts cover what it printed before
	Truncated bool          // the compiler printed more than Options.MaxOutputBytes; the counts cover the rest
	Cached    bool          // the result comes from an earlier check of the same code
	Duration  time.Duration // time the check took; for a cached result, the original check's
	CodeHash  string        // sha256 of the source, kind, edition and clippy setting
}

// Checker compiles programs with rustc, a bounded number at once, and remembers the results of recent ones.
// It is safe for concurrent use.
type Checker struct {
	opts        Options
	rustc       string
	clippy      string // empty when clippy-driver is not installed
	environment []string
	slots       chan struct{}
	cache       *resultCache
	runs        atomic.Int64

	mu       sync.Mutex
	inFlight map[string]*flight
}

// flight is a check in progress, which concurrent checks of the same code wait for instead of compiling again.
type flight struct {
	done   chan struct{}
	result Result
	err    error
}

// NewChecker finds rustc (and clippy-driver when opts.Clippy is set) and returns a Checker running as many
// checks at once as there are cores. It fails when rustc is not on PATH.
func NewChecker(opts Options) (*Checker, error) {
	opts = withDefaults(opts)
	switch opts.Edition {
	case "2015", "2018", "2021", "2024":
	default:
		return nil, fmt.Errorf("eval: unknown Rust edition %q (want 2015, 2018, 2021 or 2024)", opts.Edition)
	}
	onPath, err := exec.LookPath("rustc")
	if err != nil {
		return nil, fmt.Errorf("eval: rustc is not on PATH; install the Rust toolchain (rustup or the distribution's rustc): %w", err)
	}
	sysroot, err := exec.Command(onPath, "--print", "sysroot").Output()
	if err != nil {
		return nil, fmt.Errorf("eval: asking %s for its sysroot: %w", onPath, err)
	}
	root := strings.TrimSpace(string(sysroot))
	checker := &Checker{
		opts:        opts,
		rustc:       toolchainBinary(root, "rustc", onPath),
		environment: environment(),
		slots:       make(chan struct{}, runtime.NumCPU()),
		cache:       newResultCache(opts.CacheEntries),
		inFlight:    make(map[string]*flight),
	}
	if opts.Clippy {
		onPath, _ := exec.LookPath("clippy-driver")
		checker.clippy = toolchainBinary(root, "clippy-driver", onPath)
	}
	return checker, nil
}

func withDefaults(opts Options) Options {
	if opts.Edition == "" {
		opts.Edition = defaultEdition
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = defaultMaxOutputBytes
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = defaultCacheEntries
	}
	return opts
}

// toolchainBinary prefers the toolchain's own binary to the one on PATH: on PATH rustc is usually rustup's
// proxy, which finds its toolchain through HOME, and checks run with HOME set to their temporary directory.
func toolchainBinary(sysroot, name, onPath string) string {
	candidate := filepath.Join(sysroot, "bin", name)
	if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
		return candidate
	}
	return onPath
}

// environment is what a compiler run inherits: PATH, and rustup's homes when set. HOME is added per check.
func environment() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, name := range []string{"RUSTUP_HOME", "CARGO_HOME"} {
		if value, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+value)
		}
	}
	return env
}

// Runs returns how many compiler processes the Checker has started.
func (c *Checker) Runs() int64 {
	return c.runs.Load()
}

// Hash returns the CodeHash a check of p gets: it covers everything that decides the result.
func (c *Checker) Hash(p Program) string {
	sum := sha256.New()
	for _, part := range []string{p.Kind, c.opts.Edition, strconv.FormatBool(c.opts.Clippy), p.Source} {
		fmt.Fprintf(sum, "%d:%s", len(part), part)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// Check compiles p and reports what the compiler said. A result seen before is returned from memory, and
// concurrent checks of the same code share one compilation. The error is only for failures of the checker
// itself (no temporary directory, a compiler that cannot start, ctx ending); a program that does not compile
// or runs past the timeout is a Result.
func (c *Checker) Check(ctx context.Context, p Program) (Result, error) {
	if p.Kind != KindBin && p.Kind != KindLib {
		return Result{}, fmt.Errorf("eval: program kind %q is neither %q nor %q", p.Kind, KindBin, KindLib)
	}
	hash := c.Hash(p)
	for {
		if result, ok := c.cache.get(hash); ok {
			result.Cached = true
			return result, nil
		}
		c.mu.Lock()
		running, ok := c.inFlight[hash]
		if !ok {
			running = &flight{done: make(chan struct{})}
			c.inFlight[hash] = running
			c.mu.Unlock()
			return c.lead(ctx, p, hash, running)
		}
		c.mu.Unlock()
		select {
		case <-running.done:
		case <-ctx.Done():
			return Result{}, fmt.Errorf("eval: waiting for a check of the same code: %w", ctx.Err())
		}
		// A failed flight (its caller gave up, say) is no answer for this caller, who tries again.
		if running.err == nil {
			result := copyResult(running.result)
			result.Cached = true
			return result, nil
		}
	}
}

// lead runs the check that concurrent callers of the same code wait for, and publishes its result.
func (c *Checker) lead(ctx context.Context, p Program, hash string, running *flight) (Result, error) {
	running.result, running.err = c.check(ctx, p, hash)
	if running.err == nil && !running.result.TimedOut {
		c.cache.put(hash, running.result)
	}
	c.mu.Lock()
	delete(c.inFlight, hash)
	c.mu.Unlock()
	close(running.done)
	return running.result, running.err
}

func (c *Checker) check(ctx context.Context, p Program, hash string) (result Result, err error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("eval: waiting for a free checker: %w", ctx.Err())
	}
	defer func() { <-c.slots }()

	start := time.Now()
	dir, err := os.MkdirTemp(c.opts.TempDir, "rustcheck-")
	if err != nil {
		return Result{}, fmt.Errorf("eval: creating a check directory: %w", err)
	}
	defer func() {
		if removeErr := os.RemoveAll(dir); removeErr != nil && err == nil {
			err = fmt.Errorf("eval: removing the check directory: %w", removeErr)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, sourceFileName), []byte(p.Source), 0o600); err != nil {
		return Result{}, fmt.Errorf("eval: writing the program: %w", err)
	}

	compiled, err := c.compile(ctx, c.rustc, dir, p.Kind)
	if err != nil {
		return Result{}, err
	}
	if !compiled.timedOut && compiled.exitCode != 0 && !hasError(compiled.diagnostics) && !compiled.truncated {
		return Result{}, fmt.Errorf("eval: rustc exited with status %d without a diagnostic: %.300s", compiled.exitCode, compiled.output)
	}
	result = resultOf(compiled)
	if c.opts.Clippy {
		if err := c.lint(ctx, dir, p.Kind, &result); err != nil {
			return Result{}, err
		}
	}
	result.Duration = time.Since(start)
	result.CodeHash = hash
	return result, nil
}

func resultOf(compiled compilerRun) Result {
	result := Result{
		Compiles:  compiled.exitCode == 0 && !compiled.timedOut,
		TimedOut:  compiled.timedOut,
		Truncated: compiled.truncated,
	}
	for _, d := range compiled.diagnostics {
		switch {
		case isError(d):
			result.Errors++
			if result.First == nil {
				first := d
				result.First = &first
			}
		case d.Level == "warning":
			result.Warnings++
		}
	}
	result.Diagnostics = compiled.diagnostics[:min(len(compiled.diagnostics), maxDiagnostics)]
	return result
}

// lint runs clippy on code that compiled and adds its lints to result.
func (c *Checker) lint(ctx context.Context, dir, kind string, result *Result) error {
	switch {
	case c.clippy == "":
		result.Lints = -1
		return nil
	case !result.Compiles:
		return nil
	}
	linted, err := c.compile(ctx, c.clippy, dir, kind)
	if err != nil {
		return err
	}
	result.TimedOut = result.TimedOut || linted.timedOut
	result.Truncated = result.Truncated || linted.truncated
	// A clippy that stops without a diagnostic (a broken install, a timeout) measured nothing.
	if linted.timedOut || linted.exitCode != 0 && !hasError(linted.diagnostics) {
		result.Lints = -1
		return nil
	}
	for _, d := range linted.diagnostics {
		if isLint(d) {
			result.Lints++
			if len(result.Diagnostics) < maxDiagnostics {
				result.Diagnostics = append(result.Diagnostics, d)
			}
		}
	}
	return nil
}

func hasError(diagnostics []Diagnostic) bool {
	for _, d := range diagnostics {
		if isError(d) {
			return true
		}
	}
	return false
}

// compilerRun is what one rustc or clippy-driver process did.
type compilerRun struct {
	exitCode    int
	output      []byte
	diagnostics []Diagnostic
	truncated   bool
	timedOut    bool
}

// compile runs binary on the directory's source as rustc would check it: metadata only, no code generation.
// The process leads its own process group, and the whole group is killed when the timeout or ctx ends it.
func (c *Checker) compile(ctx context.Context, binary, dir, kind string) (compilerRun, error) {
	runCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, binary,
		"--edition", c.opts.Edition,
		"--crate-type", kind,
		"--emit=metadata",
		"--error-format=json",
		"-o", filepath.Join(dir, "out"),
		sourceFileName,
	)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), c.environment...), "HOME="+dir)
	output := &cappedBuffer{limit: c.opts.MaxOutputBytes}
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild holding the output pipe cannot keep Wait from returning after the kill.
	cmd.WaitDelay = time.Second

	runErr := cmd.Start()
	if runErr == nil {
		c.runs.Add(1)
		runErr = cmd.Wait()
	}
	run := compilerRun{output: output.data, truncated: output.truncated}
	run.diagnostics = parseDiagnostics(output.data)
	if runCtx.Err() != nil {
		if ctx.Err() != nil {
			return compilerRun{}, fmt.Errorf("eval: check cancelled: %w", ctx.Err())
		}
		run.timedOut = true
		run.exitCode = -1
		return run, nil
	}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exitErr):
		run.exitCode = exitErr.ExitCode()
	default:
		return compilerRun{}, fmt.Errorf("eval: running %s: %w", filepath.Base(binary), runErr)
	}
	return run, nil
}

// cappedBuffer keeps the first limit bytes written to it and drops the rest, while telling the writer all
// was written so the compiler is not stopped by a broken pipe.
type cappedBuffer struct {
	limit     int
	data      []byte
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - len(b.data)
	if len(p) > room {
		b.truncated = true
		b.data = append(b.data, p[:max(room, 0)]...)
		return len(p), nil
	}
	b.data = append(b.data, p...)
	return len(p), nil
}
