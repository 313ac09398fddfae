package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

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

// RAGPassagesToEmbed returns up to limit chunks that have no vector from model yet.
func (s *Store) RAGPassagesToEmbed(ctx context.Context, model string, limit int) ([]RAGPassage, error) {
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGPassage, error) {
		var p RAGPassage
		err := row.Scan(&p.ChunkID, &p.Title, &p.Text)
		return p, err
	}, `SELECT c.id, c.title, c.text FROM rag_chunks c LEFT JOIN rag_vectors v ON v.chunk = c.id AND v.model = ?
		WHERE v.chunk IS NULL ORDER BY c.id LIMIT ?`, model, limit)
	if err != nil {
		return nil, fmt.Errorf("rag passages to embed: %w", err)
	}
	return out, nil
}

// CountRAGPassagesToEmbed counts the chunks that have no vector from model yet.
func (s *Store) CountRAGPassagesToEmbed(ctx context.Context, model string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM rag_chunks c LEFT JOIN rag_vectors v ON v.chunk = c.id AND v.model = ?
		WHERE v.chunk IS NULL`, model).Scan(&n)
	return n, err
}

// PutRAGVectors stores vectors from model, replacing older ones, in one transaction.
func (s *Store) PutRAGVectors(ctx context.Context, model string, vectors []RAGVector) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, v := range vectors {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rag_vectors (chunk, model, vector) VALUES (?, ?, ?)
				ON CONFLICT (chunk) DO UPDATE SET model = excluded.model, vector = excluded.vector`,
				v.ChunkID, model, encodeVector(v.Vector)); err != nil {
				return fmt.Errorf("rag vector of chunk %d: %w", v.ChunkID, err)
			}
		}
		return nil
	})
}

// RAGVectors returns every vector from model, of one source or of all ("").
func (s *Store) RAGVectors(ctx context.Context, model, source string) ([]RAGVector, error) {
	query := `SELECT v.chunk, v.vector FROM rag_vectors v`
	args := []any{model}
	if source != "" {
		query += ` JOIN rag_chunks c ON c.id = v.chunk JOIN rag_documents d ON d.id = c.document WHERE v.model = ? AND d.source = ?`
		args = append(args, source)
	} else {
		query += ` WHERE v.model = ?`
	}
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGVector, error) {
		var v RAGVector
		var blob []byte
		if err := row.Scan(&v.ChunkID, &blob); err != nil {
			return v, err
		}
		v.Vector = decodeVector(blob)
		return v, nil
	}, query+` ORDER BY v.chunk`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag vectors: %w", err)
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
