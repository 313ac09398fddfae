// Package store holds all SQL of the app. Every method takes a context first; writes run in one
// transaction each on a single writer connection, reads run on a pool of reader connections.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"time"

	sqlitevec "github.com/asg017/sqlite-vec-go-bindings/cgo"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver (built with the sqlite_fts5 tag) for the readers

	"rustexpert/migrations"
)

// Sentinel errors that handlers map to HTTP statuses.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	// ErrDiskFull: a write failed because the disk, a quota or the file size limit is full;
	// nothing of that write was stored (see IsDiskFull).
	ErrDiskFull = errors.New("disk full")
)

// Store is the app's database: one SQLite file in WAL mode.
type Store struct {
	write       *sql.DB
	read        *sql.DB
	labels      *labelWriter
	checkpoints *checkpointer
	sessions    *sessionCache
	answerIDs   *answerIDCache
	path        string
}

// Open opens (creating if needed) the SQLite database at path and applies pending migrations.
// Every connection of the process opened from then on has sqlite-vec (the rag_vec table).
func Open(ctx context.Context, path string) (*Store, error) {
	// Registers sqlite-vec for every new connection; registering it again is a no-op.
	sqlitevec.Auto()
	write := sql.OpenDB(newWriterConnector(dsn(path, false)))
	// One writer connection: SQLite allows one writer at a time, and queueing in Go is far
	// cheaper than SQLite's busy-wait sleeps under concurrent writers.
	write.SetMaxOpenConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, 2*runtime.NumCPU()))
	read.SetMaxIdleConns(max(4, 2*runtime.NumCPU()))
	s := &Store{write: write, read: read, path: path, sessions: newSessionCache(), answerIDs: newAnswerIDCache()}
	if err := s.migrate(ctx); err != nil {
		errors.Join(read.Close(), write.Close())
		return nil, err
	}
	if err := s.moveRAGVectors(ctx); err != nil {
		errors.Join(read.Close(), write.Close())
		return nil, err
	}
	s.checkpoints, err = newCheckpointer(path, write, checkpointInterval)
	if err != nil {
		errors.Join(read.Close(), write.Close())
		return nil, err
	}
	s.labels = newLabelWriter(write)
	return s, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-16000")
	// Keep prepared statements per connection: preparing is a large share of a small query's cost.
	q.Set("_stmt_cache_size", "128")
	if readOnly {
		q.Set("_query_only", "true")
		q.Set("_txlock", "deferred")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close stops the label writer after its batch in progress and the checkpointer, then closes the
// connection pools.
func (s *Store) Close() error {
	s.labels.close()
	return errors.Join(s.checkpoints.close(), s.read.Close(), s.write.Close())
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// inTx runs fn in one write transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return runTx(ctx, s.write, fn)
}

// runTx runs fn in one transaction of db and commits it when fn returns nil.
func runTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return markDiskFull(err)
	}
	if err := tx.Commit(); err != nil {
		return markDiskFull(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.applyMigration(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, name string) error {
	body, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, now())
		return err
	})
}

// now is the current time in the format every timestamp column uses.
func now() string { return formatTime(time.Now()) }

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func parseNullTime(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return parseTime(s.String)
}

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanValue scans a row of one column.
func scanValue[T any](row scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}
