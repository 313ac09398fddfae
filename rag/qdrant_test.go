package rag

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"

	"rustexpert/rag/qdranttest"
	"rustexpert/store"
)

// bagEmbedder is a test embedder: each term of the FTS tokenizer adds 1 to dimension
// TermIndex(term) mod dim, then the vector is L2-normalized. Texts that share words are close.
type bagEmbedder struct{ dim int }

func (b bagEmbedder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, b.dim)
		for _, term := range lexicalTerms(t) {
			v[TermIndex(term)%uint32(b.dim)]++
		}
		var n float64
		for _, x := range v {
			n += float64(x * x)
		}
		for j := range v {
			if n > 0 {
				v[j] /= float32(math.Sqrt(n))
			}
		}
		out[i] = v
	}
	return out, nil
}

const testDim = 64

// corpusSources are the test pages ingested into both backends: source and testdata folder.
var corpusSources = [][2]string{{"book", "html/book"}, {"error-codes", "html/error_codes"}, {"tokio", "tokio"}, {"std", "html/std"}}

// ingestAll ingests every test source into st and returns the reports by source.
func ingestAll(t *testing.T, st Store) map[string]Report {
	t.Helper()
	out := map[string]Report{}
	for _, s := range corpusSources {
		rep, err := Ingest(context.Background(), st, mustSource(t, s[0]), copyTree(t, s[1]), DefaultChunkOptions)
		if err != nil {
			t.Fatalf("ingest %s: %v", s[0], err)
		}
		out[s[0]] = rep
	}
	return out
}

// startStandIn starts the Qdrant test stand-in for one test.
func startStandIn(t *testing.T, apiKey string) *qdranttest.Server {
	t.Helper()
	s, err := qdranttest.NewServer(apiKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func openTestQdrant(t *testing.T, s *qdranttest.Server, cfg QdrantConfig) *Qdrant {
	t.Helper()
	cfg.Addr = s.Addr()
	if cfg.Dim == 0 {
		cfg.Dim = testDim
	}
	q, err := OpenQdrant(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func TestQdrantCollectionLayout(t *testing.T) {
	s := startStandIn(t, "")
	q := openTestQdrant(t, s, QdrantConfig{Collection: "docs", Shards: 4, Replicas: 2, WriteConsistency: 2})
	create, indexes := s.Collection("docs")
	if create == nil {
		t.Fatal("no collection docs on the stand-in")
	}
	dense := create.GetVectorsConfig().GetParamsMap().GetMap()["dense"]
	if dense.GetSize() != testDim || dense.GetDistance() != qdrant.Distance_Cosine {
		t.Errorf("dense vector: %v", dense)
	}
	if bm25 := create.GetSparseVectorsConfig().GetMap()["bm25"]; bm25.GetModifier() != qdrant.Modifier_Idf {
		t.Errorf("sparse vector bm25: %v", bm25)
	}
	if create.GetShardNumber() != 4 || create.GetReplicationFactor() != 2 || create.GetWriteConsistencyFactor() != 2 {
		t.Errorf("shards %d, replicas %d, write consistency %d", create.GetShardNumber(), create.GetReplicationFactor(), create.GetWriteConsistencyFactor())
	}
	want := map[string]qdrant.FieldType{"source": qdrant.FieldType_FieldTypeKeyword, "path": qdrant.FieldType_FieldTypeKeyword,
		"seq": qdrant.FieldType_FieldTypeInteger, "embedder": qdrant.FieldType_FieldTypeKeyword}
	for field, typ := range want {
		if got, ok := indexes[field]; !ok || got != typ {
			t.Errorf("payload index on %s: %v (present %v), want %v", field, got, ok, typ)
		}
	}
	// Opening again keeps the collection and takes its vector size, whatever Dim says.
	again := openTestQdrant(t, s, QdrantConfig{Collection: "docs", Dim: 999})
	if again.dim != testDim || q.dim != testDim {
		t.Errorf("dense size %d and %d, want %d", q.dim, again.dim, testDim)
	}
}

func TestQdrantIngestAndSearchMatchSQLite(t *testing.T) {
	ctx := context.Background()
	s := startStandIn(t, "")
	q := openTestQdrant(t, s, QdrantConfig{})
	sqlite := openStore(t)
	qReports, sReports := ingestAll(t, q), ingestAll(t, sqlite)
	for src, rep := range sReports {
		got := qReports[src]
		if got.New != rep.New || got.Chunks != rep.Chunks || len(got.Skipped) != len(rep.Skipped) || got.New == 0 {
			t.Errorf("%s: qdrant ingest %+v, sqlite %+v", src, got, rep)
		}
	}
	// Ingesting again changes nothing: the document hashes are read back from the collection.
	for src, rep := range ingestAll(t, q) {
		if rep.New != 0 || rep.Changed != 0 || rep.Unchanged != sReports[src].New {
			t.Errorf("%s: second ingest %+v", src, rep)
		}
	}
	wantStats, err := sqlite.RAGSources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotStats, err := q.Sources(ctx)
	if err != nil || !slices.Equal(gotStats, wantStats) {
		t.Errorf("sources: %+v, %v; sqlite %+v", gotStats, err, wantStats)
	}
	for _, c := range []struct{ query, source, url string }{
		{"E0502", "", "https://doc.rust-lang.org/error_codes/E0502.html"},
		{"tokio::spawn", "", "https://tokio.rs/tokio/spawning"},
		{"Barrier wait", "", "https://doc.rust-lang.org/std/sync/struct.Barrier.html"},
		{"env::var", "", "https://doc.rust-lang.org/std/env/fn.var.html"},
		{"Shutdown", "", "https://doc.rust-lang.org/std/net/enum.Shutdown.html"},
		{"dangling references", "book", "https://doc.rust-lang.org/book/ch04-02-references-and-borrowing.html"},
	} {
		qHits, err := q.Search(ctx, nil, "", Query{Text: c.query, Source: c.source, Mode: ModeBM25, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		sHits, err := Search(ctx, sqlite, nil, "", Query{Text: c.query, Source: c.source, Mode: ModeBM25, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(qHits) == 0 || DocumentURL(qHits[0].URL) != c.url || DocumentURL(sHits[0].URL) != c.url {
			t.Errorf("%q: qdrant %v, sqlite %v, want %s first", c.query, hitURLs(qHits), hitURLs(sHits), c.url)
			continue
		}
		if qHits[0].BM25 <= 0 || qHits[0].Fused != qHits[0].BM25 || !strings.Contains(qHits[0].Snippet, store.SnippetOpen) {
			t.Errorf("%q: first hit %+v", c.query, qHits[0])
		}
	}
	if hits, err := q.Search(ctx, nil, "", Query{Text: "  ", Mode: ModeBM25}); err != nil || len(hits) != 0 {
		t.Errorf("blank query: %v %v", hitURLs(hits), err)
	}
}

func hitURLs(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.URL)
	}
	return out
}

func TestQdrantSourceFilterAndOnePerPage(t *testing.T) {
	ctx := context.Background()
	s := startStandIn(t, "")
	q := openTestQdrant(t, s, QdrantConfig{})
	ingestAll(t, q)
	hits, err := q.Search(ctx, nil, "", Query{Text: "borrow reference mutable", Source: "book", Mode: ModeBM25, K: 10})
	if err != nil || len(hits) != 1 {
		t.Fatalf("book hits %v, %v (the Book's one page gives one hit)", hitURLs(hits), err)
	}
	if hits[0].Source != "book" {
		t.Errorf("hit of %s", hits[0].Source)
	}
	req := s.LastQuery()
	must := req.GetFilter().GetMust()
	if len(must) != 1 || must[0].GetField().GetKey() != "source" || must[0].GetField().GetMatch().GetKeyword() != "book" {
		t.Errorf("filter %v", req.GetFilter())
	}
	all, err := q.Search(ctx, nil, "", Query{Text: "borrow reference mutable", Mode: ModeBM25, K: 10})
	if err != nil || len(all) < 3 {
		t.Fatalf("all sources: %v, %v", hitURLs(all), err)
	}
	seen := map[string]bool{}
	for _, h := range all {
		if seen[DocumentURL(h.URL)] {
			t.Errorf("page %s twice in %v", DocumentURL(h.URL), hitURLs(all))
		}
		seen[DocumentURL(h.URL)] = true
	}
}

func TestQdrantDenseAndHybrid(t *testing.T) {
	ctx := context.Background()
	s := startStandIn(t, "")
	q := openTestQdrant(t, s, QdrantConfig{})
	ingestAll(t, q)
	emb := bagEmbedder{dim: testDim}
	if _, err := q.Search(ctx, emb, "bag", Query{Text: "spawn", Mode: ModeDense}); !errors.Is(err, ErrNoVectors) {
		t.Fatalf("before embedding: %v, want ErrNoVectors", err)
	}
	total := 0
	for _, st := range mustSources(t, q) {
		total += st.Chunks
	}
	calls := 0
	n, err := q.EmbedMissing(ctx, emb, "bag", func(done, all int) { calls++ })
	if err != nil || n != total || calls == 0 {
		t.Fatalf("embedded %d of %d chunks (%d progress calls): %v", n, total, calls, err)
	}
	if again, err := q.EmbedMissing(ctx, emb, "bag", nil); err != nil || again != 0 {
		t.Fatalf("second run embedded %d: %v", again, err)
	}
	hits, err := q.Search(ctx, emb, "bag", Query{Text: "spawning tasks with tokio::spawn", Mode: ModeDense, K: 3})
	if err != nil || len(hits) == 0 || hits[0].Source != "tokio" || hits[0].Dense <= 0 {
		t.Fatalf("dense: %v, %v", hitURLs(hits), err)
	}
	hits, err = q.Search(ctx, emb, "bag", Query{Text: "tokio::spawn a task", Source: "tokio", Mode: ModeHybrid, K: 3})
	if err != nil || len(hits) == 0 || hits[0].Source != "tokio" || hits[0].Fused <= 0 {
		t.Fatalf("hybrid: %v, %v", hitURLs(hits), err)
	}
	checkHybridRequest(t, s.LastQuery(), "tokio")
	if !rrfSum(hits[0].Fused, qdrantRRFK) {
		t.Errorf("fused score %v is no sum of 1/(61 + rank) over two rankings", hits[0].Fused)
	}
	// Re-ingesting a changed page drops its vectors: those chunks are embedded again.
	dir := copyTree(t, "tokio")
	page := filepath.Join(dir, "spawning.md")
	data, _ := os.ReadFile(page)
	if err := os.WriteFile(page, append(data, []byte("\n\nOne more line.\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Ingest(ctx, q, mustSource(t, "tokio"), dir, DefaultChunkOptions); err != nil {
		t.Fatal(err)
	}
	if n, err := q.EmbedMissing(ctx, emb, "bag", nil); err != nil || n != s.Count(q.collection, "source", "tokio") {
		t.Errorf("after the edit embedded %d chunks, the tokio page has %d: %v", n, s.Count(q.collection, "source", "tokio"), err)
	}
}

// rrfSum reports whether score is 1/(k + r1) + 1/(k + r2) or 1/(k + r1) for ranks from 0 below
// candidates: k = 61 with ranks from 0 weighs a rank as the SQLite fusion's 1/(60 + rank from 1).
func rrfSum(score float64, k int) bool {
	for r1 := range candidates {
		one := 1 / float64(k+r1)
		if math.Abs(score-one) < 1e-6 {
			return true
		}
		for r2 := range candidates {
			if math.Abs(score-one-1/float64(k+r2)) < 1e-6 {
				return true
			}
		}
	}
	return false
}

// checkHybridRequest checks a hybrid Query: a sparse and a dense prefetch, each with the source
// filter, fused by RRF with k = 61.
func checkHybridRequest(t *testing.T, req *qdrant.QueryPoints, source string) {
	t.Helper()
	pf := req.GetPrefetch()
	if len(pf) != 2 || pf[0].GetUsing() != "bm25" || pf[1].GetUsing() != "dense" {
		t.Fatalf("prefetches %v", pf)
	}
	if pf[0].GetQuery().GetNearest().GetSparse() == nil || pf[1].GetQuery().GetNearest().GetDense() == nil {
		t.Errorf("prefetch queries %v / %v", pf[0].GetQuery(), pf[1].GetQuery())
	}
	for _, p := range pf {
		must := p.GetFilter().GetMust()
		if len(must) != 1 || must[0].GetField().GetMatch().GetKeyword() != source || p.GetLimit() < candidates {
			t.Errorf("prefetch %s: filter %v, limit %d", p.GetUsing(), p.GetFilter(), p.GetLimit())
		}
	}
	if rrf := req.GetQuery().GetRrf(); rrf == nil || rrf.GetK() != 61 {
		t.Errorf("fusion %v, want RRF with k 61", req.GetQuery())
	}
}

func mustSources(t *testing.T, q *Qdrant) []store.RAGSourceStats {
	t.Helper()
	stats, err := q.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func TestQdrantReingestReplacesChunks(t *testing.T) {
	ctx := context.Background()
	s := startStandIn(t, "")
	q := openTestQdrant(t, s, QdrantConfig{})
	dir := copyTree(t, "html/book")
	book := mustSource(t, "book")
	first, err := Ingest(ctx, q, book, dir, DefaultChunkOptions)
	if err != nil || first.New != 1 {
		t.Fatalf("%+v %v", first, err)
	}
	page := filepath.Join(dir, "ch04-02-references-and-borrowing.html")
	data, _ := os.ReadFile(page)
	edited := strings.Replace(string(data), "Dangling References", "Dangling Pointers Zyzzyva", 1)
	if err := os.WriteFile(page, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := Ingest(ctx, q, book, dir, DefaultChunkOptions)
	if err != nil || changed.Changed != 1 {
		t.Fatalf("after an edit: %+v %v", changed, err)
	}
	hits, err := q.Search(ctx, nil, "", Query{Text: "zyzzyva", Mode: ModeBM25})
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Title, "Dangling Pointers Zyzzyva") ||
		hits[0].URL != "https://doc.rust-lang.org/book/ch04-02-references-and-borrowing.html#dangling-references" {
		t.Fatalf("search after edit: %v %+v", err, hits)
	}
	// A shorter version of the page leaves no chunk of the longer one behind.
	short := "<html lang=\"en\"><body><main><h1 id=\"refs\">References and Borrowing</h1><p>Short now.</p></main></body></html>"
	if err := os.WriteFile(page, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	shorter, err := Ingest(ctx, q, book, dir, DefaultChunkOptions)
	if err != nil || shorter.Changed != 1 || shorter.Chunks != 1 {
		t.Fatalf("shorter page: %+v %v", shorter, err)
	}
	if n := s.Count(q.collection, "source", "book"); n != 1 {
		t.Errorf("%d chunks of the Book stored, want 1 (first ingest wrote %d)", n, first.Chunks)
	}
	if err := os.Remove(page); err != nil {
		t.Fatal(err)
	}
	removed, err := Ingest(ctx, q, book, dir, DefaultChunkOptions)
	if err != nil || removed.Removed != 1 {
		t.Fatalf("after removing the page: %+v %v", removed, err)
	}
	if n := s.Count(q.collection, "source", "book"); n != 0 {
		t.Errorf("%d chunks of a removed page", n)
	}
}

func TestQdrantErrorsNameTheServer(t *testing.T) {
	ctx := context.Background()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	lis.Close()
	_, err = OpenQdrant(ctx, QdrantConfig{Addr: down, Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach Qdrant at "+down) {
		t.Errorf("server down: %v", err)
	}

	s := startStandIn(t, "right-key")
	_, err = OpenQdrant(ctx, QdrantConfig{Addr: s.Addr(), APIKey: "wrong-key"})
	if err == nil || !strings.Contains(err.Error(), "Qdrant at "+s.Addr()+" refused the API key") {
		t.Errorf("wrong key: %v", err)
	}
	q := openTestQdrant(t, s, QdrantConfig{APIKey: "right-key"})
	if ok, err := q.HasChunks(ctx); err != nil || ok {
		t.Errorf("empty collection: has chunks %v, %v", ok, err)
	}
	// The embedder must give vectors of the collection's size.
	ingestAll(t, q)
	if _, err := q.EmbedMissing(ctx, bagEmbedder{dim: 8}, "small", nil); err == nil || !strings.Contains(err.Error(), "holds 64-dimensional vectors, the embedder gives 8") {
		t.Errorf("wrong dimension: %v", err)
	}
	// A collection made for something else is refused.
	raw, err := qdrant.NewClient(&qdrant.Config{Host: "127.0.0.1", Port: port(t, s.Addr()), APIKey: "right-key", SkipCompatibilityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "other",
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{"dense": {Size: 4, Distance: qdrant.Distance_Cosine}})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenQdrant(ctx, QdrantConfig{Addr: s.Addr(), APIKey: "right-key", Collection: "other"}); err == nil ||
		!strings.Contains(err.Error(), `collection other has no sparse vector "bm25"`) {
		t.Errorf("foreign collection: %v", err)
	}
}

func port(t *testing.T, addr string) int {
	_, p, err := ParseQdrantAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseQdrantAddr(t *testing.T) {
	for _, c := range []struct {
		in   string
		host string
		port int
	}{
		{"localhost:6334", "localhost", 6334},
		{"qdrant.internal", "qdrant.internal", 6334},
		{"10.0.0.5:7000", "10.0.0.5", 7000},
		{"[::1]:6334", "::1", 6334},
		{"::1", "::1", 6334},
		{":6334", "localhost", 6334},
	} {
		host, port, err := ParseQdrantAddr(c.in)
		if err != nil || host != c.host || port != c.port {
			t.Errorf("%q: %q %d %v", c.in, host, port, err)
		}
	}
	for _, bad := range []string{"", "host:port", "host:0", "host:70000", "[::1"} {
		if _, _, err := ParseQdrantAddr(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSparseVectors(t *testing.T) {
	// FNV-1a 32-bit test vectors.
	if TermIndex("a") != 0xe40c292c || TermIndex("foobar") != 0xbf9cf968 {
		t.Fatalf("TermIndex: %#x %#x", TermIndex("a"), TermIndex("foobar"))
	}
	q := QuerySparse("How does Vec::retain work? vec VEC")
	for _, term := range []string{"vec::retain", "vec", "retain", "how", "does", "work"} {
		if i, ok := slices.BinarySearch(q.Indices, TermIndex(term)); !ok || q.Values[i] != 1 {
			t.Errorf("query vector lacks %q", term)
		}
	}
	if len(q.Indices) != 6 || !slices.IsSorted(q.Indices) {
		t.Errorf("query vector %v", q)
	}
	if empty := QuerySparse(" ,;- "); len(empty.Indices) != 0 {
		t.Errorf("blank query: %v", empty)
	}
	c := ChunkSparse("Borrowing", "borrowing is borrowing; a reference", "")
	value := func(term string) float32 {
		i, _ := slices.BinarySearch(c.Indices, TermIndex(term))
		return c.Values[i]
	}
	// borrowing: tf 5 (title) + 2 (text) = 7; reference: tf 1; the title weighs more, and a
	// repeated term gains less than in proportion.
	if !(value("borrowing") > value("reference")) || value("borrowing") >= 7*value("reference") {
		t.Errorf("borrowing %v, reference %v", value("borrowing"), value("reference"))
	}
	length := 5.0 + 5
	norm := sparseK1 * (1 - sparseB + sparseB*length/sparseAvgLen)
	if want := 1 * (sparseK1 + 1) / (1 + norm); math.Abs(float64(value("reference"))-want) > 1e-6 {
		t.Errorf("reference %v, want %v", value("reference"), want)
	}
}

// TestQdrantReal ingests and searches the test pages on a real Qdrant server (QDRANT_ADDR, e.g.
// localhost:6334; QDRANT_API_KEY when it needs one) in a collection of its own, removed after.
func TestQdrantReal(t *testing.T) {
	addr := os.Getenv("QDRANT_ADDR")
	if addr == "" {
		t.Skip("QDRANT_ADDR is not set: no real Qdrant server to test against (docker run -p 6334:6334 qdrant/qdrant)")
	}
	ctx := context.Background()
	name := fmt.Sprintf("rustexpert_test_%d", time.Now().UnixNano())
	q, err := OpenQdrant(ctx, QdrantConfig{Addr: addr, APIKey: os.Getenv("QDRANT_API_KEY"), Collection: name, Dim: testDim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := q.client.DeleteCollection(context.Background(), name); err != nil {
			t.Errorf("removing the test collection %s: %v", name, err)
		}
		q.Close()
	})
	ingestAll(t, q)
	for query, url := range map[string]string{
		"E0502":        "https://doc.rust-lang.org/error_codes/E0502.html",
		"tokio::spawn": "https://tokio.rs/tokio/spawning",
		"Barrier wait": "https://doc.rust-lang.org/std/sync/struct.Barrier.html",
	} {
		hits, err := q.Search(ctx, nil, "", Query{Text: query, Mode: ModeBM25, K: 3})
		if err != nil || len(hits) == 0 || DocumentURL(hits[0].URL) != url {
			t.Errorf("%q: %v %v, want %s first", query, hitURLs(hits), err, url)
		}
	}
	emb := bagEmbedder{dim: testDim}
	if _, err := q.EmbedMissing(ctx, emb, "bag", nil); err != nil {
		t.Fatal(err)
	}
	hits, err := q.Search(ctx, emb, "bag", Query{Text: "tokio::spawn a task", Source: "tokio", Mode: ModeHybrid, K: 3})
	if err != nil || len(hits) == 0 || hits[0].Source != "tokio" {
		t.Errorf("hybrid: %v %v", hitURLs(hits), err)
	}
	stats, err := q.Sources(ctx)
	if err != nil || len(stats) != len(corpusSources) {
		t.Errorf("sources %+v, %v", stats, err)
	}
}
