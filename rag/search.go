package rag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
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

// Fusions of the two rankings of a hybrid search.
const (
	// FusionWeighted scores a page lexicalShare × its BM25 score divided by the best chunk's plus
	// (1 − lexicalShare) × its nearest chunk's cosine (the default: it recalls more on the gold set).
	FusionWeighted = "weighted"
	// FusionRRF scores a page by reciprocal-rank fusion of its rank among BM25's pages and among
	// the nearest chunks' pages: 1/(RRFConstant + rank) summed.
	FusionRRF = "rrf"
)

// Query is a retrieval request.
type Query struct {
	Text   string
	Source string // "" for all
	K      int
	Mode   string // bm25, dense or hybrid (default)
	Fusion string // hybrid: weighted (default) or rrf; the Qdrant backend always fuses by RRF
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

// Index searches the SQLite index; one Index serves any number of goroutines. The chunk vectors
// are in the database's sqlite-vec table. An Index from NewIndex keeps a copy of each embedding
// model's vectors (and source filter) in memory while the database's vector generation is
// unchanged and ranks by a scan in Go; one from NewKNNIndex asks sqlite-vec for the nearest chunks
// (a KNN query) every time and keeps nothing. The copy is the faster: the dense ranking of 14,703
// vectors of 384 values takes about 3 ms against sqlite-vec's 17 ms (whose cosine loop is plain C
// and which reads every vector chunk per query), a hybrid search about 13 against 27 ms.
type Index struct {
	st  *store.Store
	knn bool

	mu      sync.Mutex
	vectors map[vectorKey]*vectorSet
	lex     *lexIndex  // under mu
	lexLoad sync.Mutex // held while lex is read from the store, so only one search reads it
}

type vectorKey struct{ model, source string }

// NewIndex returns an Index over the store that keeps the vectors in memory.
func NewIndex(st *store.Store) *Index {
	return &Index{st: st, vectors: map[vectorKey]*vectorSet{}}
}

// NewKNNIndex returns an Index over the store that ranks by sqlite-vec KNN queries.
func NewKNNIndex(st *store.Store) *Index {
	return &Index{st: st, knn: true}
}

// Search ranks pages for q by BM25, by embedding similarity, or by both, and returns the best chunk
// of each of the first q.K pages, with sqlite-vec's KNN query (nothing kept in memory): a caller
// that searches often keeps an Index instead.
func Search(ctx context.Context, st *store.Store, emb Embedder, model string, q Query) ([]Hit, error) {
	return NewKNNIndex(st).Search(ctx, emb, model, q)
}

// Search ranks the pages of the index for q and returns the best chunk of each of the first q.K.
// BM25 ranks chunks in the full-text index; a page scores its best chunk's BM25 plus a tenth of
// its second best's. Dense ranks chunks by the cosine of their vector with the query's; a page
// scores its nearest chunk's. Hybrid scores every page either ranking found by both, weighted
// (see lexicalShare) or by reciprocal rank (q.Fusion). emb and model are needed for dense and hybrid.
func (ix *Index) Search(ctx context.Context, emb Embedder, model string, q Query) ([]Hit, error) {
	if q.K <= 0 {
		q.K = 10
	}
	mode, fusion, err := checkQuery(q)
	if err != nil {
		return nil, err
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
			r.ranked, r.err = ix.rankLexical(ctx, q.Text, match, q.Source, max(candidates, q.K))
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
	if err := ix.addCosines(ctx, model, dense, lex.ranked); err != nil {
		return nil, err
	}
	ranked := rankPages(mode, fusion, groupPages(lex.ranked, dense), lex.ranked, dense)
	return ix.hits(ctx, ranked[:min(q.K, len(ranked))], match)
}

// rankLexical ranks chunks by BM25: FTS5's ranking of match for an Index from NewKNNIndex, the
// same ranking computed over the index in memory for one from NewIndex.
func (ix *Index) rankLexical(ctx context.Context, text, match, source string, limit int) ([]store.RAGRanked, error) {
	if ix.knn {
		return ix.st.RankRAG(ctx, store.RAGSearch{Match: match, Source: source, Limit: limit})
	}
	lex, err := ix.lexical(ctx)
	if err != nil {
		return nil, err
	}
	scores := make([]float64, len(lex.chunks))
	var tok tokenizer
	for _, p := range queryPhrases(text) {
		words := tok.tokens(p)
		switch {
		case len(words) == 1:
			lex.addTerm(scores, words[0])
		case len(words) > 1:
			if err := ix.addPhrase(ctx, lex, scores, p); err != nil {
				return nil, err
			}
		}
	}
	return lex.top(scores, source, limit), nil
}

// addPhrase adds FTS5's BM25 score of a phrase of several words to the chunks holding it.
func (ix *Index) addPhrase(ctx context.Context, lex *lexIndex, scores []float64, phrase string) error {
	byChunk, err := ix.st.RAGMatchScores(ctx, quote(phrase))
	if err != nil {
		return err
	}
	for id, s := range byChunk {
		if d, ok := lex.doc(id); ok {
			scores[d] += s
		}
	}
	return nil
}

// Warm reads the full-text index into memory ahead of the first search (about a second for the
// 18,000 chunks of every source), and the vectors of model (all sources) when model is not "" and
// has any; nothing for an Index from NewKNNIndex.
func (ix *Index) Warm(ctx context.Context, model string) error {
	if ix.knn {
		return nil
	}
	if _, err := ix.lexical(ctx); err != nil {
		return err
	}
	if model == "" {
		return nil
	}
	if _, err := ix.vectorSet(ctx, model, ""); err != nil && !errors.Is(err, ErrNoVectors) {
		return err
	}
	return nil
}

// lexical returns the full-text index in memory, read again from the store when its chunks changed.
func (ix *Index) lexical(ctx context.Context) (*lexIndex, error) {
	gen, err := ix.st.RAGChunkGeneration(ctx)
	if err != nil {
		return nil, err
	}
	current := func() *lexIndex {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		if ix.lex != nil && ix.lex.generation == gen {
			return ix.lex
		}
		return nil
	}
	if lex := current(); lex != nil {
		return lex, nil
	}
	ix.lexLoad.Lock()
	defer ix.lexLoad.Unlock()
	if lex := current(); lex != nil {
		return lex, nil // read by the search that held lexLoad
	}
	lex, err := buildLexIndex(ctx, ix.st, gen)
	if err != nil {
		return nil, err
	}
	ix.mu.Lock()
	ix.lex = lex
	ix.mu.Unlock()
	return lex, nil
}

// checkQuery returns q's mode and fusion, defaults filled in, or why they are unknown.
func checkQuery(q Query) (mode, fusion string, err error) {
	mode, fusion = cmp.Or(q.Mode, ModeHybrid), cmp.Or(q.Fusion, FusionWeighted)
	switch mode {
	case ModeBM25, ModeDense, ModeHybrid:
	default:
		return "", "", fmt.Errorf("unknown retrieval mode %q (want bm25, dense or hybrid)", mode)
	}
	if fusion != FusionWeighted && fusion != FusionRRF {
		return "", "", fmt.Errorf("unknown fusion %q (want weighted or rrf)", fusion)
	}
	return mode, fusion, nil
}

// denseRanking is the query's nearest chunks and the cosines known of it.
type denseRanking struct {
	query  []float32
	top    []store.RAGNear   // nearest first, with their documents
	cosine map[int64]float64 // of the top chunks and, after addCosines, of BM25's that have a vector
	set    *vectorSet        // the vectors in memory; nil for a KNN ranking
}

// cos is the query's cosine with a chunk's vector, 0 for a chunk without one (or without a
// dense ranking).
func (d *denseRanking) cos(id int64) float64 {
	if d == nil {
		return 0
	}
	return d.cosine[id]
}

func (ix *Index) denseRanking(ctx context.Context, emb Embedder, model string, q Query) (*denseRanking, error) {
	if emb == nil {
		return nil, fmt.Errorf("dense retrieval needs the embedder (models/embedder: rustexpert models fetch)")
	}
	// Without vectors the query is not embedded at all.
	var set *vectorSet
	var err error
	if ix.knn {
		err = ix.checkModel(ctx, model)
	} else {
		set, err = ix.vectorSet(ctx, model, q.Source)
	}
	if err != nil {
		return nil, err
	}
	qv, err := embedQuery(emb, q.Text)
	if err != nil {
		return nil, err
	}
	if ix.knn {
		return ix.knnRanking(ctx, model, q.Source, qv)
	}
	return ix.memoryRanking(ctx, model, set, qv)
}

// checkModel returns ErrNoVectors unless the stored vectors are model's.
func (ix *Index) checkModel(ctx context.Context, model string) error {
	space, ok, err := ix.st.RAGVectorModel(ctx)
	if err != nil {
		return err
	}
	if !ok || space.Model != model {
		return ErrNoVectors
	}
	return nil
}

func embedQuery(emb Embedder, text string) ([]float32, error) {
	qv, err := emb.Embed([]string{text})
	if err != nil {
		return nil, fmt.Errorf("embedding the query: %w", err)
	}
	if len(qv) != 1 {
		return nil, fmt.Errorf("embedding the query: got %d vectors, want 1", len(qv))
	}
	return qv[0], nil
}

// knnRanking asks sqlite-vec for the query's nearest chunks.
func (ix *Index) knnRanking(ctx context.Context, model, source string, qv []float32) (*denseRanking, error) {
	top, err := ix.st.NearestRAGChunks(ctx, model, source, qv, candidates)
	if err != nil {
		return nil, err
	}
	if len(top) == 0 {
		return nil, ErrNoVectors
	}
	d := &denseRanking{query: qv, top: top, cosine: make(map[int64]float64, 2*candidates)}
	for _, n := range top {
		d.cosine[n.ChunkID] = n.Cosine
	}
	return d, nil
}

// memoryRanking scores every vector of set in Go and reads the documents of the nearest.
func (ix *Index) memoryRanking(ctx context.Context, model string, set *vectorSet, qv []float32) (*denseRanking, error) {
	if len(qv) != set.dim {
		return nil, fmt.Errorf("embedding the query: %d values, the stored vectors of %s have %d", len(qv), model, set.dim)
	}
	best := topScores(set.ids, set.cosines(qv), candidates)
	ids := make([]int64, len(best))
	for i, s := range best {
		ids[i] = s.ChunkID
	}
	docs, err := ix.st.RAGChunkDocuments(ctx, ids)
	if err != nil {
		return nil, err
	}
	d := &denseRanking{query: qv, set: set, cosine: make(map[int64]float64, 2*candidates)}
	for _, s := range best {
		if doc, ok := docs[s.ChunkID]; ok {
			d.top = append(d.top, store.RAGNear{ChunkID: s.ChunkID, Document: doc, Cosine: s.Score})
			d.cosine[s.ChunkID] = s.Score
		}
	}
	return d, nil
}

// addCosines finds the cosines of BM25's chunks that the dense ranking does not know yet: from the
// vectors in memory, or with sqlite-vec's vec_distance_cosine.
func (ix *Index) addCosines(ctx context.Context, model string, d *denseRanking, lex []store.RAGRanked) error {
	if d == nil {
		return nil
	}
	var missing []int64
	for _, r := range lex {
		if _, ok := d.cosine[r.ChunkID]; !ok {
			missing = append(missing, r.ChunkID)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if d.set != nil {
		for _, id := range missing {
			if v, ok := d.set.vector(id); ok {
				d.cosine[id] = float64(tensor.Dot(d.query, v))
			}
		}
		return nil
	}
	cos, err := ix.st.RAGCosines(ctx, model, d.query, missing)
	if err != nil {
		return err
	}
	maps.Copy(d.cosine, cos)
	return nil
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

// vector returns a chunk's vector.
func (s *vectorSet) vector(id int64) ([]float32, bool) {
	i, ok := slices.BinarySearch(s.ids, id)
	if !ok {
		return nil, false
	}
	return s.data[i*s.dim : (i+1)*s.dim], true
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
func topScores[F float32 | float64](ids []int64, scores []F, k int) []Scored {
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

// groupPages groups the chunks of both rankings by document, in the order they were first ranked.
func groupPages(lex []store.RAGRanked, dense *denseRanking) []*page {
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
	if dense != nil {
		for _, n := range dense.top {
			add(n.Document, n.ChunkID)
		}
	}
	return out
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

// rankPages scores every page by the mode (and for hybrid the fusion) and orders them best first.
func rankPages(mode, fusion string, pages []*page, lex []store.RAGRanked, dense *denseRanking) []rankedPage {
	lexScore := make(map[int64]float64, len(lex))
	for _, r := range lex {
		lexScore[r.ChunkID] = r.Score
	}
	var out []rankedPage
	switch {
	case mode == ModeBM25:
		out = scorePages(pages, func(p *page) (int64, float64) { return p.chunks[0], pageBM25(p.lex) })
	case mode == ModeDense:
		out = scorePages(pages, func(p *page) (int64, float64) { return bestChunk(p.chunks, dense.cos) })
	case fusion == FusionRRF:
		out = rrfPages(pages, lex, dense)
	default:
		out = weightedPages(pages, lex, dense)
	}
	for i := range out {
		out[i].bm25, out[i].dense = lexScore[out[i].chunk], dense.cos(out[i].chunk)
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

// scorePages gives each page the chunk and score that score picks.
func scorePages(pages []*page, score func(*page) (chunk int64, score float64)) []rankedPage {
	out := make([]rankedPage, len(pages))
	for i, p := range pages {
		out[i] = rankedPage{document: p.document, lexical: len(p.lex) > 0}
		out[i].chunk, out[i].score = score(p)
	}
	return out
}

// weightedPages scores a page lexicalShare × its BM25 score / the best chunk's + (1 − lexicalShare)
// × its nearest chunk's cosine; the chunk with the best such mix stands for it.
func weightedPages(pages []*page, lex []store.RAGRanked, dense *denseRanking) []rankedPage {
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
	return scorePages(pages, func(p *page) (int64, float64) {
		chunk, _ := bestChunk(p.chunks, func(id int64) float64 {
			return lexical(lexScore[id]) + (1-lexicalShare)*dense.cos(id)
		})
		_, cos := bestChunk(p.chunks, dense.cos)
		return chunk, lexical(pageBM25(p.lex)) + (1-lexicalShare)*cos
	})
}

// rrfPages scores a page by reciprocal-rank fusion of its ranks in two page rankings: BM25's
// pages by their BM25 score, and the pages of the nearest chunks (dense.top) by their nearest
// one's cosine; a rank r adds 1/(RRFConstant + r). The chunk with the best fused rank of its own
// (BM25's chunk ranking and the nearest chunks) stands for the page.
func rrfPages(pages []*page, lex []store.RAGRanked, dense *denseRanking) []rankedPage {
	lexPages, densePages := rrfRanks(pages, lex, dense)
	chunkRank := map[int64]float64{}
	for i, r := range lex {
		chunkRank[r.ChunkID] += rrf(i + 1)
	}
	if dense != nil {
		for i, n := range dense.top {
			chunkRank[n.ChunkID] += rrf(i + 1)
		}
	}
	return scorePages(pages, func(p *page) (int64, float64) {
		chunk, _ := bestChunk(p.chunks, func(id int64) float64 { return chunkRank[id] })
		return chunk, rrf(lexPages[p.document]) + rrf(densePages[p.document])
	})
}

// rrfRanks numbers the pages (from 1) in BM25's page ranking and in the dense one; a page a
// ranking did not find has no rank there.
func rrfRanks(pages []*page, lex []store.RAGRanked, dense *denseRanking) (lexRank, denseRank map[int64]int) {
	inTop := map[int64]bool{}
	if dense != nil {
		for _, n := range dense.top {
			inTop[n.ChunkID] = true
		}
	}
	rank := func(found func(*page) bool, score func(*page) float64) map[int64]int {
		var ranked []*page
		for _, p := range pages {
			if found(p) {
				ranked = append(ranked, p)
			}
		}
		slices.SortStableFunc(ranked, func(a, b *page) int { return cmp.Compare(score(b), score(a)) })
		out := make(map[int64]int, len(ranked))
		for i, p := range ranked {
			out[p.document] = i + 1
		}
		return out
	}
	lexRank = rank(func(p *page) bool { return len(p.lex) > 0 }, func(p *page) float64 { return pageBM25(p.lex) })
	denseRank = rank(func(p *page) bool { return slices.ContainsFunc(p.chunks, func(id int64) bool { return inTop[id] }) },
		func(p *page) float64 {
			_, cos := bestChunk(p.chunks, func(id int64) float64 {
				if !inTop[id] {
					return -2 // below any cosine: only the nearest chunks rank the page
				}
				return dense.cos(id)
			})
			return cos
		})
	return lexRank, denseRank
}

// rrf is reciprocal-rank fusion's share of a rank (from 1); 0 for no rank.
func rrf(rank int) float64 {
	if rank <= 0 {
		return 0
	}
	return 1 / float64(RRFConstant+rank)
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
	return SearchOrBM25With(ctx, NewKNNIndex(st), emb, model, q)
}
