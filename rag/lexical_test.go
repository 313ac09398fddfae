package rag

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"rustexpert/store"
)

// lexicalQueries are searches of every kind: words, a phrase, paths, error codes, stemmed forms,
// stop words only, accents, and a long question with common words.
var lexicalQueries = []string{
	"borrow", "mutable borrow", "cannot borrow as mutable", "Vec::retain", "std::vec::Vec", "E0502", "E0499 borrowed",
	"borrowing references", "the", "Café résumé naïve", "impl Trait", "snake_case HashMap", "tokio::spawn",
	"how do I keep only some elements of a vector while iterating over it and why does the borrow checker complain",
	"what is the difference between a String and a &str when passing values to functions", "zzzz nothing matches",
}

// The in-memory BM25 index scores every chunk as FTS5's bm25() over rag_fts: same chunks, same
// order, same scores, for every kind of query, with and without a source filter.
func TestMemoryBM25ScoresAsFTS5(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for _, s := range corpusSources {
		ingest(t, st, s[0], copyTree(t, s[1]))
	}
	ix := NewIndex(st)
	matched := 0
	for _, text := range lexicalQueries {
		for _, source := range []string{"", "book"} {
			match := MatchQuery(text)
			want, err := st.RankRAG(ctx, store.RAGSearch{Match: match, Source: source, Limit: 100})
			if err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			got, err := ix.rankLexical(ctx, text, match, source, 100)
			if err != nil {
				t.Fatalf("%q in memory: %v", text, err)
			}
			what := fmt.Sprintf("%q (source %q)", text, source)
			sameRanking(t, what, got, want)
			matched += len(want)
		}
	}
	if matched < 100 {
		t.Fatalf("only %d chunks matched in all: the queries test little", matched)
	}
}

func sameRanking(t *testing.T, what string, got, want []store.RAGRanked) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d chunks, FTS5 %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i].ChunkID != want[i].ChunkID || got[i].Document != want[i].Document ||
			math.Abs(got[i].Score-want[i].Score) > 1e-9*math.Abs(want[i].Score) {
			t.Errorf("%s, rank %d: chunk %d (%.12f), FTS5 chunk %d (%.12f)", what, i+1, got[i].ChunkID, got[i].Score, want[i].ChunkID, want[i].Score)
		}
	}
}

// The Go tokenizer makes the terms FTS5's makes, each held by as many chunks: fts5vocab lists
// rag_fts's terms and their document counts.
func TestTokenizerMatchesFTS5Vocabulary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "rag.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, s := range corpusSources {
		ingest(t, st, s[0], copyTree(t, s[1]))
	}
	ingest(t, st, "tokio", unicodePage(t))
	lex, err := buildLexIndex(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, rag_fts, row)`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT term, doc FROM temp.vocab`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	terms := 0
	for rows.Next() {
		var term string
		var docs int
		if err := rows.Scan(&term, &docs); err != nil {
			t.Fatal(err)
		}
		terms++
		id, ok := lex.terms[term]
		if !ok || len(lex.postings[id]) != docs {
			t.Errorf("term %q: FTS5 has it in %d chunks, the Go index %v (%v)", term, docs, ok, lenOr0(lex, id, ok))
		}
	}
	if terms != len(lex.terms) || terms < 500 {
		t.Errorf("FTS5 has %d terms, the Go index %d", terms, len(lex.terms))
	}
}

// unicodePage is a folder with one Markdown page of words whose folding and stemming are not
// plain ASCII: accents, Greek, combining marks, ligatures, the dotless i, sharp s.
func unicodePage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	text := "# Ünïcödé wörds\n\nCrème brûlée, naïve résumé; Σίσυφος ΣΊΣΥΦΟΣ µs y\u0306es a\u0301b ı İstanbul Straße STRASSE ẞ ǅ ﬁ ² Grüße café_au_lait Ωmega ÆTHER œuvre\n"
	if err := os.WriteFile(filepath.Join(dir, "unicode.md"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func lenOr0(lex *lexIndex, id int32, ok bool) int {
	if !ok {
		return 0
	}
	return len(lex.postings[id])
}

// After an ingest changes the chunks, the next search reads the index again.
func TestMemoryBM25SeesNewChunks(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", copyTree(t, "html/book"))
	ix := NewIndex(st)
	if err := ix.Warm(ctx, ""); err != nil {
		t.Fatal(err)
	}
	q := Query{Text: "spawn task number", Mode: ModeBM25, K: 5}
	before, err := ix.Search(ctx, nil, "", q)
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, st, "tokio", manyPages(t, 3))
	after, err := ix.Search(ctx, nil, "", q)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) == 0 || after[0].Source != "tokio" {
		t.Fatalf("after the ingest the best hit is %+v (before: %d hits), want a tokio page", after, len(before))
	}
}

// Warm reads the full-text index and the model's vectors, so the first search reads nothing more;
// a model without vectors is no error.
func TestWarmReadsIndexAndVectors(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ingest(t, st, "book", copyTree(t, "html/book"))
	ix := NewIndex(st)
	if err := ix.Warm(ctx, "hash"); err != nil {
		t.Fatalf("before any vector: %v", err)
	}
	if ix.lex == nil || len(ix.lex.chunks) == 0 || len(ix.vectors) != 0 {
		t.Fatalf("after Warm without vectors: index %v, vector sets %d", ix.lex != nil, len(ix.vectors))
	}
	if _, err := EmbedMissing(ctx, st, hashEmbedder{}, "hash", nil); err != nil {
		t.Fatal(err)
	}
	if err := ix.Warm(ctx, "hash"); err != nil {
		t.Fatal(err)
	}
	set := ix.vectors[vectorKey{"hash", ""}]
	if set == nil || len(set.ids) != len(ix.lex.chunks) {
		t.Fatalf("vectors after Warm: %v (chunks %d)", set, len(ix.lex.chunks))
	}
}
