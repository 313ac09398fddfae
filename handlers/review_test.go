package handlers

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// reviewSeed is one generation job with two answers (slots A and B) to each of its prompts,
// written straight into the store so labels can be placed by hand.
type reviewSeed struct {
	t       *testing.T
	app     *testApp
	jobID   int64
	prompts map[string]int64   // prompt text → id
	answers map[int64][2]int64 // prompt id → answer ids of slots A and B
}

func newReviewSeed(t *testing.T, app *testApp, prompts ...store.PromptInput) reviewSeed {
	t.Helper()
	ctx := t.Context()
	// The OpenAI-protocol test server stands in for a real model endpoint; nothing calls it here.
	srv := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(srv.Close)
	model, err := app.store.CreateModel(ctx, store.ModelInput{Name: "test-model", Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	seed := reviewSeed{t: t, app: app, prompts: map[string]int64{}, answers: map[int64][2]int64{}}
	for _, in := range prompts {
		p, err := app.store.CreatePrompt(ctx, in, 0)
		if err != nil {
			t.Fatal(err)
		}
		seed.prompts[in.Text] = p.ID
	}
	sampling := store.Sampling{Temperature: 0.7, TopP: 1, MaxTokens: 256}
	job, err := app.store.CreateJob(ctx, store.NewJob{ModelID: model.ID, Filter: store.PromptFilter{}, Params: []store.Sampling{sampling, sampling}})
	if err != nil {
		t.Fatal(err)
	}
	seed.jobID = job.ID
	for _, id := range seed.prompts {
		for slot, letter := range []string{"A", "B"} {
			err := app.store.SaveResponse(ctx, store.Response{PromptID: id, ModelID: model.ID, JobID: job.ID, Slot: slot,
				Params: sampling, Text: fmt.Sprintf("Answer %s to prompt %d:\n\n```rust\nfn main() {}\n```", letter, id)})
			if err != nil {
				t.Fatal(err)
			}
		}
		answers, err := app.store.ItemResponses(ctx, job.ID, id)
		if err != nil || len(answers) != 2 {
			t.Fatalf("answers of prompt %d: %v (%d)", id, err, len(answers))
		}
		seed.answers[id] = [2]int64{answers[0].ID, answers[1].ID}
	}
	return seed
}

// label stores a label of the prompt by the named user; best is the chosen slot (0 for A, 1 for B)
// for a pair verdict.
func (s reviewSeed) label(annotator, prompt, verdict string, best int, rationale string) {
	s.t.Helper()
	pid, ok := s.prompts[prompt]
	if !ok {
		s.t.Fatalf("no prompt %q", prompt)
	}
	in := store.LabelInput{Item: store.Item{JobID: s.jobID, PromptID: pid}, AnnotatorID: reviewUserID(s.t, s.app, annotator),
		Verdict: verdict, Rationale: rationale, MSSpent: 42_000}
	if verdict == store.VerdictPair {
		in.ChosenID, in.RejectedID = s.answers[pid][best], s.answers[pid][1-best]
	}
	if err := s.app.store.SubmitLabel(s.t.Context(), in); err != nil {
		s.t.Fatal(err)
	}
}

func reviewUserID(t *testing.T, app *testApp, name string) int64 {
	t.Helper()
	users, err := app.store.ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == name {
			return u.ID
		}
	}
	t.Fatalf("no user %q", name)
	return 0
}

func TestReviewListsLabelsWithFilters(t *testing.T) {
	app := newTestApp(t)
	alice := app.login("alice", store.RoleAdmin)
	app.login("bob", store.RoleAnnotator)
	seed := newReviewSeed(t, app,
		store.PromptInput{Text: "Why does this borrow fail?", Category: "borrowck"},
		store.PromptInput{Text: "Fix the lifetime error", Category: "borrowck"},
		store.PromptInput{Text: "Implement Display for a struct", Category: "traits"},
		store.PromptInput{Text: "When to use dyn Trait", Category: "traits"})
	seed.label("alice", "Why does this borrow fail?", store.VerdictPair, 0, `<script>alert("x")</script> A explains the reborrow`)
	seed.label("alice", "Fix the lifetime error", store.VerdictTie, 0, "")
	seed.label("bob", "Why does this borrow fail?", store.VerdictPair, 0, "")
	seed.label("bob", "Implement Display for a struct", store.VerdictBothBad, 0, "neither compiles")

	res := alice.get("/review")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /review: %d", res.StatusCode)
	}
	if strings.Contains(string(body), `<script>alert`) {
		t.Fatal("the rationale's <script> reached the page unescaped")
	}
	doc := parseBody(t, string(body))
	if n := testid(doc, "review-row").Length(); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
	if !strings.Contains(testid(doc, "review-rationale").Text(), `<script>alert("x")</script>`) {
		t.Fatalf("rationale text missing: %q", testid(doc, "review-rationale").Text())
	}
	edits := testid(doc, "review-edit")
	if edits.Length() != 2 {
		t.Fatalf("%d edit links, want 2 (alice's own labels)", edits.Length())
	}
	wantEdit := fmt.Sprintf("/annotate/%d/%d", seed.jobID, seed.prompts["Why does this borrow fail?"])
	found := false
	edits.Each(func(_ int, s *goquery.Selection) { found = found || s.AttrOr("href", "") == wantEdit })
	if !found {
		t.Fatalf("no edit link to %s", wantEdit)
	}
	// One shared comparison where both agree: alpha has no spread to measure.
	if got := testid(doc, "agreement-alpha").Text(); got != "undefined" {
		t.Fatalf("alpha = %q, want undefined", got)
	}

	bob := reviewUserID(t, app, "bob")
	for _, tc := range []struct {
		query string
		rows  int
		check func(doc *goquery.Document) bool
	}{
		{fmt.Sprintf("annotator=%d", bob), 2, func(d *goquery.Document) bool {
			return strings.Count(testid(d, "review-annotator").Text(), "bob") == 2
		}},
		{"verdict=tie", 1, func(d *goquery.Document) bool { return strings.TrimSpace(testid(d, "review-verdict").Text()) == "tie" }},
		{"category=traits", 1, func(d *goquery.Document) bool { return strings.Contains(testid(d, "review-row").Text(), "Display") }},
		{"category=traits&verdict=tie", 0, func(*goquery.Document) bool { return true }},
	} {
		doc := alice.page("/review?" + tc.query)
		if n := testid(doc, "review-row").Length(); n != tc.rows || !tc.check(doc) {
			t.Errorf("%s: %d rows, want %d; %s", tc.query, n, tc.rows, testid(doc, "review-table").Text())
		}
	}

	res = alice.htmx(http.MethodGet, "/review?verdict=both_bad", nil)
	fragment, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || strings.Contains(string(fragment), "<html") || !strings.Contains(string(fragment), `id="review-labels"`) {
		t.Fatalf("HTMX filter: status %d, body %.200s", res.StatusCode, fragment)
	}
	if n := testid(parseBody(t, string(fragment)), "review-row").Length(); n != 1 {
		t.Fatalf("HTMX filter: %d rows, want 1", n)
	}
}

func TestReviewAgreementOfTwoAnnotators(t *testing.T) {
	app := newTestApp(t)
	viewer := app.login("vera", store.RoleViewer)
	app.login("alice", store.RoleAnnotator)
	app.login("bob", store.RoleAnnotator)
	seed := newReviewSeed(t, app,
		store.PromptInput{Text: "p1 move semantics"}, store.PromptInput{Text: "p2 iterator adaptors"},
		store.PromptInput{Text: "p3 Send and Sync"}, store.PromptInput{Text: "p4 error handling"})

	if doc := viewer.page("/review"); testid(doc, "agreement-empty").Length() != 1 {
		t.Fatal("no labels: want the not-enough-data message")
	}

	// Both pick A on p1 and B on p2, disagree on p3, both call p4 a tie.
	seed.label("alice", "p1 move semantics", store.VerdictPair, 0, "")
	seed.label("bob", "p1 move semantics", store.VerdictPair, 0, "")
	seed.label("alice", "p2 iterator adaptors", store.VerdictPair, 1, "")
	seed.label("bob", "p2 iterator adaptors", store.VerdictPair, 1, "")
	seed.label("alice", "p3 Send and Sync", store.VerdictPair, 0, "")
	seed.label("bob", "p3 Send and Sync", store.VerdictPair, 1, "")
	seed.label("alice", "p4 error handling", store.VerdictTie, 0, "")
	seed.label("bob", "p4 error handling", store.VerdictTie, 0, "")

	doc := viewer.page("/review")
	// Values per unit: (a1,a1) (b2,b2) (a3,b3) (tie,tie). Cohen: p_o = 3/4, p_e = 3/16, so
	// kappa = (12-3)/(16-3) = 9/13. Krippendorff: n = 8, one disagreeing pair,
	// Σ n_c n_k = 64 - (4+4+1+1+4) = 50, so alpha = 1 - 7·2/50 = 0.72.
	if got := testid(doc, "agreement-alpha").Text(); got != "0.720" {
		t.Errorf("alpha = %q, want 0.720", got)
	}
	if got := testid(doc, "agreement-units").Text(); got != "4" {
		t.Errorf("units = %q, want 4", got)
	}
	rows := testid(doc, "kappa-row")
	if rows.Length() != 1 {
		t.Fatalf("%d kappa rows, want 1", rows.Length())
	}
	if got := rows.Find(`[data-testid="kappa-value"]`).Text(); got != "0.692" {
		t.Errorf("kappa = %q, want 0.692", got)
	}
	if got := rows.Find(`[data-testid="kappa-n"]`).Text(); got != "4" {
		t.Errorf("kappa N = %q, want 4", got)
	}
	conflicts := testid(doc, "conflict")
	if conflicts.Length() != 1 {
		t.Fatalf("%d conflicts, want 1", conflicts.Length())
	}
	p3 := seed.prompts["p3 Send and Sync"]
	if got, want := conflicts.AttrOr("data-item", ""), fmt.Sprintf("%d:%d", seed.jobID, p3); got != want {
		t.Errorf("conflict item = %q, want %q", got, want)
	}
	text := strings.Join(strings.Fields(conflicts.Text()), " ")
	for _, want := range []string{"p3 Send and Sync", "alice: best A, worst B", "bob: best B, worst A"} {
		if !strings.Contains(text, want) {
			t.Errorf("conflict %q lacks %q", text, want)
		}
	}
	if href := conflicts.Find("a").AttrOr("href", ""); href != fmt.Sprintf("/annotate/%d/%d", seed.jobID, p3) {
		t.Errorf("conflict link = %q", href)
	}
}
