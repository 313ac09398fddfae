package main

import (
	"errors"
	"strings"
	"testing"

	"rustexpert/eval"
	"rustexpert/store"
)

// TestLabelByCompilerWithRealRustc: two tiny answers, one that compiles and one with a use after
// move; the command checks them with the real compiler and labels the comparison once.
func TestLabelByCompilerWithRealRustc(t *testing.T) {
	if _, err := eval.NewChecker(eval.Options{}); err != nil {
		t.Skipf("no Rust toolchain: %v", err)
	}
	dir := t.TempDir()
	st := openData(t, dir)
	ctx := t.Context()
	m, err := st.CreateModel(ctx, store.ModelInput{Name: "m", Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := st.CreatePrompt(ctx, store.PromptInput{Text: "Print a vector after moving it"}, 0)
	params := []store.Sampling{{Temperature: 0.2, TopP: 1, MaxTokens: 64}, {Temperature: 0.7, TopP: 1, MaxTokens: 64}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Like this:\n\n```rust\nfn main() {\n    let v = vec![1];\n    let w = v;\n    println!(\"{:?} {:?}\", v, w);\n}\n```",
		"Clone it first:\n\n```rust\nfn main() {\n    let v = vec![1];\n    let w = v.clone();\n    println!(\"{:?} {:?}\", v, w);\n}\n```",
	}
	for slot, text := range texts {
		if err := st.SaveResponse(ctx, store.Response{PromptID: p.ID, ModelID: m.ID, JobID: job.ID, Slot: slot, Params: params[slot], Text: text}); err != nil {
			t.Fatal(err)
		}
	}

	out, _, err := runIn(t, dir, "label", "--by", "compiler", "--check=false")
	if err != nil || !strings.Contains(out, "0 created") || !strings.Contains(out, "1 with answers not checked yet") {
		t.Fatalf("without checks: %q, %v", out, err)
	}
	out, msg, err := runIn(t, dir, "label", "--by", "compiler", "--job", "1")
	if err != nil || !strings.Contains(out, "compiler labels: 1 created, 0 already labelled") || !strings.Contains(msg, "checked 2 answers") {
		t.Fatalf("label: %q, stderr %q, %v", out, msg, err)
	}
	answers, _ := st.ItemResponses(ctx, job.ID, p.ID)
	labels, err := st.ListLabels(ctx, store.LabelFilter{Source: store.SuggestedByCompiler})
	if err != nil || len(labels) != 1 {
		t.Fatalf("%d compiler labels, %v", len(labels), err)
	}
	l := labels[0]
	if l.ChosenID != answers[1].ID || l.RejectedID != answers[0].ID || l.AnnotatorName != store.CompilerAnnotator ||
		!strings.HasPrefix(l.Rationale, "B compiles, A fails: E0382: borrow of moved value") {
		t.Fatalf("label %+v", l)
	}
	out, _, err = runIn(t, dir, "label", "--by", "compiler")
	if err != nil || !strings.Contains(out, "0 created, 1 already labelled") {
		t.Fatalf("again: %q, %v", out, err)
	}
	if _, _, err := runIn(t, dir, "label", "--by", "compiler", "--job", "7"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestLabelUsage(t *testing.T) {
	for _, args := range [][]string{{"label"}, {"label", "--by", "people"}, {"label", "--by", "compiler", "extra"}, {"label", "--by", "compiler", "--job", "-1"}} {
		var u usageError
		if _, _, err := runIn(t, t.TempDir(), args...); !errors.As(err, &u) || exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
}
