package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

// seedJobs stores two finished jobs' answers to one held-out prompt: one compiles, one does not.
func seedJobs(t *testing.T, dir string) {
	t.Helper()
	st := openData(t, dir)
	ctx := t.Context()
	p, err := st.CreatePrompt(ctx, store.PromptInput{Text: "Write a function that adds two numbers.", Split: store.SplitHeldout}, 0)
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{
		"first":  "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```",
		"second": "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + \n}\n```",
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 64}}
	for _, name := range []string{"first", "second"} {
		m, err := st.CreateModel(ctx, store.ModelInput{Name: name, Endpoint: "http://127.0.0.1:1/v1"})
		if err != nil {
			t.Fatal(err)
		}
		job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveResponse(ctx, store.Response{PromptID: p.ID, ModelID: m.ID, JobID: job.ID, Params: params[0], Text: answers[name]}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
}

// TestEvalReportWritesTheREADMEResults checks the jobs' answers with rustc and writes the full report and
// the README's results part, leaving the rest of the README as it was.
func TestEvalReportWritesTheREADMEResults(t *testing.T) {
	skipWithoutRust(t)
	dir := t.TempDir()
	seedJobs(t, dir)
	readme := filepath.Join(dir, "README.md")
	before := "# Title\n\nIntro.\n\n## Results\n\n" + resultsBegin + "\nold results\n" + resultsEnd + "\n\n## After\n\nKept.\n"
	if err := os.WriteFile(readme, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	out, msg, err := runIn(t, dir, "eval", "report", "--jobs", "1,2", "--held-out", "--out-dir", filepath.Join(dir, "results"), "--readme", readme)
	if err != nil {
		t.Fatalf("eval report: %v\n%s", err, msg)
	}
	if !strings.Contains(out, "heldout-prompts.md") || !strings.Contains(msg, "checked 2 answers") {
		t.Errorf("stdout %q, stderr %q", out, msg)
	}
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"# Title\n\nIntro.", "## After\n\nKept.", "| #1 | first | 1 | 1 | 1 | 1.000 | 1.000 |", "| #2 | second | 1 | 1 | 1 | 1.000 | 0.000 |",
		"[results/heldout-prompts.md](results/heldout-prompts.md)", "Write a function that adds two numbers.", "a + b"} {
		if !strings.Contains(text, want) {
			t.Errorf("README lacks %q:\n%s", want, text)
		}
	}
	if want := "by `rustexpert eval report --jobs 1,2 --held-out --out-dir"; !strings.Contains(text, want) || strings.Contains(text, "--data") {
		t.Errorf("the command shown is not %q… without --data", want)
	}
	if strings.Contains(text, "old results") {
		t.Error("the old results were kept")
	}
	full, err := os.ReadFile(filepath.Join(dir, "results", "heldout-prompts.md"))
	if err != nil || !strings.Contains(string(full), "## Per prompt") {
		t.Errorf("full report: %v\n%s", err, full)
	}

	if err := os.WriteFile(readme, []byte("# No markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runIn(t, dir, "eval", "report", "--jobs", "1,2", "--readme", readme); err == nil || !strings.Contains(err.Error(), resultsBegin) {
		t.Errorf("README without markers: %v", err)
	}
	if _, _, err := runIn(t, dir, "eval", "report", "--jobs", "1,x"); err == nil || !strings.Contains(err.Error(), `"x" is not an id`) {
		t.Errorf("bad id: %v", err)
	}
}

// TestEvalGenerateOnlyRefusesADeadModel: a model server that answers nothing is an error, not a file of
// empty answers.
func TestEvalGenerateOnlyRefusesADeadModel(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "models", "add", "dead", "--endpoint", "http://127.0.0.1:1/v1", "--served-name", "dead"); err != nil {
		t.Fatal(err)
	}
	answers := filepath.Join(dir, "answers.jsonl")
	_, _, err := runIn(t, dir, "eval", "--model", "dead", "--bench", filepath.Join("eval", "testdata", "exercism"),
		"--save-completions", answers, "--generate-only")
	if err == nil || !strings.Contains(err.Error(), "answered none of the 1 problems") {
		t.Fatalf("eval of a dead model: %v", err)
	}
	if _, err := os.Stat(answers); !os.IsNotExist(err) {
		t.Errorf("a completions file was written: %v", err)
	}
}

func TestReportCommandLeavesOutLocalFolders(t *testing.T) {
	got := reportCommand([]string{"--data", "/srv/x", "--jobs", "1,2", "--db=/srv/y.db", "-models", "m", "--runs", "3,4"})
	if want := "rustexpert eval report --jobs 1,2 --runs 3,4"; got != want {
		t.Errorf("reportCommand = %q, want %q", got, want)
	}
}
