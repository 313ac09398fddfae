package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// RAGDocument is one ingested documentation page.
type RAGDocument struct {
	Source  string
	Path    string // relative to the source's folder
	URL     string
	Title   string
	Licence string
	SHA256  string // of the file's bytes: an unchanged file is not parsed again
}

// RAGChunk is one searchable piece of a document.
type RAGChunk struct {
	Seq    int
	Title  string
	Anchor string
	Text   string
	Terms  string // the extra indexing form (identifier parts)
	Tokens int
}

// RAGSearch is a search over the chunks. Match is an FTS5 query (built by rag.MatchQuery).
type RAGSearch struct {
	Match  string
	Source string // "" for all sources
	Limit  int
}

// RAGHit is one ranked chunk.
type RAGHit struct {
	ChunkID int64
	Source  string
	Title   string
	URL     string // the document's URL with the chunk's anchor
	Licence string
	Snippet string // FTS5 snippet: matches between \x02 and \x03, not escaped
	Text    string
	Score   float64 // BM25, higher is better
}

// RAGSourceStats counts one source's documents and chunks.
type RAGSourceStats struct {
	Source    string
	Documents int
	Chunks    int
}

// SnippetOpen and SnippetClose mark the matched words in RAGHit.Snippet.
const (
	SnippetOpen  = "\x02"
	SnippetClose = "\x03"
)

// RAGDocumentHashes returns the sha256 of every stored document of source by path.
func (s *Store) RAGDocumentHashes(ctx context.Context, source string) (map[string]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT path, sha256 FROM rag_documents WHERE source = ?`, source)
	if err != nil {
		return nil, fmt.Errorf("rag hashes of %s: %w", source, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var path, sum string
		if err := rows.Scan(&path, &sum); err != nil {
			return nil, err
		}
		out[path] = sum
	}
	return out, rows.Err()
}

// PutRAGDocument stores a document and replaces its chunks, in one transaction.
func (s *Store) PutRAGDocument(ctx context.Context, d RAGDocument, chunks []RAGChunk) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO rag_documents (source, path, url, title, licence, sha256, ingested_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, path) DO UPDATE SET url = excluded.url, title = excluded.title,
				licence = excluded.licence, sha256 = excluded.sha256, ingested_at = excluded.ingested_at
			RETURNING id`, d.Source, d.Path, d.URL, d.Title, d.Licence, d.SHA256, now()).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rag_chunks WHERE document = ?`, id); err != nil {
			return err
		}
		for _, c := range chunks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rag_chunks (document, seq, title, anchor, text, terms, tokens)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, id, c.Seq, c.Title, c.Anchor, c.Text, c.Terms, c.Tokens); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store rag document %s/%s: %w", d.Source, d.Path, err)
	}
	return nil
}

// DeleteRAGDocuments deletes documents of source (and their chunks) by path.
func (s *Store) DeleteRAGDocuments(ctx context.Context, source string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, p := range paths {
			if _, err := tx.ExecContext(ctx, `DELETE FROM rag_documents WHERE source = ? AND path = ?`, source, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete rag documents of %s: %w", source, err)
	}
	return nil
}

// SearchRAG returns the best chunks for the query by BM25 (the title weighs 5, the text 1 and the
// identifier parts 0.5). An empty Match gives no hits.
func (s *Store) SearchRAG(ctx context.Context, q RAGSearch) ([]RAGHit, error) {
	if strings.TrimSpace(q.Match) == "" {
		return nil, nil
	}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 10
	}
	where, args := `rag_fts MATCH ?`, []any{q.Match}
	if q.Source != "" {
		where += ` AND d.source = ?`
		args = append(args, q.Source)
	}
	args = append(args, q.Limit)
	hits, err := queryAll(ctx, s.read, scanRAGHit, `SELECT c.id, d.source, c.title,
			d.url || CASE WHEN c.anchor = '' THEN '' ELSE '#' || c.anchor END, d.licence,
			snippet(rag_fts, 1, char(2), char(3), '…', 32), c.text, -bm25(rag_fts, 5.0, 1.0, 0.5) AS score
		FROM rag_fts f JOIN rag_chunks c ON c.id = f.rowid JOIN rag_documents d ON d.id = c.document
		WHERE `+where+` ORDER BY score DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("search rag: %w", err)
	}
	return hits, nil
}

func scanRAGHit(row scanner) (RAGHit, error) {
	var h RAGHit
	err := row.Scan(&h.ChunkID, &h.Source, &h.Title, &h.URL, &h.Licence, &h.Snippet, &h.Text, &h.Score)
	return h, err
}

// RAGSources counts the documents and chunks of every ingested source.
func (s *Store) RAGSources(ctx context.Context) ([]RAGSourceStats, error) {
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGSourceStats, error) {
		var st RAGSourceStats
		err := row.Scan(&st.Source, &st.Documents, &st.Chunks)
		return st, err
	}, `SELECT d.source, count(DISTINCT d.id), count(c.id)
		FROM rag_documents d LEFT JOIN rag_chunks c ON c.document = d.id GROUP BY d.source ORDER BY d.source`)
	if err != nil {
		return nil, fmt.Errorf("rag sources: %w", err)
	}
	return out, nil
}

// HasRAGChunks reports whether any documentation is indexed (one index probe, for request paths).
func (s *Store) HasRAGChunks(ctx context.Context) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM rag_chunks LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
