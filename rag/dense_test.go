package rag

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"rustexpert/inference/bert"
	"rustexpert/store"
)

// embedder loads the bundled all-MiniLM-L6-v2, or skips.
func embedder(t *testing.T) *bert.Encoder {
	t.Helper()
	dir := os.Getenv("RUSTEXPERT_TEST_EMBEDDER")
	if dir == "" {
		dir = filepath.Join("..", "models", "embedder")
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skip("the embedder is not fetched (make models); set RUSTEXPERT_TEST_EMBEDDER to its folder")
	}
	e, err := bert.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testCorpus ingests the Book page, E0502 and the Tokio page.
func testCorpus(t *testing.T) *store.Store {
	st := openStore(t)
	ingest(t, st, "book", copyTree(t, "html/book"))
	ingest(t, st, "error-codes", copyTree(t, "html/error_codes"))
	ingest(t, st, "tokio", copyTree(t, "tokio"))
	return st
}

func TestDenseAndHybridRetrieval(t *testing.T) {
	ctx := context.Background()
	emb := embedder(t)
	st := testCorpus(t)
	if _, err := Search(ctx, st, emb, "minilm", Query{Text: "borrow", Mode: ModeDense}); !errors.Is(err, ErrNoVectors) {
		t.Fatalf("before embedding: %v, want ErrNoVectors", err)
	}
	calls := 0
	n, err := EmbedMissing(ctx, st, emb, "minilm", func(done, total int) { calls++ })
	if err != nil || n == 0 || calls == 0 {
		t.Fatalf("embedded %d (%d progress calls): %v", n, calls, err)
	}
	if again, err := EmbedMissing(ctx, st, emb, "minilm", nil); err != nil || again != 0 {
		t.Fatalf("second run embedded %d: %v", again, err)
	}
	// A question worded unlike the page: dense and hybrid find the error code's page.
	q := "why can't I change a vector while I still hold a reference to one of its elements"
	for _, mode := range []string{ModeDense, ModeHybrid} {
		hits, err := Search(ctx, st, emb, "minilm", Query{Text: q, Mode: mode, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Fatalf("%s: no hits", mode)
		}
		found := false
		for _, h := range hits {
			found = found || h.Source == "error-codes" || h.Source == "book"
			if h.Fused <= 0 || (mode == ModeDense && h.Dense <= 0) {
				t.Errorf("%s: hit %q scores %+v", mode, h.Title, h)
			}
		}
		if !found {
			t.Errorf("%s: the borrowing pages are not in the top 3: %v", mode, titles(hits))
		}
	}
	hits, err := Search(ctx, st, emb, "minilm", Query{Text: "tokio::spawn a task", Mode: ModeHybrid, K: 1})
	if err != nil || len(hits) != 1 || hits[0].Source != "tokio" || hits[0].BM25 <= 0 || hits[0].Dense <= 0 {
		t.Fatalf("hybrid tokio::spawn: %+v, %v", hits, err)
	}
	if hits, err := Search(ctx, st, emb, "minilm", Query{Text: "E0502", Mode: ModeBM25, K: 1}); err != nil || hits[0].Source != "error-codes" {
		t.Fatalf("bm25 E0502: %v %v", titles(hits), err)
	}
	// Vectors of another embedding model replace these: everything is embedded again.
	if other, err := EmbedMissing(ctx, st, emb, "another-model", nil); err != nil || other != n {
		t.Fatalf("another model re-embeds everything: %d of %d, %v", other, n, err)
	}
	if left, err := st.CountRAGPassagesToEmbed(ctx, "minilm"); err != nil || left != n {
		t.Fatalf("after switching models, %d chunks lack a minilm vector (want %d): %v", left, n, err)
	}
}

func titles(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Source+": "+h.Title)
	}
	return out
}

func TestFuseRanksByReciprocalRank(t *testing.T) {
	got := Fuse(3, []int64{1, 2, 3}, []int64{3, 1, 4})
	// 1: 1/61 + 1/62, 3: 1/63 + 1/61, 2: 1/62, 4: 1/63
	if len(got) != 3 || got[0].ChunkID != 1 || got[1].ChunkID != 3 || got[2].ChunkID != 2 {
		t.Fatalf("fused %+v", got)
	}
	// A tie between two lists' first places goes to the first list.
	if tie := Fuse(2, []int64{9}, []int64{4}); tie[0].ChunkID != 9 || tie[1].ChunkID != 4 {
		t.Fatalf("tie %+v", tie)
	}
	near := Nearest([]store.RAGVector{{ChunkID: 1, Vector: []float32{1, 0}}, {ChunkID: 2, Vector: []float32{0.6, 0.8}},
		{ChunkID: 3, Vector: []float32{1, 0, 0}}}, []float32{0, 1}, 5)
	if len(near) != 2 || near[0].ChunkID != 2 {
		t.Fatalf("nearest %+v (a vector of another size must be left out)", near)
	}
}
