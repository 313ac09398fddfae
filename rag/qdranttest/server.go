// Package qdranttest is a TEST STAND-IN for a Qdrant server, not Qdrant: an in-process gRPC
// server built from the Qdrant client's own service definitions (github.com/qdrant/go-client) that
// keeps points in memory. It checks the shape of what it is sent (named vectors only, sparse
// vectors well formed, dense vectors of the configured size, filters only on indexed payload
// fields, the API key) and answers Query with a plain scoring of what it holds: dot products with
// Qdrant's IDF for sparse vectors, cosine for dense ones, and reciprocal rank fusion
// 1/(k + rank from 0) over prefetches. It records the queries it answers so tests can look at
// them. It implements the calls the rag package's Qdrant backend makes, and refuses the others.
package qdranttest

import (
	"cmp"
	"context"
	"maps"
	"math"
	"net"
	"slices"
	"sync"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server is a running stand-in.
type Server struct {
	addr   string
	apiKey string
	srv    *grpc.Server

	mu          sync.Mutex
	collections map[string]*standInCollection
	queries     []*qdrant.QueryPoints
}

type standInCollection struct {
	create  *qdrant.CreateCollection
	indexes map[string]qdrant.FieldType
	points  map[uint64]*standInPoint
}

type standInPoint struct {
	payload map[string]*qdrant.Value
	dense   []float32
	sparse  map[uint32]float32
}

// NewServer starts a stand-in on a loopback port; apiKey "" accepts every call, else calls other
// than the health check must carry it in the "api-key" metadata, as Qdrant wants. Close it when done.
func NewServer(apiKey string) (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{addr: lis.Addr().String(), apiKey: apiKey, collections: map[string]*standInCollection{}}
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.checkKey))
	qdrant.RegisterQdrantServer(s.srv, standInHealth{})
	qdrant.RegisterCollectionsServer(s.srv, standInCollections{s: s})
	qdrant.RegisterPointsServer(s.srv, standInPoints{s: s})
	go s.srv.Serve(lis)
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() { s.srv.Stop() }

// checkKey refuses calls without the API key, as Qdrant does; the health check needs none.
func (s *Server) checkKey(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if s.apiKey != "" && info.FullMethod != "/qdrant.Qdrant/HealthCheck" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("api-key"); len(got) != 1 || got[0] != s.apiKey {
			return nil, status.Error(codes.Unauthenticated, "stand-in: must provide a valid api key")
		}
	}
	return next(ctx, req)
}

func (s *Server) collection(name string) (*standInCollection, error) {
	c := s.collections[name]
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "stand-in: collection %s does not exist", name)
	}
	return c, nil
}

// LastQuery is a copy of the last Query request, nil before the first.
func (s *Server) LastQuery() *qdrant.QueryPoints {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queries) == 0 {
		return nil
	}
	return proto.Clone(s.queries[len(s.queries)-1]).(*qdrant.QueryPoints)
}

type standInHealth struct {
	qdrant.UnimplementedQdrantServer
}

func (standInHealth) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant test stand-in", Version: "1.17.1"}, nil
}

type standInCollections struct {
	qdrant.UnimplementedCollectionsServer
	s *Server
}

func (c standInCollections) CollectionExists(_ context.Context, r *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: c.s.collections[r.GetCollectionName()] != nil}}, nil
}

func (c standInCollections) Create(_ context.Context, r *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.collections[r.GetCollectionName()] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "stand-in: collection %s already exists", r.GetCollectionName())
	}
	if r.GetVectorsConfig().GetParams() != nil {
		return nil, status.Error(codes.InvalidArgument, "stand-in: want named vectors, got one unnamed vector")
	}
	c.s.collections[r.GetCollectionName()] = &standInCollection{create: proto.Clone(r).(*qdrant.CreateCollection),
		indexes: map[string]qdrant.FieldType{}, points: map[uint64]*standInPoint{}}
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (c standInCollections) Get(_ context.Context, r *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	col, err := c.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	schema := map[string]*qdrant.PayloadSchemaInfo{}
	for field, typ := range col.indexes {
		kind := qdrant.PayloadSchemaType_Keyword
		if typ == qdrant.FieldType_FieldTypeInteger {
			kind = qdrant.PayloadSchemaType_Integer
		}
		schema[field] = &qdrant.PayloadSchemaInfo{DataType: kind}
	}
	params := &qdrant.CollectionParams{ShardNumber: col.create.GetShardNumber(), VectorsConfig: col.create.VectorsConfig,
		SparseVectorsConfig: col.create.SparseVectorsConfig}
	info := &qdrant.CollectionInfo{Config: &qdrant.CollectionConfig{Params: params}, PayloadSchema: schema,
		PointsCount: qdrant.PtrOf(uint64(len(col.points)))}
	return &qdrant.GetCollectionInfoResponse{Result: info}, nil
}

func (c standInCollections) Delete(_ context.Context, r *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.collections, r.GetCollectionName())
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

type standInPoints struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

// completed is the answer to a write that was applied.
func completed() *qdrant.PointsOperationResponse {
	return &qdrant.PointsOperationResponse{Result: &qdrant.UpdateResult{Status: qdrant.UpdateStatus_Completed}}
}

func (p standInPoints) CreateFieldIndex(_ context.Context, r *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	col.indexes[r.GetFieldName()] = r.GetFieldType()
	return completed(), nil
}

func (p standInPoints) Upsert(_ context.Context, r *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	for _, pt := range r.GetPoints() {
		sp := &standInPoint{payload: pt.GetPayload()}
		if err := col.setVectors(sp, pt.GetVectors()); err != nil {
			return nil, err
		}
		col.points[pt.GetId().GetNum()] = sp
	}
	return completed(), nil
}

// setVectors checks named vectors against the collection's config and stores them on pt.
func (c *standInCollection) setVectors(pt *standInPoint, v *qdrant.Vectors) error {
	named := v.GetVectors().GetVectors()
	if v != nil && v.GetVector() != nil {
		return status.Error(codes.InvalidArgument, "stand-in: want named vectors, got an unnamed one")
	}
	for name, vec := range named {
		if params := c.create.GetVectorsConfig().GetParamsMap().GetMap()[name]; params != nil {
			d := vec.GetDense().GetData()
			if uint64(len(d)) != params.GetSize() {
				return status.Errorf(codes.InvalidArgument, "stand-in: vector %s has %d dimensions, want %d", name, len(d), params.GetSize())
			}
			pt.dense = d
			continue
		}
		if c.create.GetSparseVectorsConfig().GetMap()[name] == nil {
			return status.Errorf(codes.InvalidArgument, "stand-in: no vector named %q", name)
		}
		sp := vec.GetSparse()
		if len(sp.GetIndices()) != len(sp.GetValues()) {
			return status.Errorf(codes.InvalidArgument, "stand-in: sparse vector %s: %d indices, %d values", name, len(sp.GetIndices()), len(sp.GetValues()))
		}
		pt.sparse = map[uint32]float32{}
		for i, ix := range sp.GetIndices() {
			if _, dup := pt.sparse[ix]; dup {
				return status.Errorf(codes.InvalidArgument, "stand-in: sparse vector %s repeats index %d", name, ix)
			}
			pt.sparse[ix] = sp.GetValues()[i]
		}
	}
	return nil
}

func (p standInPoints) UpdateVectors(_ context.Context, r *qdrant.UpdatePointVectors) (*qdrant.PointsOperationResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	for _, pv := range r.GetPoints() {
		pt := col.points[pv.GetId().GetNum()]
		if pt == nil {
			return nil, status.Errorf(codes.NotFound, "stand-in: no point %d", pv.GetId().GetNum())
		}
		if err := col.setVectors(pt, pv.GetVectors()); err != nil {
			return nil, err
		}
	}
	return completed(), nil
}

func (p standInPoints) SetPayload(_ context.Context, r *qdrant.SetPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	ids, err := col.selected(r.GetPointsSelector())
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		for k, v := range r.GetPayload() {
			col.points[id].payload[k] = v
		}
	}
	return completed(), nil
}

func (p standInPoints) Delete(_ context.Context, r *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	ids, err := col.selected(r.GetPoints())
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		delete(col.points, id)
	}
	return completed(), nil
}

// selected returns the ids a selector names (ids or a filter), existing ones only.
func (c *standInCollection) selected(sel *qdrant.PointsSelector) ([]uint64, error) {
	if f := sel.GetFilter(); f != nil {
		return c.matching(f)
	}
	var out []uint64
	for _, id := range sel.GetPoints().GetIds() {
		if c.points[id.GetNum()] != nil {
			out = append(out, id.GetNum())
		}
	}
	return out, nil
}

// matching returns the ids of the points that pass f, ascending.
func (c *standInCollection) matching(f *qdrant.Filter) ([]uint64, error) {
	var out []uint64
	for id, pt := range c.points {
		ok, err := c.passes(f, pt)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (c *standInCollection) passes(f *qdrant.Filter, pt *standInPoint) (bool, error) {
	for _, cond := range f.GetMust() {
		if ok, err := c.holds(cond, pt); err != nil || !ok {
			return false, err
		}
	}
	for _, cond := range f.GetMustNot() {
		if ok, err := c.holds(cond, pt); err != nil || ok {
			return false, err
		}
	}
	if len(f.GetShould()) > 0 {
		return false, status.Error(codes.Unimplemented, "stand-in: should conditions")
	}
	return true, nil
}

// holds evaluates a field condition (keyword, keywords, integer match or a range) on an indexed
// payload field; anything else is refused.
func (c *standInCollection) holds(cond *qdrant.Condition, pt *standInPoint) (bool, error) {
	fc := cond.GetField()
	if fc == nil {
		return false, status.Error(codes.Unimplemented, "stand-in: only field conditions")
	}
	if _, ok := c.indexes[fc.GetKey()]; !ok {
		return false, status.Errorf(codes.InvalidArgument, "stand-in: filter on %q, which has no payload index", fc.GetKey())
	}
	v := pt.payload[fc.GetKey()]
	if r := fc.GetRange(); r != nil {
		x := float64(v.GetIntegerValue())
		return v != nil && (r.Gte == nil || x >= r.GetGte()) && (r.Lt == nil || x < r.GetLt()), nil
	}
	m := fc.GetMatch()
	switch m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return v != nil && v.GetStringValue() == m.GetKeyword(), nil
	case *qdrant.Match_Keywords:
		return v != nil && slices.Contains(m.GetKeywords().GetStrings(), v.GetStringValue()), nil
	case *qdrant.Match_Integer:
		return v != nil && v.GetIntegerValue() == m.GetInteger(), nil
	}
	return false, status.Errorf(codes.Unimplemented, "stand-in: condition on %s", fc.GetKey())
}

func (p standInPoints) Count(_ context.Context, r *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	ids, err := col.matching(r.GetFilter())
	if err != nil {
		return nil, err
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: uint64(len(ids))}}, nil
}

func (p standInPoints) Scroll(_ context.Context, r *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	ids, err := col.matching(r.GetFilter())
	if err != nil {
		return nil, err
	}
	if r.Offset != nil {
		ids = slices.DeleteFunc(ids, func(id uint64) bool { return id < r.GetOffset().GetNum() })
	}
	limit := int(cmp.Or(r.GetLimit(), 10))
	resp := &qdrant.ScrollResponse{}
	for i, id := range ids {
		if i == limit {
			resp.NextPageOffset = qdrant.NewIDNum(id)
			break
		}
		resp.Result = append(resp.Result, &qdrant.RetrievedPoint{Id: qdrant.NewIDNum(id), Payload: selectPayload(col.points[id].payload, r.GetWithPayload())})
	}
	return resp, nil
}

func selectPayload(p map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector) map[string]*qdrant.Value {
	if fields := sel.GetInclude().GetFields(); len(fields) > 0 {
		out := map[string]*qdrant.Value{}
		for _, f := range fields {
			if v, ok := p[f]; ok {
				out[f] = v
			}
		}
		return out
	}
	if sel.GetEnable() {
		return p
	}
	return nil
}

func (p standInPoints) Facet(_ context.Context, r *qdrant.FacetCounts) (*qdrant.FacetResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if col.indexes[r.GetKey()] != qdrant.FieldType_FieldTypeKeyword {
		return nil, status.Errorf(codes.InvalidArgument, "stand-in: facet on %q needs a keyword index", r.GetKey())
	}
	ids, err := col.matching(r.GetFilter())
	if err != nil {
		return nil, err
	}
	counts := map[string]uint64{}
	for _, id := range ids {
		if v := col.points[id].payload[r.GetKey()]; v != nil {
			counts[v.GetStringValue()]++
		}
	}
	resp := &qdrant.FacetResponse{}
	for v, n := range counts {
		resp.Hits = append(resp.Hits, &qdrant.FacetHit{Value: qdrant.NewFacetValue(v), Count: n})
	}
	return resp, nil
}

// scored is a point with its score in one ranking.
type scored struct {
	id    uint64
	score float64
}

func (p standInPoints) Query(_ context.Context, r *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.queries = append(p.s.queries, proto.Clone(r).(*qdrant.QueryPoints))
	col, err := p.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	var ranked []scored
	if len(r.GetPrefetch()) > 0 {
		ranked, err = col.fuse(r)
	} else {
		ranked, err = col.nearest(r.GetQuery(), r.GetUsing(), r.GetFilter(), r.GetLimit())
	}
	if err != nil {
		return nil, err
	}
	resp := &qdrant.QueryResponse{}
	for _, s := range ranked {
		resp.Result = append(resp.Result, &qdrant.ScoredPoint{Id: qdrant.NewIDNum(s.id), Score: float32(s.score),
			Payload: selectPayload(col.points[s.id].payload, r.GetWithPayload())})
	}
	return resp, nil
}

// fuse runs each prefetch and fuses the rankings by RRF: 1/(k + rank), ranks from 0, k default 2.
func (c *standInCollection) fuse(r *qdrant.QueryPoints) ([]scored, error) {
	k := 2.0
	switch {
	case r.GetQuery().GetRrf() != nil:
		k = float64(cmp.Or(r.GetQuery().GetRrf().GetK(), 2))
	case r.GetQuery().GetVariant() == nil || r.GetQuery().GetFusion() != qdrant.Fusion_RRF:
		return nil, status.Error(codes.Unimplemented, "stand-in: prefetches are fused by RRF only")
	}
	sums := map[uint64]float64{}
	for _, pf := range r.GetPrefetch() {
		ranked, err := c.nearest(pf.GetQuery(), pf.GetUsing(), pf.GetFilter(), pf.GetLimit())
		if err != nil {
			return nil, err
		}
		for rank, s := range ranked {
			sums[s.id] += 1 / (k + float64(rank))
		}
	}
	out := make([]scored, 0, len(sums))
	for id, s := range sums {
		out = append(out, scored{id, s})
	}
	return top(out, r.GetLimit()), nil
}

// nearest ranks the points passing filter by one named vector against a nearest query.
func (c *standInCollection) nearest(q *qdrant.Query, using string, filter *qdrant.Filter, limit uint64) ([]scored, error) {
	in := q.GetNearest()
	if in == nil {
		return nil, status.Error(codes.Unimplemented, "stand-in: only nearest queries")
	}
	ids, err := c.matching(filter)
	if err != nil {
		return nil, err
	}
	var out []scored
	switch {
	case in.GetSparse() != nil:
		params := c.create.GetSparseVectorsConfig().GetMap()[using]
		if params == nil {
			return nil, status.Errorf(codes.InvalidArgument, "stand-in: sparse query on %q, no such sparse vector", using)
		}
		out = c.sparseScores(in.GetSparse(), params.GetModifier() == qdrant.Modifier_Idf, ids)
	case in.GetDense() != nil:
		if c.create.GetVectorsConfig().GetParamsMap().GetMap()[using] == nil {
			return nil, status.Errorf(codes.InvalidArgument, "stand-in: dense query on %q, no such vector", using)
		}
		out = c.cosines(in.GetDense().GetData(), ids)
	default:
		return nil, status.Error(codes.Unimplemented, "stand-in: nearest needs a dense or sparse vector")
	}
	return top(out, limit), nil
}

// sparseScores is the dot product of the query with each point's sparse vector, each query value
// times the term's IDF over the whole collection when idf is set: ln(1 + (N − n + 0.5)/(n + 0.5)).
func (c *standInCollection) sparseScores(q *qdrant.SparseVector, idf bool, ids []uint64) []scored {
	df := map[uint32]int{}
	total := 0
	for _, pt := range c.points {
		if pt.sparse == nil {
			continue
		}
		total++
		for ix := range pt.sparse {
			df[ix]++
		}
	}
	var out []scored
	for _, id := range ids {
		pt, score, overlap := c.points[id], 0.0, false
		for i, ix := range q.GetIndices() {
			v, ok := pt.sparse[ix]
			if !ok {
				continue
			}
			w := float64(q.GetValues()[i])
			if idf {
				n := float64(df[ix])
				w *= math.Log(1 + (float64(total)-n+0.5)/(n+0.5))
			}
			score, overlap = score+w*float64(v), true
		}
		if overlap {
			out = append(out, scored{id, score})
		}
	}
	return out
}

func (c *standInCollection) cosines(q []float32, ids []uint64) []scored {
	var out []scored
	for _, id := range ids {
		d := c.points[id].dense
		if len(d) != len(q) {
			continue
		}
		var dot, nq, nd float64
		for i := range q {
			dot += float64(q[i]) * float64(d[i])
			nq += float64(q[i]) * float64(q[i])
			nd += float64(d[i]) * float64(d[i])
		}
		if nq > 0 && nd > 0 {
			out = append(out, scored{id, dot / math.Sqrt(nq*nd)})
		}
	}
	return out
}

// top sorts by score (ties by id) and keeps limit (default 10).
func top(s []scored, limit uint64) []scored {
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return s[:min(len(s), int(cmp.Or(limit, 10)))]
}

// Count returns how many points of collection have value in the string payload field.
func (s *Server) Count(collection, field, value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if c := s.collections[collection]; c != nil {
		for _, pt := range c.points {
			if pt.payload[field].GetStringValue() == value {
				n++
			}
		}
	}
	return n
}

// Collection returns a copy of the request that made collection and the types of its payload
// indexes; nil when there is no such collection.
func (s *Server) Collection(collection string) (*qdrant.CreateCollection, map[string]qdrant.FieldType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.collections[collection]
	if c == nil {
		return nil, nil
	}
	return proto.Clone(c.create).(*qdrant.CreateCollection), maps.Clone(c.indexes)
}
