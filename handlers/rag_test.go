package handlers

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/rag"
)

// ingestRAGTestdata indexes the rag package's test pages: one error code and one Book page.
func ingestRAGTestdata(t *testing.T, a *testApp) {
	t.Helper()
	for _, s := range []struct{ name, dir string }{{"error-codes", "error_codes"}, {"book", "book"}} {
		src, _ := rag.SourceByName(s.name)
		dir := filepath.Join("..", "rag", "testdata", "html", s.dir)
		if _, err := rag.Ingest(context.Background(), a.store, src, dir, rag.DefaultChunkOptions); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRAGSearchPage(t *testing.T) {
	a := newTestApp(t)
	c := a.login("ann", "annotator")
	empty := c.page("/rag")
	if empty.Find(`[data-testid="rag-empty-index"]`).Length() != 1 || empty.Find(`[data-testid="rag-results"]`).Length() != 0 {
		t.Fatal("empty index: no notice, or results without a query")
	}
	ingestRAGTestdata(t, a)

	doc := c.page("/rag?q=" + url.QueryEscape("E0502"))
	results := doc.Find(`[data-testid="rag-result"]`)
	if results.Length() < 2 {
		t.Fatalf("%d results for E0502", results.Length())
	}
	top := results.First()
	link := top.Find(`[data-testid="rag-title"]`)
	if link.Text() != "Error codes › Error code E0502" {
		t.Errorf("top result %q", link.Text())
	}
	if href, _ := link.Attr("href"); href != "https://doc.rust-lang.org/error_codes/E0502.html#error-code-e0502" {
		t.Errorf("href %q", href)
	}
	if mark := top.Find(`[data-testid="rag-snippet"] mark`).First().Text(); mark != "E0502" {
		t.Errorf("highlighted %q", mark)
	}
	if score := top.Find(`[data-testid="rag-score"]`).Text(); score == "" || score == "0.00" {
		t.Errorf("score %q", score)
	}

	only := c.page("/rag?source=book&q=" + url.QueryEscape("E0502"))
	only.Find(`[data-testid="rag-title"]`).Each(func(_ int, s *goquery.Selection) {
		if !strings.HasPrefix(s.Text(), "The Book") {
			t.Errorf("source filter book gave %q", s.Text())
		}
	})
	if only.Find(`[data-testid="rag-result"]`).Length() == 0 {
		t.Error("no Book results for E0502")
	}
	if sel := only.Find(`select[name="source"] option[selected]`).AttrOr("value", ""); sel != "book" {
		t.Errorf("selected source %q", sel)
	}
}

func TestRAGSearchAnyQuery(t *testing.T) {
	a := newTestApp(t)
	c := a.login("ann", "annotator")
	ingestRAGTestdata(t, a)
	for _, q := range []string{`"`, `a AND`, `*`, `NEAR(x y)`, `<script>alert(1)</script>`, "mutable \x02borrow\x03",
		strings.Repeat(`borrow "AND" NEAR * `, 500)} {
		res := c.get("/rag?q=" + url.QueryEscape(q))
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		body := string(raw)
		if res.StatusCode != http.StatusOK {
			t.Errorf("query %.30q: status %d", q, res.StatusCode)
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("query %.30q echoed unescaped", q)
		}
	}
	doc := c.page("/rag?q=" + url.QueryEscape(`"zzzzqqq" xyzzy`))
	if doc.Find(`[data-testid="rag-no-results"]`).Length() != 1 {
		t.Error("no 'No results' for a query without hits")
	}
}

// Without an embedder, a hybrid search (the default) ranks by BM25 and says so.
func TestRAGSearchFallsBackToBM25(t *testing.T) {
	a := newTestApp(t)
	c := a.login("ann", "annotator")
	ingestRAGTestdata(t, a)
	doc := c.page("/rag?q=" + url.QueryEscape("E0502"))
	if note := doc.Find(`[data-testid="rag-note"]`).Text(); !strings.Contains(note, "BM25 only") {
		t.Fatalf("no fallback note: %q", note)
	}
	if doc.Find(`[data-testid="rag-result"]`).Length() == 0 || doc.Find(`[data-testid="rag-dense"]`).First().Text() != "dense 0.000" {
		t.Fatal("no BM25 results, or a dense score without an embedder")
	}
	if doc := c.page("/rag?mode=bm25&q=" + url.QueryEscape("E0502")); doc.Find(`[data-testid="rag-note"]`).Length() != 0 {
		t.Fatal("a BM25 search got the fallback note")
	}
}
