// Command rustexpert is the workbench for building a Rust-expert code model: the prompt
// spreadsheet, generation jobs, chosen/rejected labelling and dataset exports.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"rustexpert/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rustexpert:", err)
		os.Exit(exitCode(err))
	}
}

// usage is the top-level help.
const usage = `rustexpert — build a Rust-expert code model end to end

Usage: rustexpert <command> [flags]

Commands:
  serve              run the web app (default http://localhost:8080)
  users add NAME     add a user (--admin, or --role annotator|viewer); password from stdin
  users list         list users
  prompts import F   import a prompt sheet (CSV, TSV, JSONL, XLSX), all rows or none
  prompts export     export prompts (--format csv|jsonl|xlsx|tsv, --split, -o FILE)
  models add NAME    register a model: an OpenAI-compatible endpoint (--endpoint URL --served-name M)
                     or a local one for the built-in CPU engine (--base GGUF_OR_DIR [--adapter DIR])
  models list        list models
  models fetch       download the bundled base model into ./models (checked by sha256)
  keys add NAME      make an API key for /v1 (printed once); keys list, keys revoke ID
  generate           run a generation job (--model NAME --n 2 [--split train] [--category C])
  label --by compiler store compiler labels where the checks separate the answers ([--job ID])
  eval               benchmark a model: --bench MULTIPLE.jsonl|EXERCISM_DIR (--model NAME [--n N] [--rag]
                     | --completions FILE); JSON summary on stdout; eval runs [--svg FILE] lists them
  export             write a DPO or SFT dataset snapshot (--kind dpo|sft)
  dataset validate F check a DPO/SFT JSONL file (exit code 1 on problems)
  rag ingest         index the Rust docs for search (--source book,error-codes,…|tokio, --dir PATH)
  rag search QUERY   search the indexed docs (-k 10, --source NAME)
  train sft|dpo      fine-tune a LoRA adapter (--parent MODEL --dataset ID [--set k=v] [--dry-run]);
                     train list, train resume ID
  sft-data build     mine SFT pairs from the local Rust docs, crate sources and clippy's fixes
  backup FILE        copy the database while the server runs (SQLite online backup), then check the copy
  restore FILE       replace the database with a backup (stop the server first; the old one is kept)

Every command takes --data DIR (default ./data, env RUSTEXPERT_DATA), --db FILE
(default DIR/rustexpert.db, env RUSTEXPERT_DB) and --models DIR (default ./models,
env RUSTEXPERT_MODELS). Run "rustexpert <command> -h" for its flags.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	env := &cliEnv{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	cmd, rest := args[0], args[1:]
	if cmd != "serve" {
		ctx = store.WithActor(ctx, store.CLIActor) // the audit log names command-line changes "cli"
	}
	switch cmd {
	case "serve":
		return env.serve(ctx, rest)
	case "users":
		return env.users(ctx, rest)
	case "prompts":
		return env.prompts(ctx, rest)
	case "models":
		return env.models(ctx, rest)
	case "generate":
		return env.generate(ctx, rest)
	case "export":
		return env.export(ctx, rest)
	case "dataset":
		return env.dataset(ctx, rest)
	case "keys":
		return env.keys(ctx, rest)
	case "rag":
		return env.rag(ctx, rest)
	case "train":
		return env.train(ctx, rest)
	case "sft-data":
		return env.sftData(ctx, rest)
	case "backup":
		return env.backup(ctx, rest)
	case "restore":
		return env.restore(ctx, rest)
	case "label":
		return env.label(ctx, rest)
	case "eval":
		return env.eval(ctx, rest)
	default:
		return usageError{fmt.Sprintf("unknown command %q\n\n%s", cmd, usage)}
	}
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// problemsError means the command ran and found problems in its input (exit code 1).
type problemsError struct{ msg string }

func (e problemsError) Error() string { return e.msg }

func exitCode(err error) int {
	switch err.(type) {
	case usageError:
		return 2
	default:
		return 1
	}
}
