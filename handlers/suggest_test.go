package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
)

// TestFocusViewShowsTheCompilerSuggestionAndAcceptingItStoresAPersonsLabel: with three answers
// (one failing, two compiling), the focus view names the pair by the annotator's letters with the
// reason; the accept button stores that pair as the person's own label even when other answers
// are picked on the page.
func TestFocusViewShowsTheCompilerSuggestionAndAcceptingItStoresAPersonsLabel(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Fix the use after move."}, 3)
	ctx := t.Context()
	answers, _ := app.store.ItemResponses(ctx, items[0].JobID, items[0].PromptID)
	moved, lint, clean := answers[0], answers[1], answers[2]
	app.store.SaveCheck(ctx, store.Check{ResponseID: moved.ID, HasCode: true, Errors: 1, Lints: -1, FirstError: "E0382: borrow of moved value: `v`"})
	app.store.SaveCheck(ctx, store.Check{ResponseID: lint.ID, HasCode: true, Compiles: true, Lints: 2})
	app.store.SaveCheck(ctx, store.Check{ResponseID: clean.ID, HasCode: true, Compiles: true, Lints: 0})
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(items[0]))
	letters := map[int64]string{}
	for _, a := range shownAnswers(t, doc) {
		letters[a.id] = a.letter
	}
	want := "Compiler suggests: " + letters[clean.ID] + " over " + letters[moved.ID] + " — " + letters[clean.ID] + " compiles, " +
		letters[moved.ID] + " fails: E0382: borrow of moved value: `v`"
	if got := strings.Join(strings.Fields(testid(doc, "suggestion").Text()), " "); !strings.HasPrefix(got, want) {
		t.Fatalf("suggestion %q\nwant prefix %q", got, want)
	}
	accept := testid(doc, "accept-suggestion")
	if accept.AttrOr("value", "") != formID(clean.ID)+":"+formID(moved.ID) || accept.Closest("form").AttrOr("id", "") != "label-form" {
		t.Fatalf("accept button %q outside the label form or with the wrong pair", accept.AttrOr("value", ""))
	}
	// Badges: the failing answer's first error in a <details>, the lint count on a compiling one.
	failing := doc.Find(`[data-testid="answer"][data-response-id="` + formID(moved.ID) + `"]`)
	if failing.Find(`details [data-testid="check-error"]`).Text() != "E0382: borrow of moved value: `v`" {
		t.Fatalf("failing answer's badge: %q", failing.Find("header").Text())
	}
	linted := doc.Find(`[data-testid="answer"][data-response-id="` + formID(lint.ID) + `"] [data-testid="check"]`)
	if !strings.Contains(linted.Text(), "2 lints") || linted.AttrOr("data-state", "") != "compiles" {
		t.Fatalf("compiling answer's badge: %q", linted.Text())
	}

	// The page has the other answers picked, then the person presses Accept.
	res := ann.submitLabel(items[0], url.Values{"verdict": {"pair"}, "best": {formID(lint.ID)}, "worst": {formID(clean.ID)},
		"accept": {formID(clean.ID) + ":" + formID(moved.ID)}, "rationale": {"the move is fixed"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: status %d", res.StatusCode)
	}
	labels := storedLabels(t, app)
	if len(labels) != 1 {
		t.Fatalf("%d labels", len(labels))
	}
	l := labels[0]
	if l.AnnotatorName != "ann" || l.SuggestedBy != "" || l.ChosenID != clean.ID || l.RejectedID != moved.ID ||
		l.Rationale != "the move is fixed" || len(l.Ranking) != 3 || l.Ranking[1] != lint.ID {
		t.Fatalf("accepted label %+v", l)
	}
	// An accept value naming answers of another comparison is refused like any bad pick.
	res = ann.submitLabel(items[0], url.Values{"accept": {"999999:" + formID(moved.ID)}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("foreign accept: status %d", res.StatusCode)
	}
}

func TestViewerSeesTheSuggestionWithoutAcceptButton(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Sum the evens."}, 2)
	answers, _ := app.store.ItemResponses(t.Context(), items[0].JobID, items[0].PromptID)
	app.store.SaveCheck(t.Context(), store.Check{ResponseID: answers[0].ID, HasCode: true, Compiles: true, Lints: 3, Warnings: 0})
	app.store.SaveCheck(t.Context(), store.Check{ResponseID: answers[1].ID, HasCode: true, Compiles: true, Lints: 1, Warnings: 0})
	doc := app.login("vic", "viewer").page(annotateURL(items[0]))
	if !strings.Contains(testid(doc, "suggestion").Text(), "has 1 clippy lint,") || testid(doc, "accept-suggestion").Length() != 0 {
		t.Fatalf("viewer's suggestion %q", testid(doc, "suggestion").Text())
	}
}

func TestLabelByCompilerFromTheJobPage(t *testing.T) {
	app := newTestApp(t)
	job, items := seedComparisons(t, app, []string{"Fix the use after move.", "Sum the evens."}, 2)
	ctx := t.Context()
	first, _ := app.store.ItemResponses(ctx, items[0].JobID, items[0].PromptID)
	app.store.SaveCheck(ctx, store.Check{ResponseID: first[0].ID, HasCode: true, Errors: 1, Lints: -1, FirstError: "E0382: borrow of moved value"})
	app.store.SaveCheck(ctx, store.Check{ResponseID: first[1].ID, HasCode: true, Compiles: true})
	path := jobPath(job.ID) + "/label-by-compiler"

	viewer := app.login("vic", "viewer")
	if testid(viewer.page(jobPath(job.ID)), "label-by-compiler").Length() != 0 {
		t.Fatal("a viewer sees the Label by compiler button")
	}
	if res := viewer.postForm(path, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: status %d", res.StatusCode)
	}
	ann := app.login("ann", "annotator")
	form := testid(ann.page(jobPath(job.ID)), "label-by-compiler")
	if form.AttrOr("action", "") != path || form.Find(`input[name="csrf"]`).Length() != 1 {
		t.Fatalf("button form action %q", form.AttrOr("action", ""))
	}
	if res := ann.do(http.MethodPost, path, strings.NewReader(""), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: status %d", res.StatusCode)
	}

	res := ann.htmx(http.MethodPost, path, url.Values{})
	doc := parse(t, res)
	if res.StatusCode != http.StatusOK || counts(doc) != "1 0 0 1" || testid(doc, "job-progress").Length() != 0 {
		t.Fatalf("HTMX: status %d, counts %q", res.StatusCode, counts(doc))
	}
	// Without HTMX the whole job page comes back with the counts; a second run creates nothing.
	res = ann.postForm(path, url.Values{})
	doc = parse(t, res)
	if res.StatusCode != http.StatusOK || counts(doc) != "0 1 0 1" || testid(doc, "job-progress").Length() != 1 {
		t.Fatalf("form post: status %d, counts %q", res.StatusCode, counts(doc))
	}
	labels := storedLabels(t, app)
	if len(labels) != 1 || labels[0].SuggestedBy != store.SuggestedByCompiler || labels[0].ChosenID != first[1].ID ||
		labels[0].Rationale != "B compiles, A fails: E0382: borrow of moved value" {
		t.Fatalf("labels %+v", labels)
	}

	// The review list keeps them apart: not among people's labels, shown by the compiler filter.
	if n := testid(ann.page("/review"), "review-row").Length(); n != 0 {
		t.Fatalf("%d compiler labels among people's", n)
	}
	rows := testid(ann.page("/review?by=compiler"), "review-row")
	if rows.Length() != 1 || !strings.Contains(rows.Find(`[data-testid="review-annotator"]`).Text(), "compiler") {
		t.Fatalf("by compiler: %d rows", rows.Length())
	}
	// Still in Ann's queue: a compiler label does not count as the comparison's label.
	if loc := ann.get("/annotate").Header.Get("Location"); loc != annotateURL(items[0]) {
		t.Fatalf("queue starts at %q", loc)
	}
}

// counts reads the "Label by compiler" result as "created existing no-suggestion unchecked".
func counts(doc *goquery.Document) string {
	var out []string
	for _, id := range []string{"compiler-created", "compiler-existing", "compiler-no-suggestion", "compiler-unchecked"} {
		out = append(out, testid(doc, id).Text())
	}
	return strings.Join(out, " ")
}
