// Command rag measures the retrieval slice on the real Rust docs: a full ingest of every rustup
// documentation source (and the Tokio tutorial when --tokio is given) into a fresh SQLite file, a
// second ingest (every page unchanged), the merge of the full-text index into one segment
// (OptimizeRAGIndex; -optimize=false leaves it as the ingest left it), and the latency of search
// queries as p50/p95 over several rounds of a query set: the store's BM25 ranking with text and
// snippets (SearchRAG, top 10) and the whole BM25 search (rag.Index.Search: pages, best chunk
// each, top 10). With --db it searches an index built before instead (no ingest), and with
// --models also hybrid searches (weighted and RRF fusion), the query's embedding included, and
// hybrid and dense searches with the query vectors embedded beforehand (the retrieval alone),
// through an Index that keeps the vectors in memory and one that asks sqlite-vec for the nearest
// chunks (KNN) — --vectors memory, knn or both. --gold adds the questions of a gold set as a
// second query set (longer, natural-language questions).
//
//	GOEXPERIMENT=simd go run -tags sqlite_fts5 ./bench/rag --docs ~/.rustup/toolchains/<toolchain>/share/doc/rust/html [--tokio DIR]
//	GOEXPERIMENT=simd go run -tags sqlite_fts5 ./bench/rag --db eval.db --models models --gold data/rag-gold.jsonl
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

	"rustexpert/inference/bert"
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

// querySet is a named list of queries.
type querySet struct {
	name    string
	queries []string
}

// embedderModel names the bundled embedder's vectors, as the app does.
const embedderModel = "all-MiniLM-L6-v2"

func main() {
	docs := flag.String("docs", "", "rustup's share/doc/rust/html folder (for a fresh ingest)")
	tokio := flag.String("tokio", "", "the Tokio tutorial's Markdown folder (optional)")
	dbPath := flag.String("db", "", "search this existing index instead of ingesting")
	models := flag.String("models", "", "models folder with the embedder: also time hybrid search (needs vectors: rag embed)")
	gold := flag.String("gold", "", "a gold set whose questions are a second query set")
	rounds := flag.Int("rounds", 20, "times each query set is run")
	vectors := flag.String("vectors", "both", "where hybrid and dense searches take the vectors from: memory (an Index keeping them), knn (sqlite-vec) or both")
	optimize := flag.Bool("optimize", true, "after a fresh ingest, merge the full-text index into one segment")
	flag.Parse()
	ctx := context.Background()
	st, err := openIndex(ctx, *dbPath, *docs, *tokio, *optimize)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	sets := []querySet{{"bench queries", queries}}
	if *gold != "" {
		qs, err := goldQuestions(*gold)
		if err != nil {
			log.Fatal(err)
		}
		sets = append(sets, querySet{"gold questions", qs})
	}
	var emb rag.Embedder
	if *models != "" {
		enc, err := bert.Load(filepath.Join(*models, "embedder"))
		if err != nil {
			log.Fatal(err)
		}
		defer enc.Close()
		emb = enc
	}
	ix := rag.NewIndex(st)
	start := time.Now()
	if err := ix.Warm(ctx, ""); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("full-text index read into memory (Index.Warm): %.2f s\n", time.Since(start).Seconds())
	indexes, err := vectorIndexes(st, *vectors)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range indexes {
		if err := v.ix.Warm(ctx, embedderModel); err != nil {
			log.Fatal(err)
		}
	}
	for _, set := range sets {
		name, qs := set.name, set.queries
		measure(name, "store BM25 (SearchRAG, 10)", qs, *rounds, func(q string) (int, error) {
			hits, err := st.SearchRAG(ctx, store.RAGSearch{Match: rag.MatchQuery(q), Limit: 10})
			return len(hits), err
		})
		measure(name, "search bm25 (Index, k 10)", qs, *rounds, func(q string) (int, error) {
			hits, err := ix.Search(ctx, nil, embedderModel, rag.Query{Text: q, K: 10, Mode: rag.ModeBM25})
			return len(hits), err
		})
		if emb != nil {
			measureVectors(ctx, name, qs, *rounds, indexes, emb)
		}
	}
}

// vectorIndex is an Index and how it takes the vectors.
type vectorIndex struct {
	name string
	ix   *rag.Index
}

func vectorIndexes(st *store.Store, which string) ([]vectorIndex, error) {
	memory := vectorIndex{"vectors in memory", rag.NewIndex(st)}
	knn := vectorIndex{"sqlite-vec KNN", rag.NewKNNIndex(st)}
	switch which {
	case "memory":
		return []vectorIndex{memory}, nil
	case "knn":
		return []vectorIndex{knn}, nil
	case "both":
		return []vectorIndex{memory, knn}, nil
	}
	return nil, fmt.Errorf("--vectors %q: want memory, knn or both", which)
}

// measureVectors times, for each index, hybrid searches (weighted and RRF) with the query's
// embedding, then hybrid and dense searches with the query vectors embedded beforehand.
func measureVectors(ctx context.Context, set string, qs []string, rounds int, indexes []vectorIndex, emb rag.Embedder) {
	cached := newCachedEmbedder(emb)
	for _, v := range indexes {
		for _, fusion := range []string{rag.FusionWeighted, rag.FusionRRF} {
			measure(set, fmt.Sprintf("search hybrid %s (%s, k 10, embedding included)", fusion, v.name), qs, rounds, func(q string) (int, error) {
				hits, err := v.ix.Search(ctx, emb, embedderModel, rag.Query{Text: q, K: 10, Mode: rag.ModeHybrid, Fusion: fusion})
				return len(hits), err
			})
		}
		for _, mode := range []string{rag.ModeHybrid, rag.ModeDense} {
			measure(set, fmt.Sprintf("search %s (%s, k 10, query embedded beforehand)", mode, v.name), qs, rounds, func(q string) (int, error) {
				hits, err := v.ix.Search(ctx, cached, embedderModel, rag.Query{Text: q, K: 10, Mode: mode})
				return len(hits), err
			})
		}
	}
}

// cachedEmbedder embeds each text once (measure's untimed first round) and then returns the
// vector it kept, so a timing holds the retrieval alone.
type cachedEmbedder struct {
	emb  rag.Embedder
	seen map[string][]float32
}

func newCachedEmbedder(emb rag.Embedder) *cachedEmbedder {
	return &cachedEmbedder{emb: emb, seen: map[string][]float32{}}
}

func (c *cachedEmbedder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := c.seen[t]
		if !ok {
			vs, err := c.emb.Embed([]string{t})
			if err != nil {
				return nil, err
			}
			v = vs[0]
			c.seen[t] = v
		}
		out[i] = v
	}
	return out, nil
}

// openIndex opens dbPath, or ingests the docs twice into a fresh database and reports the times
// (then, when optimize is set, merges the full-text index as OptimizeRAGIndex does).
func openIndex(ctx context.Context, dbPath, docs, tokio string, optimize bool) (*store.Store, error) {
	if dbPath != "" {
		if _, err := os.Stat(dbPath); err != nil {
			return nil, err
		}
		return store.Open(ctx, dbPath)
	}
	if docs == "" {
		return nil, fmt.Errorf("--docs or --db is required")
	}
	tmp, err := os.MkdirTemp("", "rag-bench")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(tmp, "rag.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	first := ingestAll(ctx, st, docs, tokio)
	second := ingestAll(ctx, st, docs, tokio)
	info, _ := os.Stat(path)
	fmt.Printf("full ingest %.2fs, re-ingest (all unchanged) %.2fs, database %.1f MB\n",
		first.Seconds(), second.Seconds(), float64(info.Size())/1e6)
	if optimize {
		t0 := time.Now()
		if err := st.OptimizeRAGIndex(ctx); err != nil {
			return nil, err
		}
		fmt.Printf("full-text index merged into one segment in %.2fs\n", time.Since(t0).Seconds())
	}
	return st, nil
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

func goldQuestions(path string) ([]string, error) {
	qs, err := rag.ReadGoldFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Question
	}
	return out, nil
}

// measure runs the query set rounds+1 times (the first warms the caches and is not timed) and
// prints p50, p95 and max.
func measure(set, what string, qs []string, rounds int, search func(string) (int, error)) {
	var all []time.Duration
	hits := 0
	for r := range rounds + 1 {
		for _, q := range qs {
			t0 := time.Now()
			n, err := search(q)
			d := time.Since(t0)
			if err != nil {
				log.Fatalf("%s, query %.40q: %v", what, q, err)
			}
			if r == 0 {
				hits += n
				continue
			}
			all = append(all, d)
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	fmt.Printf("%s, %s: %d timed (%d × %d rounds), %d hits in the first round; p50 %v, p95 %v, max %v\n",
		set, what, len(all), len(qs), rounds, hits,
		pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))
}
