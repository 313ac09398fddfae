package rag

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rustexpert/store"
)

// The Qdrant backend keeps the chunks in a Qdrant collection instead of the SQLite database, for
// a corpus or a load that outgrows one machine. One point per chunk: the named sparse vector
// "bm25" (see qdrant_sparse.go; the collection's IDF modifier weighs it on the server), the named
// dense vector "dense" (cosine; filled by EmbedMissing) and a payload with the chunk's document and
// text. Search asks the server for the same three rankings as the SQLite index: BM25, dense, or
// both fused by reciprocal rank in one Query (two prefetches, RRF); the source filter is a keyword
// match on the indexed payload field "source".

// Qdrant defaults.
const (
	DefaultQdrantPort       = 6334 // gRPC
	DefaultQdrantCollection = "rustexpert_docs"
	// DefaultQdrantDim is the bundled embedder's (all-MiniLM-L6-v2) vector size.
	DefaultQdrantDim = 384
)

// Names of the collection's vectors.
const (
	denseVectorName  = "dense"
	sparseVectorName = "bm25"
)

// qdrantRRFK is Qdrant's RRF constant that matches Fuse: Qdrant adds 1/(k + rank) with ranks
// from 0, Fuse adds 1/(RRFConstant + rank) with ranks from 1. (The SQLite index's hybrid search
// scores pages by a weighted sum instead; Qdrant's server-side fusion is RRF or DBSF only.)
const qdrantRRFK = RRFConstant + 1

// upsertBatch is how many points one upsert request carries.
const upsertBatch = 64

// scrollPage is how many points one scroll request returns.
const scrollPage = 1000

// QdrantConfig says how to reach the Qdrant server and how the collection is laid out.
type QdrantConfig struct {
	Addr       string // host:port of the gRPC API; the port defaults to 6334
	APIKey     string // "" for none
	TLS        bool
	Collection string // default DefaultQdrantCollection
	Dim        int    // dense vector size of a new collection (default DefaultQdrantDim)
	// Sharding and replication of a new collection; 0 leaves each to the server.
	Shards           uint32
	Replicas         uint32
	WriteConsistency uint32
	Timeout          time.Duration // for connecting and preparing the collection (default 10 s)
}

// Qdrant is the Qdrant backend: it satisfies Store for Ingest and searches like Search.
type Qdrant struct {
	client     *qdrant.Client
	addr       string
	collection string
	dim        int

	mu       sync.Mutex
	embedded map[string]bool // model + source pairs known to have vectors
}

// OpenQdrant connects to the server, checks it answers and accepts the API key, and creates the
// collection (vectors, payload indexes, sharding) when it does not exist yet.
func OpenQdrant(ctx context.Context, cfg QdrantConfig) (*Qdrant, error) {
	host, port, err := ParseQdrantAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.Collection == "" {
		cfg.Collection = DefaultQdrantCollection
	}
	if cfg.Dim <= 0 {
		cfg.Dim = DefaultQdrantDim
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	client, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, APIKey: cfg.APIKey, UseTLS: cfg.TLS,
		PoolSize: 1, SkipCompatibilityCheck: true})
	if err != nil {
		return nil, fmt.Errorf("qdrant at %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	q := &Qdrant{client: client, addr: net.JoinHostPort(host, strconv.Itoa(port)), collection: cfg.Collection,
		dim: cfg.Dim, embedded: map[string]bool{}}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := client.HealthCheck(ctx); err != nil {
		client.Close()
		return nil, q.fail("health check", err)
	}
	if err := q.ensureCollection(ctx, cfg); err != nil {
		client.Close()
		return nil, err
	}
	return q, nil
}

// ParseQdrantAddr splits host:port; a bare host gets port 6334.
func ParseQdrantAddr(addr string) (string, int, error) {
	if addr == "" {
		return "", 0, fmt.Errorf("qdrant address is empty (want host:port, e.g. localhost:%d)", DefaultQdrantPort)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		if _, _, again := net.SplitHostPort(net.JoinHostPort(addr, "1")); again != nil {
			return "", 0, fmt.Errorf("qdrant address %q: %w", addr, err)
		}
		return addr, DefaultQdrantPort, nil
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("qdrant address %q: port %q is not a number from 1 to 65535", addr, portText)
	}
	if host == "" {
		host = "localhost"
	}
	return host, port, nil
}

// Close ends the connection.
func (q *Qdrant) Close() error { return q.client.Close() }

// Addr is the server's host:port.
func (q *Qdrant) Addr() string { return q.addr }

// Collection is the collection's name.
func (q *Qdrant) Collection() string { return q.collection }

// fail turns a gRPC error into one that says which server and collection refused what.
func (q *Qdrant) fail(op string, err error) error {
	where := fmt.Sprintf("qdrant at %s, collection %s", q.addr, q.collection)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %s: %w", where, op, err)
	}
	switch grpcCode(err) {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach Qdrant at %s (%s): is it running and is this its gRPC port (6334)? %w", q.addr, op, err)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("Qdrant at %s refused the API key (%s): check the variable --qdrant-api-key-env names: %w", q.addr, op, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %s: no answer in time: %w", where, op, err)
	}
	return fmt.Errorf("%s: %s: %w", where, op, err)
}

// grpcCode is the gRPC status code of err or of the error it wraps (codes.Unknown for none).
func grpcCode(err error) codes.Code {
	var s interface{ GRPCStatus() *status.Status }
	if errors.As(err, &s) {
		return s.GRPCStatus().Code()
	}
	return codes.Unknown
}

// payloadIndexes are the payload fields the collection indexes: source for the filter and the
// facet, path and seq for finding a document's chunks, embedder for finding chunks to embed.
var payloadIndexes = []struct {
	field string
	typ   qdrant.FieldType
}{
	{"source", qdrant.FieldType_FieldTypeKeyword},
	{"path", qdrant.FieldType_FieldTypeKeyword},
	{"seq", qdrant.FieldType_FieldTypeInteger},
	{"embedder", qdrant.FieldType_FieldTypeKeyword},
}

// ensureCollection creates the collection when it is missing, checks an existing one has the
// vectors this backend writes (and takes its dense size), and adds missing payload indexes.
func (q *Qdrant) ensureCollection(ctx context.Context, cfg QdrantConfig) error {
	exists, err := q.client.CollectionExists(ctx, q.collection)
	if err != nil {
		return q.fail("collection exists", err)
	}
	if !exists {
		if err := q.client.CreateCollection(ctx, newCollection(cfg)); err != nil && grpcCode(err) != codes.AlreadyExists {
			return q.fail("create collection", err)
		}
	}
	info, err := q.client.GetCollectionInfo(ctx, q.collection)
	if err != nil {
		return q.fail("collection info", err)
	}
	if err := q.checkLayout(info); err != nil {
		return err
	}
	for _, ix := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[ix.field]; ok {
			continue
		}
		_, err := q.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: q.collection,
			Wait: qdrant.PtrOf(true), FieldName: ix.field, FieldType: qdrant.PtrOf(ix.typ)})
		if err != nil {
			return q.fail("payload index on "+ix.field, err)
		}
	}
	return nil
}

// newCollection is the create request: the named dense and sparse vectors and the layout settings.
func newCollection(cfg QdrantConfig) *qdrant.CreateCollection {
	c := &qdrant.CreateCollection{
		CollectionName: cfg.Collection,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			denseVectorName: {Size: uint64(cfg.Dim), Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			sparseVectorName: {Modifier: qdrant.PtrOf(qdrant.Modifier_Idf)},
		}),
	}
	if cfg.Shards > 0 {
		c.ShardNumber = qdrant.PtrOf(cfg.Shards)
	}
	if cfg.Replicas > 0 {
		c.ReplicationFactor = qdrant.PtrOf(cfg.Replicas)
	}
	if cfg.WriteConsistency > 0 {
		c.WriteConsistencyFactor = qdrant.PtrOf(cfg.WriteConsistency)
	}
	return c
}

// checkLayout refuses a collection made for something else and adopts its dense vector size.
func (q *Qdrant) checkLayout(info *qdrant.CollectionInfo) error {
	params := info.GetConfig().GetParams()
	dense := params.GetVectorsConfig().GetParamsMap().GetMap()[denseVectorName]
	if dense == nil || dense.GetDistance() != qdrant.Distance_Cosine {
		return fmt.Errorf("qdrant at %s: collection %s has no cosine vector named %q: it was not made by rustexpert (choose another --qdrant-collection)",
			q.addr, q.collection, denseVectorName)
	}
	sparse := params.GetSparseVectorsConfig().GetMap()[sparseVectorName]
	if sparse == nil || sparse.GetModifier() != qdrant.Modifier_Idf {
		return fmt.Errorf("qdrant at %s: collection %s has no sparse vector %q with the IDF modifier (choose another --qdrant-collection)",
			q.addr, q.collection, sparseVectorName)
	}
	q.dim = int(dense.GetSize())
	return nil
}

// chunkPointID is a chunk's point id: the first 63 bits of sha256(source, path, seq), so a
// document's new version overwrites its old chunks in place and the id fits RAGHit.ChunkID.
func chunkPointID(source, path string, seq int) uint64 {
	sum := sha256.Sum256([]byte(source + "\x00" + path + "\x00" + strconv.Itoa(seq)))
	return binary.BigEndian.Uint64(sum[:8]) >> 1
}

func (q *Qdrant) docFilter(source, path string) *qdrant.Filter {
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("source", source), qdrant.NewMatchKeyword("path", path)}}
}

// sourceFilter limits a search to one source; nil for all.
func sourceFilter(source string) *qdrant.Filter {
	if source == "" {
		return nil
	}
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("source", source)}}
}

// RAGDocumentHashes returns the sha256 of every stored document of source by path (read from each
// document's first chunk).
func (q *Qdrant) RAGDocumentHashes(ctx context.Context, source string) (map[string]string, error) {
	filter := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("source", source), qdrant.NewMatchInt("seq", 0)}}
	out := map[string]string{}
	var offset *qdrant.PointId
	for {
		points, next, err := q.client.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: q.collection, Filter: filter,
			Offset: offset, Limit: qdrant.PtrOf(uint32(scrollPage)), WithPayload: qdrant.NewWithPayloadInclude("path", "sha256")})
		if err != nil {
			return nil, q.fail("documents of "+source, err)
		}
		for _, p := range points {
			out[payloadString(p.GetPayload(), "path")] = payloadString(p.GetPayload(), "sha256")
		}
		if next == nil || len(points) == 0 {
			return out, nil
		}
		offset = next
	}
}

// PutRAGDocument writes a document's chunks (their sparse vectors and payload) over its old ones
// and deletes the old chunks past the new last one. A rewritten chunk has no dense vector until
// EmbedMissing runs.
func (q *Qdrant) PutRAGDocument(ctx context.Context, d store.RAGDocument, chunks []store.RAGChunk) error {
	points := make([]*qdrant.PointStruct, len(chunks))
	for i, c := range chunks {
		sv := ChunkSparse(c.Title, c.Text, c.Terms)
		points[i] = &qdrant.PointStruct{
			Id:      qdrant.NewIDNum(chunkPointID(d.Source, d.Path, c.Seq)),
			Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{sparseVectorName: qdrant.NewVectorSparse(sv.Indices, sv.Values)}),
			Payload: chunkPayload(d, c),
		}
	}
	for start := 0; start < len(points); start += upsertBatch {
		batch := points[start:min(start+upsertBatch, len(points))]
		_, err := q.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: q.collection, Wait: qdrant.PtrOf(true), Points: batch})
		if err != nil {
			return q.fail(fmt.Sprintf("upsert chunks of %s/%s", d.Source, d.Path), err)
		}
	}
	stale := q.docFilter(d.Source, d.Path)
	stale.Must = append(stale.Must, qdrant.NewRange("seq", &qdrant.Range{Gte: qdrant.PtrOf(float64(len(chunks)))}))
	return q.deletePoints(ctx, stale, fmt.Sprintf("delete old chunks of %s/%s", d.Source, d.Path))
}

func chunkPayload(d store.RAGDocument, c store.RAGChunk) map[string]*qdrant.Value {
	url := d.URL
	if c.Anchor != "" {
		url += "#" + c.Anchor
	}
	return map[string]*qdrant.Value{
		"source":    qdrant.NewValueString(d.Source),
		"path":      qdrant.NewValueString(d.Path),
		"doc_title": qdrant.NewValueString(d.Title),
		"sha256":    qdrant.NewValueString(d.SHA256),
		"licence":   qdrant.NewValueString(d.Licence),
		"seq":       qdrant.NewValueInt(int64(c.Seq)),
		"title":     qdrant.NewValueString(c.Title),
		"anchor":    qdrant.NewValueString(c.Anchor),
		"url":       qdrant.NewValueString(url),
		"text":      qdrant.NewValueString(c.Text),
		"tokens":    qdrant.NewValueInt(int64(c.Tokens)),
	}
}

// DeleteRAGDocuments deletes the chunks of source's documents at paths.
func (q *Qdrant) DeleteRAGDocuments(ctx context.Context, source string, paths []string) error {
	for start := 0; start < len(paths); start += scrollPage {
		batch := paths[start:min(start+scrollPage, len(paths))]
		filter := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("source", source), qdrant.NewMatchKeywords("path", batch...)}}
		if err := q.deletePoints(ctx, filter, "delete documents of "+source); err != nil {
			return err
		}
	}
	return nil
}

func (q *Qdrant) deletePoints(ctx context.Context, filter *qdrant.Filter, op string) error {
	_, err := q.client.Delete(ctx, &qdrant.DeletePoints{CollectionName: q.collection, Wait: qdrant.PtrOf(true),
		Points: qdrant.NewPointsSelectorFilter(filter)})
	if err != nil {
		return q.fail(op, err)
	}
	return nil
}

func payloadString(p map[string]*qdrant.Value, key string) string { return p[key].GetStringValue() }

// Search ranks chunks for query like Search over the SQLite index: BM25 (the sparse vectors),
// dense (needs emb and chunks embedded by model, else ErrNoVectors) or hybrid (both, fused by RRF
// on the server); at most one chunk per page. A hybrid hit carries only its fused score (the
// server does not return the rankings it fused).
func (q *Qdrant) Search(ctx context.Context, emb Embedder, model string, query Query) ([]Hit, error) {
	if query.K <= 0 {
		query.K = 10
	}
	mode := query.Mode
	if mode == "" {
		mode = ModeHybrid
	}
	sparse := QuerySparse(query.Text)
	if mode == ModeBM25 && len(sparse.Indices) == 0 {
		return nil, nil
	}
	var dense []float32
	if mode != ModeBM25 {
		var err error
		if dense, err = q.queryVector(ctx, emb, model, query); err != nil {
			return nil, err
		}
	}
	req := q.queryRequest(mode, query, sparse, dense)
	points, err := q.client.Query(ctx, req)
	if err != nil {
		return nil, q.fail("query", err)
	}
	return pointHits(points, mode, query), nil
}

// Searcher ranks chunks like Search: the Qdrant backend, or the SQLite index behind an adapter.
type Searcher interface {
	Search(ctx context.Context, emb Embedder, model string, q Query) ([]Hit, error)
}

// SearchOrBM25With is SearchOrBM25 over any Searcher: it ranks by BM25 alone when dense retrieval
// cannot run yet (no embedder, or no chunk embedded by it); fellBack says it did.
func SearchOrBM25With(ctx context.Context, s Searcher, emb Embedder, model string, q Query) (hits []Hit, fellBack bool, err error) {
	if q.Mode != ModeBM25 && emb != nil {
		hits, err := s.Search(ctx, emb, model, q)
		if !errors.Is(err, ErrNoVectors) {
			return hits, false, err
		}
	}
	fellBack = q.Mode != ModeBM25
	q.Mode = ModeBM25
	hits, err = s.Search(ctx, nil, model, q)
	return hits, fellBack, err
}

// queryRequest builds the Query: one nearest search for bm25 and dense, two prefetches fused by
// RRF for hybrid (the sparse one left out when the text has no term).
func (q *Qdrant) queryRequest(mode string, query Query, sparse SparseVector, dense []float32) *qdrant.QueryPoints {
	limit := uint64(max(candidates, query.K))
	filter := sourceFilter(query.Source)
	req := &qdrant.QueryPoints{CollectionName: q.collection, Limit: qdrant.PtrOf(limit), WithPayload: qdrant.NewWithPayload(true)}
	sparseQuery := qdrant.NewQuerySparse(sparse.Indices, sparse.Values)
	switch mode {
	case ModeBM25:
		req.Query, req.Using, req.Filter = sparseQuery, qdrant.PtrOf(sparseVectorName), filter
	case ModeDense:
		req.Query, req.Using, req.Filter = qdrant.NewQueryDense(dense), qdrant.PtrOf(denseVectorName), filter
	default:
		if len(sparse.Indices) > 0 {
			req.Prefetch = append(req.Prefetch, &qdrant.PrefetchQuery{Query: sparseQuery, Using: qdrant.PtrOf(sparseVectorName),
				Filter: filter, Limit: qdrant.PtrOf(limit)})
		}
		req.Prefetch = append(req.Prefetch, &qdrant.PrefetchQuery{Query: qdrant.NewQueryDense(dense), Using: qdrant.PtrOf(denseVectorName),
			Filter: filter, Limit: qdrant.PtrOf(limit)})
		req.Query = qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(qdrantRRFK))})
	}
	return req
}

// queryVector embeds the query after checking that chunks of the query's source have vectors
// from model (ErrNoVectors otherwise, as for the SQLite index).
func (q *Qdrant) queryVector(ctx context.Context, emb Embedder, model string, query Query) ([]float32, error) {
	if emb == nil {
		return nil, fmt.Errorf("dense retrieval needs the embedder (models/embedder: rustexpert models fetch)")
	}
	if err := q.checkEmbedded(ctx, model, query.Source); err != nil {
		return nil, err
	}
	vectors, err := emb.Embed([]string{query.Text})
	if err != nil {
		return nil, fmt.Errorf("embedding the query: %w", err)
	}
	if len(vectors) != 1 || len(vectors[0]) != q.dim {
		return nil, q.dimError(vectors)
	}
	return vectors[0], nil
}

func (q *Qdrant) dimError(vectors [][]float32) error {
	got := 0
	if len(vectors) > 0 {
		got = len(vectors[0])
	}
	return fmt.Errorf("qdrant at %s: collection %s holds %d-dimensional vectors, the embedder gives %d (use another --qdrant-collection for this embedder)",
		q.addr, q.collection, q.dim, got)
}

// checkEmbedded returns ErrNoVectors when no chunk (of source, if given) has a vector from model;
// a positive answer is remembered, since vectors are only added until the next ingest.
func (q *Qdrant) checkEmbedded(ctx context.Context, model, source string) error {
	key := model + "\x00" + source
	q.mu.Lock()
	known := q.embedded[key]
	q.mu.Unlock()
	if known {
		return nil
	}
	filter := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("embedder", model)}}
	if source != "" {
		filter.Must = append(filter.Must, qdrant.NewMatchKeyword("source", source))
	}
	n, err := q.client.Count(ctx, &qdrant.CountPoints{CollectionName: q.collection, Filter: filter, Exact: qdrant.PtrOf(true)})
	if err != nil {
		return q.fail("count embedded chunks", err)
	}
	if n == 0 {
		return ErrNoVectors
	}
	q.mu.Lock()
	q.embedded[key] = true
	q.mu.Unlock()
	return nil
}

// pointHits turns the server's ranked points into hits, the best chunk of each page, at most K.
func pointHits(points []*qdrant.ScoredPoint, mode string, query Query) []Hit {
	out := make([]Hit, 0, min(query.K, len(points)))
	perDoc := map[string]int{}
	for _, p := range points {
		h := pointHit(p, query.Text)
		doc := DocumentURL(h.URL)
		if perDoc[doc] >= maxPerDocument {
			continue
		}
		perDoc[doc]++
		score := float64(p.GetScore())
		switch mode {
		case ModeBM25:
			h.BM25 = score
		case ModeDense:
			h.Dense = score
		}
		h.Score, h.Fused = score, score
		out = append(out, h)
		if len(out) == query.K {
			break
		}
	}
	return out
}

func pointHit(p *qdrant.ScoredPoint, queryText string) Hit {
	pl := p.GetPayload()
	text := payloadString(pl, "text")
	return Hit{RAGHit: store.RAGHit{
		ChunkID: int64(p.GetId().GetNum() & (1<<63 - 1)),
		Source:  payloadString(pl, "source"),
		Title:   payloadString(pl, "title"),
		URL:     payloadString(pl, "url"),
		Licence: payloadString(pl, "licence"),
		Snippet: makeSnippet(text, queryText),
		Text:    text,
	}}
}

// EmbedMissing gives every chunk without a vector from model one (EmbedBatch at a time) and marks
// it with the model's name; progress, when set, gets the running count and the total.
func (q *Qdrant) EmbedMissing(ctx context.Context, emb Embedder, model string, progress func(done, total int)) (int, error) {
	filter := &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword("embedder", model)}}
	total, err := q.client.Count(ctx, &qdrant.CountPoints{CollectionName: q.collection, Filter: filter, Exact: qdrant.PtrOf(true)})
	if err != nil {
		return 0, q.fail("count chunks to embed", err)
	}
	done := 0
	for done < int(total) {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		points, err := q.client.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: q.collection, Filter: filter,
			Limit: qdrant.PtrOf(uint32(EmbedBatch)), WithPayload: qdrant.NewWithPayloadInclude("title", "text")})
		if err != nil {
			return done, q.fail("chunks to embed", err)
		}
		if len(points) == 0 {
			break
		}
		if err := q.embedPoints(ctx, emb, model, points); err != nil {
			return done, err
		}
		done += len(points)
		if progress != nil {
			progress(done, int(total))
		}
	}
	return done, nil
}

func (q *Qdrant) embedPoints(ctx context.Context, emb Embedder, model string, points []*qdrant.RetrievedPoint) error {
	texts := make([]string, len(points))
	ids := make([]*qdrant.PointId, len(points))
	for i, p := range points {
		texts[i] = passageText(payloadString(p.GetPayload(), "title"), payloadString(p.GetPayload(), "text"))
		ids[i] = p.GetId()
	}
	vectors, err := emb.Embed(texts)
	if err != nil {
		return fmt.Errorf("embedding %d chunks of collection %s: %w", len(texts), q.collection, err)
	}
	if len(vectors) != len(points) || slices.ContainsFunc(vectors, func(v []float32) bool { return len(v) != q.dim }) {
		return q.dimError(vectors)
	}
	update := make([]*qdrant.PointVectors, len(points))
	for i := range points {
		update[i] = &qdrant.PointVectors{Id: ids[i], Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{denseVectorName: qdrant.NewVectorDense(vectors[i])})}
	}
	if _, err := q.client.UpdateVectors(ctx, &qdrant.UpdatePointVectors{CollectionName: q.collection, Wait: qdrant.PtrOf(true), Points: update}); err != nil {
		return q.fail("store vectors", err)
	}
	_, err = q.client.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: q.collection, Wait: qdrant.PtrOf(true),
		Payload: map[string]*qdrant.Value{"embedder": qdrant.NewValueString(model)}, PointsSelector: qdrant.NewPointsSelector(ids...)})
	if err != nil {
		return q.fail("mark embedded chunks", err)
	}
	return nil
}

// HasChunks reports whether the collection holds any chunk.
func (q *Qdrant) HasChunks(ctx context.Context) (bool, error) {
	n, err := q.client.Count(ctx, &qdrant.CountPoints{CollectionName: q.collection, Exact: qdrant.PtrOf(false)})
	if err != nil {
		return false, q.fail("count chunks", err)
	}
	return n > 0, nil
}

// Sources counts the documents and chunks of every source in the collection (facets on source).
func (q *Qdrant) Sources(ctx context.Context) ([]store.RAGSourceStats, error) {
	chunks, err := q.facetSources(ctx, nil)
	if err != nil {
		return nil, err
	}
	docs, err := q.facetSources(ctx, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("seq", 0)}})
	if err != nil {
		return nil, err
	}
	out := make([]store.RAGSourceStats, 0, len(chunks))
	for source, n := range chunks {
		out = append(out, store.RAGSourceStats{Source: source, Documents: docs[source], Chunks: n})
	}
	slices.SortFunc(out, func(a, b store.RAGSourceStats) int { return strings.Compare(a.Source, b.Source) })
	return out, nil
}

func (q *Qdrant) facetSources(ctx context.Context, filter *qdrant.Filter) (map[string]int, error) {
	hits, err := q.client.Facet(ctx, &qdrant.FacetCounts{CollectionName: q.collection, Key: "source", Filter: filter,
		Limit: qdrant.PtrOf(uint64(1000)), Exact: qdrant.PtrOf(true)})
	if err != nil {
		return nil, q.fail("sources", err)
	}
	out := map[string]int{}
	for _, h := range hits {
		out[h.GetValue().GetStringValue()] = int(h.GetCount())
	}
	return out, nil
}
