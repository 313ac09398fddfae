package handlers

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
)

func TestAdminEditsAnotherAnnotatorsLabelInline(t *testing.T) {
	app := newTestApp(t)
	admin := app.login("ada", store.RoleAdmin)
	app.login("ann", store.RoleAnnotator)
	seed := newReviewSeed(t, app, store.PromptInput{Text: "Why does `Rc` not implement `Send`?", Category: "smart-pointers"})
	seed.label("ann", "Why does `Rc` not implement `Send`?", store.VerdictPair, 0, "A compiles")
	labels, _ := app.store.ListLabels(t.Context(), store.LabelFilter{})
	path := "/review/labels/" + strconv.FormatInt(labels[0].ID, 10)

	doc := admin.page("/review")
	if testid(doc, "review-inline-edit").Length() != 1 {
		t.Fatal("no inline edit button for the admin")
	}
	editor := parseRow(t, admin.htmx(http.MethodGet, path+"/edit", nil))
	if testid(editor, "review-edit-form").Length() != 1 {
		t.Fatal("no editor form")
	}
	pid := seed.prompts["Why does `Rc` not implement `Send`?"]
	form := url.Values{"verdict": {"pair"}, "best": {strconv.FormatInt(seed.answers[pid][1], 10)}, "rationale": {"<script>alert(1)</script> B explains Send"}}
	res := admin.htmx(http.MethodPut, path, form)
	row := parseRow(t, res)
	if res.StatusCode != http.StatusOK || testid(row, "review-row").Length() != 1 || row.Find("script").Length() != 0 {
		t.Fatalf("update: status %d, row %q", res.StatusCode, row.Text())
	}
	got, err := app.store.LabelByID(t.Context(), labels[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ChosenID != seed.answers[pid][1] || got.RejectedID != seed.answers[pid][0] || got.AnnotatorName != "ann" ||
		!strings.Contains(got.Rationale, "B explains Send") {
		t.Fatalf("label after the edit: %+v", got)
	}
	if n, _ := app.store.ListLabels(t.Context(), store.LabelFilter{}); len(n) != 1 {
		t.Fatalf("%d labels after the edit, want the same one", len(n))
	}

	// An invalid edit keeps the editor open with the reason and changes nothing.
	res = admin.htmx(http.MethodPut, path, url.Values{"verdict": {"pair"}})
	if testid(parseRow(t, res), "review-edit-error").Length() != 1 {
		t.Fatal("an edit without a best answer shows no error")
	}
	if again, _ := app.store.LabelByID(t.Context(), labels[0].ID); again.ChosenID != got.ChosenID {
		t.Fatal("a refused edit changed the label")
	}
}

// parseRow parses a table-row fragment inside a table, as the browser swaps it in.
func parseRow(t *testing.T, res *http.Response) *goquery.Document {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseBody(t, "<table><tbody>"+string(body)+"</tbody></table>")
}

func TestOnlyAdminsEditOtherPeoplesLabels(t *testing.T) {
	app := newTestApp(t)
	other := app.login("bob", store.RoleAnnotator)
	viewer := app.login("vic", store.RoleViewer)
	app.login("ann", store.RoleAnnotator)
	seed := newReviewSeed(t, app, store.PromptInput{Text: "Explain `Pin`"})
	seed.label("ann", "Explain `Pin`", store.VerdictTie, 0, "")
	labels, _ := app.store.ListLabels(t.Context(), store.LabelFilter{})
	path := "/review/labels/" + strconv.FormatInt(labels[0].ID, 10)
	if res := other.htmx(http.MethodGet, path+"/edit", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("another annotator opened the editor: %d", res.StatusCode)
	}
	if res := other.htmx(http.MethodPut, path, url.Values{"verdict": {"skip"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("another annotator changed the label: %d", res.StatusCode)
	}
	if res := viewer.htmx(http.MethodPut, path, url.Values{"verdict": {"skip"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer changed the label: %d", res.StatusCode)
	}
	if l, _ := app.store.LabelByID(t.Context(), labels[0].ID); l.Verdict != store.VerdictTie {
		t.Fatalf("verdict now %s", l.Verdict)
	}
	if testid(other.page("/review"), "review-inline-edit").Length() != 0 {
		t.Fatal("another annotator sees an edit button")
	}
}
