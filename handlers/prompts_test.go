package handlers

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// upload posts a file to the import form as a browser does.
func (c *client) upload(path, field, filename string, content []byte) *http.Response {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", c.csrf)
	fw, _ := mw.CreateFormFile(field, filename)
	fw.Write(content)
	mw.Close()
	return c.do(http.MethodPost, path, &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
}

func TestImportShowsEveryProblemAndWritesNothing(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	sheet := "text,category,split\r\nWhat is a borrow?,ownership,train\r\n,ownership,train\r\nExplain Pin,async,later\r\n\"unterminated,x,train\r\n"
	res := c.upload("/prompts/import", "file", "bad.csv", []byte(sheet))
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	doc := parse(t, res)
	problems := testid(doc, "import-errors").Find("li").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	want := []string{"line 3", "line 4, column \"split\"", "line 5"}
	for _, w := range want {
		if !containsPrefix(problems, w) {
			t.Errorf("problems %q lack one starting with %q", problems, w)
		}
	}
	if n, _ := app.store.CountPromptsAfter(t.Context(), promptFilterFrom(url.Values{})); n != 0 {
		t.Fatalf("%d prompts stored after a failed import", n)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestImportThenSearchEditAndExport(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	sheet := "\ufefftext,category,tags,split\r\n\"Why does this\r\nnot compile?\",compiler-errors,e0502;borrowck,heldout\r\nTurn this loop into an iterator chain,iterators-closures,iterator,train\r\n"
	res := c.upload("/prompts/import", "file", "sheet.csv", []byte(sheet))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/prompts?imported=2" {
		t.Fatalf("import: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc := c.page("/prompts?q=iterator")
	if got := testid(doc, "prompt-row").Length(); got != 1 {
		t.Fatalf("search found %d rows, want 1", got)
	}
	id, _ := testid(doc, "prompt-row").Attr("id")
	path := "/prompts/" + strings.TrimPrefix(id, "prompt-") + "/split"
	res = c.htmx(http.MethodPut, path, url.Values{"value": {"heldout"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("inline edit: %d", res.StatusCode)
	}
	res = c.htmx(http.MethodPut, path, url.Values{"value": {"nonsense"}})
	if cell := parse(t, res); testid(cell, "cell-error").Length() != 1 {
		t.Fatal("a bad split shows no error in the cell")
	}
	res = c.get("/prompts/export?format=jsonl&split=heldout")
	var body bytes.Buffer
	body.ReadFrom(res.Body)
	if lines := strings.Count(body.String(), "\n"); lines != 2 {
		t.Fatalf("held-out export has %d lines, want 2:\n%s", lines, body.String())
	}
	if !strings.Contains(body.String(), `Why does this\nnot compile?`) {
		t.Fatalf("multi-line cell lost: %s", body.String())
	}
}

func TestPromptTextIsEscaped(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	c.postForm("/prompts", url.Values{"text": {`<script>alert(1)</script><img src=x onerror=alert(1)>`}})
	doc := c.page("/prompts")
	grid := testid(doc, "prompt-grid")
	if grid.Find("script").Length() != 0 || grid.Find("img").Length() != 0 {
		t.Fatal("prompt text became markup")
	}
	if !strings.Contains(grid.Text(), "<script>alert(1)</script>") {
		t.Fatal("prompt text not shown as text")
	}
}

func TestImportOverLimitIs413(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	big := bytes.Repeat([]byte("a"), maxUploadBytes+1)
	if res := c.upload("/prompts/import", "file", "big.csv", big); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", res.StatusCode)
	}
}

func TestPaginationPagesThroughEveryRow(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	var b strings.Builder
	b.WriteString("text\n")
	for i := range 120 {
		b.WriteString("prompt " + strings.Repeat("z", i+1) + "\n")
	}
	c.upload("/prompts/import", "file", "many.csv", []byte(b.String()))
	path, seen := "/prompts", 0
	for path != "" {
		doc := c.page(path)
		seen += testid(doc, "prompt-row").Length()
		path, _ = testid(doc, "next-page").Attr("href")
	}
	if seen != 120 {
		t.Fatalf("saw %d rows over all pages, want 120", seen)
	}
}
