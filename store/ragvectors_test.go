package store

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"rustexpert/migrations"
)

// ragChunks stores one document of source with n chunks and returns their ids.
func ragChunks(t *testing.T, st *Store, source, path string, n int) []int64 {
	t.Helper()
	ctx := t.Context()
	chunks := make([]RAGChunk, n)
	for i := range chunks {
		chunks[i] = RAGChunk{Seq: i, Title: fmt.Sprintf("%s %s %d", source, path, i), Text: "text"}
	}
	doc := RAGDocument{Source: source, Path: path, URL: "https://x/" + source + "/" + path, Title: path, SHA256: "00"}
	if err := st.PutRAGDocument(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	return chunkIDs(t, st, source, path)
}

func chunkIDs(t *testing.T, st *Store, source, path string) []int64 {
	t.Helper()
	ids, err := queryAll(t.Context(), st.read, scanValue[int64], `SELECT c.id FROM rag_chunks c
		JOIN rag_documents d ON d.id = c.document WHERE d.source = ? AND d.path = ? ORDER BY c.seq`, source, path)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// randomVectors gives each chunk a random unit vector of dim values.
func randomVectors(rnd *rand.Rand, ids []int64, dim int) []RAGVector {
	out := make([]RAGVector, len(ids))
	for i, id := range ids {
		out[i] = RAGVector{ChunkID: id, Vector: randomUnit(rnd, dim)}
	}
	return out
}

func randomUnit(rnd *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	norm := 0.0
	for j := range v {
		v[j] = float32(rnd.NormFloat64())
		norm += float64(v[j]) * float64(v[j])
	}
	for j := range v {
		v[j] /= float32(math.Sqrt(norm))
	}
	return v
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// tableExists reports whether the schema has a table (or virtual table) or trigger of that name.
func tableExists(t *testing.T, st *Store, name string) bool {
	t.Helper()
	var n int
	if err := st.read.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func vecRows(t *testing.T, st *Store) int {
	t.Helper()
	var n int
	if err := st.read.QueryRowContext(t.Context(), `SELECT count(*) FROM rag_vec`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRAGVecTableIsMadeWithTheFirstVector(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	ids := ragChunks(t, st, "book", "a.html", 3)
	if _, ok, err := st.RAGVectorModel(ctx); ok || err != nil {
		t.Fatalf("a new database records a vector model (%v)", err)
	}
	if tableExists(t, st, "rag_vec") {
		t.Fatal("rag_vec exists before any vector")
	}
	gen0, _ := st.RAGVectorGeneration(ctx)
	if err := st.PutRAGVectors(ctx, "m1", randomVectors(rand.New(rand.NewPCG(1, 1)), ids[:2], 5)); err != nil {
		t.Fatal(err)
	}
	space, ok, err := st.RAGVectorModel(ctx)
	if err != nil || !ok || space != (RAGVectorSpace{Model: "m1", Dim: 5}) {
		t.Fatalf("recorded %+v %v %v, want m1 of 5 values", space, ok, err)
	}
	if !tableExists(t, st, "rag_vec") || !tableExists(t, st, "rag_chunks_vec_ad") || vecRows(t, st) != 2 {
		t.Fatal("no vec0 table with the two vectors, or no delete trigger")
	}
	if gen, _ := st.RAGVectorGeneration(ctx); gen == gen0 {
		t.Error("storing vectors left the vector generation as it was")
	}
	if n, err := st.CountRAGPassagesToEmbed(ctx, "m1"); err != nil || n != 1 {
		t.Errorf("%d chunks to embed (%v), want 1", n, err)
	}
	if p, err := st.RAGPassagesToEmbed(ctx, "m1", 10); err != nil || len(p) != 1 || p[0].ChunkID != ids[2] {
		t.Errorf("passages to embed %+v (%v), want chunk %d", p, err, ids[2])
	}
	// A replaced vector is one row, with the new values.
	v := RAGVector{ChunkID: ids[0], Vector: []float32{1, 0, 0, 0, 0}}
	if err := st.PutRAGVectors(ctx, "m1", []RAGVector{v}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RAGVectors(ctx, "m1", "")
	if err != nil || len(got) != 2 || got[0].ChunkID != ids[0] || !slices.Equal(got[0].Vector, v.Vector) {
		t.Errorf("vectors after a replacement: %+v %v", got, err)
	}
	if err := st.PutRAGVectors(ctx, "m1", []RAGVector{{ChunkID: ids[2], Vector: []float32{1, 0, 0, 0, 0}}, {ChunkID: ids[1], Vector: []float32{1}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a batch of two sizes: %v, want ErrInvalid", err)
	}
	// A chunk that no longer exists is skipped.
	if err := st.PutRAGVectors(ctx, "m1", []RAGVector{{ChunkID: 9999, Vector: []float32{1, 0, 0, 0, 0}}}); err != nil || vecRows(t, st) != 2 {
		t.Errorf("vector of a missing chunk: %v, %d rows", err, vecRows(t, st))
	}
}

func TestRAGVectorsOfAnotherModelOrSizeReplaceAll(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(2, 2))
	ids := ragChunks(t, st, "book", "a.html", 4)
	if err := st.PutRAGVectors(ctx, "m1", randomVectors(rnd, ids, 4)); err != nil {
		t.Fatal(err)
	}
	for _, next := range []RAGVectorSpace{{"m2", 4}, {"m2", 6}} {
		if err := st.PutRAGVectors(ctx, next.Model, randomVectors(rnd, ids[:1], next.Dim)); err != nil {
			t.Fatal(err)
		}
		space, _, _ := st.RAGVectorModel(ctx)
		if space != next || vecRows(t, st) != 1 {
			t.Fatalf("after %+v: recorded %+v, %d vectors; want only the new one", next, space, vecRows(t, st))
		}
		if n, err := st.CountRAGPassagesToEmbed(ctx, next.Model); err != nil || n != 3 {
			t.Errorf("%+v: %d chunks to embed (%v), want 3", next, n, err)
		}
	}
	if n, err := st.CountRAGPassagesToEmbed(ctx, "m1"); err != nil || n != 4 {
		t.Errorf("m1: %d chunks to embed (%v), want all 4", n, err)
	}
	if vs, err := st.RAGVectors(ctx, "m1", ""); err != nil || len(vs) != 0 {
		t.Errorf("m1 still has %d vectors (%v)", len(vs), err)
	}
	if near, err := st.NearestRAGChunks(ctx, "m1", "", randomUnit(rnd, 4), 3); err != nil || len(near) != 0 {
		t.Errorf("m1 still finds %v (%v)", near, err)
	}
	if _, err := st.NearestRAGChunks(ctx, "m2", "", randomUnit(rnd, 4), 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("a query of 4 values against vectors of 6: %v, want ErrInvalid", err)
	}
}

func TestRAGVectorsAreDeletedWithTheirChunks(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(3, 3))
	a := ragChunks(t, st, "book", "a.html", 3)
	b := ragChunks(t, st, "std", "b.html", 2)
	if err := st.PutRAGVectors(ctx, "m", randomVectors(rnd, append(slices.Clone(a), b...), 4)); err != nil {
		t.Fatal(err)
	}
	gen0, _ := st.RAGVectorGeneration(ctx)
	// Re-ingesting a changed page replaces its chunks: their vectors go with them.
	newA := ragChunks(t, st, "book", "a.html", 2)
	if gen, _ := st.RAGVectorGeneration(ctx); gen == gen0 {
		t.Error("deleting chunks with vectors left the vector generation as it was")
	}
	vs, err := st.RAGVectors(ctx, "m", "")
	if err != nil || len(vs) != 2 || vs[0].ChunkID != b[0] || vs[1].ChunkID != b[1] {
		t.Fatalf("after re-ingesting a.html: vectors %+v (%v), want only b.html's %v", vs, err, b)
	}
	if n, _ := st.CountRAGPassagesToEmbed(ctx, "m"); n != len(newA) {
		t.Errorf("%d chunks to embed, want a.html's new %d", n, len(newA))
	}
	// Removing a document (source removal) deletes its chunks' vectors.
	if err := st.DeleteRAGDocuments(ctx, "std", []string{"b.html"}); err != nil {
		t.Fatal(err)
	}
	if n := vecRows(t, st); n != 0 {
		t.Errorf("%d vectors left after deleting every embedded chunk", n)
	}
}

// nearestInGo ranks the vectors by their dot product with q (all unit vectors: the cosine).
func nearestInGo(vs []RAGVector, q []float32, k int) []RAGNear {
	var out []RAGNear
	for _, v := range vs {
		out = append(out, RAGNear{ChunkID: v.ChunkID, Cosine: dot(v.Vector, q)})
	}
	slices.SortFunc(out, func(a, b RAGNear) int { return cmp.Compare(b.Cosine, a.Cosine) })
	return out[:min(k, len(out))]
}

func TestNearestRAGChunksIsTheCosineRanking(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(4, 4))
	book := ragChunks(t, st, "book", "a.html", 120)
	// A source name past 12 bytes: vec0 keeps such text values apart from the vector chunks.
	std := ragChunks(t, st, "rust-by-example", "b.html", 80)
	vs := randomVectors(rnd, append(slices.Clone(book), std...), 24)
	if err := st.PutRAGVectors(ctx, "m", vs); err != nil {
		t.Fatal(err)
	}
	docOf, err := st.RAGChunkDocuments(ctx, append(slices.Clone(book), std...))
	if err != nil {
		t.Fatal(err)
	}
	q := randomUnit(rnd, 24)
	check := func(source string, want []RAGNear) {
		got, err := st.NearestRAGChunks(ctx, "m", source, q, 15)
		if err != nil || len(got) != len(want) {
			t.Fatalf("source %q: %d nearest (%v), want %d", source, len(got), err, len(want))
		}
		for i := range got {
			if got[i].ChunkID != want[i].ChunkID || math.Abs(got[i].Cosine-want[i].Cosine) > 1e-5 {
				t.Errorf("source %q, rank %d: chunk %d (cosine %.6f), want %d (%.6f)", source, i+1,
					got[i].ChunkID, got[i].Cosine, want[i].ChunkID, want[i].Cosine)
			}
			if got[i].Document != docOf[got[i].ChunkID] {
				t.Errorf("chunk %d has document %d, want %d", got[i].ChunkID, got[i].Document, docOf[got[i].ChunkID])
			}
		}
	}
	check("", nearestInGo(vs, q, 15))
	check("rust-by-example", nearestInGo(vs[len(book):], q, 15))
	// The cosines of given chunks, and none for a chunk without a vector.
	ids := []int64{book[3], std[7], 99999}
	cos, err := st.RAGCosines(ctx, "m", q, ids)
	want := map[int64]float64{book[3]: dot(vs[3].Vector, q), std[7]: dot(vs[len(book)+7].Vector, q)}
	if err != nil || len(cos) != 2 {
		t.Fatalf("cosines %v (%v), want %v", cos, err, want)
	}
	for id, c := range want {
		if math.Abs(cos[id]-c) > 1e-5 {
			t.Errorf("cosine of chunk %d: %.6f, want %.6f", id, cos[id], c)
		}
	}
}

// An old database keeps its vectors in rag_vectors: opening it moves the largest model's into rag_vec.
func TestOpenMovesOldRAGVectors(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(5, 5))
	book := ragChunks(t, st, "book", "a.html", 3)
	std := ragChunks(t, st, "std", "b.html", 2)
	old := randomVectors(rnd, append(slices.Clone(book), std[0]), 8)
	makeOldSchema(t, st)
	for _, v := range old {
		putOldVector(t, st, v.ChunkID, "minilm", v.Vector)
	}
	putOldVector(t, st, std[1], "other", randomUnit(rnd, 8))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tableExists(t, st, "rag_vectors") {
		t.Error("rag_vectors is still there")
	}
	if space, ok, _ := st.RAGVectorModel(ctx); !ok || space != (RAGVectorSpace{"minilm", 8}) {
		t.Fatalf("recorded %+v, want minilm of 8 values", space)
	}
	got, err := st.RAGVectors(ctx, "minilm", "")
	if err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("moved vectors %+v (%v), want %+v", got, err, old)
	}
	if per, err := st.RAGSourceVectors(ctx, "minilm"); err != nil || !reflect.DeepEqual(per, map[string]int{"book": 3, "std": 1}) {
		t.Errorf("vectors per source %v (%v)", per, err)
	}
	if n, _ := st.CountRAGPassagesToEmbed(ctx, "minilm"); n != 1 {
		t.Errorf("%d chunks to embed, want the other model's one", n)
	}
	near, err := st.NearestRAGChunks(ctx, "minilm", "", old[2].Vector, 1)
	if err != nil || len(near) != 1 || near[0].ChunkID != old[2].ChunkID {
		t.Errorf("nearest to chunk %d's own vector: %+v %v", old[2].ChunkID, near, err)
	}
	// Deleting a chunk deletes its moved vector.
	if err := st.DeleteRAGDocuments(ctx, "book", []string{"a.html"}); err != nil || vecRows(t, st) != 1 {
		t.Errorf("after deleting a.html: %v, %d vectors, want 1", err, vecRows(t, st))
	}
}

// makeOldSchema turns the database's rag vectors back into what they were before migration 0025:
// the table rag_vectors (0011) with the generation triggers (0020), no rag_vector_model.
func makeOldSchema(t *testing.T, st *Store) {
	t.Helper()
	body, err := fs.ReadFile(migrations.FS, "0011_rag_vectors.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`DROP TABLE rag_vector_model`, `DELETE FROM schema_migrations WHERE name = '0025_rag_vec.sql'`,
		string(body), `CREATE TRIGGER rag_vectors_ai AFTER INSERT ON rag_vectors BEGIN
			UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1; END`} {
		if _, err := st.write.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func putOldVector(t *testing.T, st *Store, chunk int64, model string, v []float32) {
	t.Helper()
	if _, err := st.write.ExecContext(t.Context(), `INSERT INTO rag_vectors (chunk, model, vector) VALUES (?, ?, ?)`,
		chunk, model, encodeVector(v)); err != nil {
		t.Fatal(err)
	}
}
