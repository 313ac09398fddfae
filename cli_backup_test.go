package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"rustexpert/store"
)

func userNames(t *testing.T, st *store.Store) string {
	t.Helper()
	users, err := st.ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	return strings.Join(names, ",")
}

func TestBackupWhileWritingThenRestore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rustexpert.db")
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ada", "bob"} {
		if _, err := st.CreateUser(t.Context(), name, "password123", store.RoleAnnotator); err != nil {
			t.Fatal(err)
		}
	}
	// The store stays open and keeps writing, as a running server does.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			st.SetSetting(context.Background(), "counter", strings.Repeat("x", i%100))
		}
	}()
	file := filepath.Join(t.TempDir(), "copy.db")
	out, _, err := runIn(t, dir, "backup", file)
	close(stop)
	wg.Wait()
	if err != nil || !strings.Contains(out, "2 users") || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: %v, %q", err, out)
	}
	if _, err := os.Stat(file + "-wal"); err == nil {
		t.Fatal("the backup is not one self-contained file")
	}
	if _, _, err := runIn(t, dir, "backup", file); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a second backup over the file: %v, want refused without --force", err)
	}

	// Changes after the backup; then the server stops and the backup is restored.
	if _, err := st.CreateUser(t.Context(), "carol", "password123", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	release, err := lockDatabase(db) // what serve holds while it runs
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runIn(t, dir, "restore", file); err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Fatalf("restore under a running server: %v", err)
	}
	release()
	st.Close()
	out, _, err = runIn(t, dir, "restore", file)
	if err != nil || !strings.Contains(out, "restored") || !strings.Contains(out, ".bak-") {
		t.Fatalf("restore: %v, %q", err, out)
	}
	if got := userNames(t, openData(t, dir)); got != "ada,bob" {
		t.Fatalf("users after restore: %s", got)
	}
	kept, _ := filepath.Glob(db + ".bak-*")
	var keptDB string
	for _, k := range kept {
		if !strings.HasSuffix(k, "-wal") && !strings.HasSuffix(k, "-shm") {
			keptDB = k
		}
	}
	if keptDB == "" {
		t.Fatalf("no kept database among %v", kept)
	}
	old, err := store.Open(t.Context(), keptDB)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if got := userNames(t, old); got != "ada,bob,carol" {
		t.Fatalf("the kept database has %s, want every user before the restore", got)
	}
}

func TestRestoreRefusesFilesThatAreNotOurs(t *testing.T) {
	dir := t.TempDir()
	openData(t, dir).Close()
	good := filepath.Join(t.TempDir(), "good.db")
	if _, _, err := runIn(t, dir, "backup", good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(other, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newer := write("newer.db", data)
	sqlDB, err := sql.Open("sqlite3", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 'now')`); err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	plain := filepath.Join(other, "plain.db")
	sqlDB, _ = sql.Open("sqlite3", plain)
	if _, err := sqlDB.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()

	cases := map[string]struct{ path, want string }{
		"truncated": {write("half.db", data[:len(data)/2]), "half.db: "},
		"garbage":   {write("garbage.db", []byte(strings.Repeat("not a database ", 500))), "not a readable SQLite database"},
		"newer":     {newer, "9999_future.sql is newer than this rustexpert"},
		"foreign":   {plain, "not a rustexpert database"},
		"missing":   {filepath.Join(other, "nope.db"), "no such file"},
	}
	for name, c := range cases {
		_, _, err := runIn(t, dir, "restore", c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || name == "truncated" && !strings.Contains(err.Error(), "malformed") && !strings.Contains(err.Error(), "integrity") {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "*.bak-*")); len(kept) != 0 {
		t.Fatalf("a refused restore moved the database: %v", kept)
	}
}
