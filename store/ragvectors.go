package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Dense vectors live in rag_vec, a sqlite-vec vec0 table (rowid = chunk id, the vector, the chunk's
// source as a metadata column for the source filter), made when the first vector of an embedding
// model arrives: its dimension is known only then. rag_vector_model records that model and
// dimension. One model's vectors at a time: vectors of another model or size replace the table.

// ragVecTable is the vec0 table of the chunk vectors of dimension dim (cosine distance).
func ragVecTable(dim int) string {
	return fmt.Sprintf(`CREATE VIRTUAL TABLE rag_vec USING vec0 (
		embedding float[%d] distance_metric=cosine,
		source text
	)`, dim)
}

// ragVecDeleteTrigger deletes a chunk's vector with the chunk (a re-ingested page, a removed source):
// vec0 tables have no foreign keys.
const ragVecDeleteTrigger = `CREATE TRIGGER rag_chunks_vec_ad AFTER DELETE ON rag_chunks BEGIN
	DELETE FROM rag_vec WHERE rowid = old.id;
	UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1;
END`

// RAGPassage is a chunk's text to embed.
type RAGPassage struct {
	ChunkID     int64
	Title, Text string
}

// RAGVector is a chunk's dense vector.
type RAGVector struct {
	ChunkID int64
	Vector  []float32
}

// RAGVectorSpace is the embedding model and dimension of the stored vectors.
type RAGVectorSpace struct {
	Model string
	Dim   int
}

// RAGNear is a chunk with its vector's cosine similarity to a query vector.
type RAGNear struct {
	ChunkID  int64
	Document int64
	Cosine   float64
}

// RAGVectorModel returns the model and dimension of the stored vectors; ok is false before the
// first vector.
func (s *Store) RAGVectorModel(ctx context.Context) (space RAGVectorSpace, ok bool, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT model, dim FROM rag_vector_model WHERE id = 1`).Scan(&space.Model, &space.Dim)
	if errors.Is(err, sql.ErrNoRows) {
		return space, false, nil
	}
	if err != nil {
		return space, false, fmt.Errorf("rag vector model: %w", err)
	}
	return space, true, nil
}

// hasRAGVectors reports whether rag_vec holds model's vectors.
func (s *Store) hasRAGVectors(ctx context.Context, model string) (RAGVectorSpace, bool, error) {
	space, ok, err := s.RAGVectorModel(ctx)
	return space, ok && space.Model == model, err
}

// RAGPassagesToEmbed returns up to limit chunks that have no vector from model yet (all chunks
// while the stored vectors are another model's).
func (s *Store) RAGPassagesToEmbed(ctx context.Context, model string, limit int) ([]RAGPassage, error) {
	_, current, err := s.hasRAGVectors(ctx, model)
	if err != nil {
		return nil, err
	}
	query := `SELECT c.id, c.title, c.text FROM rag_chunks c ORDER BY c.id LIMIT ?`
	if current {
		query = `SELECT c.id, c.title, c.text FROM rag_chunks c WHERE c.id NOT IN (SELECT rowid FROM rag_vec)
			ORDER BY c.id LIMIT ?`
	}
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGPassage, error) {
		var p RAGPassage
		err := row.Scan(&p.ChunkID, &p.Title, &p.Text)
		return p, err
	}, query, limit)
	if err != nil {
		return nil, fmt.Errorf("rag passages to embed: %w", err)
	}
	return out, nil
}

// CountRAGPassagesToEmbed counts the chunks that have no vector from model yet.
func (s *Store) CountRAGPassagesToEmbed(ctx context.Context, model string) (int, error) {
	_, current, err := s.hasRAGVectors(ctx, model)
	if err != nil {
		return 0, err
	}
	query := `SELECT count(*) FROM rag_chunks`
	if current {
		query = `SELECT count(*) FROM rag_chunks WHERE id NOT IN (SELECT rowid FROM rag_vec)`
	}
	var n int
	if err := s.read.QueryRowContext(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rag passages to embed: %w", err)
	}
	return n, nil
}

// PutRAGVectors stores vectors from model, replacing older ones of their chunks, in one
// transaction. Vectors of another model or size than the stored ones replace them all (the vec0
// table is made anew), so every chunk is embedded again. A chunk deleted meanwhile is skipped.
func (s *Store) PutRAGVectors(ctx context.Context, model string, vectors []RAGVector) error {
	if len(vectors) == 0 {
		return nil
	}
	dim := len(vectors[0].Vector)
	for _, v := range vectors {
		if len(v.Vector) == 0 || len(v.Vector) != dim {
			return fmt.Errorf("%w: rag vector of chunk %d: %d values, the batch's first has %d", ErrInvalid, v.ChunkID, len(v.Vector), dim)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := useRAGVectorSpace(ctx, tx, RAGVectorSpace{Model: model, Dim: dim}); err != nil {
			return err
		}
		for _, v := range vectors {
			if err := putRAGVector(ctx, tx, v.ChunkID, encodeVector(v.Vector)); err != nil {
				return err
			}
		}
		return bumpRAGVectorGeneration(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store rag vectors of %s: %w", model, err)
	}
	return nil
}

// putRAGVector stores one chunk's vector (encoded), replacing the one it had.
func putRAGVector(ctx context.Context, tx *sql.Tx, chunk int64, vector []byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM rag_vec WHERE rowid = ?`, chunk); err != nil {
		return fmt.Errorf("rag vector of chunk %d: %w", chunk, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO rag_vec (rowid, embedding, source)
		SELECT c.id, ?, d.source FROM rag_chunks c JOIN rag_documents d ON d.id = c.document WHERE c.id = ?`, vector, chunk)
	if err != nil {
		return fmt.Errorf("rag vector of chunk %d: %w", chunk, err)
	}
	return nil
}

// useRAGVectorSpace makes rag_vec hold vectors of space: when the recorded model or dimension is
// another (or there is no table yet), the table and its trigger are made anew, empty.
func useRAGVectorSpace(ctx context.Context, tx *sql.Tx, space RAGVectorSpace) error {
	var cur RAGVectorSpace
	err := tx.QueryRowContext(ctx, `SELECT model, dim FROM rag_vector_model WHERE id = 1`).Scan(&cur.Model, &cur.Dim)
	if err == nil && cur == space {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("rag vector model: %w", err)
	}
	for _, stmt := range []string{`DROP TRIGGER IF EXISTS rag_chunks_vec_ad`, `DROP TABLE IF EXISTS rag_vec`,
		ragVecTable(space.Dim), ragVecDeleteTrigger} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("make the vector table for %s (%d values): %w", space.Model, space.Dim, err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO rag_vector_model (id, model, dim) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET model = excluded.model, dim = excluded.dim`, space.Model, space.Dim)
	if err != nil {
		return fmt.Errorf("record the vector model %s: %w", space.Model, err)
	}
	return bumpRAGVectorGeneration(ctx, tx)
}

func bumpRAGVectorGeneration(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("rag vector generation: %w", err)
	}
	return nil
}

// RAGVectors returns every vector from model, of one source or of all (""), by chunk id; none
// while the stored vectors are another model's.
func (s *Store) RAGVectors(ctx context.Context, model, source string) ([]RAGVector, error) {
	if _, current, err := s.hasRAGVectors(ctx, model); err != nil || !current {
		return nil, err
	}
	query := `SELECT rowid, embedding FROM rag_vec`
	var args []any
	if source != "" {
		query += ` WHERE source = ?`
		args = append(args, source)
	}
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGVector, error) {
		var v RAGVector
		var blob []byte
		if err := row.Scan(&v.ChunkID, &blob); err != nil {
			return v, err
		}
		v.Vector = decodeVector(blob)
		return v, nil
	}, query+` ORDER BY rowid`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag vectors: %w", err)
	}
	return out, nil
}

// NearestRAGChunks returns the k chunks (of source, or of all when "") whose vectors from model are
// nearest to q by cosine, nearest first, with their documents: a sqlite-vec KNN query. It returns
// none while the stored vectors are another model's.
func (s *Store) NearestRAGChunks(ctx context.Context, model, source string, q []float32, k int) ([]RAGNear, error) {
	space, current, err := s.hasRAGVectors(ctx, model)
	if err != nil || !current || k <= 0 {
		return nil, err
	}
	if len(q) != space.Dim {
		return nil, fmt.Errorf("%w: the query vector has %d values, the stored vectors of %s have %d", ErrInvalid, len(q), model, space.Dim)
	}
	filter, args := "", []any{encodeVector(q), k}
	if source != "" {
		filter, args = ` AND source = ?`, append(args, source)
	}
	out, err := queryAll(ctx, s.read, scanRAGNear, `WITH knn AS MATERIALIZED (
			SELECT rowid AS id, distance FROM rag_vec WHERE embedding MATCH ? AND k = ?`+filter+`)
		SELECT knn.id, c.document, 1 - knn.distance FROM knn JOIN rag_chunks c ON c.id = knn.id
		ORDER BY knn.distance, knn.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("nearest rag chunks: %w", err)
	}
	return out, nil
}

// RAGCosines returns the cosine of q with the vector from model of each chunk among ids that has
// one (sqlite-vec's vec_distance_cosine, one lookup per id: CROSS JOIN keeps the ids the outer loop,
// else SQLite may scan every vector).
func (s *Store) RAGCosines(ctx context.Context, model string, q []float32, ids []int64) (map[int64]float64, error) {
	out := make(map[int64]float64, len(ids))
	space, current, err := s.hasRAGVectors(ctx, model)
	if err != nil || !current || len(ids) == 0 {
		return out, err
	}
	if len(q) != space.Dim {
		return nil, fmt.Errorf("%w: the query vector has %d values, the stored vectors of %s have %d", ErrInvalid, len(q), model, space.Dim)
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, encodeVector(q))
	for _, id := range ids {
		args = append(args, id)
	}
	near, err := queryAll(ctx, s.read, scanRAGNear, `SELECT v.rowid, 0, 1 - vec_distance_cosine(v.embedding, ?)
		FROM (VALUES (?)`+strings.Repeat(", (?)", len(ids)-1)+`) ids CROSS JOIN rag_vec v ON v.rowid = ids.column1`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag cosines: %w", err)
	}
	for _, n := range near {
		out[n.ChunkID] = n.Cosine
	}
	return out, nil
}

// RAGHitsByID returns the chunks with the given ids (in that order) as hits with score 0 and the
// start of their text as the snippet.
func (s *Store) RAGHitsByID(ctx context.Context, ids []int64) ([]RAGHit, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	hits, err := queryAll(ctx, s.read, scanRAGHit, `SELECT c.id, d.source, c.title,
			d.url || CASE WHEN c.anchor = '' THEN '' ELSE '#' || c.anchor END, d.licence, substr(c.text, 1, 240), c.text, 0.0
		FROM rag_chunks c JOIN rag_documents d ON d.id = c.document
		WHERE c.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag hits: %w", err)
	}
	byID := make(map[int64]RAGHit, len(hits))
	for _, h := range hits {
		byID[h.ChunkID] = h
	}
	out := make([]RAGHit, 0, len(ids))
	for _, id := range ids {
		if h, ok := byID[id]; ok {
			out = append(out, h)
		}
	}
	return out, nil
}

func scanRAGNear(row scanner) (RAGNear, error) {
	var n RAGNear
	err := row.Scan(&n.ChunkID, &n.Document, &n.Cosine)
	return n, err
}

// moveRAGVectors moves the vectors of a database from before rag_vec (the table rag_vectors) into
// rag_vec and drops rag_vectors, in one transaction: the vectors of the model most chunks have, of
// its most common size (any others are embedded again). Nothing to do once rag_vectors is gone.
func (s *Store) moveRAGVectors(ctx context.Context) error {
	var n int
	if err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'rag_vectors'`).Scan(&n); err != nil {
		return fmt.Errorf("look for rag_vectors: %w", err)
	}
	if n == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var space RAGVectorSpace
		var bytes int
		err := tx.QueryRowContext(ctx, `SELECT model, length(vector), count(*) AS n FROM rag_vectors
			GROUP BY model, length(vector) ORDER BY n DESC, model LIMIT 1`).Scan(&space.Model, &bytes, &n)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case bytes > 0 && bytes%4 == 0:
			space.Dim = bytes / 4
			if err := useRAGVectorSpace(ctx, tx, space); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO rag_vec (rowid, embedding, source)
				SELECT v.chunk, v.vector, d.source FROM rag_vectors v JOIN rag_chunks c ON c.id = v.chunk
					JOIN rag_documents d ON d.id = c.document
				WHERE v.model = ? AND length(v.vector) = ? ORDER BY v.chunk`, space.Model, bytes); err != nil {
				return fmt.Errorf("copy the vectors of %s: %w", space.Model, err)
			}
		}
		_, err = tx.ExecContext(ctx, `DROP TABLE rag_vectors`)
		return err
	})
	if err != nil {
		return fmt.Errorf("move rag_vectors into rag_vec: %w", err)
	}
	return nil
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
