package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/eval"
	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

func skipWithoutRust(t *testing.T) {
	t.Helper()
	if _, err := eval.NewHarness(eval.HarnessOptions{}); err != nil {
		t.Skipf("no Rust toolchain: %v", err)
	}
}

// evalSummary is the part of the printed summary the tests read.
type evalSummary struct {
	RunID       int64              `json:"run_id"`
	Model       string             `json:"model"`
	Bench       string             `json:"bench"`
	Format      string             `json:"format"`
	Problems    int                `json:"problems"`
	Samples     int                `json:"samples"`
	N           int                `json:"n"`
	PassAtK     map[string]float64 `json:"pass_at_k"`
	CompileRate float64            `json:"compile_rate"`
	Statuses    map[string]int     `json:"statuses"`
	Unsolved    []string           `json:"unsolved"`
}

func decodeSummary(t *testing.T, out string) evalSummary {
	t.Helper()
	var s evalSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, out)
	}
	return s
}

// TestEvalCompletionsMultiPLE scores the sample's completions file (right answers and wrong ones) without
// a model, stores the run and plots it.
func TestEvalCompletionsMultiPLE(t *testing.T) {
	skipWithoutRust(t)
	dir := t.TempDir()
	out, msg, err := runIn(t, dir, "eval", "--bench", filepath.Join("eval", "testdata", "multiple_sample.jsonl"),
		"--completions", filepath.Join("eval", "testdata", "multiple_completions.jsonl"), "--run-timeout", "2s", "--lints=false")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, msg)
	}
	s := decodeSummary(t, out)
	if s.RunID != 1 || s.Model != "completions:multiple_completions.jsonl" || s.Bench != "multiple_sample" || s.Format != eval.FormatMultiPLE ||
		s.Problems != 4 || s.Samples != 8 || s.N != 2 || s.PassAtK["pass@1"] != 0.5 || s.CompileRate != 6.0/8 {
		t.Errorf("summary %+v", s)
	}
	want := map[string]int{eval.StatusOK: 4, eval.StatusTestFailed: 1, eval.StatusNoCode: 1, eval.StatusCompileError: 1, eval.StatusTimeout: 1}
	for status, count := range want {
		if s.Statuses[status] != count {
			t.Errorf("%d answers %s, want %d (statuses %v)", s.Statuses[status], status, count, s.Statuses)
		}
	}
	if !strings.Contains(msg, "[8/8]") || !strings.Contains(msg, "Sample_3_balanced_brackets#1 timeout") {
		t.Errorf("progress on stderr: %q", msg)
	}
	st := openData(t, dir)
	run, err := st.EvalRun(t.Context(), s.RunID)
	if err != nil || run.Status != store.EvalDone || run.N != 2 || !strings.Contains(run.SummaryJSON, `"pass@1":0.5`) {
		t.Fatalf("stored run %+v, %v", run, err)
	}
	results, err := st.EvalResults(t.Context(), s.RunID)
	if err != nil || len(results) != 8 {
		t.Fatalf("stored results %d, %v", len(results), err)
	}
	if r := results[0]; r.Problem != "Sample_0_sum_odd_squares" || r.Sample != 0 || r.Status != eval.StatusOK || !strings.Contains(r.Completion, "n * n") {
		t.Errorf("first stored result %+v", r)
	}
	svg := filepath.Join(dir, "runs.svg")
	listing, _, err := runIn(t, dir, "eval", "runs", "--svg", svg)
	if err != nil || !strings.Contains(listing, "completions:multiple_completions.jsonl") || !strings.Contains(listing, "0.500") {
		t.Fatalf("eval runs: %q, %v", listing, err)
	}
	plot, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(plot), "<svg") || !strings.Contains(string(plot), "#1 completions:multiple_completions.jsonl · multiple_sample") {
		t.Errorf("plot: %v\n%s", err, plot)
	}
}

// TestEvalModelWithStandIn generates the answers with the test stand-in model server (canned answers that
// solve nothing) on the test exercise: every sample is asked for, scored, stored.
func TestEvalModelWithStandIn(t *testing.T) {
	skipWithoutRust(t)
	server := openaitest.NewServer(openaitest.Options{})
	defer server.Close()
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "models", "add", "stand-in", "--endpoint", server.URL(), "--served-name", "test-model"); err != nil {
		t.Fatal(err)
	}
	out, msg, err := runIn(t, dir, "eval", "--model", "stand-in", "--bench", filepath.Join("eval", "testdata", "exercism"), "--n", "2", "--lints=false")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, msg)
	}
	s := decodeSummary(t, out)
	if s.Model != "stand-in" || s.Format != eval.FormatExercism || s.Samples != 2 || s.N != 2 || s.PassAtK["pass@1"] != 0 ||
		s.Statuses[eval.StatusCompileError] != 2 || len(s.Unsolved) != 1 || server.Requests() < 1 {
		t.Errorf("summary %+v after %d requests\n%s", s, server.Requests(), msg)
	}
	st := openData(t, dir)
	results, err := st.EvalResults(t.Context(), s.RunID)
	if err != nil || len(results) != 2 || !strings.Contains(results[1].Completion, "```rust") || results[1].Detail == "" {
		t.Errorf("stored results %+v, %v", results, err)
	}
	run, _ := st.EvalRun(t.Context(), s.RunID)
	if !strings.Contains(run.SettingsJSON, `"temperature":0.8`) {
		t.Errorf("n=2 samples at temperature 0.8: settings %s", run.SettingsJSON)
	}
}

func TestEvalRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bench := filepath.Join("eval", "testdata", "multiple_sample.jsonl")
	for _, args := range [][]string{
		{"eval"},
		{"eval", "--bench", bench},
		{"eval", "--bench", bench, "--model", "m", "--completions", "c.jsonl"},
		{"eval", "--bench", bench, "--model", "m", "--n", "0"},
		{"eval", "--bench", bench, "--completions", "c.jsonl", "--rag"},
		{"eval", "--bench", bench, "--model", "m", "extra"},
	} {
		var u usageError
		if _, _, err := runIn(t, dir, args...); !errors.As(err, &u) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	skipWithoutRust(t)
	completions := filepath.Join(dir, "c.jsonl")
	os.WriteFile(completions, []byte(`{"name":"Sample_0_sum_odd_squares","completion":"    0\n"}`+"\n"+`{"name":"nope","completion":"x"}`+"\n"), 0o644)
	if _, _, err := runIn(t, dir, "eval", "--bench", bench, "--completions", completions); err == nil || !strings.Contains(err.Error(), `c.jsonl:2: bench multiple_sample has no problem "nope"`) {
		t.Errorf("unknown problem: %v", err)
	}
	if _, _, err := runIn(t, dir, "eval", "--bench", bench, "--completions", completions, "--problems", "Sample_9"); err == nil || !strings.Contains(err.Error(), `no problem "Sample_9"`) {
		t.Errorf("unknown --problems: %v", err)
	}
	if _, _, err := runIn(t, dir, "eval", "--bench", bench, "--model", "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown model: %v", err)
	}
}

// TestEvalGenerateThenScoreElsewhere splits an eval in two halves, as on a GPU server without Rust: the
// test stand-in model's answers are written to a completions file and nothing is stored; the file is
// then scored under the model's name.
func TestEvalGenerateThenScoreElsewhere(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{})
	defer server.Close()
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "models", "add", "stand-in", "--endpoint", server.URL(), "--served-name", "test-model"); err != nil {
		t.Fatal(err)
	}
	answers := filepath.Join(dir, "answers.jsonl")
	bench := filepath.Join("eval", "testdata", "exercism")
	out, msg, err := runIn(t, dir, "eval", "--model", "stand-in", "--bench", bench, "--n", "2", "--save-completions", answers, "--generate-only")
	if err != nil {
		t.Fatalf("eval --generate-only: %v\n%s", err, msg)
	}
	if !strings.Contains(out, "2 answers of stand-in") {
		t.Errorf("stdout %q", out)
	}
	file, err := os.Open(answers)
	if err != nil {
		t.Fatal(err)
	}
	completions, err := eval.ReadCompletions(file, answers)
	file.Close()
	if err != nil || len(completions) != 2 || !strings.Contains(completions[0].Completion, "```rust") {
		t.Fatalf("completions file: %+v, %v", completions, err)
	}
	if runs, _ := openData(t, dir).EvalRuns(t.Context()); len(runs) != 0 {
		t.Errorf("--generate-only stored %d runs", len(runs))
	}
	if _, _, err := runIn(t, dir, "eval", "--completions", answers, "--bench", bench, "--generate-only"); err == nil {
		t.Error("--generate-only without a model was accepted")
	}

	skipWithoutRust(t)
	out, msg, err = runIn(t, dir, "eval", "--completions", answers, "--bench", bench, "--name", "stand-in", "--lints=false")
	if err != nil {
		t.Fatalf("eval --completions: %v\n%s", err, msg)
	}
	if s := decodeSummary(t, out); s.Model != "stand-in" || s.Samples != 2 {
		t.Errorf("summary %+v", s)
	}
}
