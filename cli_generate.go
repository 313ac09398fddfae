package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"rustexpert/generation"
	"rustexpert/inference/builtin"
	"rustexpert/live"
	"rustexpert/store"
)

// generate creates a generation job and runs it in the foreground, printing progress.
func (e *cliEnv) generate(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("generate", &cfg)
	model := fs.String("model", "", "registered model name (rustexpert models list)")
	n := fs.Int("n", 2, "answers per prompt (1 to 4)")
	split := fs.String("split", "", "only prompts of this split")
	category := fs.String("category", "", "only prompts of this category")
	query := fs.String("q", "", "only prompts matching this search")
	temps := fs.String("temperatures", "0.2,0.7,1.0,1.0", "temperature of each answer slot, comma-separated")
	topP := fs.Float64("top-p", 0.95, "top_p of every answer")
	maxTokens := fs.Int("max-tokens", 1024, "max_tokens of every answer")
	seed := fs.Int64("seed", -1, "seed of the first answer slot (next slots add 1); -1 for none")
	useRAG := fs.Bool("rag", false, "answer with retrieved Rust documentation in front of each prompt (the model's +rag variant)")
	fs.IntVar(&cfg.Workers, "workers", 0, "answers generated at once (default 8)")
	err := e.parseNoArgs(fs, &cfg, args)
	if err != nil {
		return err
	}
	params, err := slotParams(*n, *temps, *topP, *maxTokens, *seed)
	if err != nil {
		return usageError{err.Error()}
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	st, m, err := openWithModel(ctx, cfg, *model)
	if err != nil {
		return err
	}
	defer st.Close()
	if *useRAG {
		if ok, err := st.HasRAGChunks(ctx); err != nil || !ok {
			return usageError{"generate: --rag needs indexed documentation: run rustexpert rag ingest first"}
		}
	}
	filter := store.PromptFilter{Split: *split, Category: *category, Query: *query}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: filter, Params: params, RAG: *useRAG})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "job %d: %d answers from %s\n", job.ID, job.Total, job.Label())
	hub := live.NewHub(256)
	updates, stop := hub.Subscribe(generation.Topic(job.ID))
	defer stop()
	go e.printProgress(updates)
	engines := builtin.NewPool()
	defer engines.Close()
	runner := generation.New(st, generatorFor(e.getenv, engines), hub, log, cfg.Workers)
	if job.RAG {
		retrieve, closeRetriever := e.docsRetriever(cfg, st)
		defer closeRetriever()
		runner.Retrieve = retrieve
	}
	if err := runner.RunOne(ctx, job.ID); err != nil {
		return err
	}
	job, err = st.Job(context.WithoutCancel(ctx), job.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "job %d %s: %d/%d answers, %d errors\n", job.ID, job.Status, job.Done, job.Total, job.Errors)
	if job.Status != store.JobSucceeded {
		return problemsError{fmt.Sprintf("job %d %s: %s", job.ID, job.Status, job.LastError)}
	}
	return nil
}

func (e *cliEnv) printProgress(updates <-chan []byte) {
	last := time.Time{}
	for msg := range updates {
		if time.Since(last) > time.Second {
			fmt.Fprintf(e.stderr, "%s\n", msg)
			last = time.Now()
		}
	}
}

func slotParams(n int, temps string, topP float64, maxTokens int, seed int64) ([]store.Sampling, error) {
	if n < 1 || n > 4 {
		return nil, fmt.Errorf("--n %d: want 1 to 4", n)
	}
	parts := strings.Split(temps, ",")
	params := make([]store.Sampling, n)
	for i := range params {
		var t float64
		if _, err := fmt.Sscan(strings.TrimSpace(parts[min(i, len(parts)-1)]), &t); err != nil {
			return nil, fmt.Errorf("--temperatures %q: %v", temps, err)
		}
		params[i] = store.Sampling{Temperature: t, TopP: topP, MaxTokens: maxTokens}
		if seed >= 0 {
			s := seed + int64(i)
			params[i].Seed = &s
		}
	}
	return params, nil
}
