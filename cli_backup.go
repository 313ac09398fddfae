package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"

	"rustexpert/migrations"
	"rustexpert/store"
)

// backup copies the database to FILE with SQLite's online backup API, so a running server keeps
// answering (its writes wait only while pages are copied), then checks the copy.
func (e *cliEnv) backup(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("backup", &cfg)
	force := fs.Bool("force", false, "replace FILE if it exists")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert backup FILE [--force]"}
	}
	dest := pos[0]
	if _, err := os.Stat(cfg.DBPath); err != nil {
		return fmt.Errorf("backup: database %s: %w", cfg.DBPath, err)
	}
	if _, err := os.Stat(dest); err == nil && !*force {
		return usageError{fmt.Sprintf("backup: %s exists; pass --force to replace it", dest)}
	}
	tmp := dest + ".partial"
	os.Remove(tmp)
	if err := onlineBackup(ctx, cfg.DBPath, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	info, err := checkDatabaseFile(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: the copy failed its check: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s (%d users, schema %s, integrity ok)\n", cfg.DBPath, dest, info.users, info.schema)
	return nil
}

// onlineBackup copies every page of the database at src into a new file at dest in one step and
// switches the copy to a rollback journal, so it is one self-contained file.
func onlineBackup(ctx context.Context, src, dest string) error {
	srcDB, err := sql.Open("sqlite3", sqliteDSN(src, "ro"))
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer srcDB.Close()
	destDB, err := sql.Open("sqlite3", sqliteDSN(dest, "rwc"))
	if err != nil {
		return fmt.Errorf("backup: create %s: %w", dest, err)
	}
	defer destDB.Close()
	srcConn, err := srcDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer srcConn.Close()
	destConn, err := destDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: create %s: %w", dest, err)
	}
	defer destConn.Close()
	err = destConn.Raw(func(d any) error {
		return srcConn.Raw(func(s any) error {
			dc, ok1 := d.(*sqlite3.SQLiteConn)
			sc, ok2 := s.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("the sqlite3 driver gave no SQLite connection")
			}
			return copyPages(dc, sc)
		})
	})
	if err != nil {
		return fmt.Errorf("backup %s to %s: %w", src, dest, err)
	}
	if _, err := destConn.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return fmt.Errorf("backup: %s: journal mode: %w", dest, err)
	}
	return nil
}

// copyPages runs the backup to its end (all pages in one step: a consistent snapshot).
func copyPages(dest, src *sqlite3.SQLiteConn) error {
	bk, err := dest.Backup("main", src, "main")
	if err != nil {
		return err
	}
	done, err := bk.Step(-1)
	if err == nil && !done {
		err = errors.New("the backup stopped before its last page")
	}
	return errors.Join(err, bk.Finish())
}

func sqliteDSN(path, mode string) string {
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_busy_timeout", "10000")
	return "file:" + path + "?" + q.Encode()
}

// dbInfo is what checkDatabaseFile learned about a database file.
type dbInfo struct {
	schema string // the newest migration applied
	users  int
}

// checkDatabaseFile checks that path is an intact rustexpert database whose schema this binary
// knows (no migration newer than its own).
func checkDatabaseFile(ctx context.Context, path string) (dbInfo, error) {
	if _, err := os.Stat(path); err != nil {
		return dbInfo{}, err
	}
	db, err := sql.Open("sqlite3", sqliteDSN(path, "ro"))
	if err != nil {
		return dbInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&result); err != nil {
		return dbInfo{}, fmt.Errorf("%s: not a readable SQLite database: %w", path, err)
	}
	if result != "ok" {
		return dbInfo{}, fmt.Errorf("%s: integrity check: %s", path, result)
	}
	applied, err := appliedMigrations(ctx, db)
	if err != nil {
		return dbInfo{}, fmt.Errorf("%s: not a rustexpert database: %w", path, err)
	}
	known, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return dbInfo{}, err
	}
	info := dbInfo{}
	for _, name := range applied {
		if !slices.Contains(known, name) {
			return dbInfo{}, fmt.Errorf("%s: schema migration %s is newer than this rustexpert (which knows up to %s); use a newer binary",
				path, name, known[len(known)-1])
		}
		info.schema = max(info.schema, name)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&info.users); err != nil {
		return dbInfo{}, fmt.Errorf("%s: not a rustexpert database: users: %w", path, err)
	}
	return info, nil
}

func appliedMigrations(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("schema_migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("schema_migrations is empty")
	}
	return names, nil
}

// restore replaces the database with a backup. The server must be stopped first: restore takes the
// database's lock file, which a running server holds. The database it replaces is kept as
// DB.bak-<time> (with its -wal file, if any), and the restored copy is migrated to this binary's schema.
func (e *cliEnv) restore(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("restore", &cfg)
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert restore FILE (stop the server first)"}
	}
	src := pos[0]
	info, err := checkDatabaseFile(ctx, src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	release, err := lockDatabase(cfg.DBPath)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer release()
	kept, err := replaceDatabase(src, cfg.DBPath, time.Now())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	st, err := store.Open(ctx, cfg.DBPath) // applies the migrations the backup lacks
	if err != nil {
		return fmt.Errorf("restore: the restored database does not open: %w (the old one is %s)", err, kept)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(e.stdout, "restored %s from %s (%d users, schema %s)\n", cfg.DBPath, src, info.users, info.schema)
	if kept != "" {
		fmt.Fprintf(e.stdout, "the previous database is kept as %s\n", kept)
	}
	return nil
}

// replaceDatabase moves the database at db (and its -wal and -shm files) aside as db.bak-<time>
// and copies src into its place; it returns the kept file's name ("" when there was no database).
func replaceDatabase(src, db string, now time.Time) (string, error) {
	tmp := db + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	kept := ""
	if _, err := os.Stat(db); err == nil {
		kept = db + ".bak-" + now.UTC().Format("20060102-150405")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(db+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				os.Remove(tmp)
				return "", fmt.Errorf("keep the old database: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, db); err != nil {
		return kept, fmt.Errorf("put the backup in place: %w", err)
	}
	return kept, nil
}

// copyFile copies src to dest and syncs it to disk.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dest, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("sync %s: %w", dest, err)
	}
	return out.Close()
}

// lockDatabase takes the exclusive lock of the database's lock file (DB.lock), which serve holds
// while it runs; it fails at once when another process holds it.
func lockDatabase(db string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	f, err := os.OpenFile(db+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is in use by a running server (%s.lock is held); stop the server first", db, filepath.Base(db))
		}
		return nil, fmt.Errorf("lock %s.lock: %w", db, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
