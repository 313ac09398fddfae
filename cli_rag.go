package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"rustexpert/bundled"
	"rustexpert/inference/bert"
	"rustexpert/rag"
	"rustexpert/rag/cratedocs"
	"rustexpert/store"
)

// defaultRAGSources are the rustup documentation sources ingested when --source is not given
// (and crates, from the crate registry found, when there is one).
const defaultRAGSources = "book,error-codes,nomicon,rust-by-example,reference,std,core,alloc,cargo,edition-guide"

func (e *cliEnv) rag(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{ragUsage}
	}
	switch args[0] {
	case "ingest":
		return e.ragIngest(ctx, args[1:])
	case "embed":
		return e.ragEmbed(ctx, args[1:])
	case "search":
		return e.ragSearch(ctx, args[1:])
	case "eval":
		return e.ragEval(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown rag command %q (want ingest, embed, search or eval)", args[0])}
	}
}

// ragIngest ingests each named source and prints what it did, with every skipped file's reason.
func (e *cliEnv) ragIngest(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("rag ingest", &cfg)
	e.ragFlags(fs, &cfg)
	names := fs.String("source", defaultRAGSources, "comma-separated sources: "+ragSourceNames()+" (default: the rustup sources, and crates when a crate registry is found)")
	dir := fs.String("dir", "", "the rustup html docs folder (default: the first ~/.rustup/toolchains/*/share/doc/rust/html), for tokio its Markdown folder, for crates a crate registry folder (default: /usr/share/cargo/registry, else ~/.cargo/registry/src/*)")
	verbose := fs.Bool("v", false, "list every skipped file (default: 5 per reason)")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	chosen := false
	fs.Visit(func(f *flag.Flag) { chosen = chosen || f.Name == "source" })
	if !chosen {
		*names = e.defaultRAGSourceList()
	}
	sources, err := ragSources(*names)
	if err != nil {
		return usageError{err.Error()}
	}
	st, err := e.openRAGIndex(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, src := range sources {
		folderArg := *dir
		if src.Format == rag.CrateDocs && !chosen {
			folderArg = "" // the default set: --dir is the rustup folder, crates come from the registry found
		}
		folder, err := e.ragDir(src, folderArg)
		if err != nil {
			return err
		}
		start := time.Now()
		src.OnProgress = ingestProgress(e.stderr)
		rep, err := rag.Ingest(ctx, st, src, folder, rag.DefaultChunkOptions)
		if err != nil {
			return fmt.Errorf("ingest %s from %s: %w", src.Name, folder, err)
		}
		e.printIngest(rep, time.Since(start), *verbose)
	}
	if sq, ok := st.(sqliteIndex); ok {
		// One merged full-text index: queries read one segment instead of one per ingested batch.
		return sq.OptimizeRAGIndex(ctx)
	}
	return nil
}

// ingestProgress prints a line to w when an ingest is listed and at every tenth of its files.
func ingestProgress(w io.Writer) func(rag.Progress) {
	last := -1
	return func(p rag.Progress) {
		tenth := 10
		if p.Total > 0 {
			tenth = p.Done * 10 / p.Total
		}
		if tenth == last {
			return
		}
		last = tenth
		fmt.Fprintf(w, "%s: %d/%d files, %d written, %d chunks, %d skipped\n", p.Source, p.Done, p.Total, p.Written, p.Chunks, p.Skipped)
	}
}

func (e *cliEnv) printIngest(rep rag.Report, took time.Duration, verbose bool) {
	fmt.Fprintf(e.stdout, "%s: %d new, %d changed, %d unchanged, %d removed, %d skipped, %d chunks written (%.1fs)\n",
		rep.Source, rep.New, rep.Changed, rep.Unchanged, rep.Removed, len(rep.Skipped), rep.Chunks, took.Seconds())
	byReason := map[string][]string{}
	for _, s := range rep.Skipped {
		reason := s.Reason
		if strings.HasPrefix(reason, "page language") {
			reason = "translation (not English)"
		}
		byReason[reason] = append(byReason[reason], s.Path)
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		paths := byReason[r]
		shown := paths
		if !verbose && len(shown) > 5 {
			shown = shown[:5]
		}
		fmt.Fprintf(e.stdout, "  skipped %d: %s: %s", len(paths), r, strings.Join(shown, ", "))
		if len(shown) < len(paths) {
			fmt.Fprintf(e.stdout, ", … (-v lists all)")
		}
		fmt.Fprintln(e.stdout)
	}
}

func ragSourceNames() string {
	var names []string
	for _, s := range rag.Sources {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// defaultRAGSourceList is the rustup sources, and crates when a crate registry folder is found
// (else a note on stderr).
func (e *cliEnv) defaultRAGSourceList() string {
	if rag.CrateRegistryDir(e.getenv) == "" {
		fmt.Fprintln(e.stderr, "note: no crate registry found (/usr/share/cargo/registry or ~/.cargo/registry/src/*): crates left out")
		return defaultRAGSources
	}
	return defaultRAGSources + ",crates"
}

func ragSources(names string) ([]rag.Source, error) {
	var out []rag.Source
	for _, n := range strings.Split(names, ",") {
		src, ok := rag.SourceByName(strings.TrimSpace(n))
		if !ok {
			return nil, fmt.Errorf("unknown source %q (want %s)", n, ragSourceNames())
		}
		out = append(out, cratedocs.Attach(src))
	}
	return out, nil
}

// ragDir finds a source's folder: dir/SUBDIR, or dir itself when it is the source's own folder;
// for crates dir or the crate registry found.
func (e *cliEnv) ragDir(src rag.Source, dir string) (string, error) {
	if src.Format == rag.CrateDocs {
		if dir == "" {
			dir = rag.CrateRegistryDir(e.getenv)
		}
		if dir == "" {
			return "", usageError{"no crate registry found (install Debian's librust-*-dev packages: scripts/install-crate-sources.sh), or give --dir"}
		}
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return "", fmt.Errorf("source %s: %s is not a folder", src.Name, dir)
		}
		return dir, nil
	}
	if src.Subdir == "" {
		if dir == "" {
			return "", usageError{fmt.Sprintf("source %s needs --dir (its Markdown folder)", src.Name)}
		}
		return dir, nil
	}
	if dir == "" {
		dir = rag.RustDocsDir(e.getenv)
		if dir == "" {
			return "", usageError{"no Rust docs found (install with: rustup component add rust-docs), or give --dir"}
		}
	}
	if info, err := os.Stat(filepath.Join(dir, src.Subdir)); err == nil && info.IsDir() {
		return filepath.Join(dir, src.Subdir), nil
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("source %s: %s is not a folder", src.Name, dir)
	}
	return dir, nil
}

// ragSearch prints the best chunks for a query: score, source, title, URL and snippet.
func (e *cliEnv) ragSearch(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("rag search", &cfg)
	e.ragFlags(fs, &cfg)
	k := fs.Int("k", 10, "how many chunks")
	source := fs.String("source", "", "only this source")
	mode := fs.String("mode", rag.ModeHybrid, "bm25, dense or hybrid (dense and hybrid need `rag embed` first)")
	fusion := fs.String("fusion", rag.FusionWeighted, "how hybrid joins BM25 and dense: weighted (0.4 × normalized BM25 + 0.6 × cosine) or rrf (reciprocal-rank fusion); Qdrant always fuses by RRF")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{ragUsage}
	}
	if *fusion != rag.FusionWeighted && *fusion != rag.FusionRRF {
		return usageError{fmt.Sprintf("unknown --fusion %q (want weighted or rrf)", *fusion)}
	}
	st, err := e.openRAGIndex(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if sq, ok := st.(sqliteIndex); ok {
		// One query: sqlite-vec's KNN, rather than reading every vector into memory first.
		st = sqliteIndex{Store: sq.Store, ix: rag.NewKNNIndex(sq.Store)}
	}
	q := rag.Query{Text: strings.Join(pos, " "), Source: *source, K: *k, Mode: *mode, Fusion: *fusion}
	hits, err := e.ragRetrieve(ctx, st, cfg, q)
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		fmt.Fprintln(e.stdout, "no results")
	}
	for i, h := range hits {
		snippet := strings.NewReplacer(store.SnippetOpen, "[", store.SnippetClose, "]", "\n", " ").Replace(h.Snippet)
		fmt.Fprintf(e.stdout, "%2d. fused %.4f  bm25 %.2f  dense %.3f  %s\n    %s\n    %s\n", i+1, h.Fused, h.BM25, h.Dense, h.Title, h.URL, snippet)
	}
	return nil
}

// ragRetrieve runs the query; a hybrid search without the embedder or without vectors falls back to
// BM25 with a note on stderr, so search works right after an ingest.
func (e *cliEnv) ragRetrieve(ctx context.Context, st ragIndex, cfg Config, q rag.Query) ([]rag.Hit, error) {
	var emb rag.Embedder
	if q.Mode != rag.ModeBM25 {
		enc, err := bert.Load(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir))
		if err != nil && q.Mode == rag.ModeDense {
			return nil, fmt.Errorf("the embedder (rustexpert models fetch): %w", err)
		}
		if err == nil {
			defer enc.Close()
			emb = enc
		}
	}
	if q.Mode == rag.ModeDense {
		return st.Search(ctx, emb, embedderModel, q)
	}
	hits, fellBack, err := rag.SearchOrBM25With(ctx, st, emb, embedderModel, q)
	if fellBack {
		fmt.Fprintln(e.stderr, "note: BM25 only (run `rustexpert rag embed` for hybrid search)")
	}
	return hits, err
}

const ragUsage = `usage: rustexpert rag ingest [--source NAMES] [--dir PATH] | rag embed | rag search QUERY [-k 10] [--source NAME] [--mode bm25|dense|hybrid] [--fusion weighted|rrf] | rag eval FILE [--k 10] [--modes bm25,dense,hybrid] [--json] [--misses]
each takes --rag-backend sqlite|qdrant and, for Qdrant, --qdrant-addr host:port --qdrant-api-key-env NAME --qdrant-tls --qdrant-collection NAME --qdrant-shards N --qdrant-replicas N --qdrant-write-consistency N`

// embedderModel names the bundled embedder's vectors in the database.
const embedderModel = "all-MiniLM-L6-v2"

// ragEmbed gives every ingested chunk a vector from the bundled embedder (only the chunks without one).
func (e *cliEnv) ragEmbed(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("rag embed", &cfg)
	e.ragFlags(fs, &cfg)
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	enc, err := bert.Load(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir))
	if err != nil {
		return fmt.Errorf("the embedder (rustexpert models fetch): %w", err)
	}
	defer enc.Close()
	st, err := e.openRAGIndex(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := st.EmbedMissing(ctx, enc, embedderModel, func(done, total int) {
		if done == total || done%(8*rag.EmbedBatch) == 0 {
			fmt.Fprintf(e.stdout, "embedded %d/%d chunks\n", done, total)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d chunks embedded in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// ragEval runs a gold set through each retrieval mode and prints recall@1/5/10, MRR and nDCG@10 side
// by side, at document level (the primary figure) and section level; --misses lists the questions
// whose gold documents were not in the first 5.
func (e *cliEnv) ragEval(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("rag eval", &cfg)
	e.ragFlags(fs, &cfg)
	k := fs.Int("k", 10, "chunks retrieved per question (at least 10)")
	modes := fs.String("modes", "bm25,dense,hybrid", "comma-separated retrieval modes: bm25, dense, hybrid-weighted, hybrid-rrf, or hybrid for both hybrid rows (Qdrant: hybrid-rrf only)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	misses := fs.Bool("misses", false, "list the questions missed at recall@5 (with --json: include them)")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{ragUsage}
	}
	qs, err := rag.ReadGoldFile(pos[0])
	if err != nil {
		return err
	}
	st, err := e.openRAGIndex(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	e.checkGoldURLs(ctx, st, qs)
	rows, err := evalRows(*modes, cfg.RAGBackend == ragBackendQdrant)
	if err != nil {
		return err
	}
	var results []rag.EvalResult
	for _, row := range rows {
		res, err := e.evalMode(ctx, st, cfg, row, qs, *k)
		if err != nil {
			return err
		}
		if !*misses {
			res.Misses = nil
		}
		results = append(results, res)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	printEval(e.stdout, pos[0], len(qs), results)
	return nil
}

// checkGoldURLs warns on stderr about gold URLs whose document is not in the index.
func (e *cliEnv) checkGoldURLs(ctx context.Context, st rag.Store, qs []rag.Question) {
	known, err := rag.DocumentURLs(ctx, st, rag.Sources)
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: cannot list the indexed documents: %v\n", err)
		return
	}
	missing := 0
	for _, q := range qs {
		for _, u := range q.URLs {
			if !known[rag.DocumentURL(u)] {
				missing++
				fmt.Fprintf(e.stderr, "warning: %s: %s is not in the index\n", q.ID, u)
			}
		}
	}
	if missing > 0 {
		fmt.Fprintf(e.stderr, "warning: %d gold URLs name documents the index lacks (ingest their sources)\n", missing)
	}
}

// evalRow is one row of `rag eval`: a mode and, for hybrid, a fusion.
type evalRow struct {
	name, mode, fusion string
}

// evalRows reads --modes: bm25, dense, hybrid-weighted, hybrid-rrf, and hybrid for both hybrid rows
// (Qdrant fuses by RRF only, so there hybrid is hybrid-rrf alone).
func evalRows(modes string, qdrant bool) ([]evalRow, error) {
	weighted := evalRow{"hybrid-weighted", rag.ModeHybrid, rag.FusionWeighted}
	rrf := evalRow{"hybrid-rrf", rag.ModeHybrid, rag.FusionRRF}
	var out []evalRow
	for _, m := range strings.Split(modes, ",") {
		switch m = strings.TrimSpace(m); m {
		case rag.ModeBM25, rag.ModeDense:
			out = append(out, evalRow{m, m, ""})
		case rag.ModeHybrid:
			if !qdrant {
				out = append(out, weighted)
			}
			out = append(out, rrf)
		case weighted.name:
			if qdrant {
				return nil, usageError{"mode hybrid-weighted: Qdrant fuses hybrid searches by RRF only"}
			}
			out = append(out, weighted)
		case rrf.name:
			out = append(out, rrf)
		default:
			return nil, usageError{fmt.Sprintf("unknown mode %q (want bm25, dense, hybrid, hybrid-weighted or hybrid-rrf)", m)}
		}
	}
	return out, nil
}

// evalMode ranks every question with one row's mode and fusion (dense and hybrid load the bundled
// embedder once).
func (e *cliEnv) evalMode(ctx context.Context, st ragIndex, cfg Config, row evalRow, qs []rag.Question, k int) (rag.EvalResult, error) {
	var emb rag.Embedder
	if row.mode != rag.ModeBM25 {
		enc, err := bert.Load(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir))
		if err != nil {
			return rag.EvalResult{}, fmt.Errorf("mode %s needs the embedder (rustexpert models fetch): %w", row.name, err)
		}
		defer enc.Close()
		emb = enc
	}
	rank := func(ctx context.Context, question string) ([]string, error) {
		hits, err := st.Search(ctx, emb, embedderModel, rag.Query{Text: question, K: max(k, 10), Mode: row.mode, Fusion: row.fusion})
		urls := make([]string, len(hits))
		for i, h := range hits {
			urls[i] = h.URL
		}
		return urls, err
	}
	return rag.Evaluate(ctx, row.name, qs, k, rank)
}

func printEval(w io.Writer, file string, n int, results []rag.EvalResult) {
	fmt.Fprintf(w, "%s: %d questions\n\n", file, n)
	for _, level := range []string{"document", "section"} {
		note := "a chunk matches a gold URL by its page (URL without #anchor); the primary figures"
		if level == "section" {
			note = "a chunk matches a gold URL with #anchor only at that anchor"
		}
		fmt.Fprintf(w, "%s level (%s)\n\n", level, note)
		fmt.Fprintln(w, "| mode | recall@1 | recall@5 | recall@10 | MRR | nDCG@10 |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, r := range results {
			m := r.Document
			if level == "section" {
				m = r.Section
			}
			fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", r.Mode, m.Recall1, m.Recall5, m.Recall10, m.MRR, m.NDCG)
		}
		fmt.Fprintln(w)
	}
	for _, r := range results {
		if len(r.Misses) > 0 {
			fmt.Fprintf(w, "%s: %d questions without a gold document in the first 5\n", r.Mode, len(r.Misses))
		}
		for _, m := range r.Misses {
			fmt.Fprintf(w, "  %s (rank %d) %s\n    gold: %s\n", m.ID, m.Rank, m.Question, strings.Join(m.Gold, " "))
			for _, u := range m.Retrieved {
				fmt.Fprintf(w, "    got:  %s\n", u)
			}
		}
	}
}

// Retrieval backends.
const (
	ragBackendSQLite = "sqlite"
	ragBackendQdrant = "qdrant"
)

// ragFlags adds the retrieval backend and the Qdrant settings to a rag command's flags.
func (e *cliEnv) ragFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.RAGBackend, "rag-backend", e.env("RUSTEXPERT_RAG_BACKEND", ragBackendSQLite), "where docs chunks are kept and searched: sqlite (the database) or qdrant")
	fs.StringVar(&cfg.Qdrant.Addr, "qdrant-addr", e.env("RUSTEXPERT_QDRANT_ADDR", "localhost:6334"), "Qdrant's gRPC address, host:port (port 6334 when left out)")
	fs.StringVar(&cfg.QdrantKeyEnv, "qdrant-api-key-env", e.env("RUSTEXPERT_QDRANT_API_KEY_ENV", "QDRANT_API_KEY"), "environment variable holding Qdrant's API key (unset or empty: no key)")
	fs.BoolVar(&cfg.Qdrant.TLS, "qdrant-tls", e.getenv("RUSTEXPERT_QDRANT_TLS") == "1", "connect to Qdrant over TLS")
	fs.StringVar(&cfg.Qdrant.Collection, "qdrant-collection", e.env("RUSTEXPERT_QDRANT_COLLECTION", rag.DefaultQdrantCollection), "Qdrant collection of the docs chunks")
	fs.Var(e.uint32Flag(&cfg.Qdrant.Shards, "RUSTEXPERT_QDRANT_SHARDS"), "qdrant-shards", "shards of a new Qdrant collection (0: the server's default)")
	fs.Var(e.uint32Flag(&cfg.Qdrant.Replicas, "RUSTEXPERT_QDRANT_REPLICAS"), "qdrant-replicas", "copies of each shard of a new Qdrant collection (0: the server's default)")
	fs.Var(e.uint32Flag(&cfg.Qdrant.WriteConsistency, "RUSTEXPERT_QDRANT_WRITE_CONSISTENCY"), "qdrant-write-consistency", "replicas that must confirm each write to a new Qdrant collection (0: the server's default)")
}

// uint32Flag is a flag.Value over a uint32.
type uint32Flag struct{ p *uint32 }

// uint32Flag binds p to a flag, starting from the variable key (0 when unset or not a number).
func (e *cliEnv) uint32Flag(p *uint32, key string) uint32Flag {
	n, _ := strconv.ParseUint(e.getenv(key), 10, 32)
	*p = uint32(n)
	return uint32Flag{p}
}

func (f uint32Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatUint(uint64(*f.p), 10)
}

func (f uint32Flag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("want a whole number from 0 to %d", uint32(math.MaxUint32))
	}
	*f.p = uint32(n)
	return nil
}

// ragIndex is where the rag commands keep and search chunks: the SQLite database or a Qdrant
// collection (rag.Qdrant).
type ragIndex interface {
	rag.Store
	Search(ctx context.Context, emb rag.Embedder, model string, q rag.Query) ([]rag.Hit, error)
	EmbedMissing(ctx context.Context, emb rag.Embedder, model string, progress func(done, total int)) (int, error)
	Close() error
}

// sqliteIndex is the database as a ragIndex: searches go through one rag.Index, which keeps the
// vectors in memory between the questions of an eval.
type sqliteIndex struct {
	*store.Store
	ix *rag.Index
}

func (s sqliteIndex) Search(ctx context.Context, emb rag.Embedder, model string, q rag.Query) ([]rag.Hit, error) {
	return s.ix.Search(ctx, emb, model, q)
}

func (s sqliteIndex) EmbedMissing(ctx context.Context, emb rag.Embedder, model string, progress func(done, total int)) (int, error) {
	return rag.EmbedMissing(ctx, s.Store, emb, model, progress)
}

// openRAGIndex opens the backend --rag-backend names. A new Qdrant collection gets the bundled
// embedder's vector size (from its config.json, else 384).
func (e *cliEnv) openRAGIndex(ctx context.Context, cfg Config) (ragIndex, error) {
	switch cfg.RAGBackend {
	case ragBackendSQLite, "":
		st, err := openStore(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return sqliteIndex{Store: st, ix: rag.NewIndex(st)}, nil
	case ragBackendQdrant:
		return rag.OpenQdrant(ctx, e.qdrantConfig(cfg))
	default:
		return nil, usageError{fmt.Sprintf("--rag-backend %q: want sqlite or qdrant", cfg.RAGBackend)}
	}
}

// qdrantConfig is cfg's Qdrant settings with the API key read from its variable.
func (e *cliEnv) qdrantConfig(cfg Config) rag.QdrantConfig {
	qc := cfg.Qdrant
	if cfg.QdrantKeyEnv != "" {
		qc.APIKey = e.getenv(cfg.QdrantKeyEnv)
	}
	if bc, err := bert.LoadConfig(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir)); err == nil && qc.Dim == 0 {
		qc.Dim = bc.Hidden
	}
	return qc
}

// serveRAG picks where serve's "+rag" generation jobs retrieve from: the database, or with
// --rag-backend qdrant the Qdrant collection, returned so the caller closes it after the server.
func (e *cliEnv) serveRAG(ctx context.Context, cfg Config, emb rag.Embedder, docs *rag.Index) (*rag.Qdrant, rag.Retriever, error) {
	switch cfg.RAGBackend {
	case ragBackendSQLite, "":
		return nil, indexRetriever(docs, emb), nil
	case ragBackendQdrant:
		q, err := rag.OpenQdrant(ctx, e.qdrantConfig(cfg))
		if err != nil {
			return nil, nil, err
		}
		return q, indexRetriever(q, emb), nil
	default:
		return nil, nil, usageError{fmt.Sprintf("--rag-backend %q: want sqlite or qdrant", cfg.RAGBackend)}
	}
}

// indexRetriever retrieves for a "+rag" question from s (hybrid where vectors exist).
func indexRetriever(s rag.Searcher, emb rag.Embedder) rag.Retriever {
	return func(ctx context.Context, question string) ([]rag.Hit, error) {
		hits, _, err := rag.SearchOrBM25With(ctx, s, emb, embedderModel, rag.Query{Text: question, K: ragContextHits, Mode: rag.ModeHybrid})
		return hits, err
	}
}
