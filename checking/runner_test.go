package checking

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rustexpert/eval"
	"rustexpert/store"
)

func TestRunnerChecksEveryAnswerOnceWithRealRustc(t *testing.T) {
	checker, err := eval.NewChecker(eval.Options{})
	if err != nil {
		t.Skipf("no Rust toolchain: %v", err)
	}
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, _ := st.CreateModel(ctx, store.ModelInput{Name: "m", Endpoint: "http://127.0.0.1:9/v1"})
	p, _ := st.CreatePrompt(ctx, store.PromptInput{Text: "Sum a slice"}, 0)
	params := []store.Sampling{{Temperature: 0.2, TopP: 1, MaxTokens: 64}, {Temperature: 0.7, TopP: 1, MaxTokens: 64}, {Temperature: 1, TopP: 1, MaxTokens: 64}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Use an iterator:\n\n```rust\npub fn sum(v: &[i64]) -> i64 {\n    v.iter().sum()\n}\n```",
		"Like this:\n\n```rust\nfn main() {\n    let v = vec![1];\n    let w = v;\n    println!(\"{:?}\", v);\n}\n```",
		"Just call `iter().sum()`.",
	}
	for slot, text := range texts {
		if err := st.SaveResponse(ctx, store.Response{PromptID: p.ID, ModelID: m.ID, JobID: job.ID, Slot: slot, Params: params[slot], Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	r := New(st, checker, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	if n, err := r.CheckPending(ctx); err != nil || n != 3 {
		t.Fatalf("checked %d answers: %v", n, err)
	}
	if n, _ := r.CheckPending(ctx); n != 0 {
		t.Fatalf("checked %d answers again", n)
	}
	answers, _ := st.ItemResponses(ctx, job.ID, p.ID)
	checks, err := st.ChecksOf(ctx, []int64{answers[0].ID, answers[1].ID, answers[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	ok, moved, none := checks[answers[0].ID], checks[answers[1].ID], checks[answers[2].ID]
	if !ok.HasCode || !ok.Compiles {
		t.Errorf("compiling answer: %+v", ok)
	}
	if moved.Compiles || !strings.HasPrefix(moved.FirstError, "E0382") {
		t.Errorf("use after move: %+v", moved)
	}
	if none.HasCode {
		t.Errorf("answer without code: %+v", none)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
