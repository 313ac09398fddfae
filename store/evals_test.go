package store

import (
	"errors"
	"testing"
)

func TestEvalRunLifecycle(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	run, err := st.CreateEvalRun(ctx, EvalRunInput{Model: "base", Bench: "exercism-rust", Format: "exercism", N: 2, SettingsJSON: `{"temperature":0.8}`})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != EvalRunning || run.N != 2 || run.SummaryJSON != "{}" || !run.Finished.IsZero() || run.Started.IsZero() {
		t.Fatalf("new run %+v", run)
	}
	results := []EvalResult{
		{Problem: "anagram", Sample: 1, Category: "exercism", Status: "test_failed", Compiled: true, Lints: 3, Seconds: 1.5, Detail: "panicked at", Completion: "pub fn f() {}"},
		{Problem: "anagram", Sample: 0, Category: "exercism", Status: "ok", Compiled: true, Passed: true, Lints: 0, Seconds: 2, Completion: "x"},
		{Problem: "acronym", Sample: 0, Category: "exercism", Status: "no_code", Lints: -1, Completion: ""},
	}
	for _, r := range results {
		if err := st.SaveEvalResult(ctx, run.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveEvalResult(ctx, run.ID, results[0]); !errors.Is(err, ErrConflict) {
		t.Errorf("the same sample twice: %v", err)
	}
	if err := st.SaveEvalResult(ctx, run.ID, EvalResult{Problem: "x", Status: "fine"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown status: %v", err)
	}
	if err := st.SaveEvalResult(ctx, 99, results[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	got, err := st.EvalResults(ctx, run.ID)
	if err != nil || len(got) != 3 {
		t.Fatalf("results %+v, %v", got, err)
	}
	if got[0].Problem != "acronym" || got[1] != results[1] || got[2] != results[0] {
		t.Errorf("results in order: %+v", got)
	}
	if err := st.FinishEvalRun(ctx, run.ID, EvalDone, `{"pass_at_k":{"pass@1":0.25}}`, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishEvalRun(ctx, run.ID, EvalFailed, "", "again"); !errors.Is(err, ErrConflict) {
		t.Errorf("finishing twice: %v", err)
	}
	if err := st.SaveEvalResult(ctx, run.ID, EvalResult{Problem: "late", Status: "ok", Completion: ""}); !errors.Is(err, ErrConflict) {
		t.Errorf("a result after the end: %v", err)
	}
	done, err := st.EvalRun(ctx, run.ID)
	if err != nil || done.Status != EvalDone || done.SummaryJSON != `{"pass_at_k":{"pass@1":0.25}}` || done.Finished.IsZero() || done.SettingsJSON != `{"temperature":0.8}` {
		t.Errorf("finished run %+v, %v", done, err)
	}
	second, _ := st.CreateEvalRun(ctx, EvalRunInput{Model: "completions:x.jsonl", Bench: "sample", Format: "multipl-e", N: 1})
	list, err := st.EvalRuns(ctx)
	if err != nil || len(list) != 2 || list[0].ID != second.ID {
		t.Errorf("runs newest first: %+v, %v", list, err)
	}
	if _, err := st.EvalRun(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
}

func TestCreateEvalRunRefusesBadInput(t *testing.T) {
	st := openTest(t)
	for _, in := range []EvalRunInput{
		{Bench: "b", Format: "exercism", N: 1},
		{Model: "m", Format: "exercism", N: 1},
		{Model: "m", Bench: "b", Format: "humaneval", N: 1},
		{Model: "m", Bench: "b", Format: "exercism", N: 0},
		{Model: "m", Bench: "b", Format: "exercism", N: 1, SettingsJSON: "{"},
	} {
		if _, err := st.CreateEvalRun(t.Context(), in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", in, err)
		}
	}
	if err := st.FinishEvalRun(t.Context(), 1, "paused", "", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown status: %v", err)
	}
}
