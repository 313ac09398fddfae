package handlers

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/rag"
	"rustexpert/rag/qdranttest"
	"rustexpert/render"
	"rustexpert/store"
)

// TestRAGSearchPageOnQdrant serves the docs search from a Qdrant collection (the test stand-in)
// while the database holds no documentation.
func TestRAGSearchPageOnQdrant(t *testing.T) {
	ctx := context.Background()
	s, err := qdranttest.NewServer("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	q, err := rag.OpenQdrant(ctx, rag.QdrantConfig{Addr: s.Addr(), Dim: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	for _, src := range []struct{ name, dir string }{{"error-codes", "error_codes"}, {"book", "book"}} {
		source, _ := rag.SourceByName(src.name)
		if _, err := rag.Ingest(ctx, q, source, filepath.Join("..", "rag", "testdata", "html", src.dir), rag.DefaultChunkOptions); err != nil {
			t.Fatal(err)
		}
	}
	a := newTestAppWith(t, Config{RAG: q})
	c := a.login("ann", "annotator")
	doc := c.page("/rag?mode=bm25&q=" + url.QueryEscape("E0502"))
	if doc.Find(`[data-testid="rag-empty-index"]`).Length() != 0 {
		t.Fatal("the page says the index is empty")
	}
	top := doc.Find(`[data-testid="rag-result"]`).First()
	if title := top.Find(`[data-testid="rag-title"]`).Text(); title != "Error codes › Error code E0502" {
		t.Errorf("top result %q", title)
	}
	if mark := top.Find(`[data-testid="rag-snippet"] mark`).First().Text(); mark != "E0502" {
		t.Errorf("highlighted %q", mark)
	}
	if n := doc.Find(`select[name="source"] option[value="book"]`).Length(); n != 1 {
		t.Errorf("source list lacks the Book (%d)", n)
	}
	if !(&Server{store: a.store, cfg: Config{RAG: q}}).ragReady(ctx) || (&Server{store: a.store}).ragReady(ctx) {
		t.Error("+rag variants do not follow the documentation in Qdrant")
	}
}

// newTestAppWith is newTestApp with more of the handlers' configuration.
func newTestAppWith(t *testing.T, cfg Config) *testApp {
	t.Helper()
	dir, st, log, hub := testParts(t)
	genFor := func(m store.Model) (inference.Generator, error) {
		return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint}), nil
	}
	runner := generation.New(st, genFor, hub, log, 2)
	cfg.DataDir = dir
	srv := httptest.NewServer(New(log, st, runner, hub, render.New(), cfg))
	t.Cleanup(srv.Close)
	return &testApp{t: t, srv: srv, store: st, hub: hub, runner: runner, dataDir: dir}
}
