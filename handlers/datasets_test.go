package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/dataset"
	"rustexpert/store"
)

const heldoutPrompt = "Held out: explain Pin<&mut Self> in async code"

func datasetSeed(t *testing.T, app *testApp) reviewSeed {
	seed := newReviewSeed(t, app,
		store.PromptInput{Text: "Why does the borrow checker reject this loop?", Category: "borrowck"},
		store.PromptInput{Text: "Write an iterator over a binary tree", Category: "iterators"},
		store.PromptInput{Text: heldoutPrompt, Category: "async", Split: store.SplitHeldout})
	seed.label("ann", "Why does the borrow checker reject this loop?", store.VerdictPair, 0, "A compiles")
	seed.label("ann", "Write an iterator over a binary tree", store.VerdictPair, 1, "")
	seed.label("ann", heldoutPrompt, store.VerdictPair, 0, "")
	return seed
}

// uploadDataset posts a file to the validator as a browser form does.
func uploadDataset(c *client, name, content, kind string) *http.Response {
	c.app.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", c.csrf)
	mw.WriteField("kind", kind)
	if name != "" {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			c.app.t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	return c.do(http.MethodPost, "/datasets/validate", &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
}

func TestDatasetSnapshotDownloadsWithRecordedHash(t *testing.T) {
	app := newTestApp(t)
	ann := app.login("ann", store.RoleAnnotator)
	datasetSeed(t, app)

	res := ann.postForm("/datasets", url.Values{"kind": {"dpo"}, "shape": {"conversational"}, "system": {"You are a Rust expert."}})
	if res.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("create: status %d: %s", res.StatusCode, b)
	}
	loc := res.Header.Get("Location")
	idText, ok := strings.CutPrefix(loc, "/datasets?created=")
	if !ok {
		t.Fatalf("redirect to %q", loc)
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	d, err := app.store.Dataset(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	doc := ann.page(loc)
	if testid(doc, "dataset-created").Length() != 1 || testid(doc, "snapshot-row").Length() != 1 {
		t.Fatal("the new snapshot is not shown")
	}
	if got := testid(doc, "snapshot-sha").AttrOr("title", ""); got != d.SHA256 {
		t.Fatalf("sha title = %q, want %q", got, d.SHA256)
	}

	res = ann.get("/datasets/" + idText + "/download")
	file, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: status %d, disposition %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	sum := sha256.Sum256(file)
	if hex.EncodeToString(sum[:]) != d.SHA256 {
		t.Fatal("downloaded bytes do not have the recorded sha256")
	}
	if bytes.Contains(file, []byte("Pin<&mut Self>")) || bytes.Contains(file, []byte(`Pin\u003c\u0026mut Self\u003e`)) {
		t.Fatal("the held-out prompt's label reached the snapshot")
	}
	rep, err := dataset.Validate(bytes.NewReader(file), dataset.ValidateOptions{Kind: "dpo",
		HeldoutPromptIDs: map[string]bool{dataset.PromptID(heldoutPrompt): true}})
	if err != nil || !rep.OK() {
		t.Fatalf("downloaded file does not validate: %v %v", err, rep.Problems)
	}
	if rep.Rows != 2 || d.Rows != 2 {
		t.Fatalf("rows: file %d, record %d, want 2", rep.Rows, d.Rows)
	}

	doc = ann.page("/datasets/" + idText + "/validate")
	if testid(doc, "validate-ok").Length() != 1 || testid(doc, "report-rows").Text() != "2" {
		t.Fatalf("stored snapshot report: %s", doc.Find("main").Text())
	}
}

func TestDatasetCreateWithoutRowsIs422(t *testing.T) {
	app := newTestApp(t)
	ann := app.login("ann", store.RoleAnnotator)
	seed := newReviewSeed(t, app, store.PromptInput{Text: heldoutPrompt, Split: store.SplitHeldout})
	seed.label("ann", heldoutPrompt, store.VerdictPair, 0, "")

	res := ann.postForm("/datasets", url.Values{"kind": {"sft"}, "system": {"kept <b>as typed</b>"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	doc := parse(t, res)
	if msg := testid(doc, "form-errors").Text(); !strings.Contains(msg, "no sft rows") {
		t.Fatalf("error message %q", msg)
	}
	stats := map[string]string{}
	testid(doc, "dataset-stats").Find("tr").Each(func(_ int, row *goquery.Selection) {
		stats[row.Find("th").Text()] = row.Find("td").Text()
	})
	if stats["held out (never exported)"] != "1" || stats["rows built"] != "0" {
		t.Fatalf("stats %v do not count the held-out label", stats)
	}
	if got := doc.Find(`textarea[name="system"]`).Text(); got != "kept <b>as typed</b>" {
		t.Fatalf("system message not kept: %q", got)
	}
	if list, _ := app.store.ListDatasets(t.Context()); len(list) != 0 {
		t.Fatalf("%d snapshots recorded", len(list))
	}
}

func TestDatasetCreateNeedsEditor(t *testing.T) {
	app := newTestApp(t)
	app.login("ann", store.RoleAnnotator)
	viewer := app.login("vera", store.RoleViewer)
	datasetSeed(t, app)

	doc := viewer.page("/datasets")
	if testid(doc, "dataset-form").Length() != 0 || testid(doc, "validate-form").Length() != 1 {
		t.Fatal("a viewer should see the validator but not the export form")
	}
	if res := viewer.postForm("/datasets", url.Values{"kind": {"dpo"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer create: status %d, want 403", res.StatusCode)
	}
	if list, _ := app.store.ListDatasets(t.Context()); len(list) != 0 {
		t.Fatalf("%d snapshots recorded", len(list))
	}
}

func TestDatasetValidateUploadListsProblems(t *testing.T) {
	app := newTestApp(t)
	viewer := app.login("vera", store.RoleViewer)
	if _, err := app.store.CreatePrompt(t.Context(), store.PromptInput{Text: heldoutPrompt, Split: store.SplitHeldout}, 0); err != nil {
		t.Fatal(err)
	}
	bad := strings.Join([]string{
		`{"prompt": "How do I read a file?", "chosen": "Use std::fs::read_to_string.", "rejected": "Use C."}`,
		`{"prompt": "Sort a Vec", "chosen": "", "rejected": "v.sort()"}`,
		`not json`,
		`{"prompt": [{"role": "<script>x</script>", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`,
		`{"prompt": "` + heldoutPrompt + `", "chosen": "a", "rejected": "b"}`,
	}, "\n") + "\n"

	res := uploadDataset(viewer, "bad.jsonl", bad, "")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "<script>x") {
		t.Fatal("a problem message reached the page unescaped")
	}
	doc := parseBody(t, string(body))
	if testid(doc, "validate-problems").Length() != 1 || testid(doc, "validate-ok").Length() != 0 {
		t.Fatal("want the problems section")
	}
	lines := map[string]string{}
	doc.Find(`[data-testid="problem"]`).Each(func(_ int, row *goquery.Selection) {
		line := strings.TrimSpace(row.Find(`[data-testid="problem-line"]`).Text())
		lines[line] += strings.TrimSpace(row.Find(`[data-testid="problem-field"]`).Text()) + " " + row.Text()
	})
	if !strings.Contains(lines["2"], "chosen") {
		t.Errorf("line 2 problems %q, want the empty chosen", lines["2"])
	}
	if !strings.Contains(lines["3"], "invalid JSON") {
		t.Errorf("line 3 problems %q, want invalid JSON", lines["3"])
	}
	if !strings.Contains(lines["4"], `got "<script>x</script>"`) {
		t.Errorf("line 4 problems %q, want the bad role", lines["4"])
	}
	if !strings.Contains(lines["5"], "held out") {
		t.Errorf("line 5 problems %q, want the held-out leak", lines["5"])
	}
	if _, ok := lines["1"]; ok {
		t.Errorf("line 1 is valid but has problems: %q", lines["1"])
	}
	if got := testid(doc, "report-kind").Text(); got != "dpo" {
		t.Errorf("kind %q", got)
	}

	good := `{"prompt": "Sort a Vec", "chosen": "v.sort()", "rejected": "v.sorted()", "category": "std"}` + "\n"
	doc = parse(t, uploadDataset(viewer, "good.jsonl", good, "dpo"))
	if testid(doc, "validate-ok").Length() != 1 || !strings.Contains(testid(doc, "report-categories").Text(), "std") {
		t.Fatalf("good file: %s", doc.Find("main").Text())
	}

	if res := uploadDataset(viewer, "", "", ""); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("no file: status %d, want 422", res.StatusCode)
	}
}

func TestDatasetDownloadStaysInDataDir(t *testing.T) {
	app := newTestApp(t)
	viewer := app.login("vera", store.RoleViewer)
	outside := filepath.Join(t.TempDir(), "secret.jsonl")
	if err := os.WriteFile(outside, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(app.dataDir, "datasets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(app.dataDir, "datasets", "link.jsonl")); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(app.dataDir, outside)
	for _, path := range []string{rel, outside, "datasets/link.jsonl"} {
		d, err := app.store.CreateDataset(t.Context(), store.Dataset{Kind: "dpo", OptionsJSON: "{}", StatsJSON: "{}",
			SHA256: strings.Repeat("0", 64), Rows: 1, Path: path}, 0)
		if err != nil {
			t.Fatal(err)
		}
		res := viewer.get("/datasets/" + strconv.FormatInt(d.ID, 10) + "/download")
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK || bytes.Contains(body, []byte("secret")) {
			t.Errorf("path %q: status %d, body %q", path, res.StatusCode, body)
		}
	}
	if res := viewer.get("/datasets/999/download"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown snapshot: status %d, want 404", res.StatusCode)
	}
}
