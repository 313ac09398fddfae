package rag

import (
	"context"
	"errors"
	"fmt"

	"rustexpert/store"
)

// Modes of retrieval.
const (
	ModeBM25   = "bm25"
	ModeDense  = "dense"
	ModeHybrid = "hybrid"
)

// candidates is how many chunks each ranking contributes to the fusion.
const candidates = 50

// maxPerDocument is how many chunks of one page a result list holds at most: the best one, so
// that the neighbouring sections of one long page do not crowd out every other page.
const maxPerDocument = 1

// Query is a retrieval request.
type Query struct {
	Text   string
	Source string // "" for all
	K      int
	Mode   string // bm25, dense or hybrid (default)
}

// Hit is a retrieved chunk with the scores of each ranking (0 where it was
// not ranked) and its fused score.
type Hit struct {
	store.RAGHit
	BM25  float64
	Dense float64
	Fused float64
}

// ErrNoVectors means dense retrieval was asked for before any chunk was embedded.
var ErrNoVectors = errors.New("no chunk has a vector from this embedder yet: run `rustexpert rag embed`")

// Search ranks chunks for q by BM25, by embedding similarity, or by both fused
// with reciprocal-rank fusion. emb and model are needed for dense and hybrid.
func Search(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) ([]Hit, error) {
	if q.K <= 0 {
		q.K = 10
	}
	mode := q.Mode
	if mode == "" {
		mode = ModeHybrid
	}
	var bm25 []store.RAGHit
	var dense []Scored
	var err error
	if mode != ModeDense {
		bm25, err = st.SearchRAG(ctx, store.RAGSearch{Match: MatchQuery(q.Text), Source: q.Source, Limit: candidates})
		if err != nil {
			return nil, err
		}
	}
	if mode != ModeBM25 {
		if dense, err = denseRanking(ctx, st, emb, model, q); err != nil {
			return nil, err
		}
	}
	return assemble(ctx, st, mode, q.K, bm25, dense)
}

func denseRanking(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) ([]Scored, error) {
	if emb == nil {
		return nil, fmt.Errorf("dense retrieval needs the embedder (models/embedder: rustexpert models fetch)")
	}
	vectors, err := st.RAGVectors(ctx, model, q.Source)
	if err != nil {
		return nil, err
	}
	if len(vectors) == 0 {
		return nil, ErrNoVectors
	}
	qv, err := emb.Embed([]string{q.Text})
	if err != nil {
		return nil, fmt.Errorf("embedding the query: %w", err)
	}
	return Nearest(vectors, qv[0], candidates), nil
}

// assemble orders the chunks by the mode's score, keeps the first k with at most maxPerDocument
// of any one page, and fills in every score.
func assemble(ctx context.Context, st *store.Store, mode string, k int, bm25 []store.RAGHit, dense []Scored) ([]Hit, error) {
	bm25IDs, denseIDs := make([]int64, len(bm25)), make([]int64, len(dense))
	byID := map[int64]*Hit{}
	for i, h := range bm25 {
		bm25IDs[i] = h.ChunkID
		byID[h.ChunkID] = &Hit{RAGHit: h, BM25: h.Score}
	}
	denseScore := map[int64]float64{}
	for i, d := range dense {
		denseIDs[i] = d.ChunkID
		denseScore[d.ChunkID] = d.Score
	}
	var order []Scored
	switch mode {
	case ModeBM25:
		order = Fuse(len(bm25IDs), bm25IDs)
	case ModeDense:
		order = dense
	default:
		order = Fuse(len(bm25IDs)+len(denseIDs), bm25IDs, denseIDs)
	}
	var missing []int64
	for _, o := range order {
		if byID[o.ChunkID] == nil {
			missing = append(missing, o.ChunkID)
		}
	}
	more, err := st.RAGHitsByID(ctx, missing)
	if err != nil {
		return nil, err
	}
	for _, h := range more {
		byID[h.ChunkID] = &Hit{RAGHit: h}
	}
	out := make([]Hit, 0, k)
	perDoc := map[string]int{}
	for _, o := range order {
		h := byID[o.ChunkID]
		if h == nil || perDoc[DocumentURL(h.URL)] >= maxPerDocument {
			continue
		}
		perDoc[DocumentURL(h.URL)]++
		h.Dense, h.Fused = denseScore[o.ChunkID], o.Score
		h.Score = o.Score
		out = append(out, *h)
		if len(out) == k {
			break
		}
	}
	return out, nil
}

// SearchOrBM25 is Search that ranks by BM25 alone when dense retrieval cannot run yet (no embedder,
// or no chunk embedded by it); fellBack says it did.
func SearchOrBM25(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) (hits []Hit, fellBack bool, err error) {
	if q.Mode != ModeBM25 && emb != nil {
		hits, err := Search(ctx, st, emb, model, q)
		if !errors.Is(err, ErrNoVectors) {
			return hits, false, err
		}
	}
	fellBack = q.Mode != ModeBM25
	q.Mode = ModeBM25
	hits, err = Search(ctx, st, nil, model, q)
	return hits, fellBack, err
}
