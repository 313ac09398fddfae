package rag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// testDense builds a dense ranking over vectors given by chunk id, for the query q: every chunk is
// among the nearest, and its document is its id / 10.
func testDense(q []float32, vectors map[int64][]float32) *denseRanking {
	var vs []store.RAGVector
	for id, v := range vectors {
		vs = append(vs, store.RAGVector{ChunkID: id, Vector: v})
	}
	set := newVectorSet(1, vs)
	d := &denseRanking{query: q, set: set, cosine: map[int64]float64{}}
	for _, s := range topScores(set.ids, set.cosines(q), candidates) {
		d.top = append(d.top, store.RAGNear{ChunkID: s.ChunkID, Document: s.ChunkID / 10, Cosine: s.Score})
		d.cosine[s.ChunkID] = s.Score
	}
	return d
}

func TestRankPagesByMode(t *testing.T) {
	// Page 1: chunks 10 (BM25 10) and 11 (BM25 8). Page 2: chunk 20 (BM25 10.5). Page 3: chunk 30,
	// found by dense alone.
	lex := []store.RAGRanked{{ChunkID: 20, Document: 2, Score: 10.5}, {ChunkID: 10, Document: 1, Score: 10}, {ChunkID: 11, Document: 1, Score: 8}}
	pages := []*page{{document: 2, lex: []float64{10.5}, chunks: []int64{20}},
		{document: 1, lex: []float64{10, 8}, chunks: []int64{10, 11}}, {document: 3, chunks: []int64{30}}}

	got := rankPages(ModeBM25, FusionWeighted, pages[:2], lex, nil)
	// Page 1: 10 + 0.1 × 8 = 10.8 beats page 2's single 10.5; its best chunk stands for it.
	if len(got) != 2 || got[0].document != 1 || got[0].chunk != 10 || math.Abs(got[0].score-10.8) > 1e-9 || got[0].bm25 != 10 {
		t.Fatalf("bm25 pages %+v", got)
	}

	q := []float32{1, 0}
	dense := testDense(q, map[int64][]float32{10: {0, 1}, 11: {0.8, 0.6}, 20: {0.6, 0.8}, 30: {1, 0}})
	got = rankPages(ModeHybrid, FusionWeighted, pages, lex, dense)
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

	got = rankPages(ModeDense, FusionWeighted, pages[2:], nil, dense)
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
	if v, ok := set.vector(3); !ok || !slices.Equal(v, []float32{0.6, 0.8}) {
		t.Errorf("vector of chunk 3: %v %v", v, ok)
	}
	if _, ok := set.vector(2); ok {
		t.Error("chunk 2 (left out) has a vector")
	}
	if (*denseRanking)(nil).cos(3) != 0 {
		t.Error("no dense ranking gives a cosine")
	}
}

// Reciprocal-rank fusion ranks pages by their ranks, not their scores: a page first by BM25 alone
// and one first by dense alone tie (BM25's first), and one second in both beats them.
func TestRankPagesByReciprocalRank(t *testing.T) {
	// Page 1: chunk 10, BM25 20 (first), cosine 0.1, not among the nearest. Page 2: chunk 20, BM25
	// 10 (second), cosine 0.8 (second nearest). Page 3: chunk 30, the nearest (0.9), no BM25.
	lex := []store.RAGRanked{{ChunkID: 10, Document: 1, Score: 20}, {ChunkID: 20, Document: 2, Score: 10}}
	dense := &denseRanking{top: []store.RAGNear{{ChunkID: 30, Document: 3, Cosine: 0.9}, {ChunkID: 20, Document: 2, Cosine: 0.8}},
		cosine: map[int64]float64{10: 0.1, 20: 0.8, 30: 0.9}}
	pages := groupPages(lex, dense)

	got := rankPages(ModeHybrid, FusionRRF, pages, lex, dense)
	want := []struct {
		document, chunk int64
		score           float64
	}{{2, 20, 2.0 / 62}, {1, 10, 1.0 / 61}, {3, 30, 1.0 / 61}}
	if len(got) != len(want) {
		t.Fatalf("rrf pages %+v", got)
	}
	for i, w := range want {
		if got[i].document != w.document || got[i].chunk != w.chunk || math.Abs(got[i].score-w.score) > 1e-12 {
			t.Errorf("rrf rank %d: page %d (chunk %d, %.6f), want page %d (chunk %d, %.6f)", i+1,
				got[i].document, got[i].chunk, got[i].score, w.document, w.chunk, w.score)
		}
	}
	if got[0].bm25 != 10 || got[0].dense != 0.8 {
		t.Errorf("page 2's chunk scores bm25 %v, dense %v", got[0].bm25, got[0].dense)
	}
	// The weighted sum orders them 2 (0.4 × 10/20 + 0.6 × 0.8), 3 (0.6 × 0.9), 1 (0.4 + 0.6 × 0.1).
	weighted := rankPages(ModeHybrid, FusionWeighted, pages, lex, dense)
	if weighted[0].document != 2 || weighted[1].document != 3 || weighted[2].document != 1 {
		t.Errorf("weighted order %+v", weighted)
	}
	// Within a page, the chunk with the best fused rank of its own stands for it.
	lex2 := []store.RAGRanked{{ChunkID: 40, Document: 4, Score: 9}, {ChunkID: 41, Document: 4, Score: 8}}
	dense2 := &denseRanking{top: []store.RAGNear{{ChunkID: 41, Document: 4, Cosine: 0.7}}, cosine: map[int64]float64{40: 0.2, 41: 0.7}}
	if got := rankPages(ModeHybrid, FusionRRF, groupPages(lex2, dense2), lex2, dense2); len(got) != 1 || got[0].chunk != 41 {
		t.Errorf("page 4 stands for %+v, want chunk 41 (second by BM25, first by dense)", got)
	}
}

func TestSearchRejectsAnUnknownFusion(t *testing.T) {
	st := openStore(t)
	if _, err := Search(context.Background(), st, nil, "", Query{Text: "x", Mode: ModeBM25, Fusion: "max"}); err == nil || !strings.Contains(err.Error(), `"max"`) {
		t.Errorf("fusion max: %v", err)
	}
}

// The KNN index (sqlite-vec, and FTS5's bm25()) ranks as the one that keeps the vectors and the
// full-text index in memory, for every mode, fusion and source filter.
func TestKNNIndexRanksAsTheMemoryIndex(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", copyTree(t, "html/book"))
	ingest(t, st, "error-codes", copyTree(t, "html/error_codes"))
	ingest(t, st, "std", copyTree(t, "html/std"))
	// More chunks than a ranking's candidates, so hybrid needs the cosines of BM25's chunks that
	// are not among the nearest.
	ingest(t, st, "tokio", manyPages(t, 2*candidates))
	emb := hashEmbedder{}
	if _, err := EmbedMissing(ctx, st, emb, "hash", nil); err != nil {
		t.Fatal(err)
	}
	memory, knn := NewIndex(st), NewKNNIndex(st)
	for _, text := range []string{"borrow a vector mutably", "tokio::spawn a task", "E0502", "retain elements of a Vec", "quick brown fox",
		"why can't I borrow the vector as mutable while a reference to its first element is still used later in the loop"} {
		for _, mode := range []string{ModeBM25, ModeDense, ModeHybrid} {
			for _, fusion := range []string{FusionWeighted, FusionRRF} {
				for _, source := range []string{"", "book"} {
					q := Query{Text: text, Mode: mode, Fusion: fusion, Source: source, K: 10}
					want, err := memory.Search(ctx, emb, "hash", q)
					if err != nil {
						t.Fatalf("%+v in memory: %v", q, err)
					}
					got, err := knn.Search(ctx, emb, "hash", q)
					if err != nil {
						t.Fatalf("%+v by KNN: %v", q, err)
					}
					if mode == ModeBM25 && len(want) == 0 && len(got) == 0 {
						continue // no chunk of the source has a word of the query
					}
					sameHits(t, fmt.Sprintf("%+v", q), got, want)
				}
			}
		}
	}
}

// hashEmbedder gives every text a random unit vector seeded by the text: no two chunks are near
// a tie, so two rankings by cosine must agree exactly.
type hashEmbedder struct{}

func (hashEmbedder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, text := range texts {
		h := fnv.New64a()
		h.Write([]byte(text))
		rnd := rand.New(rand.NewPCG(h.Sum64(), 1))
		v := make([]float32, 32)
		norm := 0.0
		for j := range v {
			v[j] = float32(rnd.NormFloat64())
			norm += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		out[i] = v
	}
	return out, nil
}

// manyPages writes n small Markdown pages, each with a few words of a small vocabulary.
func manyPages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	words := strings.Fields("borrow vector task spawn retain elements mutable reference lifetime trait async runtime channel")
	for i := range n {
		text := fmt.Sprintf("# Page %d\n\n%s %s %s task number %d.\n", i, words[i%len(words)], words[(i*7)%len(words)], words[(i*3+1)%len(words)], i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%03d.md", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sameHits checks two rankings give the same chunks with the same scores (float32 rounding apart).
func sameHits(t *testing.T, what string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		t.Errorf("%s: %d hits, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i].ChunkID != want[i].ChunkID || math.Abs(got[i].Fused-want[i].Fused) > 1e-5 || math.Abs(got[i].Dense-want[i].Dense) > 1e-5 {
			t.Errorf("%s, hit %d: chunk %d (fused %.6f, dense %.6f), want chunk %d (%.6f, %.6f)", what, i+1,
				got[i].ChunkID, got[i].Fused, got[i].Dense, want[i].ChunkID, want[i].Fused, want[i].Dense)
		}
	}
}

// wideEmbedder is another model: letter counts and one more value, so its vectors are longer.
type wideEmbedder struct{}

func (wideEmbedder) Embed(texts []string) ([][]float32, error) {
	vs, _ := letterEmbedder{}.Embed(texts)
	for i := range vs {
		vs[i] = append(vs[i], 0)
	}
	return vs, nil
}

// Another embedding model's vectors replace the stored ones: every chunk is embedded again and the
// old model finds nothing.
func TestAnotherModelIsEmbeddedAgain(t *testing.T) {
	ctx := context.Background()
	st := testCorpus(t)
	n, err := EmbedMissing(ctx, st, letterEmbedder{}, "letters", nil)
	if err != nil || n == 0 {
		t.Fatalf("embedded %d: %v", n, err)
	}
	memory := NewIndex(st)
	q := Query{Text: "spawn a task", Mode: ModeDense}
	if _, err := memory.Search(ctx, letterEmbedder{}, "letters", q); err != nil {
		t.Fatal(err)
	}
	if again, err := EmbedMissing(ctx, st, wideEmbedder{}, "wide", nil); err != nil || again != n {
		t.Fatalf("the wide model embedded %d of %d chunks: %v", again, n, err)
	}
	for name, ix := range map[string]*Index{"memory": memory, "knn": NewKNNIndex(st)} {
		if _, err := ix.Search(ctx, letterEmbedder{}, "letters", q); !errors.Is(err, ErrNoVectors) {
			t.Errorf("%s: the old model: %v, want ErrNoVectors", name, err)
		}
		if hits, err := ix.Search(ctx, wideEmbedder{}, "wide", q); err != nil || len(hits) == 0 {
			t.Errorf("%s: the new model: %d hits, %v", name, len(hits), err)
		}
	}
	if left, err := st.CountRAGPassagesToEmbed(ctx, "letters"); err != nil || left != n {
		t.Errorf("%d chunks lack a letters vector (%v), want %d", left, err, n)
	}
}
