package rag

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rustexpert/store"
)

// letterEmbedder embeds a text as its normalized letter counts: a stand-in for the real encoder
// that is cheap and deterministic.
type letterEmbedder struct{}

func (letterEmbedder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 26)
		for _, r := range strings.ToLower(t) {
			if r >= 'a' && r <= 'z' {
				v[r-'a']++
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += float64(x * x)
		}
		for j := range v {
			if norm > 0 {
				v[j] /= float32(math.Sqrt(norm))
			}
		}
		out[i] = v
	}
	return out, nil
}

// testDense builds a dense ranking over vectors given by chunk id, for the query q.
func testDense(q []float32, vectors map[int64][]float32) *denseRanking {
	var vs []store.RAGVector
	for id, v := range vectors {
		vs = append(vs, store.RAGVector{ChunkID: id, Vector: v})
	}
	set := newVectorSet(1, vs)
	scores := set.cosines(q)
	return &denseRanking{set: set, scores: scores, top: topScores(set.ids, scores, candidates)}
}

func TestRankPagesByMode(t *testing.T) {
	// Page 1: chunks 10 (BM25 10) and 11 (BM25 8). Page 2: chunk 20 (BM25 10.5). Page 3: chunk 30,
	// found by dense alone.
	lex := []store.RAGRanked{{ChunkID: 20, Document: 2, Score: 10.5}, {ChunkID: 10, Document: 1, Score: 10}, {ChunkID: 11, Document: 1, Score: 8}}
	pages := []*page{{document: 2, lex: []float64{10.5}, chunks: []int64{20}},
		{document: 1, lex: []float64{10, 8}, chunks: []int64{10, 11}}, {document: 3, chunks: []int64{30}}}

	got := rankPages(ModeBM25, pages[:2], lex, nil)
	// Page 1: 10 + 0.1 × 8 = 10.8 beats page 2's single 10.5; its best chunk stands for it.
	if len(got) != 2 || got[0].document != 1 || got[0].chunk != 10 || math.Abs(got[0].score-10.8) > 1e-9 || got[0].bm25 != 10 {
		t.Fatalf("bm25 pages %+v", got)
	}

	q := []float32{1, 0}
	dense := testDense(q, map[int64][]float32{10: {0, 1}, 11: {0.8, 0.6}, 20: {0.6, 0.8}, 30: {1, 0}})
	got = rankPages(ModeHybrid, pages, lex, dense)
	want := map[int64]float64{
		1: 0.4*10.8/10.5 + 0.6*0.8, // its second chunk is the nearer one
		2: 0.4*10.5/10.5 + 0.6*0.6,
		3: 0.6 * 1, // dense alone
	}
	for _, r := range got {
		if math.Abs(r.score-want[r.document]) > 1e-6 {
			t.Errorf("hybrid page %d scores %.4f, want %.4f", r.document, r.score, want[r.document])
		}
	}
	// Page 1 (0.891) > page 2 (0.76) > page 3 (0.6); page 1 is shown by chunk 11, whose BM25 8 and
	// cosine 0.8 beat chunk 10's 10 and 0.
	if got[0].document != 1 || got[1].document != 2 || got[2].document != 3 {
		t.Fatalf("hybrid order %+v", got)
	}
	if got[0].chunk != 11 || got[0].bm25 != 8 || math.Abs(got[0].dense-0.8) > 1e-6 {
		t.Errorf("page 1 stands for chunk %d (bm25 %v, dense %v), want chunk 11", got[0].chunk, got[0].bm25, got[0].dense)
	}

	got = rankPages(ModeDense, pages[2:], nil, dense)
	if len(got) != 1 || got[0].chunk != 30 || math.Abs(got[0].score-1) > 1e-6 {
		t.Errorf("dense pages %+v", got)
	}
}

func TestTopScoresMatchesAFullSort(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 500)
	scores := make([]float32, len(ids))
	for i := range ids {
		ids[i] = int64(i * 3)
		scores[i] = float32(rnd.IntN(50)) / 50 // many ties
	}
	var all []Scored
	for i, id := range ids {
		all = append(all, Scored{ChunkID: id, Score: float64(scores[i])})
	}
	slices.SortFunc(all, func(a, b Scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
	for _, k := range []int{1, 7, 50, 500, 600} {
		if got := topScores(ids, scores, k); !slices.Equal(got, all[:min(k, len(all))]) {
			t.Errorf("top %d: %v, want %v", k, got, all[:min(k, len(all))])
		}
	}
}

// An Index keeps the vectors in memory and reads them again once a vector changed.
func TestIndexReloadsChangedVectors(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", filepath.Join("testdata", "html", "book"))
	ingest(t, st, "error-codes", filepath.Join("testdata", "html", "error_codes"))
	emb := letterEmbedder{}
	if _, err := EmbedMissing(ctx, st, emb, "letters", nil); err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(st)
	q := Query{Text: "zzz quux", Mode: ModeDense, K: 3}
	first, err := ix.Search(ctx, emb, "letters", q)
	if err != nil || len(first) != 2 {
		t.Fatalf("dense search: %d hits, %v", len(first), err)
	}
	key := vectorKey{"letters", ""}
	cached := ix.vectors[key]
	if _, err := ix.Search(ctx, emb, "letters", q); err != nil || ix.vectors[key] != cached {
		t.Fatalf("a second search read the vectors again (%v)", err)
	}
	// Give the page ranked last the query's own vector: it must now come first.
	last := first[len(first)-1]
	qv, _ := emb.Embed([]string{q.Text})
	if err := st.PutRAGVectors(ctx, "letters", []store.RAGVector{{ChunkID: last.ChunkID, Vector: qv[0]}}); err != nil {
		t.Fatal(err)
	}
	again, err := ix.Search(ctx, emb, "letters", q)
	if err != nil || len(again) == 0 || again[0].ChunkID != last.ChunkID || math.Abs(again[0].Dense-1) > 1e-6 {
		t.Fatalf("after the change the first hit is %+v (%v), want chunk %d with cosine 1", again[0], err, last.ChunkID)
	}
	if ix.vectors[key] == cached {
		t.Error("the changed vectors were not read again")
	}
	if _, err := ix.Search(ctx, emb, "other-model", q); err != ErrNoVectors {
		t.Errorf("a model without vectors: %v, want ErrNoVectors", err)
	}
}

// The index stems English words: a question's inflections find the page's.
func TestSearchMatchesStems(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	pages := map[string]string{
		"moves.md": "# Ownership\n\nAssigning the value moves it; the struct field was moved.\n",
		"other.md": "# Other\n\nNothing to see.\n",
	}
	for name, text := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ingest(t, st, "tokio", dir)
	for _, q := range []string{"moving values", "structs", "value moved", "Moves"} {
		hits, err := Search(context.Background(), st, nil, "", Query{Text: q, Mode: ModeBM25})
		if err != nil || len(hits) != 1 || !strings.HasSuffix(DocumentURL(hits[0].URL), "/moves") {
			t.Errorf("%q: %v %v", q, titles(hits), err)
		}
	}
}

func TestRAGHitsKeepOrderAndSnippets(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", filepath.Join("testdata", "html", "book"))
	ingest(t, st, "error-codes", filepath.Join("testdata", "html", "error_codes"))
	ranked, err := st.RankRAG(ctx, store.RAGSearch{Match: MatchQuery("E0502"), Limit: 20})
	if err != nil || len(ranked) < 2 {
		t.Fatalf("rank E0502: %v %v", ranked, err)
	}
	all, err := st.RankRAG(ctx, store.RAGSearch{Match: MatchQuery("borrow"), Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var unmatched int64 // a chunk without E0502
	for _, r := range all {
		if !slices.ContainsFunc(ranked, func(x store.RAGRanked) bool { return x.ChunkID == r.ChunkID }) {
			unmatched = r.ChunkID
		}
	}
	if unmatched == 0 {
		t.Fatal("the fixture has no chunk about borrowing without E0502")
	}
	ids := []int64{unmatched, ranked[0].ChunkID, 999999}
	hits, err := st.RAGHits(ctx, ids, MatchQuery("E0502"))
	if err != nil || len(hits) != 2 || hits[0].ChunkID != unmatched || hits[1].ChunkID != ranked[0].ChunkID {
		t.Fatalf("hits %v, %v: want the two chunks in the order asked", hitIDs(hits), err)
	}
	if strings.Contains(hits[0].Snippet, store.SnippetOpen) || !strings.HasPrefix(hits[0].Text, hits[0].Snippet) {
		t.Errorf("unmatched chunk's snippet %q, want the start of its text", hits[0].Snippet)
	}
	if !strings.Contains(hits[1].Snippet, store.SnippetOpen+"E0502"+store.SnippetClose) {
		t.Errorf("matched chunk's snippet %q marks no E0502", hits[1].Snippet)
	}
	for i := 1; i < len(ranked); i++ {
		if ranked[i].Score > ranked[i-1].Score || ranked[i].Document == 0 {
			t.Errorf("ranking %+v not best first or without its document", ranked)
		}
	}
}

func hitIDs(hits []store.RAGHit) []int64 {
	var out []int64
	for _, h := range hits {
		out = append(out, h.ChunkID)
	}
	return out
}

// BenchmarkDenseRanking times the brute-force part of a dense search over 15,000 vectors of 384
// values (the size of the full Rust docs index): every cosine, then the best candidates.
func BenchmarkDenseRanking(b *testing.B) {
	rnd := rand.New(rand.NewPCG(3, 4))
	vs := make([]store.RAGVector, 15000)
	for i := range vs {
		v := make([]float32, 384)
		for j := range v {
			v[j] = rnd.Float32() - 0.5
		}
		vs[i] = store.RAGVector{ChunkID: int64(i + 1), Vector: v}
	}
	set := newVectorSet(1, vs)
	q := vs[42].Vector
	b.ResetTimer()
	for b.Loop() {
		scores := set.cosines(q)
		if top := topScores(set.ids, scores, candidates); top[0].ChunkID != 43 {
			b.Fatalf("nearest %d", top[0].ChunkID)
		}
	}
}

func TestOptimizeKeepsTheRanking(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", filepath.Join("testdata", "html", "book"))
	ingest(t, st, "error-codes", filepath.Join("testdata", "html", "error_codes"))
	q := store.RAGSearch{Match: MatchQuery("borrow a mutable reference"), Limit: 20}
	before, err := st.RankRAG(ctx, q)
	if err != nil || len(before) < 3 {
		t.Fatalf("before: %v %v", before, err)
	}
	if err := st.OptimizeRAGIndex(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := st.RankRAG(ctx, q)
	if err != nil || !slices.Equal(before, after) {
		t.Fatalf("after optimizing: %v (%v), want %v", after, err, before)
	}
}

func TestVectorSetLeavesOutOddSizes(t *testing.T) {
	set := newVectorSet(7, []store.RAGVector{{ChunkID: 5, Vector: []float32{1, 0}}, {ChunkID: 2, Vector: []float32{1, 0, 0}},
		{ChunkID: 3, Vector: []float32{0.6, 0.8}}, {ChunkID: 1, Vector: []float32{0, 1}}})
	if set.dim != 2 || !slices.Equal(set.ids, []int64{1, 3, 5}) || !slices.Equal(set.data, []float32{0, 1, 0.6, 0.8, 1, 0}) {
		t.Fatalf("set %+v, want chunks 1, 3, 5 of size 2 in id order", set)
	}
	d := &denseRanking{set: set, scores: set.cosines([]float32{0, 1})}
	if d.cosine(3) != float64(float32(0.8)) || d.cosine(2) != 0 || (*denseRanking)(nil).cosine(3) != 0 {
		t.Errorf("cosines %v", d.scores)
	}
}
