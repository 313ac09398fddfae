package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Limits of a MultiPL-E problem as its own evaluator sets them.
const (
	multipleCompileTimeout = 15 * time.Second
	multipleRunTimeout     = 5 * time.Second
	maxBenchLine           = 4 << 20
)

// multipleProblem is one line of a MultiPL-E file (the fields this harness reads; language, doctests,
// original and prompt_terminology are ignored). Category is not MultiPL-E's own: a bench may add it.
type multipleProblem struct {
	Name       string   `json:"name"`
	Prompt     string   `json:"prompt"`
	Tests      string   `json:"tests"`
	StopTokens []string `json:"stop_tokens"`
	Category   string   `json:"category"`
}

// ReadMultiPLE reads problems in MultiPL-E's format: one JSON object per line (JSONL) or one JSON array of
// them, each with name, prompt, tests and stop_tokens. The program of a completion is prompt + completion
// + tests. source names the input in errors.
func ReadMultiPLE(r io.Reader, source string) ([]Problem, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	trimmed := bytes.TrimSpace(data)
	var raw []multipleProblem
	var lines []int
	if bytes.HasPrefix(trimmed, []byte("[")) {
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("%s: a JSON array of MultiPL-E problems: %w", source, err)
		}
		lines = make([]int, len(raw))
	} else if raw, lines, err = readMultipleLines(data, source); err != nil {
		return nil, err
	}
	problems := make([]Problem, 0, len(raw))
	seen := map[string]bool{}
	for i, m := range raw {
		where := fmt.Sprintf("%s: problem %d", source, i+1)
		if lines[i] > 0 {
			where = fmt.Sprintf("%s:%d", source, lines[i])
		}
		switch {
		case strings.TrimSpace(m.Name) == "":
			return nil, fmt.Errorf("%s: field name is empty", where)
		case seen[m.Name]:
			return nil, fmt.Errorf("%s: problem %q appears twice", where, m.Name)
		case strings.TrimSpace(m.Prompt) == "":
			return nil, fmt.Errorf("%s (%s): field prompt is empty", where, m.Name)
		case strings.TrimSpace(m.Tests) == "":
			return nil, fmt.Errorf("%s (%s): field tests is empty", where, m.Name)
		}
		seen[m.Name] = true
		problems = append(problems, Problem{Name: m.Name, Category: m.Category, Format: FormatMultiPLE,
			Prompt: m.Prompt, Tests: m.Tests, Stop: m.StopTokens})
	}
	if len(problems) == 0 {
		return nil, fmt.Errorf("%s: no problems", source)
	}
	return problems, nil
}

func readMultipleLines(data []byte, source string) ([]multipleProblem, []int, error) {
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 64<<10), maxBenchLine)
	var raw []multipleProblem
	var lines []int
	for line := 1; scanner.Scan(); line++ {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		var m multipleProblem
		if err := json.Unmarshal(text, &m); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		raw = append(raw, m)
		lines = append(lines, line)
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	return raw, lines, nil
}

// TruncateAtStop cuts text at the first occurrence of any stop string, as MultiPL-E's generation does.
func TruncateAtStop(text string, stops []string) string {
	cut := len(text)
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut = i
		}
	}
	return text[:cut]
}

// fnName finds the name of the last function a MultiPL-E prompt declares: the one to complete.
var fnName = regexp.MustCompile(`\bfn\s+([A-Za-z_][A-Za-z0-9_]*)`)

// multipleCompletion turns a text into the completion of p: a plain completion as it is, or the code of
// a chat answer (Markdown with fences). A chat answer usually repeats the function's signature; then the
// completion is what follows the signature's opening brace. Either is cut at p's stop strings. ok is false
// when the text holds no code.
func multipleCompletion(p Problem, text string) (string, bool) {
	if isMarkdown(text) {
		blocks := Extract(text)
		if len(blocks) == 0 {
			return "", false
		}
		text = afterSignature(p.Prompt, strings.Join(blocks, "\n"))
	}
	completion := TruncateAtStop(text, p.Stop)
	if strings.TrimSpace(completion) == "" {
		return "", false
	}
	return completion, true
}

// afterSignature returns code after the opening brace of the prompt's function when code declares it again,
// else code.
func afterSignature(prompt, code string) string {
	names := fnName.FindAllStringSubmatch(prompt, -1)
	if len(names) == 0 {
		return code
	}
	decl := regexp.MustCompile(`\bfn\s+` + regexp.QuoteMeta(names[len(names)-1][1]) + `\b`)
	loc := decl.FindStringIndex(code)
	if loc == nil {
		return code
	}
	brace := strings.Index(code[loc[1]:], "{")
	if brace < 0 {
		return code
	}
	return code[loc[1]+brace+1:]
}

// MultiPLEProgram is the program MultiPL-E compiles: prompt + completion + tests.
func MultiPLEProgram(p Problem, completion string) string {
	return p.Prompt + completion + p.Tests
}

// scoreMultiPLE compiles prompt + completion + tests with rustc and runs it: it passes when it exits 0.
func (h *Harness) scoreMultiPLE(ctx context.Context, p Problem, text string, r *SampleResult) error {
	completion, ok := multipleCompletion(p, text)
	if !ok {
		r.Status = StatusNoCode
		return nil
	}
	dir, err := os.MkdirTemp(h.opts.TempDir, "rustbench-")
	if err != nil {
		return fmt.Errorf("eval: creating a directory for %s: %w", p.Name, err)
	}
	defer os.RemoveAll(dir)
	source := MultiPLEProgram(p, completion)
	if err := os.WriteFile(filepath.Join(dir, "main.rs"), []byte(source), 0o600); err != nil {
		return fmt.Errorf("eval: writing %s: %w", p.Name, err)
	}
	compiled, err := h.sandbox.Run(ctx, dir, h.environment(dir), h.compileLimits(multipleCompileTimeout),
		h.rustc, "--edition", h.opts.Edition, "--error-format=short", "-o", "main", "main.rs")
	if err != nil {
		return err
	}
	if status := compileStatus(compiled); status != "" {
		r.Status, r.Detail = status, firstError(compiled.Output, status)
		return nil
	}
	r.Compiled = true
	first := strings.Count(p.Prompt, "\n") + 1
	h.lints(ctx, Program{Source: source, Kind: KindBin}, h.opts.Edition, lineRange{first, first + strings.Count(completion, "\n")}, r)
	ran, err := h.sandbox.Run(ctx, dir, h.environment(dir), h.runLimits(multipleRunTimeout), filepath.Join(dir, "main"))
	if err != nil {
		return err
	}
	r.Status = runStatus(ran)
	r.Passed = r.Status == StatusOK
	if !r.Passed {
		r.Detail = runDetail(ran, r.Status)
	}
	return nil
}

// compileStatus is "" when a compiler run succeeded, else the status of the answer.
func compileStatus(o Outcome) string {
	switch {
	case o.TimedOut || o.Signal == sigXCPU:
		return StatusTimeout
	case o.OutputExceeded:
		return StatusOutputLimit
	case o.ExitCode != 0 || o.Signal != 0:
		return StatusCompileError
	}
	return ""
}

// firstError is the first error line of compiler output (rustc's or cargo's short format).
func firstError(output []byte, status string) string {
	if status != StatusCompileError {
		return statusDetail(status)
	}
	for _, line := range strings.Split(string(output), "\n") {
		if strings.Contains(line, "error") && !strings.HasPrefix(line, "error: aborting") && !strings.HasPrefix(line, "error: could not compile") {
			return clip(strings.TrimSpace(line), 300)
		}
	}
	return clip(strings.TrimSpace(string(output)), 300)
}

var errNoRustc = errors.New("eval: rustc is not on PATH; install the Rust toolchain")
