// Command rag measures the retrieval slice on the real Rust docs: a full ingest of the book,
// error codes, Rustonomicon, Rust by Example and Reference (and the Tokio tutorial when --tokio is
// given) into a fresh SQLite file, a second ingest (every page unchanged), and the latency of
// search queries (MatchQuery + SearchRAG, top 10) as p50/p95 over several rounds of a query set.
//
//	go run -tags sqlite_fts5 ./bench/rag --docs ~/.rustup/toolchains/<toolchain>/share/doc/rust/html [--tokio DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"rustexpert/rag"
	"rustexpert/store"
)

// queries mixes Rust paths, error codes, phrases, operators and one long pasted text.
var queries = []string{
	"Vec::retain", "E0502", "impl Trait", "snake_case", "borrow mutable twice", "tokio::spawn",
	"lifetime elision rules", "Box<dyn Error>", "PhantomData variance", "unsafe impl Send",
	"cannot move out of borrowed content", "E0382 use of moved value", "iterator adaptors map filter",
	"HashMap::entry", "trait objects dyn", "pattern matching match guards", "async fn await",
	"Rc<RefCell<T>>", "drop order", "#[derive(Debug)]", "macro_rules!", "closure captures FnMut",
	"String vs &str", "integer overflow wrapping", "question mark operator ?", "const generics",
	`"quoted" AND NEAR *`, "where clause bounds", "Option::unwrap_or_else", "slice patterns",
	strings.Repeat("error[E0499]: cannot borrow `x` as mutable more than once at a time ", 140), // ~10 KB
}

func main() {
	docs := flag.String("docs", "", "rustup's share/doc/rust/html folder")
	tokio := flag.String("tokio", "", "the Tokio tutorial's Markdown folder (optional)")
	rounds := flag.Int("rounds", 20, "times the query set is run")
	flag.Parse()
	if *docs == "" {
		log.Fatal("--docs is required")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "rag-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dbPath := filepath.Join(tmp, "rag.db")
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	first := ingestAll(ctx, st, *docs, *tokio)
	second := ingestAll(ctx, st, *docs, *tokio)
	info, _ := os.Stat(dbPath)
	fmt.Printf("full ingest %.2fs, re-ingest (all unchanged) %.2fs, database %.1f MB\n",
		first.Seconds(), second.Seconds(), float64(info.Size())/1e6)
	measureQueries(ctx, st, *rounds)
}

func ingestAll(ctx context.Context, st *store.Store, docs, tokio string) time.Duration {
	start := time.Now()
	for _, src := range rag.Sources {
		dir := filepath.Join(docs, src.Subdir)
		if src.Subdir == "" {
			if tokio == "" {
				continue
			}
			dir = tokio
		}
		t0 := time.Now()
		rep, err := rag.Ingest(ctx, st, src, dir, rag.DefaultChunkOptions)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("  %-16s %4d new %4d unchanged %4d skipped %5d chunks  %.2fs\n",
			src.Name, rep.New, rep.Unchanged, len(rep.Skipped), rep.Chunks, time.Since(t0).Seconds())
	}
	return time.Since(start)
}

func measureQueries(ctx context.Context, st *store.Store, rounds int) {
	var all []time.Duration
	var hits int
	for r := range rounds + 1 {
		for _, q := range queries {
			t0 := time.Now()
			res, err := st.SearchRAG(ctx, store.RAGSearch{Match: rag.MatchQuery(q), Limit: 10})
			d := time.Since(t0)
			if err != nil {
				log.Fatalf("query %.40q: %v", q, err)
			}
			if r == 0 {
				hits += len(res) // the first round warms the caches and is not timed
				continue
			}
			all = append(all, d)
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	fmt.Printf("queries: %d timed (%d queries × %d rounds), %d hits in the first round; p50 %v, p95 %v, max %v\n",
		len(all), len(queries), rounds, hits, pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))
}
