package rag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"rustexpert/inference/tensor"
	"rustexpert/store"
)

// Modes of retrieval.
const (
	ModeBM25   = "bm25"
	ModeDense  = "dense"
	ModeHybrid = "hybrid"
)

// candidates is how many chunks each ranking contributes before pages are ranked.
const candidates = 50

// maxPerDocument is how many chunks of one page a result list holds at most: the best one, so
// that the neighbouring sections of one long page do not crowd out every other page.
const maxPerDocument = 1

// secondChunkWeight is the share of a page's second-best chunk added to its best chunk's BM25
// score: of two pages with equally good best sections, the one with a second matching section
// ranks first.
const secondChunkWeight = 0.1

// lexicalShare weighs the two rankings of a hybrid search: a page scores lexicalShare × its BM25
// score divided by the best chunk's, plus (1 − lexicalShare) × the cosine of its nearest chunk.
const lexicalShare = 0.4

// Query is a retrieval request.
type Query struct {
	Text   string
	Source string // "" for all
	K      int
	Mode   string // bm25, dense or hybrid (default)
}

// Hit is a retrieved chunk with the scores of each ranking (0 where it was
// not ranked) and its page's fused score.
type Hit struct {
	store.RAGHit
	BM25  float64
	Dense float64
	Fused float64
}

// ErrNoVectors means dense retrieval was asked for before any chunk was embedded.
var ErrNoVectors = errors.New("no chunk has a vector from this embedder yet: run `rustexpert rag embed`")

// Index searches the SQLite index. It keeps the chunk vectors of each embedding model (and source
// filter) in memory while the database's vector generation is unchanged, so a dense or hybrid
// search does not read every vector again; one Index serves any number of goroutines.
type Index struct {
	st *store.Store

	mu      sync.Mutex
	vectors map[vectorKey]*vectorSet
}

type vectorKey struct{ model, source string }

// NewIndex returns an Index over the store.
func NewIndex(st *store.Store) *Index {
	return &Index{st: st, vectors: map[vectorKey]*vectorSet{}}
}

// Search ranks pages for q by BM25, by embedding similarity, or by both, and returns the best chunk
// of each of the first q.K pages. It reads the vectors anew: a caller that searches often keeps an
// Index instead.
func Search(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) ([]Hit, error) {
	return NewIndex(st).Search(ctx, emb, model, q)
}

// Search ranks the pages of the index for q and returns the best chunk of each of the first q.K.
// BM25 ranks chunks in the full-text index; a page scores its best chunk's BM25 plus a tenth of
// its second best's. Dense ranks chunks by the cosine of their vector with the query's; a page
// scores its nearest chunk's. Hybrid scores every page either ranking found by both (see
// lexicalShare). emb and model are needed for dense and hybrid.
func (ix *Index) Search(ctx context.Context, emb Embedder, model string, q Query) ([]Hit, error) {
	if q.K <= 0 {
		q.K = 10
	}
	mode := q.Mode
	if mode == "" {
		mode = ModeHybrid
	}
	switch mode {
	case ModeBM25, ModeDense, ModeHybrid:
	default:
		return nil, fmt.Errorf("unknown retrieval mode %q (want bm25, dense or hybrid)", mode)
	}
	match := MatchQuery(q.Text)
	// A hybrid search ranks by BM25 while the query is embedded.
	type lexResult struct {
		ranked []store.RAGRanked
		err    error
	}
	lexDone := make(chan lexResult, 1)
	rankLex := func() {
		var r lexResult
		if mode != ModeDense && match != "" {
			r.ranked, r.err = ix.st.RankRAG(ctx, store.RAGSearch{Match: match, Source: q.Source, Limit: max(candidates, q.K)})
		}
		lexDone <- r
	}
	if mode == ModeHybrid {
		go rankLex()
	} else {
		rankLex()
	}
	var dense *denseRanking
	var denseErr error
	if mode != ModeBM25 {
		dense, denseErr = ix.denseRanking(ctx, emb, model, q)
	}
	lex := <-lexDone
	if err := cmp.Or(denseErr, lex.err); err != nil {
		return nil, err
	}
	pages, err := ix.pages(ctx, lex.ranked, dense)
	if err != nil {
		return nil, err
	}
	ranked := rankPages(mode, pages, lex.ranked, dense)
	return ix.hits(ctx, ranked[:min(q.K, len(ranked))], match)
}

// denseRanking is the query's cosine with every vector and its nearest chunks.
type denseRanking struct {
	set    *vectorSet
	scores []float32 // by position in set.ids
	top    []Scored
}

// cosine is the query's cosine with a chunk's vector, 0 for a chunk without one (or without a
// dense ranking).
func (d *denseRanking) cosine(id int64) float64 {
	if d == nil {
		return 0
	}
	i, ok := slices.BinarySearch(d.set.ids, id)
	if !ok {
		return 0
	}
	return float64(d.scores[i])
}

func (ix *Index) denseRanking(ctx context.Context, emb Embedder, model string, q Query) (*denseRanking, error) {
	if emb == nil {
		return nil, fmt.Errorf("dense retrieval needs the embedder (models/embedder: rustexpert models fetch)")
	}
	set, err := ix.vectorSet(ctx, model, q.Source)
	if err != nil {
		return nil, err
	}
	qv, err := emb.Embed([]string{q.Text})
	if err != nil {
		return nil, fmt.Errorf("embedding the query: %w", err)
	}
	if len(qv) != 1 {
		return nil, fmt.Errorf("embedding the query: got %d vectors, want 1", len(qv))
	}
	if len(qv[0]) != set.dim {
		return nil, fmt.Errorf("embedding the query: %d values, the stored vectors of %s have %d", len(qv[0]), model, set.dim)
	}
	scores := set.cosines(qv[0])
	return &denseRanking{set: set, scores: scores, top: topScores(set.ids, scores, candidates)}, nil
}

// vectorSet is every vector of one model (and source filter) in one array.
type vectorSet struct {
	generation int64
	ids        []int64 // ascending
	dim        int
	data       []float32 // len(ids) × dim
}

// vectorSet returns the vectors of model and source, from memory while the store's vector
// generation is the one they were read at.
func (ix *Index) vectorSet(ctx context.Context, model, source string) (*vectorSet, error) {
	gen, err := ix.st.RAGVectorGeneration(ctx)
	if err != nil {
		return nil, err
	}
	key := vectorKey{model, source}
	ix.mu.Lock()
	set := ix.vectors[key]
	ix.mu.Unlock()
	if set != nil && set.generation == gen {
		return set, nil
	}
	vectors, err := ix.st.RAGVectors(ctx, model, source)
	if err != nil {
		return nil, err
	}
	if len(vectors) == 0 {
		return nil, ErrNoVectors
	}
	set = newVectorSet(gen, vectors)
	ix.mu.Lock()
	ix.vectors[key] = set
	ix.mu.Unlock()
	return set, nil
}

// newVectorSet packs vectors (ordered by chunk id) into one array; vectors whose size is not the
// most common one are left out.
func newVectorSet(gen int64, vectors []store.RAGVector) *vectorSet {
	sizes := map[int]int{}
	dim := 0
	for _, v := range vectors {
		sizes[len(v.Vector)]++
		if sizes[len(v.Vector)] > sizes[dim] {
			dim = len(v.Vector)
		}
	}
	set := &vectorSet{generation: gen, dim: dim, ids: make([]int64, 0, len(vectors)), data: make([]float32, 0, len(vectors)*dim)}
	for _, v := range vectors {
		if len(v.Vector) != dim {
			continue
		}
		set.ids = append(set.ids, v.ChunkID)
		set.data = append(set.data, v.Vector...)
	}
	if !slices.IsSorted(set.ids) {
		set.sortByID()
	}
	return set
}

// sortByID orders the vectors by chunk id (the store returns them so; this keeps the lookups
// right if it did not).
func (s *vectorSet) sortByID() {
	order := make([]int, len(s.ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(s.ids[a], s.ids[b]) })
	ids, data := make([]int64, len(s.ids)), make([]float32, len(s.data))
	for to, from := range order {
		ids[to] = s.ids[from]
		copy(data[to*s.dim:(to+1)*s.dim], s.data[from*s.dim:(from+1)*s.dim])
	}
	s.ids, s.data = ids, data
}

// cosines is the dot product of q with every vector (all L2-normalized: the cosine).
func (s *vectorSet) cosines(q []float32) []float32 {
	out := make([]float32, len(s.ids))
	for i := range out {
		out[i] = tensor.Dot(q, s.data[i*s.dim:(i+1)*s.dim])
	}
	return out
}

// topScores returns the k highest scores with their ids, best first (ties to the lower id).
func topScores(ids []int64, scores []float32, k int) []Scored {
	better := func(a, b Scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	}
	top := make([]Scored, 0, k+1)
	for i, id := range ids {
		s := Scored{ChunkID: id, Score: float64(scores[i])}
		if len(top) == k && better(s, top[k-1]) >= 0 {
			continue
		}
		at, _ := slices.BinarySearchFunc(top, s, better)
		top = slices.Insert(top, at, s)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// page is one document with the chunks of it that either ranking found.
type page struct {
	document int64
	lex      []float64 // BM25 scores of its chunks, best first
	chunks   []int64   // BM25's chunks first (best first), then dense's
}

// pages groups the chunks of both rankings by document, in the order they were first ranked.
func (ix *Index) pages(ctx context.Context, lex []store.RAGRanked, dense *denseRanking) ([]*page, error) {
	byDoc := map[int64]*page{}
	var out []*page
	add := func(doc, chunk int64) *page {
		p := byDoc[doc]
		if p == nil {
			p = &page{document: doc}
			byDoc[doc] = p
			out = append(out, p)
		}
		if !slices.Contains(p.chunks, chunk) {
			p.chunks = append(p.chunks, chunk)
		}
		return p
	}
	for _, r := range lex {
		p := add(r.Document, r.ChunkID)
		p.lex = append(p.lex, r.Score)
	}
	if dense == nil {
		return out, nil
	}
	ids := make([]int64, len(dense.top))
	for i, s := range dense.top {
		ids[i] = s.ChunkID
	}
	docs, err := ix.st.RAGChunkDocuments(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if doc, ok := docs[id]; ok {
			add(doc, id)
		}
	}
	return out, nil
}

// rankedPage is a page's score and the chunk that stands for it, with that chunk's scores.
type rankedPage struct {
	document int64
	chunk    int64
	score    float64
	bm25     float64 // the chunk's, 0 when BM25 did not rank it
	dense    float64 // the chunk's cosine, 0 without a dense ranking
	lexical  bool    // BM25 found the page
}

// rankPages scores every page by the mode and orders them best first.
func rankPages(mode string, pages []*page, lex []store.RAGRanked, dense *denseRanking) []rankedPage {
	lexScore := make(map[int64]float64, len(lex))
	best := 0.0
	for _, r := range lex {
		lexScore[r.ChunkID] = r.Score
		best = max(best, r.Score)
	}
	lexical := func(bm25 float64) float64 {
		if best <= 0 {
			return 0
		}
		return lexicalShare * bm25 / best
	}
	out := make([]rankedPage, 0, len(pages))
	for _, p := range pages {
		r := rankedPage{document: p.document, lexical: len(p.lex) > 0}
		switch mode {
		case ModeBM25:
			r.chunk, r.score = p.chunks[0], pageBM25(p.lex)
		case ModeDense:
			r.chunk, r.score = bestChunk(p.chunks, dense.cosine)
		default:
			r.chunk, _ = bestChunk(p.chunks, func(id int64) float64 {
				return lexical(lexScore[id]) + (1-lexicalShare)*dense.cosine(id)
			})
			_, cos := bestChunk(p.chunks, dense.cosine)
			r.score = lexical(pageBM25(p.lex)) + (1-lexicalShare)*cos
		}
		r.bm25, r.dense = lexScore[r.chunk], dense.cosine(r.chunk)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b rankedPage) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if a.lexical != b.lexical {
			if a.lexical {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.document, b.document)
	})
	return out
}

// pageBM25 is a page's BM25 score from its chunks' (best first): the best plus a tenth of the second.
func pageBM25(scores []float64) float64 {
	switch len(scores) {
	case 0:
		return 0
	case 1:
		return scores[0]
	}
	return scores[0] + secondChunkWeight*scores[1]
}

// bestChunk returns the chunk with the highest score (the first of equals) and its score.
func bestChunk(chunks []int64, score func(int64) float64) (int64, float64) {
	bestID, bestScore := chunks[0], score(chunks[0])
	for _, id := range chunks[1:] {
		if s := score(id); s > bestScore {
			bestID, bestScore = id, s
		}
	}
	return bestID, bestScore
}

// hits reads the chunks that stand for the ranked pages and fills in their scores.
func (ix *Index) hits(ctx context.Context, ranked []rankedPage, match string) ([]Hit, error) {
	ids := make([]int64, len(ranked))
	for i, r := range ranked {
		ids[i] = r.chunk
	}
	rows, err := ix.st.RAGHits(ctx, ids, match)
	if err != nil {
		return nil, err
	}
	byChunk := make(map[int64]rankedPage, len(ranked))
	for _, r := range ranked {
		byChunk[r.chunk] = r
	}
	out := make([]Hit, len(rows))
	for i, row := range rows {
		r := byChunk[row.ChunkID]
		row.Score = r.score
		out[i] = Hit{RAGHit: row, BM25: r.bm25, Dense: r.dense, Fused: r.score}
	}
	return out, nil
}

// SearchOrBM25 is Search that ranks by BM25 alone when dense retrieval cannot run yet (no embedder,
// or no chunk embedded by it); fellBack says it did.
func SearchOrBM25(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) (hits []Hit, fellBack bool, err error) {
	return SearchOrBM25With(ctx, NewIndex(st), emb, model, q)
}
