// Command importcsv measures importing a 100,000-row prompt CSV into a fresh database: parsing
// (sheet.Read) and the one-transaction insert with its full-text index (store.ImportPrompts).
// As a baseline in the same run it times the same rows inserted into a bare table without the
// search index, duplicate checks or triggers. Then it times pages of the prompt sheet over those
// rows (first page, a deep page, searches, filters) against the health check on the same server.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"rustexpert/generation"
	"rustexpert/handlers"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/sheet"
	"rustexpert/store"
)

func main() {
	rows := flag.Int("rows", 100_000, "rows in the generated CSV")
	flag.Parse()
	if err := run(*rows); err != nil {
		log.Fatal(err)
	}
}

func run(n int) error {
	ctx := context.Background()
	csv := generate(n)
	dir, err := os.MkdirTemp("", "importcsv-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	parsed, err := sheet.Read(bytes.NewReader(csv), sheet.CSV)
	if err != nil {
		return err
	}
	parse := time.Since(start)
	st, err := store.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	start = time.Now()
	if _, err := st.ImportPrompts(ctx, parsed, "bench", 0); err != nil {
		return err
	}
	insert := time.Since(start)
	base, err := bareInsert(ctx, filepath.Join(dir, "bare.db"), parsed)
	if err != nil {
		return err
	}
	fmt.Printf("rows=%d bytes=%d\n", n, len(csv))
	fmt.Printf("parse (sheet.Read)            %8.0f ms\n", ms(parse))
	fmt.Printf("insert (store.ImportPrompts)  %8.0f ms\n", ms(insert))
	fmt.Printf("total                         %8.0f ms  (target <= 5000 ms)\n", ms(parse+insert))
	fmt.Printf("baseline: bare-table insert   %8.0f ms  (import total / baseline = %.1fx)\n", ms(base), float64(parse+insert)/float64(base))
	return timePages(ctx, st, dir)
}

// timePages serves the prompt sheet over the imported rows and prints each page's median time.
func timePages(ctx context.Context, st *store.Store, dir string) error {
	u, err := st.CreateUser(ctx, "bench", "benchmark-password", store.RoleAnnotator)
	if err != nil {
		return err
	}
	token, err := st.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := live.NewHub(16)
	srv := httptest.NewServer(handlers.New(logger, st, generation.New(st, nil, hub, logger, 1), hub, render.New(), handlers.Config{DataDir: dir}))
	defer srv.Close()
	pages := []struct{ name, path string }{
		{"baseline: /healthz", "/healthz"},
		{"first page", "/prompts"},
		{"deep page (after #90000)", "/prompts?after=90000"},
		{"search, every row matches", "/prompts?q=retain"},
		{"search, one row matches", "/prompts?q=Prompt+74321%3A"},
		{"category filter", "/prompts?category=lifetimes"},
		{"category + split filter", "/prompts?category=ownership-borrowing&split=heldout"},
		{"filter, HTMX grid only", "/prompts?category=ownership-borrowing&split=heldout&hx=1"},
	}
	fmt.Println("prompt sheet over these rows, median of 20 GETs each:")
	for _, p := range pages {
		d, rows, err := medianGet(srv.URL+p.path, token, strings.HasSuffix(p.path, "hx=1"))
		if err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		fmt.Printf("  %-28s %8.2f ms  (%d rows shown)\n", p.name, ms(d), rows)
	}
	return nil
}

// medianGet returns the median time of 20 GETs and how many sheet rows the page showed.
func medianGet(url, token string, htmx bool) (time.Duration, int, error) {
	var times []time.Duration
	var body []byte
	for range 20 {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Cookie", "rx_session="+token)
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("status %d", res.StatusCode)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2], strings.Count(string(body), `data-testid="prompt-row"`), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// generate writes a CSV of n distinct prompts of about 200 bytes each.
func generate(n int) []byte {
	var b bytes.Buffer
	b.WriteString("text,category,tags,split\n")
	cats := []string{"ownership-borrowing", "lifetimes", "error-handling", "async-tokio", "traits-generics"}
	for i := range n {
		split := "train"
		if i%5 == 0 {
			split = "heldout"
		}
		fmt.Fprintf(&b, "\"Prompt %d: why does this borrow of `v` conflict with the push in the loop, and what is the idiomatic fix using iterators, \"\"retain\"\" or indices? Variant %x\",%s,borrowck;vec,%s\n",
			i, i*7919, cats[i%len(cats)], split)
	}
	return b.Bytes()
}

func bareInsert(ctx context.Context, path string, rows []sheet.Row) (time.Duration, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT, category TEXT, tags TEXT, split TEXT)`); err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO t (text, category, split) VALUES (?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.Text, r.Category, r.Split); err != nil {
			return 0, err
		}
	}
	stmt.Close()
	return time.Since(start), tx.Commit()
}
