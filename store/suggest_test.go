package store

import (
	"errors"
	"fmt"
	"testing"
)

// seedCompilerJob stores a job of two answers to each of the given prompts and returns the
// comparisons with their answers.
func seedCompilerJob(t *testing.T, st *Store, prompts ...string) (Job, [][]Response) {
	t.Helper()
	ctx := t.Context()
	m, err := st.CreateModel(ctx, ModelInput{Name: fmt.Sprintf("m%d", len(prompts)), Endpoint: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, text := range prompts {
		p, err := st.CreatePrompt(ctx, PromptInput{Text: text, Category: "compiler-test"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	params := []Sampling{{Temperature: 0.2, TopP: 1, MaxTokens: 64}, {Temperature: 0.8, TopP: 1, MaxTokens: 64}}
	job, err := st.CreateJob(ctx, NewJob{ModelID: m.ID, Filter: PromptFilter{Category: "compiler-test"}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	var answers [][]Response
	for _, id := range ids {
		for slot := range params {
			if err := st.SaveResponse(ctx, Response{PromptID: id, ModelID: m.ID, JobID: job.ID, Slot: slot, Text: fmt.Sprintf("answer %d", slot), Params: params[slot]}); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := st.ItemResponses(ctx, job.ID, id)
		if err != nil || len(rs) != 2 {
			t.Fatalf("answers of prompt %d: %d, %v", id, len(rs), err)
		}
		answers = append(answers, rs)
	}
	return job, answers
}

func saveChecks(t *testing.T, st *Store, checks ...Check) {
	t.Helper()
	for _, c := range checks {
		if err := st.SaveCheck(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLabelByCompilerIsIdempotentAndLeavesPeopleAlone(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, items := seedCompilerJob(t, st, "Fix the move", "Sum a slice", "Parse a number")
	moved, fixed := items[0][0], items[0][1]
	saveChecks(t, st,
		Check{ResponseID: moved.ID, HasCode: true, Errors: 1, Lints: -1, FirstError: "E0382: borrow of moved value: `v` (line 4)"},
		Check{ResponseID: fixed.ID, HasCode: true, Compiles: true},
		Check{ResponseID: items[1][0].ID, HasCode: true, Compiles: true, Lints: 1},
		Check{ResponseID: items[1][1].ID, HasCode: true, Compiles: true, Lints: 1},
		Check{ResponseID: items[2][0].ID, HasCode: true, Compiles: true})
	ann, _ := st.CreateUser(ctx, "ann", "password123", RoleAnnotator)
	bob, _ := st.CreateUser(ctx, "bob", "password123", RoleAnnotator)
	first := Item{JobID: job.ID, PromptID: moved.PromptID}
	// Ann disagrees with the compiler; her label must stay hers and unchanged.
	if err := st.SubmitLabel(ctx, LabelInput{Item: first, AnnotatorID: ann.ID, Verdict: VerdictPair, ChosenID: moved.ID,
		RejectedID: fixed.ID, Rationale: "explains the move"}); err != nil {
		t.Fatal(err)
	}

	counts, err := st.LabelByCompiler(ctx, job.ID)
	if want := (CompilerLabelCounts{Created: 1, NoSuggestion: 1, Unchecked: 1}); err != nil || counts != want {
		t.Fatalf("first run: %+v, %v; want %+v", counts, err, want)
	}
	labels, _ := st.ListLabels(ctx, LabelFilter{AnnotatorID: 0})
	if len(labels) != 2 {
		t.Fatalf("%d labels, want Ann's and the compiler's", len(labels))
	}
	var compiler, mine Label
	for _, l := range labels {
		if l.AnnotatorName == CompilerAnnotator {
			compiler = l
		} else {
			mine = l
		}
	}
	if compiler.Item != first || compiler.Verdict != VerdictPair || compiler.ChosenID != fixed.ID || compiler.RejectedID != moved.ID ||
		compiler.SuggestedBy != SuggestedByCompiler || compiler.Rationale != "B compiles, A fails: E0382: borrow of moved value: `v` (line 4)" {
		t.Fatalf("compiler label %+v", compiler)
	}
	if mine.AnnotatorID != ann.ID || mine.ChosenID != moved.ID || mine.Rationale != "explains the move" || mine.SuggestedBy != "" {
		t.Fatalf("Ann's label changed: %+v", mine)
	}

	// Again: nothing new, nothing changed.
	counts, err = st.LabelByCompiler(ctx, job.ID)
	if want := (CompilerLabelCounts{Existing: 1, NoSuggestion: 1, Unchecked: 1}); err != nil || counts != want {
		t.Fatalf("second run: %+v, %v; want %+v", counts, err, want)
	}
	again, _ := st.LabelByID(ctx, compiler.ID)
	if again.UpdatedAt != compiler.UpdatedAt || again.Rationale != compiler.Rationale {
		t.Fatalf("the compiler label was rewritten: %+v", again)
	}

	// Once the last answer is checked, its comparison gets its label (all jobs: jobID 0).
	saveChecks(t, st, Check{ResponseID: items[2][1].ID, HasCode: true, Compiles: true, Lints: -1, Warnings: 2})
	counts, err = st.LabelByCompiler(ctx, 0)
	if want := (CompilerLabelCounts{Created: 1, Existing: 1, NoSuggestion: 1}); err != nil || counts != want {
		t.Fatalf("third run: %+v, %v; want %+v", counts, err, want)
	}
	third, _, _ := st.LabelOf(ctx, compiler.AnnotatorID, Item{JobID: job.ID, PromptID: items[2][0].PromptID})
	if third.ChosenID != items[2][0].ID || third.Rationale != "A and B compile; A has 0 warnings, B has 2" {
		t.Fatalf("third comparison's label %+v", third)
	}

	// Compiler labels do not take comparisons out of people's queues: Bob still gets all three.
	var queued []Item
	for after := (Item{}); ; {
		next, ok, err := st.NextItem(ctx, bob.ID, after)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		queued, after = append(queued, next), next
	}
	if len(queued) != 2 || queued[0] == first {
		t.Fatalf("Bob's queue %v: want the two comparisons Ann did not label", queued)
	}
	// The review list keeps them apart.
	byCompiler, _ := st.ListLabels(ctx, LabelFilter{Source: SuggestedByCompiler})
	byPeople, _ := st.ListLabels(ctx, LabelFilter{Source: LabelsByPeople})
	if len(byCompiler) != 2 || byCompiler[0].SuggestedBy != SuggestedByCompiler || len(byPeople) != 1 || byPeople[0].AnnotatorID != ann.ID {
		t.Fatalf("by compiler %d, by people %d", len(byCompiler), len(byPeople))
	}
	p, err := st.LabelProgress(ctx, bob.ID)
	if err != nil || p.TeamDone != 1 || p.TeamTotal != 3 {
		t.Fatalf("progress %+v, %v: compiler labels counted as people's", p, err)
	}
}

func TestCompilerUserCannotLogIn(t *testing.T) {
	st := openTest(t)
	job, _ := seedCompilerJob(t, st, "Explain lifetimes")
	if _, err := st.LabelByCompiler(t.Context(), job.ID); err != nil {
		t.Fatal(err)
	}
	users, _ := st.ListUsers(t.Context())
	if len(users) != 1 || users[0].Name != CompilerAnnotator || users[0].Role != RoleViewer {
		t.Fatalf("users %+v", users)
	}
	for _, password := range []string{"", "password123", systemPasswordHash, "!"} {
		if _, err := st.Authenticate(t.Context(), CompilerAnnotator, password); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("log in as the compiler with %q: %v", password, err)
		}
	}
	if _, err := st.LabelByCompiler(t.Context(), job.ID+1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestLabelByCompilerRefusesAPersonNamedCompiler(t *testing.T) {
	st := openTest(t)
	job, items := seedCompilerJob(t, st, "Fix the move")
	saveChecks(t, st, Check{ResponseID: items[0][0].ID, HasCode: true, Compiles: true},
		Check{ResponseID: items[0][1].ID, HasCode: true, Lints: -1, FirstError: "E0382"})
	if _, err := st.CreateUser(t.Context(), "Compiler", "password123", RoleAnnotator); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LabelByCompiler(t.Context(), job.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("a person named compiler: %v", err)
	}
	if labels, _ := st.ListLabels(t.Context(), LabelFilter{}); len(labels) != 0 {
		t.Fatalf("labels stored for a person: %+v", labels)
	}
}
