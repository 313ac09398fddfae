package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
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

// The fusion select reaches the search: reciprocal-rank fusion scores a page at most 2/61 (first in
// both rankings), the weighted sum far more for the page BM25 ranks first; an unknown value is
// the default, weighted.
func TestRAGSearchFusion(t *testing.T) {
	a := newTestApp(t)
	srv := httptest.NewServer(New(slog.New(slog.NewTextHandler(io.Discard, nil)), a.store, a.runner, a.hub, a.md,
		Config{DataDir: a.dataDir, Embedder: hashEmbedder{}, EmbedderModel: "hash-8"}))
	t.Cleanup(srv.Close)
	a.srv = srv
	c := a.login("ann", "annotator")
	ingestRAGTestdata(t, a)
	if _, err := rag.EmbedMissing(context.Background(), a.store, hashEmbedder{}, "hash-8", nil); err != nil {
		t.Fatal(err)
	}
	topScore := func(fusion string) float64 {
		t.Helper()
		doc := c.page("/rag?fusion=" + fusion + "&q=" + url.QueryEscape("E0502"))
		want := fusion
		if want != rag.FusionRRF {
			want = rag.FusionWeighted
		}
		if got, _ := doc.Find(`[data-testid="rag-fusion"] option[selected]`).Attr("value"); got != want {
			t.Errorf("fusion %q: %q selected, want %q", fusion, got, want)
		}
		if note := doc.Find(`[data-testid="rag-note"]`).Text(); note != "" {
			t.Errorf("fusion %q: note %q (no hybrid search?)", fusion, note)
		}
		score, err := strconv.ParseFloat(doc.Find(`[data-testid="rag-score"]`).First().Text(), 64)
		if err != nil {
			t.Fatalf("fusion %q: top score: %v", fusion, err)
		}
		return score
	}
	if rrf := topScore(rag.FusionRRF); rrf <= 0 || rrf > 2.0/61+1e-4 {
		t.Errorf("rrf top score %.4f, want in (0, 2/61]", rrf)
	}
	for _, fusion := range []string{rag.FusionWeighted, "max"} {
		if w := topScore(fusion); w < 0.4 {
			t.Errorf("fusion %q: top score %.4f, want at least 0.4 (BM25's first page)", fusion, w)
		}
	}
}
