package rag

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "rag.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// copyTree copies testdata/src to a fresh folder the test may change.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", src))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustSource(t *testing.T, name string) Source {
	src, ok := SourceByName(name)
	if !ok {
		t.Fatalf("no source %s", name)
	}
	return src
}

func ingest(t *testing.T, st *store.Store, src, dir string) Report {
	t.Helper()
	rep, err := Ingest(context.Background(), st, mustSource(t, src), dir, DefaultChunkOptions)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestIngestIsIdempotentAndTracksChanges(t *testing.T) {
	st := openStore(t)
	dir := copyTree(t, "html/book")
	rep := ingest(t, st, "book", dir)
	if rep.New != 1 || rep.Changed != 0 || rep.Unchanged != 0 || len(rep.Skipped) != 1 || rep.Chunks < 3 {
		t.Fatalf("first ingest: %+v", rep)
	}
	if rep.Skipped[0].Path != "ch17-00-oop.html" || rep.Skipped[0].Reason != "redirect page" {
		t.Errorf("skip: %+v", rep.Skipped[0])
	}
	again := ingest(t, st, "book", dir)
	if again.New != 0 || again.Changed != 0 || again.Unchanged != 1 || again.Chunks != 0 {
		t.Fatalf("second ingest: %+v", again)
	}
	page := filepath.Join(dir, "ch04-02-references-and-borrowing.html")
	data, _ := os.ReadFile(page)
	edited := strings.Replace(string(data), "Dangling References", "Dangling Pointers Zyzzyva", 1)
	if err := os.WriteFile(page, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := ingest(t, st, "book", dir)
	if changed.New != 0 || changed.Changed != 1 || changed.Unchanged != 0 {
		t.Fatalf("after an edit: %+v", changed)
	}
	hits, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery("zyzzyva")})
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Title, "Dangling Pointers Zyzzyva") {
		t.Fatalf("search after edit: %v %+v", err, hits)
	}
	if hits[0].URL != "https://doc.rust-lang.org/book/ch04-02-references-and-borrowing.html#dangling-references" {
		t.Errorf("url %q", hits[0].URL)
	}
	if err := os.WriteFile(page, append([]byte("<html>\x00"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := ingest(t, st, "book", dir)
	if corrupt.Removed != 1 || len(corrupt.Skipped) != 2 {
		t.Fatalf("after corrupting the page: %+v", corrupt)
	}
	if hits, _ := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery("borrowing")}); len(hits) != 0 {
		t.Errorf("%d hits for a removed page", len(hits))
	}
}

func TestIngestSkipsBadFiles(t *testing.T) {
	st := openStore(t)
	dir := copyTree(t, "tokio")
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("binary.md", []byte("# Title\n\x00\x01\x02binary"))
	write("latin1.md", []byte("# Caf\xe9\nna\xefve text\n"))
	write("huge.md", []byte("# Huge\n"+strings.Repeat("word ", MaxFileBytes/5+1)))
	write("empty.md", []byte("   \n\n"))
	write("broken.md", []byte("---\ntitle: never closed\n# H\n```rust\nfn main() {\n"))
	rep := ingest(t, st, "tokio", dir)
	reasons := map[string]string{}
	for _, s := range rep.Skipped {
		reasons[s.Path] = s.Reason
	}
	want := map[string]string{
		"binary.md": "binary file (NUL byte at offset 8)",
		"latin1.md": "not UTF-8 (first invalid byte at offset 5)",
		"huge.md":   "too large",
		"empty.md":  "no text",
	}
	for path, reason := range want {
		if !strings.HasPrefix(reasons[path], reason) {
			t.Errorf("%s: reason %q, want %q", path, reasons[path], reason)
		}
	}
	if len(rep.Skipped) != len(want) || rep.New != 2 {
		t.Errorf("report %+v", rep)
	}
	hits, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery("tokio::spawn"), Source: "tokio"})
	if err != nil || len(hits) == 0 || !strings.HasPrefix(hits[0].URL, "https://tokio.rs/tokio/spawning#") {
		t.Fatalf("tokio::spawn: %v %+v", err, hits)
	}
}

// TestSearchFindsPathsAndParts checks the Rust-aware index on a page of its own ("retention" is a
// near miss that neither the parts nor the stemmer may match to "retain").
func TestSearchFindsPathsAndParts(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	page := "# Keeping elements\n\nCall std::vec::Vec::retain with a closure; the HashMap stays a snake_case_name.\n"
	if err := os.WriteFile(filepath.Join(dir, "keep.md"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.md"), []byte("# Other\n\nNothing about vectors here, only retention.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, st, "tokio", dir)
	for _, q := range []string{"Vec::retain", "vec::Vec::retain", "retain", "snake case", "snake_case_name", "hash map", "HashMap", "KEEPING"} {
		hits, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery(q)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || !strings.HasSuffix(hits[0].URL, "/keep#keeping-elements") {
			t.Errorf("%q: %+v", q, hits)
		}
	}
}

func TestSearchAcceptsAnyQuery(t *testing.T) {
	st := openStore(t)
	ingest(t, st, "error-codes", copyTree(t, "html/error_codes"))
	queries := []string{
		`"`, `""`, `"unclosed`, `a AND`, `AND OR NOT`, `*`, `E05*`, `NEAR(a b)`, `NEAR`, `title:E0502`, `^borrow`,
		`{a b}`, `-borrow`, `+`, `(`, `)`, `'; DROP TABLE rag_chunks; --`, "\x00\x02\x03", "caf\xe9",
		strings.Repeat("borrowed mutable immutable \"AND\" NEAR * ", 256), // about 10 KB
	}
	for _, q := range queries {
		if _, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery(q), Limit: 5}); err != nil {
			t.Errorf("query %.40q: %v", q, err)
		}
	}
	hits, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery(`"E0502" AND *`)})
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Snippet, store.SnippetOpen+"E0502"+store.SnippetClose) {
		t.Errorf("E0502 with operators: %v %+v", err, hits)
	}
}
