package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a stored ingest report.
const (
	// MaxRAGSkips is how many skipped files a report keeps (Skipped still counts all of them).
	MaxRAGSkips     = 1000
	maxRAGSourceLen = 64
	maxRAGFolderLen = 4096
	maxRAGErrorLen  = 2000
)

// RAGSkip is a file an ingest left out and why.
type RAGSkip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RAGIngestReport is the last ingest of one documentation source (rag_ingests): the folder it
// read, who started it and when, what it did and, when it stopped early, why.
type RAGIngestReport struct {
	Source     string
	Folder     string
	StartedBy  string
	StartedAt  time.Time
	FinishedAt time.Time
	Files      int // files of the source found in the folder
	New        int
	Changed    int
	Unchanged  int // left as they were: same content hash
	Removed    int
	Chunks     int // chunks written (of new and changed documents)
	Skipped    int // every skipped file, also those past MaxRAGSkips
	Skips      []RAGSkip
	Error      string // why the ingest stopped ("" when it finished)
}

// clean checks a report before it is stored and keeps its lists and texts within their limits.
func (r *RAGIngestReport) clean() error {
	switch {
	case r.Source == "" || utf8.RuneCountInString(r.Source) > maxRAGSourceLen:
		return fmt.Errorf("%w: ingest report: source: 1 to %d characters", ErrInvalid, maxRAGSourceLen)
	case !utf8.ValidString(r.Source) || strings.ContainsFunc(r.Source, unicode.IsControl):
		return fmt.Errorf("%w: ingest report: source %q holds control characters", ErrInvalid, r.Source)
	case r.Folder == "" || len(r.Folder) > maxRAGFolderLen:
		return fmt.Errorf("%w: ingest report of %s: folder: 1 to %d bytes", ErrInvalid, r.Source, maxRAGFolderLen)
	case min(r.Files, r.New, r.Changed, r.Unchanged, r.Removed, r.Chunks, r.Skipped) < 0:
		return fmt.Errorf("%w: ingest report of %s: a negative count", ErrInvalid, r.Source)
	}
	r.Skipped = max(r.Skipped, len(r.Skips))
	if len(r.Skips) > MaxRAGSkips {
		r.Skips = r.Skips[:MaxRAGSkips]
	}
	if len(r.Error) > maxRAGErrorLen {
		r.Error = strings.ToValidUTF8(r.Error[:maxRAGErrorLen], "") + "…"
	}
	return nil
}

// SaveRAGIngestReport stores rep as its source's last ingest, replacing the one before, with an
// audit row (rag.ingest) in the same transaction.
func (s *Store) SaveRAGIngestReport(ctx context.Context, rep RAGIngestReport) error {
	if err := rep.clean(); err != nil {
		return err
	}
	skips := rep.Skips
	if skips == nil {
		skips = []RAGSkip{}
	}
	data, err := json.Marshal(skips)
	if err != nil {
		return fmt.Errorf("ingest report of %s: skips: %w", rep.Source, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rag_ingests (source, folder, started_by, started_at, finished_at, files,
				new, changed, unchanged, removed, chunks, skipped, skips, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET folder = excluded.folder, started_by = excluded.started_by,
				started_at = excluded.started_at, finished_at = excluded.finished_at, files = excluded.files,
				new = excluded.new, changed = excluded.changed, unchanged = excluded.unchanged, removed = excluded.removed,
				chunks = excluded.chunks, skipped = excluded.skipped, skips = excluded.skips, error = excluded.error`,
			rep.Source, rep.Folder, rep.StartedBy, formatTime(rep.StartedAt), formatTime(rep.FinishedAt), rep.Files,
			rep.New, rep.Changed, rep.Unchanged, rep.Removed, rep.Chunks, rep.Skipped, string(data), rep.Error)
		if err != nil {
			return err
		}
		return audit(ctx, tx, "rag.ingest", rep.Source, map[string]any{"folder": rep.Folder, "files": rep.Files,
			"new": rep.New, "changed": rep.Changed, "unchanged": rep.Unchanged, "removed": rep.Removed,
			"chunks": rep.Chunks, "skipped": rep.Skipped, "error": rep.Error})
	})
	if err != nil {
		return fmt.Errorf("save the ingest report of %s: %w", rep.Source, err)
	}
	return nil
}

// RAGIngestReports returns the last ingest of every source that has one, by source name.
func (s *Store) RAGIngestReports(ctx context.Context) ([]RAGIngestReport, error) {
	out, err := queryAll(ctx, s.read, scanRAGIngestReport, `SELECT source, folder, started_by, started_at, finished_at,
		files, new, changed, unchanged, removed, chunks, skipped, skips, error FROM rag_ingests ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("list ingest reports: %w", err)
	}
	return out, nil
}

func scanRAGIngestReport(row scanner) (RAGIngestReport, error) {
	var r RAGIngestReport
	var started, finished, skips string
	err := row.Scan(&r.Source, &r.Folder, &r.StartedBy, &started, &finished, &r.Files, &r.New, &r.Changed,
		&r.Unchanged, &r.Removed, &r.Chunks, &r.Skipped, &skips, &r.Error)
	if err != nil {
		return r, err
	}
	r.StartedAt, r.FinishedAt = parseTime(started), parseTime(finished)
	if err := json.Unmarshal([]byte(skips), &r.Skips); err != nil {
		return r, fmt.Errorf("ingest report of %s: skips: %w", r.Source, err)
	}
	return r, nil
}

// RAGSourceVectors counts, per source, the chunks that have a vector from model.
func (s *Store) RAGSourceVectors(ctx context.Context, model string) (map[string]int, error) {
	type count struct {
		source string
		n      int
	}
	out := map[string]int{}
	if _, current, err := s.hasRAGVectors(ctx, model); err != nil || !current {
		return out, err
	}
	rows, err := queryAll(ctx, s.read, func(row scanner) (count, error) {
		var c count
		err := row.Scan(&c.source, &c.n)
		return c, err
	}, `SELECT source, count(*) FROM rag_vec GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("rag vectors per source: %w", err)
	}
	for _, c := range rows {
		out[c.source] = c.n
	}
	return out, nil
}
