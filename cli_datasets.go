package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"rustexpert/dataset"
	"rustexpert/snapshot"
)

// export writes a dataset snapshot from the labels.
func (e *cliEnv) export(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("export", &cfg)
	kind := fs.String("kind", "dpo", "dpo or sft")
	shape := fs.String("shape", dataset.ShapeConversational, "conversational or plain (dpo)")
	allPairs := fs.Bool("all-pairs", false, "with three ranked answers, emit every pair instead of best vs worst")
	tiesToSFT := fs.Bool("ties-to-sft", false, "sft: also take one answer of each tie")
	suggested := fs.Bool("include-suggested", false, "include machine-suggested labels")
	system := fs.String("system", "", "system message put before each prompt")
	err := e.parseNoArgs(fs, &cfg, args)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	d, stats, err := snapshot.Create(ctx, st, cfg.DataDir, snapshot.Request{Kind: *kind, Options: dataset.Options{
		Shape: *shape, AllPairs: *allPairs, TiesToSFT: *tiesToSFT, IncludeSuggested: *suggested, System: *system}}, 0)
	if err != nil {
		return err
	}
	out, _ := json.Marshal(map[string]any{"id": d.ID, "kind": d.Kind, "rows": d.Rows, "sha256": d.SHA256,
		"path": d.Path, "stats": stats})
	fmt.Fprintln(e.stdout, string(out))
	return nil
}

func (e *cliEnv) dataset(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "validate" {
		return usageError{"usage: rustexpert dataset validate [--kind dpo|sft] FILE"}
	}
	var cfg Config
	fs := e.flags("dataset validate", &cfg)
	kind := fs.String("kind", "", "dpo or sft (default: detect)")
	pos, err := e.parse(fs, &cfg, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert dataset validate [--kind dpo|sft] FILE"}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := e.validate(ctx, cfg, f, *kind)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stderr, "%s: %s\n", pos[0], p)
	}
	fmt.Fprintf(e.stdout, "%s: %s, %d rows; prompt chars median %d (max %d), chosen median %d, rejected median %d\n",
		pos[0], rep.Kind, rep.Rows, rep.Prompt.Median, rep.Prompt.Max, rep.Chosen.Median, rep.Rejected.Median)
	if !rep.OK() {
		return problemsError{fmt.Sprintf("%d problems in %s", len(rep.Problems)+rep.MoreProblems, pos[0])}
	}
	return nil
}

// validate checks against the database's held-out prompts when a database exists.
func (e *cliEnv) validate(ctx context.Context, cfg Config, f *os.File, kind string) (dataset.Report, error) {
	if _, err := os.Stat(cfg.DBPath); err != nil {
		return dataset.Validate(f, dataset.ValidateOptions{Kind: kind})
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return dataset.Report{}, err
	}
	defer st.Close()
	return snapshot.Validate(ctx, st, f, kind)
}
