package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// standInModel is the name the OpenAI-protocol test server is registered under.
const standInModel = "openaitest-stand-in"

// seedComparisons adds the prompts and runs a job with the given number of answers per prompt through the
// real runner against the in-process test server. It returns the job and the prompts' comparisons in
// queue order.
func seedComparisons(t *testing.T, app *testApp, prompts []string, answers int) (store.Job, []store.Item) {
	t.Helper()
	ctx := t.Context()
	srv := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(srv.Close)
	model, err := app.store.CreateModel(ctx, store.ModelInput{Name: standInModel, Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	var items []store.Item
	for _, text := range prompts {
		p, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: text, Category: "ownership"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, store.Item{PromptID: p.ID})
	}
	params := make([]store.Sampling, answers)
	for i := range params {
		seed := int64(100 + i)
		params[i] = store.Sampling{Temperature: 0.2 + 0.3*float64(i), TopP: 0.95, MaxTokens: 400, Seed: &seed}
	}
	job, err := app.store.CreateJob(ctx, store.NewJob{ModelID: model.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.runner.RunOne(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	if job, err = app.store.Job(ctx, job.ID); err != nil || job.Status != store.JobSucceeded {
		t.Fatalf("job: %+v, %v", job, err)
	}
	for i := range items {
		items[i].JobID = job.ID
	}
	return job, items
}

// shownAnswer is one answer of the focus view as the annotator sees it.
type shownAnswer struct {
	id     int64
	letter string
}

func shownAnswers(t *testing.T, doc *goquery.Document) []shownAnswer {
	t.Helper()
	var out []shownAnswer
	testid(doc, "answer").Each(func(_ int, s *goquery.Selection) {
		id, err := strconv.ParseInt(s.AttrOr("data-response-id", ""), 10, 64)
		if err != nil {
			t.Fatalf("answer without a response id: %v", err)
		}
		out = append(out, shownAnswer{id: id, letter: s.AttrOr("data-letter", "")})
	})
	return out
}

func (c *client) submitLabel(it store.Item, form url.Values) *http.Response {
	c.app.t.Helper()
	return c.postForm(annotateURL(it), form)
}

func storedLabels(t *testing.T, app *testApp) []store.Label {
	t.Helper()
	labels, err := app.store.ListLabels(t.Context(), store.LabelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return labels
}

func wantSeeOther(t *testing.T, res *http.Response, want string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("got %d → %q, want 303 → %q", res.StatusCode, res.Header.Get("Location"), want)
	}
}

func formID(n int64) string { return strconv.FormatInt(n, 10) }

func TestAnnotateQueueOrderAndAutoAdvance(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Why does this borrow outlive the loop?", "When should I use Rc<RefCell<T>>?"}, 2)
	ann := app.login("ann", "annotator")

	wantSeeOther(t, ann.get("/annotate"), annotateURL(items[0]))
	doc := ann.page(annotateURL(items[0]))
	if got := testid(doc, "prompt").Text(); !strings.Contains(got, "Why does this borrow outlive the loop?") {
		t.Fatalf("prompt box: %q", got)
	}
	answers := shownAnswers(t, doc)
	if len(answers) != 2 || answers[0].letter != "A" || answers[1].letter != "B" {
		t.Fatalf("answers: %+v", answers)
	}
	if got := testid(doc, "progress-pending").Text(); got != "2" {
		t.Fatalf("pending before labelling: %q", got)
	}
	if testid(doc, "pick-worst").Length() != 0 {
		t.Fatal("two answers need no worst radios")
	}

	wantSeeOther(t, ann.submitLabel(items[0], url.Values{"best": {formID(answers[0].id)}, "verdict": {"pair"}, "ms_spent": {"1000"}}), annotateURL(items[1]))
	doc = ann.page(annotateURL(items[1]))
	answers = shownAnswers(t, doc)
	wantSeeOther(t, ann.submitLabel(items[1], url.Values{"best": {formID(answers[1].id)}, "verdict": {"pair"}, "ms_spent": {"2001"}}), "/annotate")

	doc = ann.page("/annotate")
	if testid(doc, "queue-empty").Length() != 1 || doc.Find(`a[href="/generate"]`).Length() == 0 {
		t.Fatal("an empty queue shows the all-done page with a link to /generate")
	}
	for tid, want := range map[string]string{"progress-mine": "2", "progress-pending": "0", "progress-team-done": "2", "progress-team-total": "2", "progress-avg": "1.5 s"} {
		if got := testid(doc, tid).Text(); got != want {
			t.Errorf("%s = %q, want %q", tid, got, want)
		}
	}
}

func TestAnnotateTwoAnswersStoresChosenAndTheOtherAsRejected(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Explain lifetimes in structs."}, 2)
	ann := app.login("ann", "annotator")
	answers := shownAnswers(t, ann.page(annotateURL(items[0])))
	best, other := answers[1].id, answers[0].id
	// A posted worst is ignored with two answers: the worst is the answer that is not the best.
	res := ann.submitLabel(items[0], url.Values{"best": {formID(best)}, "worst": {formID(best)}, "verdict": {"pair"}, "rationale": {"B compiles."}, "ms_spent": {"4200"}})
	wantSeeOther(t, res, "/annotate")
	labels := storedLabels(t, app)
	if len(labels) != 1 {
		t.Fatalf("%d labels, want 1", len(labels))
	}
	l := labels[0]
	if l.Verdict != store.VerdictPair || l.ChosenID != best || l.RejectedID != other || l.Rationale != "B compiles." || l.MSSpent != 4200 {
		t.Fatalf("label: %+v", l)
	}
	if !slices.Equal(l.Ranking, []int64{best, other}) {
		t.Fatalf("ranking %v", l.Ranking)
	}

	doc := ann.page(annotateURL(items[0]))
	if got := testid(doc, "labelled-note").Text(); got != "You labelled this: B best, A worst." {
		t.Fatalf("labelled note: %q", got)
	}
	picked := doc.Find(`[data-testid="pick-best"][checked]`)
	if picked.Length() != 1 || picked.AttrOr("value", "") != formID(best) {
		t.Fatal("revisiting does not pre-select the stored best answer")
	}
	if !doc.Find(`[data-response-id="`+formID(best)+`"]`).HasClass("best") || !doc.Find(`[data-response-id="`+formID(other)+`"]`).HasClass("worst") {
		t.Fatal("picked answers lack the best/worst classes")
	}
	if got := testid(doc, "rationale").Text(); got != "B compiles." {
		t.Fatalf("rationale: %q", got)
	}
}

func TestAnnotateThreeAnswersNeedBestAndWorst(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Fix this use-after-move."}, 3)
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(items[0]))
	answers := shownAnswers(t, doc)
	if len(answers) != 3 || testid(doc, "pick-worst").Length() != 3 || answers[2].letter != "C" {
		t.Fatalf("three answers with best and worst radios: %+v", answers)
	}

	res := ann.submitLabel(items[0], url.Values{"best": {formID(answers[2].id)}, "verdict": {"pair"}, "rationale": {"kept"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("no worst: status %d, want 422", res.StatusCode)
	}
	doc = parse(t, res)
	if got := testid(doc, "form-error").Text(); !strings.Contains(got, "pick the worst answer") {
		t.Fatalf("error %q", got)
	}
	if doc.Find(`[data-testid="pick-best"][checked]`).AttrOr("value", "") != formID(answers[2].id) || testid(doc, "rationale").Text() != "kept" {
		t.Fatal("the re-rendered form lost what was picked and typed")
	}
	res = ann.submitLabel(items[0], url.Values{"verdict": {"pair"}})
	if got := testid(parse(t, res), "form-error").Text(); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "pick the best answer") {
		t.Fatalf("no best: %d %q", res.StatusCode, got)
	}
	res = ann.submitLabel(items[0], url.Values{"best": {formID(answers[0].id)}, "worst": {formID(answers[0].id)}, "verdict": {"pair"}})
	if got := testid(parse(t, res), "form-error").Text(); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "must differ") {
		t.Fatalf("same best and worst: %d %q", res.StatusCode, got)
	}
	res = ann.submitLabel(items[0], url.Values{"best": {"999999"}, "worst": {formID(answers[0].id)}, "verdict": {"pair"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("foreign answer id: status %d, want 422", res.StatusCode)
	}
	if n := len(storedLabels(t, app)); n != 0 {
		t.Fatalf("invalid submissions stored %d labels", n)
	}

	wantSeeOther(t, ann.submitLabel(items[0], url.Values{"best": {formID(answers[2].id)}, "worst": {formID(answers[0].id)}, "verdict": {"pair"}}), "/annotate")
	l := storedLabels(t, app)[0]
	if l.ChosenID != answers[2].id || l.RejectedID != answers[0].id || !slices.Equal(l.Ranking, []int64{answers[2].id, answers[1].id, answers[0].id}) {
		t.Fatalf("label: %+v", l)
	}
	if got := testid(ann.page(annotateURL(items[0])), "labelled-note").Text(); got != "You labelled this: C best, A worst." {
		t.Fatalf("labelled note: %q", got)
	}
}

func TestAnnotateDraggedRankingOfFourAnswers(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Rank these four borrow-checker fixes."}, 4)
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(items[0]))
	answers := shownAnswers(t, doc)
	if testid(doc, "rank-item").Length() != 4 {
		t.Fatal("no ranking list for four answers")
	}
	order := []int64{answers[2].id, answers[0].id, answers[3].id, answers[1].id}
	form := url.Values{"verdict": {"pair"}}
	for _, id := range order {
		form.Add("rank", formID(id))
	}
	for _, bad := range [][]string{{formID(order[0]), formID(order[0]), formID(order[1]), formID(order[2])}, {formID(order[0]), formID(order[1])}} {
		res := ann.submitLabel(items[0], url.Values{"verdict": {"pair"}, "rank": bad})
		if got := testid(parse(t, res), "form-error").Text(); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "ranking") {
			t.Fatalf("ranking %v: %d %q", bad, res.StatusCode, got)
		}
	}
	wantSeeOther(t, ann.submitLabel(items[0], form), "/annotate")
	l := storedLabels(t, app)[0]
	if l.ChosenID != order[0] || l.RejectedID != order[3] || !slices.Equal(l.Ranking, order) {
		t.Fatalf("label: %+v, want ranking %v", l, order)
	}
	got := testid(ann.page(annotateURL(items[0])), "rank-item").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("data-id", "") })
	want := []string{formID(order[0]), formID(order[1]), formID(order[2]), formID(order[3])}
	if !slices.Equal(got, want) {
		t.Fatalf("revisit shows the ranking %v, want %v", got, want)
	}
}

func TestAnnotateTieAllBadAndSkip(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt about traits.", "Prompt about generics.", "Prompt about macros."}, 2)
	ann := app.login("ann", "annotator")
	verdicts := []string{store.VerdictTie, store.VerdictBothBad, store.VerdictSkip}
	for i, v := range verdicts {
		doc := ann.page(annotateURL(items[i]))
		if testid(doc, "verdict-"+v).AttrOr("value", "") != v {
			t.Fatalf("no %s button", v)
		}
		// A best pick left over from before choosing the verdict is not stored.
		ann.submitLabel(items[i], url.Values{"verdict": {v}, "best": {formID(shownAnswers(t, doc)[0].id)}})
	}
	labels := storedLabels(t, app)
	if len(labels) != 3 {
		t.Fatalf("%d labels", len(labels))
	}
	for _, l := range labels {
		want := verdicts[slices.IndexFunc(items, func(it store.Item) bool { return it == l.Item })]
		if l.Verdict != want || l.ChosenID != 0 || l.RejectedID != 0 {
			t.Errorf("label of %v: %+v, want verdict %s without answers", l.Item, l, want)
		}
	}
	if got := testid(ann.page(annotateURL(items[1])), "labelled-note").Text(); got != "You labelled all answers bad." {
		t.Fatalf("labelled note: %q", got)
	}
}

func TestAnnotateDoubleSubmissionIsStoredOnce(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one.", "Prompt two."}, 2)
	ann := app.login("ann", "annotator")
	answers := shownAnswers(t, ann.page(annotateURL(items[0])))
	form := url.Values{"best": {formID(answers[0].id)}, "verdict": {"pair"}}
	wantSeeOther(t, ann.submitLabel(items[0], form), annotateURL(items[1]))
	wantSeeOther(t, ann.submitLabel(items[0], form), annotateURL(items[1]))
	if n := len(storedLabels(t, app)); n != 1 {
		t.Fatalf("%d labels after a double submission, want 1", n)
	}
}

func TestAnnotateOverlapDecidesWhoElseSeesAComparison(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Only prompt."}, 2)
	ann, bob := app.login("ann", "annotator"), app.login("bob", "annotator")
	answers := shownAnswers(t, ann.page(annotateURL(items[0])))
	ann.submitLabel(items[0], url.Values{"best": {formID(answers[0].id)}, "verdict": {"pair"}})

	if testid(bob.page("/annotate"), "queue-empty").Length() != 1 {
		t.Fatal("k=1: a labelled comparison stays in a second annotator's queue")
	}
	if err := app.store.SaveGuidelines(t.Context(), store.Guidelines{Overlap: 2}); err != nil {
		t.Fatal(err)
	}
	wantSeeOther(t, bob.get("/annotate"), annotateURL(items[0]))
	doc := bob.page(annotateURL(items[0]))
	if testid(doc, "progress-team-done").Text() != "0" || testid(doc, "progress-pending").Text() != "1" {
		t.Fatal("k=2: one label does not finish the comparison")
	}
	bob.submitLabel(items[0], url.Values{"verdict": {"tie"}})
	if testid(ann.page("/annotate"), "progress-team-done").Text() != "1" {
		t.Fatal("k=2: two labels finish the comparison")
	}
}

func TestAnnotateUndoDeletesMyLastLabel(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one.", "Prompt two."}, 2)
	ann := app.login("ann", "annotator")
	ann.submitLabel(items[0], url.Values{"verdict": {"tie"}})
	ann.submitLabel(items[1], url.Values{"verdict": {"both_bad"}})

	wantSeeOther(t, ann.postForm("/annotate/undo", url.Values{}), annotateURL(items[1]))
	labels := storedLabels(t, app)
	if len(labels) != 1 || labels[0].Item != items[0] {
		t.Fatalf("after undo: %+v", labels)
	}
	if testid(ann.page(annotateURL(items[1])), "labelled-note").Length() != 0 {
		t.Fatal("the undone comparison still shows a label")
	}
	wantSeeOther(t, ann.postForm("/annotate/undo", url.Values{}), annotateURL(items[0]))
	if res := ann.postForm("/annotate/undo", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("nothing to undo: status %d, want 404", res.StatusCode)
	}
}

func TestAnnotatePreviousAndNextItems(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one.", "Prompt two.", "Prompt three."}, 2)
	ann := app.login("ann", "annotator")
	href := func(doc *goquery.Document, tid string) string { return testid(doc, tid).AttrOr("href", "") }

	doc := ann.page(annotateURL(items[0]))
	if href(doc, "prev-item") != "" || href(doc, "next-item") != annotateURL(items[1]) {
		t.Fatalf("first item: prev %q next %q", href(doc, "prev-item"), href(doc, "next-item"))
	}
	ann.submitLabel(items[0], url.Values{"verdict": {"tie"}})
	doc = ann.page(annotateURL(items[1]))
	if href(doc, "prev-item") != annotateURL(items[0]) || href(doc, "next-item") != annotateURL(items[2]) {
		t.Fatalf("second item: prev %q next %q", href(doc, "prev-item"), href(doc, "next-item"))
	}
	// Skipping ahead leaves item 2 unlabelled; labelling item 3 wraps around to it.
	wantSeeOther(t, ann.submitLabel(items[2], url.Values{"verdict": {"tie"}}), annotateURL(items[1]))
	doc = ann.page(annotateURL(items[1]))
	if href(doc, "prev-item") != annotateURL(items[2]) || href(doc, "next-item") != "" {
		t.Fatalf("last open item: prev %q next %q", href(doc, "prev-item"), href(doc, "next-item"))
	}
	doc = ann.page(annotateURL(items[2]))
	if href(doc, "prev-item") != annotateURL(items[0]) || href(doc, "next-item") != annotateURL(items[1]) {
		t.Fatalf("labelled item 3: prev %q next %q", href(doc, "prev-item"), href(doc, "next-item"))
	}
}

func TestAnnotateIsBlindUntilLabelled(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one.", "Prompt two."}, 2)
	ann := app.login("ann", "annotator")
	blind := func(it store.Item) bool {
		res := ann.get(annotateURL(it))
		doc := parse(t, res)
		html, _ := doc.Html()
		return testid(doc, "reveal").Length() == 0 && !strings.Contains(html, standInModel) && !strings.Contains(html, "0.95")
	}
	if !blind(items[0]) {
		t.Fatal("an unlabelled comparison shows its models or sampling settings")
	}
	answers := shownAnswers(t, ann.page(annotateURL(items[0])))
	ann.submitLabel(items[0], url.Values{"best": {formID(answers[0].id)}, "verdict": {"pair"}})
	doc := ann.page(annotateURL(items[0]))
	reveal := testid(doc, "reveal")
	if reveal.Length() != 1 || !strings.Contains(reveal.Text(), standInModel) || !strings.Contains(reveal.Text(), "0.95") {
		t.Fatalf("after labelling, the reveal panel shows the models: %q", reveal.Text())
	}
	if testid(doc, "reveal-row").Length() != 2 {
		t.Fatal("one reveal row per answer")
	}
	ann.submitLabel(items[1], url.Values{"verdict": {"skip"}})
	if !blind(items[1]) {
		t.Fatal("a skipped comparison is revealed")
	}
}

func TestAnnotateShufflesAnswersPerAnnotator(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one."}, 4)
	orders := map[string]bool{}
	for i := range 6 {
		c := app.login(fmt.Sprintf("ann%d", i), "annotator")
		first := shownAnswers(t, c.page(annotateURL(items[0])))
		again := shownAnswers(t, c.page(annotateURL(items[0])))
		if !slices.Equal(first, again) {
			t.Fatalf("annotator %d sees a different order on a second visit", i)
		}
		orders[fmt.Sprint(first)] = true
	}
	if len(orders) < 2 {
		t.Fatal("six annotators see the answers in the same order")
	}
}

func TestAnnotateAnswersRenderInert(t *testing.T) {
	app := newTestApp(t)
	ctx := t.Context()
	model, err := app.store.CreateModel(ctx, store.ModelInput{Name: standInModel, Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: "Prompt <script>alert(1)</script> here"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	params := []store.Sampling{{Temperature: 0.7, TopP: 1, MaxTokens: 64}, {Temperature: 0.7, TopP: 1, MaxTokens: 64}}
	job, err := app.store.CreateJob(ctx, store.NewJob{ModelID: model.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"Try this: <script>alert(1)</script>", "Or this <img src=x onerror=alert(1)> and [x](javascript:alert(1))"}
	for slot, text := range texts {
		if err := app.store.SaveResponse(ctx, store.Response{PromptID: p.ID, ModelID: model.ID, JobID: job.ID, Slot: slot, Params: params[slot], Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(store.Item{JobID: job.ID, PromptID: p.ID}))
	if testid(doc, "answer").Length() != 2 {
		t.Fatal("the answers are not shown")
	}
	danger := "script, img, iframe, [onerror], [onload], a[href^='javascript']"
	if n := testid(doc, "answer").Find(danger).Length() + testid(doc, "prompt").Find(danger).Length(); n != 0 {
		t.Fatalf("%d live elements in the prompt or answers", n)
	}
	if doc.Find(`script[src="/static/js/annotate.js"]`).Length() != 1 {
		t.Fatal("the page does not load its own script")
	}
}

func TestViewerCannotLabel(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one."}, 2)
	vic := app.login("vic", "viewer")
	doc := vic.page(annotateURL(items[0]))
	if testid(doc, "label-form").Length() != 0 || testid(doc, "answer").Length() != 2 {
		t.Fatal("a viewer sees the answers without the labelling form")
	}
	answers := shownAnswers(t, doc)
	if res := vic.submitLabel(items[0], url.Values{"best": {formID(answers[0].id)}, "verdict": {"pair"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer submit: status %d, want 403", res.StatusCode)
	}
	if res := vic.postForm("/annotate/undo", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer undo: status %d, want 403", res.StatusCode)
	}
	if n := len(storedLabels(t, app)); n != 0 {
		t.Fatalf("a viewer stored %d labels", n)
	}
}

func TestGuidelinesAreSavedByAdminsAndShownToEveryone(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Prompt one."}, 2)
	admin, ann := app.login("root", "admin"), app.login("ann", "annotator")

	text := "# Rules\r\n\r\nPrefer **safe** code.\r\n\r\n<script>alert(1)</script>"
	if res := ann.postForm("/guidelines", url.Values{"guidelines": {text}, "overlap": {"2"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("annotator save: status %d, want 403", res.StatusCode)
	}
	for _, bad := range []string{"0", "11", "two"} {
		res := admin.postForm("/guidelines", url.Values{"guidelines": {text}, "overlap": {bad}})
		doc := parse(t, res)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(testid(doc, "form-error").Text(), "labels per comparison") {
			t.Fatalf("overlap %q: status %d", bad, res.StatusCode)
		}
		if testid(doc, "overlap-input").AttrOr("value", "") != bad || !strings.Contains(testid(doc, "guidelines-text").Text(), "Prefer **safe** code.") {
			t.Fatal("the re-rendered editor lost what was typed")
		}
	}
	wantSeeOther(t, admin.postForm("/guidelines", url.Values{"guidelines": {text}, "overlap": {"3"}}), "/guidelines?saved=1")
	if k, err := app.store.Overlap(t.Context()); err != nil || k != 3 {
		t.Fatalf("overlap = %d, %v", k, err)
	}

	doc := ann.page("/guidelines")
	g := testid(doc, "guidelines")
	if g.Find("h1").Text() != "Rules" || g.Find("strong").Text() != "safe" || g.Find("script").Length() != 0 {
		t.Fatalf("rendered guidelines: %q", g.Text())
	}
	if testid(doc, "overlap-k").Text() != "3" || testid(doc, "guidelines-editor").Length() != 0 {
		t.Fatal("annotators see the overlap but not the editor")
	}
	if testid(admin.page("/guidelines"), "guidelines-editor").Length() != 1 {
		t.Fatal("admins get the editor")
	}
	panel := testid(ann.page(annotateURL(items[0])), "guidelines-panel")
	if panel.Find("strong").Text() != "safe" {
		t.Fatalf("the focus view's guidelines panel: %q", panel.Text())
	}
}

// TestFocusViewWarmsTheNextComparison serves comparisons of three long answers in queue order, as an
// annotator moves through them: each visit leaves the next comparison's answers rendered in the cache, so
// the page the annotator goes to next does not pay for first renders. (bench/focusview times it.)
func TestFocusViewWarmsTheNextComparison(t *testing.T) {
	app := newTestApp(t)
	ctx := t.Context()
	long, err := os.ReadFile("../render/testdata/long_answer.md")
	if err != nil {
		t.Fatal(err)
	}
	model, err := app.store.CreateModel(ctx, store.ModelInput{Name: standInModel, Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		t.Fatal(err)
	}
	const prompts = 5
	for i := range prompts {
		if _, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: fmt.Sprintf("Long prompt %d about `Arc<Mutex<T>>`.", i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	params := []store.Sampling{{Temperature: 0.7, TopP: 1, MaxTokens: 2048}, {Temperature: 0.8, TopP: 1, MaxTokens: 2048}, {Temperature: 0.9, TopP: 1, MaxTokens: 2048}}
	job, err := app.store.CreateJob(ctx, store.NewJob{ModelID: model.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := app.store.PendingTasks(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		// Every answer differs, so that no page is served from another page's cache entries.
		text := fmt.Sprintf("Answer %d/%d.\n\n%s", task.PromptID, task.Slot, long)
		r := store.Response{PromptID: task.PromptID, ModelID: model.ID, JobID: job.ID, Slot: task.Slot, Params: params[task.Slot], Text: text, Tokens: 1500}
		if err := app.store.SaveResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ann := app.login("ann", "annotator")
	path := "/annotate"
	for i := range prompts - 1 {
		res := ann.get(path)
		if res.StatusCode == http.StatusSeeOther {
			path = res.Header.Get("Location")
			res = ann.get(path)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, res.StatusCode)
		}
		doc := parse(t, res)
		if testid(doc, "answer").Length() != 3 {
			t.Fatalf("GET %s: not three answers", path)
		}
		next := testid(doc, "next-item").AttrOr("href", "")
		var jobID, promptID int64
		if _, err := fmt.Sscanf(next, "/annotate/%d/%d", &jobID, &promptID); err != nil {
			t.Fatalf("visit %d: next link %q", i+1, next)
		}
		answers, err := app.store.ItemResponses(ctx, jobID, promptID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			if !waitCached(app, a.Text) {
				t.Fatalf("visit %d: an answer of the next comparison %s is not in the render cache", i+1, next)
			}
		}
		path = next
	}
}

// waitCached waits briefly for markdown to be in the render cache: the warming runs after the page
// was written, so it may still be finishing when the client has read the response.
func waitCached(app *testApp, markdown string) bool {
	for range 200 {
		if app.md.Cached(markdown) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestAnnotateShowsCompileBadges(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Why is `v` moved here?"}, 3)
	answers, err := app.store.ItemResponses(t.Context(), items[0].JobID, items[0].PromptID)
	if err != nil {
		t.Fatal(err)
	}
	// Verdicts as the background checker stores them (checking/ runs the real rustc; here they are set directly).
	app.store.SaveCheck(t.Context(), store.Check{ResponseID: answers[0].ID, HasCode: true, Compiles: true, Lints: 2})
	app.store.SaveCheck(t.Context(), store.Check{ResponseID: answers[1].ID, HasCode: true, FirstError: "E0382: borrow of moved value: `v` <b>(line 4)</b>", Lints: -1})
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(items[0]))
	states := map[int64]string{}
	testid(doc, "answer").Each(func(_ int, a *goquery.Selection) {
		id, _ := strconv.ParseInt(a.AttrOr("data-response-id", ""), 10, 64)
		states[id] = testid(goquery.NewDocumentFromNode(a.Nodes[0]), "check").AttrOr("data-state", "")
	})
	if states[answers[0].ID] != "compiles" || states[answers[1].ID] != "fails" || states[answers[2].ID] != "pending" {
		t.Fatalf("badges %v", states)
	}
	errText := testid(doc, "check-error")
	if !strings.Contains(errText.Text(), "E0382: borrow of moved value") || errText.Find("b").Length() != 0 {
		t.Fatalf("first error shown as %q (markup must stay text)", errText.Text())
	}
	if !strings.Contains(testid(doc, "check").Text(), "2 lints") {
		t.Fatal("lint count not shown")
	}
}

func TestAnnotateCompilerSuggestsAPairPeopleCanChange(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Fix the use after move.", "Sum the evens."}, 3)
	ctx := t.Context()
	first, _ := app.store.ItemResponses(ctx, items[0].JobID, items[0].PromptID)
	app.store.SaveCheck(ctx, store.Check{ResponseID: first[0].ID, HasCode: true, FirstError: "E0382: borrow of moved value", Lints: -1})
	app.store.SaveCheck(ctx, store.Check{ResponseID: first[1].ID, HasCode: true, Compiles: true, Lints: 1})
	app.store.SaveCheck(ctx, store.Check{ResponseID: first[2].ID, HasCode: true, Compiles: true, Lints: 0})
	second, _ := app.store.ItemResponses(ctx, items[1].JobID, items[1].PromptID)
	for _, a := range second { // all compile with the same lints: nothing separates them
		app.store.SaveCheck(ctx, store.Check{ResponseID: a.ID, HasCode: true, Compiles: true, Lints: 0})
	}
	ann := app.login("ann", "annotator")
	doc := ann.page(annotateURL(items[0]))
	if !strings.Contains(testid(doc, "suggestion").Text(), "fails: E0382") {
		t.Fatalf("suggestion %q", testid(doc, "suggestion").Text())
	}
	best := doc.Find(`[data-testid="pick-best"][checked]`).AttrOr("value", "")
	worst := doc.Find(`[data-testid="pick-worst"][checked]`).AttrOr("value", "")
	if best != formID(first[2].ID) || worst != formID(first[0].ID) {
		t.Fatalf("pre-selected best %s worst %s, want %d over %d", best, worst, first[2].ID, first[0].ID)
	}
	if testid(ann.page(annotateURL(items[1])), "suggestion").Length() != 0 {
		t.Fatal("a suggestion where the checks do not separate the answers")
	}
	// Accepting it is an ordinary submission by the person; after it the suggestion is gone.
	wantSeeOther(t, ann.submitLabel(items[0], url.Values{"verdict": {"pair"}, "best": {best}, "worst": {worst}}), annotateURL(items[1]))
	if testid(ann.page(annotateURL(items[0])), "suggestion").Length() != 0 {
		t.Fatal("the suggestion is still shown after the label")
	}
}
