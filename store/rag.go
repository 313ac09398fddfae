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

// RAGColumnWeights are the BM25 weights of the rag_fts columns (title, text, terms): a word of the
// section path counts ten times one of the text, a word of the identifier parts half.
var RAGColumnWeights = [3]float64{10, 1, 0.5}

// ragWeights is RAGColumnWeights as the arguments of FTS5's bm25().
var ragWeights = fmt.Sprintf("%g, %g, %g", RAGColumnWeights[0], RAGColumnWeights[1], RAGColumnWeights[2])

// RAGRanked is one chunk of a BM25 ranking: its id, its document and its score (higher is better).
type RAGRanked struct {
	ChunkID  int64
	Document int64
	Score    float64
}

// RankRAG ranks chunks for the query by BM25 and returns the best Limit (default 10, at most 100)
// without their text: the scores are computed inside the full-text index and only the returned
// rows are joined to their chunk. An empty Match gives no chunks.
func (s *Store) RankRAG(ctx context.Context, q RAGSearch) ([]RAGRanked, error) {
	if strings.TrimSpace(q.Match) == "" {
		return nil, nil
	}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 10
	}
	query := `SELECT t.id, c.document, t.score FROM (
			SELECT rowid AS id, -bm25(rag_fts, ` + ragWeights + `) AS score FROM rag_fts
			WHERE rag_fts MATCH ? ORDER BY score DESC LIMIT ?) t
		JOIN rag_chunks c ON c.id = t.id ORDER BY t.score DESC, t.id`
	args := []any{q.Match, q.Limit}
	if q.Source != "" {
		query = `SELECT f.rowid, c.document, -bm25(rag_fts, ` + ragWeights + `) AS score
			FROM rag_fts f JOIN rag_chunks c ON c.id = f.rowid JOIN rag_documents d ON d.id = c.document
			WHERE rag_fts MATCH ? AND d.source = ? ORDER BY score DESC, f.rowid LIMIT ?`
		args = []any{q.Match, q.Source, q.Limit}
	}
	out, err := queryAll(ctx, s.read, func(row scanner) (RAGRanked, error) {
		var r RAGRanked
		err := row.Scan(&r.ChunkID, &r.Document, &r.Score)
		return r, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("rank rag chunks: %w", err)
	}
	return out, nil
}

// RAGMatchScores returns the BM25 score (higher is better) of every chunk that match finds, by
// chunk id, with no limit: for a match of one rare phrase, whose score a caller adds to its own.
func (s *Store) RAGMatchScores(ctx context.Context, match string) (map[int64]float64, error) {
	out := map[int64]float64{}
	if strings.TrimSpace(match) == "" {
		return out, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT rowid, -bm25(rag_fts, `+ragWeights+`) FROM rag_fts WHERE rag_fts MATCH ?`, match)
	if err != nil {
		return nil, fmt.Errorf("rag match scores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var score float64
		if err := rows.Scan(&id, &score); err != nil {
			return nil, fmt.Errorf("rag match scores: %w", err)
		}
		out[id] = score
	}
	return out, rows.Err()
}

// RAGChunkText is what the full-text index holds of one chunk.
type RAGChunkText struct {
	ID       int64
	Document int64
	Source   string
	Title    string
	Text     string
	Terms    string
}

// EachRAGChunkText calls fn with every chunk, by ascending id, until fn returns an error.
func (s *Store) EachRAGChunkText(ctx context.Context, fn func(RAGChunkText) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT c.id, c.document, d.source, c.title, c.text, c.terms
		FROM rag_chunks c JOIN rag_documents d ON d.id = c.document ORDER BY c.id`)
	if err != nil {
		return fmt.Errorf("rag chunk texts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c RAGChunkText
		if err := rows.Scan(&c.ID, &c.Document, &c.Source, &c.Title, &c.Text, &c.Terms); err != nil {
			return fmt.Errorf("rag chunk texts: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RAGChunkGeneration returns a number that changes whenever a chunk is added, changed or deleted
// (a trigger counts them), so a copy of the index in memory can tell it is stale.
func (s *Store) RAGChunkGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.read.QueryRowContext(ctx, `SELECT generation FROM rag_chunk_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("rag chunk generation: %w", err)
	}
	return g, nil
}

// SearchRAG returns the best chunks for the query by BM25 (RankRAG), with their text and snippet.
func (s *Store) SearchRAG(ctx context.Context, q RAGSearch) ([]RAGHit, error) {
	ranked, err := s.RankRAG(ctx, q)
	if err != nil || len(ranked) == 0 {
		return nil, err
	}
	ids := make([]int64, len(ranked))
	for i, r := range ranked {
		ids[i] = r.ChunkID
	}
	hits, err := s.RAGHits(ctx, ids, q.Match)
	if err != nil {
		return nil, err
	}
	score := make(map[int64]float64, len(ranked))
	for _, r := range ranked {
		score[r.ChunkID] = r.Score
	}
	for i := range hits {
		hits[i].Score = score[hits[i].ChunkID]
	}
	return hits, nil
}

// RAGHits returns the chunks with the given ids, in that order, as hits with score 0. A chunk that
// match (an FTS5 query, may be "") finds gets the FTS5 snippet of its text, any other the start
// of its text.
func (s *Store) RAGHits(ctx context.Context, ids []int64, match string) ([]RAGHit, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := `(?` + strings.Repeat(", ?", len(ids)-1) + `)`
	hits, err := queryAll(ctx, s.read, scanRAGHit, `SELECT c.id, d.source, c.title,
			d.url || CASE WHEN c.anchor = '' THEN '' ELSE '#' || c.anchor END, d.licence, substr(c.text, 1, 240), c.text, 0.0
		FROM rag_chunks c JOIN rag_documents d ON d.id = c.document
		WHERE c.id IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("rag hits: %w", err)
	}
	snippets, err := s.ragSnippets(ctx, match, in, args)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]RAGHit, len(hits))
	for _, h := range hits {
		if sn, ok := snippets[h.ChunkID]; ok {
			h.Snippet = sn
		}
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

// ragSnippets returns the FTS5 snippet of every chunk among the ids (the SQL list in, with its
// args) that match finds.
func (s *Store) ragSnippets(ctx context.Context, match, in string, ids []any) (map[int64]string, error) {
	if strings.TrimSpace(match) == "" {
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT rowid, snippet(rag_fts, 1, char(2), char(3), '…', 32)
		FROM rag_fts WHERE rag_fts MATCH ? AND rowid IN `+in, append([]any{match}, ids...)...)
	if err != nil {
		return nil, fmt.Errorf("rag snippets: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var sn string
		if err := rows.Scan(&id, &sn); err != nil {
			return nil, fmt.Errorf("rag snippets: %w", err)
		}
		out[id] = sn
	}
	return out, rows.Err()
}

// RAGChunkDocuments returns the document of each chunk among ids (ids that are no chunk are left out).
func (s *Store) RAGChunkDocuments(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, document FROM rag_chunks WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag chunk documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc int64
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("rag chunk documents: %w", err)
		}
		out[id] = doc
	}
	return out, rows.Err()
}

// RAGVectorGeneration returns a number that changes whenever a chunk vector is added, replaced or
// deleted (a trigger counts them), so a copy of the vectors in memory can tell it is stale.
func (s *Store) RAGVectorGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.read.QueryRowContext(ctx, `SELECT generation FROM rag_vector_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("rag vector generation: %w", err)
	}
	return g, nil
}

func scanRAGHit(row scanner) (RAGHit, error) {
	var h RAGHit
	err := row.Scan(&h.ChunkID, &h.Source, &h.Title, &h.URL, &h.Licence, &h.Snippet, &h.Text, &h.Score)
	return h, err
}

// OptimizeRAGIndex merges the full-text index into one b-tree. An ingest writes one small segment
// per document and FTS5 merges them only in part as it goes (16 segments after ingesting all the
// Rust docs); a query then reads every segment's part of each term's list, about a third slower
// than over one. It takes a quarter of a second on the full index.
func (s *Store) OptimizeRAGIndex(ctx context.Context) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rag_fts (rag_fts) VALUES ('optimize')`)
		return err
	})
	if err != nil {
		return fmt.Errorf("optimize the rag index: %w", err)
	}
	return nil
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
