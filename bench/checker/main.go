// Command checker measures how fast the compiler judges answers, against a naive baseline in the same run.
//
// The answers are a deterministic (seeded) mix: Exercism example solutions fenced as a chat model writes
// them, broken variants (a deleted line, a type error), answers without code, clippy UI samples and word-
// for-word duplicates of earlier answers. Two measurements:
//
//   - compile-only: the eval package's Checker (metadata-only rustc, results cached by code hash, a pool of
//     compilers) over every answer, cold (a new Checker) and warm (a second pass), against one plain
//     `rustc --edition 2021 --crate-type lib` (full code generation) per answer, one at a time;
//   - with tests: the eval Harness on the answers to Exercism exercises (cargo builds and runs the tests in
//     the sandbox, a pool of workers), cold and warm, against one plain `cargo test` per answer, one at a
//     time, each in a fresh folder.
//
// Each baseline runs twice: with rustc and cargo as found on PATH (usually rustup's proxies) and with the
// toolchain's own binaries. The answers go in blocks that every contender judges in turn, so all of them
// meet the same background load; wall time and CPU time (this process and its children) are reported.
//
// Usage: go run -tags sqlite_fts5 ./bench/checker [-answers 500] [-tested 100 | -tested -1]
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("answers", 500, "answers in the corpus")
	seed := flag.Uint64("seed", 1, "seed of the corpus")
	data := flag.String("data", filepath.Join("..", "shared", "data"), "folder holding exercism-rust/ and clippy-ui/")
	tested := flag.Int("tested", 100, "answers to Exercism exercises run through their tests (0: no test phase, -1: all)")
	callers := flag.Int("callers", 2*runtime.NumCPU(), "goroutines asking the Checker at once")
	skipCompile := flag.Bool("skip-compile", false, "leave out the compile-only measurement")
	blockCompile := flag.Int("block-compile", 50, "answers per block of the compile-only measurement")
	blockTests := flag.Int("block-tests", 32, "answers per block of the measurement with tests")
	dump := flag.String("dump", "", "write each answer of the corpus to this folder (NNN-kind.md) and stop")
	flag.Parse()
	if *n < 20 || *blockCompile < 1 || *blockTests < 1 || *callers < 1 {
		log.Fatal("checker: -answers must be at least 20; -block-compile, -block-tests and -callers at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{answers: *n, seed: *seed, data: *data, tested: *tested, callers: *callers, skipCompile: *skipCompile, dump: *dump,
		blockCompile: *blockCompile, blockTests: *blockTests}); err != nil {
		log.Fatalf("checker: %v", err)
	}
}

type config struct {
	answers                  int
	seed                     uint64
	data                     string
	tested                   int
	callers                  int
	skipCompile              bool
	dump                     string
	blockCompile, blockTests int
}

func run(ctx context.Context, cfg config) error {
	plain, sysroot, err := findToolchains()
	if err != nil {
		return err
	}
	fmt.Printf("baseline toolchain: %s and %s (plain), %s and %s (sysroot)\n", plain.rustc, plain.cargo, sysroot.rustc, sysroot.cargo)
	exercism := filepath.Join(cfg.data, "exercism-rust")
	src, err := loadSources(exercism, filepath.Join(cfg.data, "clippy-ui"))
	if err != nil {
		return err
	}
	answers := buildCorpus(src, cfg.answers, cfg.seed)
	describe(answers)
	if cfg.dump != "" {
		return dumpCorpus(cfg.dump, answers)
	}
	tmp, err := os.MkdirTemp("", "checker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if !cfg.skipCompile {
		if err := compilePhase(ctx, []toolchain{plain, sysroot}, tmp, answers, cfg.callers, cfg.blockCompile); err != nil {
			return err
		}
	}
	if cfg.tested != 0 {
		return testPhase(ctx, []toolchain{plain, sysroot}, tmp, exercism, answers, cfg.tested, cfg.blockTests)
	}
	return nil
}

// dumpCorpus writes each answer to its own file, for reading the corpus.
func dumpCorpus(dir string, answers []answer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, a := range answers {
		name := filepath.Join(dir, fmt.Sprintf("%03d-%s.md", i, a.kind))
		if err := os.WriteFile(name, []byte(a.text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// describe prints the corpus's make-up: answers per kind, with code, and distinct programs.
func describe(answers []answer) {
	counts := map[string]int{}
	distinct := map[[32]byte]bool{}
	withCode := 0
	for _, a := range answers {
		counts[a.kind]++
		if p := extract(a.text); p.ok {
			withCode++
			distinct[sha256.Sum256([]byte(p.Kind+"\x00"+p.Source))] = true
		}
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	fmt.Printf("corpus: %d answers (%s); %d with Rust code, %d distinct programs\n",
		len(answers), strings.Join(parts, ", "), withCode, len(distinct))
}

// row is one line of a results table.
type row struct {
	what    string
	answers int
	wall    time.Duration
	cpu     time.Duration
	note    string
}

// printTable prints rows as a Markdown table, each with its speed-up over the first row (the baseline) in
// wall time and in processor time.
func printTable(title string, rows []row) {
	fmt.Printf("\n%s\n\n| what | wall | answers/s | vs baseline | CPU | CPU vs baseline | notes |\n|---|---|---|---|---|---|---|\n", title)
	for _, r := range rows {
		fmt.Printf("| %s | %.1f s | %.1f | %.2f× | %.1f s | %.2f× | %s |\n", r.what, r.wall.Seconds(),
			float64(r.answers)/r.wall.Seconds(), rows[0].wall.Seconds()/r.wall.Seconds(),
			r.cpu.Seconds(), rows[0].cpu.Seconds()/max(r.cpu.Seconds(), 0.001), r.note)
	}
}

// loadAverage is the first field of /proc/loadavg, or "?".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "?"
	}
	return fields[0]
}
