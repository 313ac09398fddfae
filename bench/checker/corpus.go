package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"rustexpert/eval"
)

// Kinds of answers in the corpus.
const (
	kindExample   = "example"      // an exercise's example solution
	kindDeleted   = "deleted-line" // the example with one code line deleted
	kindTypeError = "type-error"   // the example with a function whose body has the wrong type
	kindNoCode    = "no-code"      // prose and a shell block, no Rust
	kindClippy    = "clippy-ui"    // a clippy UI test file
	kindDuplicate = "duplicate"    // an earlier answer repeated word for word
)

// kinds lists the kinds in report order.
var kinds = []string{kindExample, kindDeleted, kindTypeError, kindNoCode, kindClippy, kindDuplicate}

// answer is one model answer of the corpus.
type answer struct {
	kind     string
	exercise string // the Exercism exercise it answers; empty for clippy UI samples
	text     string
}

// sources are the texts the corpus is made of.
type sources struct {
	exercises []string          // exercises with an example solution, by name
	examples  map[string]string // exercise → .meta/example.rs
	clippy    []string          // clippy UI test files (.rs), sorted by name
}

// loadSources reads every example solution of the Exercism folder and every .rs file of the clippy UI folder.
func loadSources(exercism, clippy string) (sources, error) {
	bench, err := eval.LoadBench(exercism)
	if err != nil {
		return sources{}, err
	}
	src := sources{examples: map[string]string{}}
	for _, p := range bench.Problems {
		data, err := os.ReadFile(filepath.Join(p.Dir, ".meta", "example.rs"))
		if err != nil {
			continue // no example solution: not usable as an answer
		}
		src.exercises = append(src.exercises, p.Name)
		src.examples[p.Name] = string(data)
	}
	files, err := filepath.Glob(filepath.Join(clippy, "*.rs"))
	if err != nil {
		return sources{}, fmt.Errorf("clippy UI folder %s: %w", clippy, err)
	}
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return sources{}, fmt.Errorf("clippy UI sample: %w", err)
		}
		src.clippy = append(src.clippy, string(data))
	}
	if len(src.exercises) == 0 || len(src.clippy) == 0 {
		return sources{}, fmt.Errorf("need example solutions in %s and .rs files in %s", exercism, clippy)
	}
	return src, nil
}

// mix is how many answers of each kind a corpus holds.
type mix map[string]int

// mixFor splits n answers: 20% example solutions, 16% with a deleted line, 12% with a type error, 5% without
// code, 15% duplicates of earlier answers and the rest (32%) clippy UI samples.
func mixFor(n int) mix {
	m := mix{kindExample: n * 20 / 100, kindDeleted: n * 16 / 100, kindTypeError: n * 12 / 100,
		kindNoCode: n * 5 / 100, kindDuplicate: n * 15 / 100}
	m[kindClippy] = n - m[kindExample] - m[kindDeleted] - m[kindTypeError] - m[kindNoCode] - m[kindDuplicate]
	return m
}

// buildCorpus makes n answers from the sources, the same ones for the same seed: the unique answers in a
// shuffled order, then each duplicate inserted at a random place as a copy of an answer before it.
func buildCorpus(src sources, n int, seed uint64) []answer {
	rng := rand.New(rand.NewPCG(seed, 2026))
	m := mixFor(n)
	var out []answer
	for _, kind := range []string{kindExample, kindDeleted, kindTypeError, kindNoCode} {
		order := rng.Perm(len(src.exercises))
		for i := range m[kind] {
			name := src.exercises[order[i%len(order)]]
			out = append(out, exerciseAnswer(rng, kind, name, src.examples[name]))
		}
	}
	order := rng.Perm(len(src.clippy))
	for i := range m[kindClippy] {
		out = append(out, answer{kind: kindClippy, text: fenced(rng, src.clippy[order[i%len(order)]])})
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for range m[kindDuplicate] {
		at := 1 + rng.IntN(len(out))
		copied := out[rng.IntN(at)]
		copied.kind = kindDuplicate
		out = slices.Insert(out, at, copied)
	}
	return out
}

// exerciseAnswer is an answer of the given kind to an exercise whose example solution is example.
func exerciseAnswer(rng *rand.Rand, kind, exercise, example string) answer {
	a := answer{kind: kind, exercise: exercise}
	switch kind {
	case kindExample:
		a.text = fenced(rng, example)
	case kindDeleted:
		a.text = fenced(rng, deleteLine(rng, example))
	case kindTypeError:
		a.text = fenced(rng, example+typeError)
	case kindNoCode:
		a.text = fmt.Sprintf("To solve %s, walk over the input once and keep the running state in a small struct; "+
			"return early on invalid input. Then run the tests:\n\n```sh\ncargo test -- --include-ignored\n```\n", exercise)
	}
	return a
}

// typeError is a function whose body has the wrong type (usize where u32 is declared): rustc's E0308.
const typeError = "\npub fn answer_len(text: &str) -> u32 {\n    text.len()\n}\n"

// Words around the code, as chat models write them.
var (
	openers = []string{"Here is a complete implementation of `src/lib.rs`:", "This solution passes the tests:",
		"Sure! Here's the code:", "You can implement it like this:"}
	closers = []string{"It runs in linear time.", "Each helper is covered by the tests.",
		"Let me know if you want a version without allocations.", ""}
)

// fenced puts code in a ```rust block between a sentence before and (usually) one after.
func fenced(rng *rand.Rand, code string) string {
	text := openers[rng.IntN(len(openers))] + "\n\n```rust\n" + strings.TrimRight(code, "\n") + "\n```\n"
	if closer := closers[rng.IntN(len(closers))]; closer != "" {
		text += "\n" + closer + "\n"
	}
	return text
}

// deleteLine removes one line of code (not blank, not a comment) chosen at random.
func deleteLine(rng *rand.Rand, code string) string {
	lines := strings.Split(code, "\n")
	var candidates []int
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "//") {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return code
	}
	drop := candidates[rng.IntN(len(candidates))]
	return strings.Join(slices.Delete(lines, drop, drop+1), "\n")
}
