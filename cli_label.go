package main

import (
	"context"
	"fmt"

	"rustexpert/checking"
	"rustexpert/eval"
	"rustexpert/store"
)

const labelUsage = "usage: rustexpert label --by compiler [--job ID] [--check=false]"

// label stores machine labels. "--by compiler" first checks the answers that have no compiler
// check yet (all of them, when a Rust toolchain is installed; --check=false skips this), then
// stores a compiler label for each ready comparison of the job (default: every job) whose checks
// separate its answers, and prints what it did. Compiler labels are kept apart from people's:
// exports leave them out unless asked (--include-suggested).
func (e *cliEnv) label(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("label", &cfg)
	by := fs.String("by", "", "who labels: compiler")
	jobID := fs.Int64("job", 0, "only this generation job's comparisons (default: every job)")
	check := fs.Bool("check", true, "first compile-check the answers not checked yet")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	if *by != store.SuggestedByCompiler {
		return usageError{fmt.Sprintf("--by %q: only compiler can label\n%s", *by, labelUsage)}
	}
	if *jobID < 0 {
		return usageError{fmt.Sprintf("--job %d: want a job id\n%s", *jobID, labelUsage)}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if *check {
		if err := e.checkPending(ctx, cfg, st); err != nil {
			return err
		}
	}
	counts, err := st.LabelByCompiler(ctx, *jobID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "compiler labels: %d created, %d already labelled, %d where the checks do not separate the answers, %d with answers not checked yet\n",
		counts.Created, counts.Existing, counts.NoSuggestion, counts.Unchecked)
	return nil
}

// checkPending compile-checks every answer without a check, as serve's background checker does.
// Without a Rust toolchain it says so and leaves the answers unchecked.
func (e *cliEnv) checkPending(ctx context.Context, cfg Config, st *store.Store) error {
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	checker, err := eval.NewChecker(eval.Options{Clippy: true})
	if err != nil {
		fmt.Fprintf(e.stderr, "answers not checked: %v\n", err)
		return nil
	}
	runner := checking.New(st, checker, log, 0)
	total := 0
	for {
		n, err := runner.CheckPending(ctx)
		if err != nil {
			return fmt.Errorf("check answers: %w", err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		fmt.Fprintf(e.stderr, "checked %d answers\n", total)
	}
	return nil
}
