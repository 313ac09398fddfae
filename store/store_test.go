package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/sheet"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestOpenTwiceAppliesMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	for range 2 {
		st, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		st.read.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
		if n < 1 {
			t.Fatalf("%d migrations recorded", n)
		}
		st.Close()
	}
}

func TestConnectionSettings(t *testing.T) {
	st := openTest(t)
	var mode string
	var fk int
	st.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	st.read.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if mode != "wal" || fk != 1 {
		t.Fatalf("journal_mode=%s foreign_keys=%d", mode, fk)
	}
	if _, err := st.read.Exec(`DELETE FROM users`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	if _, err := st.CreatePrompt(ctx, PromptInput{Text: "Explain  E0382"}, 0); err != nil {
		t.Fatal(err)
	}
	rows := []sheet.Row{
		{Line: 2, Text: "What does ? do?", Split: "train"},
		{Line: 3, Text: "explain e0382", Split: "train"}, // same normalized text as the stored prompt
		{Line: 4, Text: "Why Rc<RefCell<T>>?", Split: "heldout"},
	}
	_, err := st.ImportPrompts(ctx, rows, "test", 0)
	var se *sheet.Error
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].Line != 3 || !strings.Contains(se.Problems[0].Message, "prompt #1") {
		t.Fatalf("got %v, want one duplicate problem on line 3", err)
	}
	page, _ := st.ListPrompts(ctx, PromptFilter{})
	if page.Total != 1 {
		t.Fatalf("%d prompts stored after a failed import, want 1", page.Total)
	}
	n, err := st.ImportPrompts(ctx, []sheet.Row{rows[0], rows[2]}, "test", 0)
	if err != nil || n != 2 {
		t.Fatalf("import: n=%d err=%v", n, err)
	}
}

func TestSearchQuotesAnyInput(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	for _, text := range []string{"Why does Vec::retain take a closure?", "Fix E0502 in this snippet", "snake_case naming"} {
		if _, err := st.CreatePrompt(ctx, PromptInput{Text: text, Category: "idioms"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]int{"retain": 1, "E0502": 1, "snake_case": 1, `"unbalanced ( AND`: 0, "NEAR(": 0, "ret": 1, "": 3} {
		page, err := st.ListPrompts(ctx, PromptFilter{Query: q})
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		if page.Total != want {
			t.Errorf("query %q: %d results, want %d", q, page.Total, want)
		}
	}
}

func TestKeysetPagination(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	var rows []sheet.Row
	for i := range 120 {
		rows = append(rows, sheet.Row{Line: i + 2, Text: "prompt number " + strings.Repeat("x", i), Split: "train"})
	}
	if _, err := st.ImportPrompts(ctx, rows, "test", 0); err != nil {
		t.Fatal(err)
	}
	seen := 0
	f := PromptFilter{Limit: 50}
	for {
		page, err := st.ListPrompts(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Items)
		if page.NextAfter == 0 {
			break
		}
		f.After = page.NextAfter
	}
	if seen != 120 {
		t.Fatalf("paged through %d prompts, want 120", seen)
	}
}

func TestInlineEditRefusesDuplicatesAndBadSplit(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	a, _ := st.CreatePrompt(ctx, PromptInput{Text: "first"}, 0)
	st.CreatePrompt(ctx, PromptInput{Text: "second"}, 0)
	if _, err := st.UpdatePromptField(ctx, a.ID, "text", "  SECOND "); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate edit: %v", err)
	}
	if _, err := st.UpdatePromptField(ctx, a.ID, "split", "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad split: %v", err)
	}
	p, err := st.UpdatePromptField(ctx, a.ID, "tags", "Borrowck; vec;borrowck")
	if err != nil || strings.Join(p.Tags, ",") != "borrowck,vec" {
		t.Fatalf("tags: %v %v", p.Tags, err)
	}
	page, _ := st.ListPrompts(ctx, PromptFilter{Query: "first"})
	if page.Total != 1 {
		t.Fatal("search index not updated")
	}
}

// seedJob stores a model, a prompt and a job with n answers written.
func seedJob(t *testing.T, st *Store, n int) (Job, []Response) {
	t.Helper()
	ctx := t.Context()
	m, err := st.CreateModel(ctx, ModelInput{Name: "m", Endpoint: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := st.CreatePrompt(ctx, PromptInput{Text: "Explain lifetimes"}, 0)
	params := make([]Sampling, n)
	for i := range params {
		params[i] = Sampling{Temperature: 0.2, TopP: 0.9, MaxTokens: 64}
	}
	job, err := st.CreateJob(ctx, NewJob{ModelID: m.ID, Filter: PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	for slot := range n {
		if err := st.SaveResponse(ctx, Response{PromptID: p.ID, ModelID: m.ID, JobID: job.ID, Slot: slot, Text: "answer", Params: params[slot]}); err != nil {
			t.Fatal(err)
		}
	}
	resps, _ := st.ItemResponses(ctx, job.ID, p.ID)
	return job, resps
}

func TestJobTasksSkipWrittenAnswers(t *testing.T) {
	st := openTest(t)
	job, _ := seedJob(t, st, 2)
	tasks, err := st.PendingTasks(t.Context(), job)
	if err != nil || len(tasks) != 0 {
		t.Fatalf("tasks=%v err=%v", tasks, err)
	}
	// A second save of the same slot is ignored.
	st.SaveResponse(t.Context(), Response{PromptID: 1, ModelID: 1, JobID: job.ID, Slot: 0, Text: "again"})
	resps, _ := st.ItemResponses(t.Context(), job.ID, 1)
	if len(resps) != 2 || resps[0].Text != "answer" {
		t.Fatalf("responses %+v", resps)
	}
}

func TestConcurrentDoubleSubmitStoresOneLabel(t *testing.T) {
	st := openTest(t)
	job, resps := seedJob(t, st, 2)
	u, _ := st.CreateUser(t.Context(), "ann", "password123", RoleAnnotator)
	in := LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: u.ID, Verdict: VerdictPair,
		ChosenID: resps[0].ID, RejectedID: resps[1].ID}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.SubmitLabel(t.Context(), in); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	labels, _ := st.ListLabels(t.Context(), LabelFilter{})
	if len(labels) != 1 {
		t.Fatalf("%d labels stored, want 1", len(labels))
	}
}

func TestLabelMustNameAnswersOfItsItem(t *testing.T) {
	st := openTest(t)
	job, resps := seedJob(t, st, 2)
	u, _ := st.CreateUser(t.Context(), "ann", "password123", RoleAnnotator)
	in := LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: u.ID, Verdict: VerdictPair, ChosenID: resps[0].ID, RejectedID: 999}
	if err := st.SubmitLabel(t.Context(), in); !errors.Is(err, ErrInvalid) {
		t.Fatalf("foreign answer: %v", err)
	}
	in.RejectedID = resps[0].ID
	if err := st.SubmitLabel(t.Context(), in); !errors.Is(err, ErrInvalid) {
		t.Fatalf("same answer twice: %v", err)
	}
	// An answer that exists, but to another prompt, in either place or in a ranking.
	other := otherPromptAnswer(t, st, job, resps[0].ModelID)
	for _, in := range []LabelInput{
		{Item: in.Item, AnnotatorID: u.ID, Verdict: VerdictPair, ChosenID: resps[0].ID, RejectedID: other},
		{Item: in.Item, AnnotatorID: u.ID, Verdict: VerdictPair, ChosenID: other, RejectedID: resps[1].ID},
		{Item: in.Item, AnnotatorID: u.ID, Verdict: VerdictPair, ChosenID: resps[0].ID, RejectedID: resps[1].ID,
			Ranking: []int64{resps[0].ID, other, resps[1].ID}},
	} {
		if err := st.SubmitLabel(t.Context(), in); !errors.Is(err, ErrInvalid) {
			t.Fatalf("answer %d of another prompt in %+v: %v", other, in, err)
		}
	}
	if labels, _ := st.ListLabels(t.Context(), LabelFilter{}); len(labels) != 0 {
		t.Fatalf("%d labels stored", len(labels))
	}
	in = LabelInput{Item: in.Item, AnnotatorID: u.ID, Verdict: VerdictPair, ChosenID: resps[1].ID, RejectedID: resps[0].ID}
	if err := st.SubmitLabel(t.Context(), in); err != nil {
		t.Fatalf("a valid label after the refused ones: %v", err)
	}
}

// Rankings of every length are checked against their comparison and stored as given: two and
// three answers are checked by id, four through their JSON list.
func TestRankedLabelsAreCheckedAndStored(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, resps := seedJob(t, st, 4)
	other := otherPromptAnswer(t, st, job, resps[0].ModelID)
	ids := make([]int64, len(resps))
	for i, r := range resps {
		ids[i] = r.ID
	}
	for n := 2; n <= len(ids); n++ {
		u, err := st.CreateUser(ctx, fmt.Sprintf("ann%d", n), "password123", RoleAnnotator)
		if err != nil {
			t.Fatal(err)
		}
		ranking := slices.Clone(ids[:n])
		slices.Reverse(ranking)
		in := LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: u.ID, Verdict: VerdictPair,
			ChosenID: ranking[0], RejectedID: ranking[n-1], Ranking: ranking}
		for i := range n { // each place in turn holds an answer of another prompt
			bad := in
			bad.Ranking = slices.Clone(ranking)
			bad.Ranking[i] = other
			if i == 0 {
				bad.ChosenID = other
			}
			if i == n-1 {
				bad.RejectedID = other
			}
			if err := st.SubmitLabel(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("ranking %v of %d answers: %v, want ErrInvalid", bad.Ranking, n, err)
			}
		}
		if err := st.SubmitLabel(ctx, in); err != nil {
			t.Fatalf("ranking %v: %v", ranking, err)
		}
		labels, err := st.ListLabels(ctx, LabelFilter{AnnotatorID: u.ID})
		if err != nil || len(labels) != 1 {
			t.Fatalf("labels of %s: %v, %v", u.Name, labels, err)
		}
		if l := labels[0]; !slices.Equal(l.Ranking, ranking) || l.ChosenID != ranking[0] || l.RejectedID != ranking[n-1] {
			t.Fatalf("stored %v (chosen %d, rejected %d), want %v", l.Ranking, l.ChosenID, l.RejectedID, ranking)
		}
	}
}

// Migration 0027 rebuilds the labels table: applied again to a table with labels, it keeps every
// row, the verdict rule, the unique key and the triggers that keep the queue.
func TestLabelsRebuildKeepsRowsAndRules(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, resps := seedJob(t, st, 2)
	it := Item{JobID: job.ID, PromptID: 1}
	var users []User
	for i, verdict := range []string{VerdictPair, VerdictTie, VerdictSkip} {
		u, err := st.CreateUser(ctx, fmt.Sprintf("ann%d", i), "password123", RoleAnnotator)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
		in := LabelInput{Item: it, AnnotatorID: u.ID, Verdict: verdict, Rationale: "because " + verdict, MSSpent: int64(100 * i)}
		if verdict == VerdictPair {
			in.ChosenID, in.RejectedID, in.Ranking = resps[1].ID, resps[0].ID, []int64{resps[1].ID, resps[0].ID}
		}
		if err := st.SubmitLabel(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	before, err := st.ListLabels(ctx, LabelFilter{})
	if err != nil || len(before) != 3 {
		t.Fatalf("labels before: %v, %v", before, err)
	}
	const name = "0027_labels_verdict_check.sql"
	if _, err := st.write.ExecContext(ctx, `DELETE FROM schema_migrations WHERE name = ?`, name); err != nil {
		t.Fatal(err)
	}
	if err := st.applyMigration(ctx, name); err != nil {
		t.Fatal(err)
	}
	after, err := st.ListLabels(ctx, LabelFilter{})
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("labels after the rebuild:\n%+v\nwant\n%+v (%v)", after, before, err)
	}
	var problems int
	if err := st.read.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&problems); err != nil || problems != 0 {
		t.Fatalf("foreign key check: %d problems, %v", problems, err)
	}
	if _, err := st.write.ExecContext(ctx, `INSERT INTO labels (prompt_id, job_id, annotator_id, verdict, created_at, updated_at)
		VALUES (1, ?, ?, 'maybe', '', '')`, job.ID, users[0].ID); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Fatalf("a verdict outside the four: %v", err)
	}
	// The triggers keep the comparison's label count: three labels, overlap 3 closes it; an undo opens it.
	if err := st.SetSetting(ctx, SettingOverlap, "3"); err != nil {
		t.Fatal(err)
	}
	other, _ := st.CreateUser(ctx, "other", "password123", RoleAnnotator)
	if _, ok, _ := st.NextItem(ctx, other.ID, Item{}); ok {
		t.Fatal("a comparison with three labels is still queued at overlap 3")
	}
	if _, err := st.UndoLastLabel(ctx, users[2].ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.NextItem(ctx, other.ID, Item{}); !ok {
		t.Fatal("undoing a label did not queue the comparison again")
	}
}

// otherPromptAnswer saves an answer of the job to a second prompt and returns its id.
func otherPromptAnswer(t *testing.T, st *Store, job Job, model int64) int64 {
	t.Helper()
	p, err := st.CreatePrompt(t.Context(), PromptInput{Text: "Explain traits"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveResponse(t.Context(), Response{PromptID: p.ID, ModelID: model, JobID: job.ID, Slot: 0, Text: "other"}); err != nil {
		t.Fatal(err)
	}
	resps, err := st.ItemResponses(t.Context(), job.ID, p.ID)
	if err != nil || len(resps) != 1 {
		t.Fatalf("answers of the second prompt: %v, %v", resps, err)
	}
	return resps[0].ID
}

func TestQueueHonoursOverlap(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, resps := seedJob(t, st, 2)
	a, _ := st.CreateUser(ctx, "a", "password123", RoleAnnotator)
	b, _ := st.CreateUser(ctx, "b", "password123", RoleAnnotator)
	if _, ok, _ := st.NextItem(ctx, b.ID, Item{}); !ok {
		t.Fatal("a ready comparison is not queued")
	}
	st.SubmitLabel(ctx, LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: a.ID, Verdict: VerdictTie})
	if _, ok, _ := st.NextItem(ctx, b.ID, Item{}); ok {
		t.Fatal("overlap 1: item still queued for b")
	}
	if err := st.SetSetting(ctx, SettingOverlap, "2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.NextItem(ctx, b.ID, Item{}); !ok {
		t.Fatal("overlap 2: item not queued for b")
	}
	if _, ok, _ := st.NextItem(ctx, a.ID, Item{}); ok {
		t.Fatal("item queued again for its own annotator")
	}
	// A second, identical submission updates the label: the count stays 2 labels short of nothing.
	st.SubmitLabel(ctx, LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: a.ID, Verdict: VerdictBothBad})
	if _, ok, _ := st.NextItem(ctx, b.ID, Item{}); !ok {
		t.Fatal("an updated label counted twice")
	}
	st.SubmitLabel(ctx, LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: b.ID, Verdict: VerdictTie})
	p, err := st.LabelProgress(ctx, b.ID)
	if err != nil || p.TeamDone != 1 || p.TeamTotal != 1 || p.MinePending != 0 {
		t.Fatalf("progress %+v, %v", p, err)
	}
	if _, err := st.UndoLastLabel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.NextItem(ctx, b.ID, Item{}); !ok {
		t.Fatal("undo did not put the item back in the queue")
	}
	_ = resps
}

func TestBatchedLabelsFailAlone(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, resps := seedJob(t, st, 2)
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		u, err := st.CreateUser(ctx, "ann"+strings.Repeat("x", i), "password123", RoleAnnotator)
		if err != nil {
			t.Fatal(err)
		}
		in := LabelInput{Item: Item{JobID: job.ID, PromptID: 1}, AnnotatorID: u.ID, Verdict: VerdictPair,
			ChosenID: resps[0].ID, RejectedID: resps[1].ID}
		if i%4 == 0 {
			in.RejectedID = 999 // not an answer of this comparison
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.SubmitLabel(ctx, in)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%4 == 0) != errors.Is(err, ErrInvalid) {
			t.Errorf("submission %d: %v", i, err)
		}
	}
	labels, _ := st.ListLabels(ctx, LabelFilter{})
	if len(labels) != 30 {
		t.Fatalf("%d labels stored, want the 30 valid ones", len(labels))
	}
}

func TestCloseStopsTheLabelWriter(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { st.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-st.labels.done:
	default:
		t.Fatal("label writer still running after Close")
	}
	if err := st.SubmitLabel(t.Context(), LabelInput{Verdict: VerdictTie}); err == nil {
		t.Fatal("a closed store accepted a label")
	}
}

func TestCheckpointsRunOffTheWriter(t *testing.T) {
	st := openTest(t)
	var auto int
	if err := st.write.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	for i := range 50 {
		if _, err := st.CreatePrompt(t.Context(), PromptInput{Text: fmt.Sprintf("prompt %d", i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	frames, done, err := st.checkpoints.checkpoint()
	if err != nil || frames == 0 || done != frames {
		t.Fatalf("checkpoint: %d of %d frames, %v", done, frames, err)
	}
}

// While writes never pause, as at saturation, a checkpoint always ends behind the latest commit and
// SQLite never starts the WAL over by itself; startOver makes the next write start it over.
func TestWALStartsOverWhileWritesGoOn(t *testing.T) {
	st := openTest(t)
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := st.CreatePrompt(context.Background(), PromptInput{Text: fmt.Sprintf("prompt %d %s", i, strings.Repeat("x", 2000))}, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	walFrames := func() int {
		t.Helper()
		frames, _, err := st.checkpoints.checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		return frames
	}
	deadline := time.Now().Add(30 * time.Second)
	frames := walFrames()
	for frames < walRestartFrames && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		frames = walFrames()
	}
	if frames < walRestartFrames {
		t.Fatalf("the WAL reached only %d frames", frames)
	}
	if err := st.checkpoints.startOver(frames); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // a few commits after it
		if _, err := st.CreatePrompt(t.Context(), PromptInput{Text: fmt.Sprintf("after the checkpoint %d", i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if after := walFrames(); after >= frames {
		t.Fatalf("the WAL has %d frames after starting over, %d before", after, frames)
	}
}

func TestCloseStopsTheCheckpointer(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.checkpoints.done:
	default:
		t.Fatal("checkpointer still running after Close")
	}
}

func TestJobProgressCountersFollowAnswers(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, _ := seedJob(t, st, 3)
	st.SaveResponse(ctx, Response{PromptID: 1, ModelID: job.ModelID, JobID: job.ID, Slot: 0, Tokens: 99}) // ignored: slot taken
	got, err := st.Job(ctx, job.ID)
	if err != nil || got.Done != 3 {
		t.Fatalf("done = %d (%v), want 3", got.Done, err)
	}
	if err := st.DeletePrompt(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ = st.Job(ctx, job.ID); got.Done != 0 || got.Tokens != 0 {
		t.Fatalf("after deleting the prompt: done=%d tokens=%d, want 0", got.Done, got.Tokens)
	}
}

func TestCachedSessionsFollowLogoutAndRoleChanges(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	u, _ := st.CreateUser(ctx, "ann", "password123", RoleAnnotator)
	token, err := st.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read comes from the cache
		if sess, err := st.SessionByToken(ctx, token); err != nil || sess.User.Role != RoleAnnotator {
			t.Fatalf("session: %+v, %v", sess, err)
		}
	}
	if err := st.SetUserRole(ctx, u.ID, RoleViewer); err != nil {
		t.Fatal(err)
	}
	if sess, _ := st.SessionByToken(ctx, token); sess.User.Role != RoleViewer {
		t.Fatalf("role after the change: %s, want viewer", sess.User.Role)
	}
	if err := st.DeleteSession(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByToken(ctx, token); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("session after logout: %v", err)
	}
}

// A cached session is read again once sessionCacheTTL has passed, so a change made by another
// process (here a user deleted with its sessions) shows within that time; one past its expiry is
// never served from the cache.
func TestCachedSessionsAreReadAgainAfterTheirTTL(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	u, _ := st.CreateUser(ctx, "ann", "password123", RoleAnnotator)
	token, err := st.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := st.SessionByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	// Another process deletes the user; this store's cache does not know.
	if _, err := st.write.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	hash, now := hashToken(token), time.Now()
	st.sessions.put(hash, sess, now)
	if _, ok := st.sessions.get(hash, now.Add(sessionCacheTTL-time.Millisecond)); !ok {
		t.Fatal("the session left the cache before its TTL")
	}
	if _, ok := st.sessions.get(hash, now.Add(sessionCacheTTL+time.Millisecond)); ok {
		t.Fatal("the session is still cached after its TTL")
	}
	st.sessions.put(hash, sess, now.Add(-sessionCacheTTL-time.Millisecond)) // as if read a TTL ago
	if _, err := st.SessionByToken(ctx, token); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("the deleted user's session after the TTL: %v, want ErrUnauthorized", err)
	}
	sess.ExpiresAt = now.Add(-time.Second)
	st.sessions.put(hash, sess, now)
	if _, ok := st.sessions.get(hash, now); ok {
		t.Fatal("an expired session came from the cache")
	}
	if sessionCacheTTL > 2*time.Second {
		t.Fatalf("sessions are cached for %s; changes made elsewhere must show within 2 s", sessionCacheTTL)
	}
}

func TestCachedAnswerIDsFollowNewAnswersAndDeletes(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	job, _ := seedJob(t, st, 2)
	it := Item{JobID: job.ID, PromptID: 1}
	if ids, _ := st.ItemAnswerIDs(ctx, it); len(ids) != 2 {
		t.Fatalf("%d ids", len(ids))
	}
	// A third slot written later (as a job with a higher n would) shows at once.
	if err := st.SaveResponse(ctx, Response{PromptID: 1, ModelID: job.ModelID, JobID: job.ID, Slot: 2, Text: "late"}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.ItemAnswerIDs(ctx, it); len(ids) != 3 {
		t.Fatalf("after a new answer: %d ids, want 3", len(ids))
	}
	if err := st.DeletePrompt(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.ItemAnswerIDs(ctx, it); len(ids) != 0 {
		t.Fatalf("after deleting the prompt: %d ids, want 0", len(ids))
	}
}

// ItemAfter walks the annotator's queue in order, wraps around to its start, skips what the
// annotator labelled, and gives nothing when only the current comparison is left.
func TestItemAfterWrapsAround(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	m, err := st.CreateModel(ctx, ModelInput{Name: "m", Endpoint: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for _, text := range []string{"Explain lifetimes", "Explain traits", "Explain closures"} {
		if _, err := st.CreatePrompt(ctx, PromptInput{Text: text}, 0); err != nil {
			t.Fatal(err)
		}
	}
	params := []Sampling{{Temperature: 0.2, TopP: 0.9, MaxTokens: 64}, {Temperature: 1, TopP: 0.9, MaxTokens: 64}}
	job, err := st.CreateJob(ctx, NewJob{ModelID: m.ID, Filter: PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := st.PendingTasks(ctx, job)
	if err != nil || len(tasks) != 6 {
		t.Fatalf("tasks %v, %v", tasks, err)
	}
	for _, tk := range tasks {
		if err := st.SaveResponse(ctx, Response{PromptID: tk.PromptID, ModelID: m.ID, JobID: job.ID, Slot: tk.Slot, Text: "answer", Params: params[tk.Slot]}); err != nil {
			t.Fatal(err)
		}
		if tk.Slot == 0 {
			items = append(items, Item{JobID: job.ID, PromptID: tk.PromptID})
		}
	}
	slices.SortFunc(items, func(a, b Item) int { return cmp.Compare(a.PromptID, b.PromptID) })
	u, _ := st.CreateUser(ctx, "ann", "password123", RoleAnnotator)
	after := func(it Item) Item {
		t.Helper()
		next, ok, err := st.ItemAfter(ctx, u.ID, it)
		if err != nil || ok != (next != Item{}) {
			t.Fatalf("after %v: %v, %v, %v", it, next, ok, err)
		}
		return next
	}
	if got := after(items[0]); got != items[1] {
		t.Errorf("after the first: %v, want %v", got, items[1])
	}
	if got := after(items[2]); got != items[0] {
		t.Errorf("after the last: %v, want the first again, %v", got, items[0])
	}
	if err := st.SubmitLabel(ctx, LabelInput{Item: items[0], AnnotatorID: u.ID, Verdict: VerdictSkip}); err != nil {
		t.Fatal(err)
	}
	if got := after(items[2]); got != items[1] {
		t.Errorf("after the last, the first labelled: %v, want %v", got, items[1])
	}
	if err := st.SubmitLabel(ctx, LabelInput{Item: items[2], AnnotatorID: u.ID, Verdict: VerdictTie}); err != nil {
		t.Fatal(err)
	}
	if got := after(items[1]); got != (Item{}) {
		t.Errorf("only the current one left: %v, want none", got)
	}
	if got := after(Item{}); got != items[1] {
		t.Errorf("from the start: %v, want %v", got, items[1])
	}
}
