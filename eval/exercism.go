package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits of an Exercism exercise: cargo builds two crates (the answer and the tests) in debug mode.
const (
	exercismBuildTimeout = 60 * time.Second
	exercismRunTimeout   = 30 * time.Second // palindrome-products' example takes 7–14 s in debug builds on 2 busy cores
	maxExerciseFile      = 1 << 20
)

// rustcInfoFile is cargo's cache, inside a target folder, of what it asked rustc (`rustc -vV`, the target's
// file names and cfgs): without it every build starts rustc five times before compiling anything. Cargo
// checks the cache's fingerprint (the rustc binary and the flags) and asks again when it does not match.
const rustcInfoFile = ".rustc_info.json"

// cargoEdition reads the edition of a Cargo.toml.
var cargoEdition = regexp.MustCompile(`(?m)^\s*edition\s*=\s*"(\d{4})"`)

// ReadExercism reads Exercism's Rust layout: dir is one exercise (Cargo.toml, tests/, .docs/instructions.md,
// src/lib.rs as the stub) or a folder of them. Folders without Cargo.toml and tests/ are skipped; an
// exercise with a missing or unreadable part is an error naming it. The prompt is the instructions (and
// their Rust-track append) with the stub; the tests and .meta (the example solution) stay with the harness.
func ReadExercism(dir string) ([]Problem, error) {
	if isExercise(dir) {
		p, err := readExercise(dir)
		if err != nil {
			return nil, err
		}
		return []Problem{p}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("exercism: %w", err)
	}
	var problems []Problem
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || !isExercise(sub) {
			continue
		}
		p, err := readExercise(sub)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		return nil, fmt.Errorf("exercism: %s holds no exercise (a folder with Cargo.toml and tests/)", dir)
	}
	return problems, nil
}

func isExercise(dir string) bool {
	manifest, err := os.Stat(filepath.Join(dir, "Cargo.toml"))
	if err != nil || !manifest.Mode().IsRegular() {
		return false
	}
	tests, err := os.Stat(filepath.Join(dir, "tests"))
	return err == nil && tests.IsDir()
}

func readExercise(dir string) (Problem, error) {
	name := filepath.Base(dir)
	read := func(rel string, required bool) (string, error) {
		data, err := readSmall(filepath.Join(dir, rel))
		if err != nil && (required || !os.IsNotExist(err)) {
			return "", fmt.Errorf("exercism %s: %s: %w", name, rel, err)
		}
		return string(data), nil
	}
	manifest, err := read("Cargo.toml", true)
	if err != nil {
		return Problem{}, err
	}
	instructions, err := read(filepath.Join(".docs", "instructions.md"), true)
	if err != nil {
		return Problem{}, err
	}
	appendix, err := read(filepath.Join(".docs", "instructions.append.md"), false)
	if err != nil {
		return Problem{}, err
	}
	stub, err := read(filepath.Join("src", "lib.rs"), false)
	if err != nil {
		return Problem{}, err
	}
	edition := "2015" // cargo's default when the manifest names none
	if m := cargoEdition.FindStringSubmatch(manifest); m != nil {
		edition = m[1]
	}
	return Problem{Name: name, Category: FormatExercism, Format: FormatExercism, Dir: dir, Edition: edition,
		Prompt: exercismPrompt(instructions, appendix, stub)}, nil
}

func readSmall(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxExerciseFile {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", info.Size(), maxExerciseFile)
	}
	return os.ReadFile(path)
}

// exercismPrompt asks for src/lib.rs from the instructions and the stub.
func exercismPrompt(instructions, appendix, stub string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(instructions))
	if strings.TrimSpace(appendix) != "" {
		b.WriteString("\n\n" + strings.TrimSpace(appendix))
	}
	b.WriteString("\n\nWrite the complete `src/lib.rs` of this Rust library crate (no dependencies). ")
	b.WriteString("Reply with the whole file in one ```rust code block.\n")
	if strings.TrimSpace(stub) != "" {
		b.WriteString("\nThe stub to complete:\n\n```rust\n" + strings.TrimRight(stub, "\n") + "\n```\n")
	}
	return b.String()
}

// exercismCode is the src/lib.rs of an answer: the Rust blocks of a Markdown answer, or the text as it is
// when it has no fences. ok is false when there is no code.
func exercismCode(text string) (string, bool) {
	if !isMarkdown(text) {
		return text, strings.TrimSpace(text) != ""
	}
	blocks := Extract(text)
	if len(blocks) == 0 {
		return "", false
	}
	p, ok := NewProgram(blocks)
	if !ok {
		return "", false
	}
	return p.Source, true
}

// scoreExercism copies the exercise's Cargo.toml and tests/ (never .meta, which holds the example
// solution) into a fresh folder, writes the answer as src/lib.rs, builds the test binaries with
// `cargo test --offline --no-run` and runs each with --include-ignored under the run limits. The build and
// the run are separate so that the memory limit applies to the tests and not to the compiler; doc tests of
// the answer are not run (the exercise's tests are the benchmark). Every sample builds in its own target
// folder: with no dependencies a shared one saves little and would serialize concurrent samples on
// cargo's lock. The first build's rustc info cache is copied into the later ones' target folders.
func (h *Harness) scoreExercism(ctx context.Context, p Problem, text string, r *SampleResult) error {
	if h.cargo == "" {
		return errors.New("eval: cargo is not on PATH; Exercism benches need it")
	}
	code, ok := exercismCode(text)
	if !ok {
		r.Status = StatusNoCode
		return nil
	}
	dir, err := os.MkdirTemp(h.opts.TempDir, "rustbench-")
	if err != nil {
		return fmt.Errorf("eval: creating a directory for %s: %w", p.Name, err)
	}
	defer os.RemoveAll(dir)
	if err := copyExercise(p.Dir, dir, code); err != nil {
		return fmt.Errorf("eval: exercise %s: %w", p.Name, err)
	}
	h.seedRustcInfo(dir)
	built, err := h.sandbox.Run(ctx, dir, h.environment(dir), h.compileLimits(exercismBuildTimeout),
		h.cargo, "test", "--offline", "--no-run", "--test", "*", "-j", "1", "--message-format=json-diagnostic-short")
	if err != nil {
		return err
	}
	h.keepRustcInfo(dir)
	binaries, firstErr := cargoArtifacts(built.Output)
	if status := compileStatus(built); status != "" || len(binaries) == 0 {
		if status == "" {
			status = StatusCompileError
		}
		r.Status, r.Detail = status, statusDetail(status)
		if status == StatusCompileError {
			r.Detail = cmpString(firstErr, clip(lastLines(built.Output, 3), 300))
		}
		return nil
	}
	r.Compiled = true
	h.lints(ctx, Program{Source: code, Kind: KindLib}, p.Edition, lineRange{}, r)
	return h.runTests(ctx, dir, binaries, r)
}

// seedRustcInfo writes the rustc info cache kept from an earlier build into the sample's new target
// folder, so cargo starts no rustc to learn it again. Failing to write it only loses that saving.
func (h *Harness) seedRustcInfo(dir string) {
	h.mu.Lock()
	info := h.rustcInfo
	h.mu.Unlock()
	target := filepath.Join(dir, "target")
	if info != nil && os.Mkdir(target, 0o700) == nil {
		_ = os.WriteFile(filepath.Join(target, rustcInfoFile), info, 0o600)
	}
}

// keepRustcInfo keeps the rustc info cache that the first build wrote (cargo writes it before compiling,
// so answer code has not run yet; the tests run later).
func (h *Harness) keepRustcInfo(dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rustcInfo != nil {
		return
	}
	if data, err := readSmall(filepath.Join(dir, "target", rustcInfoFile)); err == nil && json.Valid(data) {
		h.rustcInfo = data
	}
}

// runTests runs the test binaries one after another; the first that fails decides the status.
func (h *Harness) runTests(ctx context.Context, dir string, binaries []string, r *SampleResult) error {
	env := append(h.environment(dir), "CARGO_MANIFEST_DIR="+dir)
	for _, bin := range binaries {
		ran, err := h.sandbox.Run(ctx, dir, env, h.runLimits(exercismRunTimeout), bin, "--include-ignored")
		if err != nil {
			return err
		}
		if status := runStatus(ran); status != StatusOK {
			r.Status, r.Detail = status, runDetail(ran, status)
			return nil
		}
	}
	r.Status, r.Passed = StatusOK, true
	return nil
}

func cmpString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// copyExercise makes the exercise in dst: Cargo.toml, the tests/ tree and src/lib.rs holding code.
func copyExercise(src, dst, code string) error {
	manifest, err := readSmall(filepath.Join(src, "Cargo.toml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "Cargo.toml"), manifest, 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dst, "src"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "src", "lib.rs"), []byte(code), 0o600); err != nil {
		return err
	}
	tests := filepath.Join(src, "tests")
	return filepath.WalkDir(tests, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			data, err := readSmall(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o600)
		}
		return nil // links and devices are not part of an exercise
	})
}

// cargoMessage is the part of a line of cargo's JSON messages this harness reads.
type cargoMessage struct {
	Reason     string  `json:"reason"`
	Executable *string `json:"executable"`
	Target     struct {
		Kind []string `json:"kind"`
	} `json:"target"`
	Message struct {
		Level    string `json:"level"`
		Rendered string `json:"rendered"`
	} `json:"message"`
}

// cargoArtifacts returns the integration-test executables of cargo's JSON messages, and the first error
// the compiler reported.
func cargoArtifacts(output []byte) (binaries []string, firstErr string) {
	scanner := bufio.NewScanner(bytes.NewReader(output))
	scanner.Buffer(make([]byte, 64<<10), 8<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			if firstErr == "" && bytes.HasPrefix(line, []byte("error")) && !bytes.Contains(line, []byte("could not compile")) {
				firstErr = clip(string(line), 300)
			}
			continue
		}
		var m cargoMessage
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch {
		case m.Reason == "compiler-artifact" && m.Executable != nil && slices.Contains(m.Target.Kind, "test"):
			binaries = append(binaries, *m.Executable)
		case m.Reason == "compiler-message" && m.Message.Level == "error" && firstErr == "":
			firstErr = clip(strings.TrimSpace(m.Message.Rendered), 300)
		}
	}
	return binaries, firstErr
}
