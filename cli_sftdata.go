package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"rustexpert/bundled"
	"rustexpert/rag"
	"rustexpert/sftdata"
)

const sftDataUsage = `usage: rustexpert sft-data build [--rust-docs DIR] [--crates DIR] [--crate-names a,b] [--clippy DIR]
       [--exclude-dir DIR,…] [--model GGUF] [--max-tokens 1024] [--limit-per-kind N] [--seed N] [--out FILE]
Each source folder defaults to "auto" (found on this machine and printed); "none" leaves it out.`

// sftDataOptions are the build's settings as recorded with the snapshot.
type sftDataOptions struct {
	RustDocs     string   `json:"rust_docs"`
	Crates       string   `json:"crates"`
	CrateNames   []string `json:"crate_names"`
	Clippy       string   `json:"clippy"`
	ExcludeDirs  []string `json:"exclude_dirs"`
	Model        string   `json:"model"`
	MaxTokens    int      `json:"max_tokens"`
	LimitPerKind int      `json:"limit_per_kind"`
	Seed         int64    `json:"seed"`
	NearDup      float64  `json:"near_dup"`
}

func (e *cliEnv) sftData(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "build" {
		return usageError{sftDataUsage}
	}
	var cfg Config
	fs := e.flags("sft-data build", &cfg)
	var o sftDataOptions
	fs.StringVar(&o.RustDocs, "rust-docs", "auto", "rustup's share/doc/rust/html folder")
	fs.StringVar(&o.Crates, "crates", "auto", "crate registry folder (Debian's librust-*-dev sources)")
	names := fs.String("crate-names", strings.Join(sftdata.DefaultCrates, ","), "crates to mine, comma separated (\"all\": every crate there)")
	fs.StringVar(&o.Clippy, "clippy", "auto", "clippy UI tests folder (.rs, .fixed, .stderr)")
	exclude := fs.String("exclude-dir", "auto", "evaluation exercise folders (exercism layout) no pair may overlap, comma separated")
	fs.StringVar(&o.Model, "model", "auto", "GGUF model whose tokenizer and chat template count tokens (\"none\": characters / 4)")
	fs.IntVar(&o.MaxTokens, "max-tokens", 1024, "the most tokens of a row")
	fs.IntVar(&o.LimitPerKind, "limit-per-kind", 0, "keep at most N rows of each kind, picked by --seed (0: all)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed for choosing question styles and --limit-per-kind samples")
	fs.Float64Var(&o.NearDup, "near-dup", 0.7, "Jaccard share of 8-word shingles from which two rows are duplicates")
	out := fs.String("out", "", "output file (default DATA/datasets/sft-<time>-<sha>.jsonl); recorded when inside DATA")
	if err := e.parseNoArgs(fs, &cfg, args[1:]); err != nil {
		return err
	}
	if *names != "all" {
		o.CrateNames = sftSplitList(*names)
	}
	e.resolveSFTSources(&o, cfg, *exclude)
	return e.buildSFTData(ctx, cfg, o, *out)
}

// resolveSFTSources replaces "auto" by the folder found on this machine and "none" by "".
func (e *cliEnv) resolveSFTSources(o *sftDataOptions, cfg Config, exclude string) {
	o.RustDocs = sftPick(o.RustDocs, rag.RustDocsDir(e.getenv))
	o.Crates = sftPick(o.Crates, sftFirstDir("/usr/share/cargo/registry"))
	o.Clippy = sftPick(o.Clippy, sftFirstDir("../shared/data/clippy-ui", "shared/data/clippy-ui"))
	o.Model = sftPick(o.Model, sftFirstFile(filepath.Join(cfg.ModelsDir, bundled.Base.Path)))
	if exclude == "auto" {
		exclude = sftFirstDir("../shared/data/exercism-rust", "shared/data/exercism-rust")
	}
	if exclude != "none" {
		o.ExcludeDirs = sftSplitList(exclude)
	}
	for _, s := range []struct{ name, path string }{{"rust docs", o.RustDocs}, {"crates", o.Crates}, {"clippy", o.Clippy},
		{"exclude", strings.Join(o.ExcludeDirs, ",")}, {"tokenizer", o.Model}} {
		fmt.Fprintf(e.stdout, "%-10s %s\n", s.name+":", sftNoneIfEmpty(s.path))
	}
}

func sftPick(flag, found string) string {
	switch flag {
	case "auto":
		return found
	case "none":
		return ""
	}
	return flag
}

func sftNoneIfEmpty(s string) string {
	if s == "" {
		return "— (none)"
	}
	return s
}

func sftFirstDir(paths ...string) string {
	for _, p := range paths {
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			return p
		}
	}
	return ""
}

func sftFirstFile(paths ...string) string {
	for _, p := range paths {
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func sftSplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (e *cliEnv) buildSFTData(ctx context.Context, cfg Config, o sftDataOptions, out string) error {
	if o.RustDocs == "" && o.Crates == "" && o.Clippy == "" {
		return usageError{"no source found: give --rust-docs, --crates or --clippy"}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	heldout, err := st.HeldoutPromptTexts(ctx)
	if err != nil {
		return err
	}
	excl := sftdata.NewExclusion(heldout)
	for _, dir := range o.ExcludeDirs {
		n, err := excl.AddExercises(dir)
		if err != nil {
			return fmt.Errorf("--exclude-dir: %w", err)
		}
		fmt.Fprintf(e.stdout, "excluding %d held-out prompts and %d exercise files from %s\n", len(heldout), n, dir)
	}
	opt := sftdata.Options{RustDocs: o.RustDocs, Crates: o.Crates, CrateNames: o.CrateNames, Clippy: o.Clippy, Exclusion: excl,
		MaxTokens: o.MaxTokens, NearDup: o.NearDup, LimitPerKind: o.LimitPerKind, Seed: o.Seed}
	if o.Model != "" {
		counter, err := sftdata.LoadModelTokens(o.Model)
		if err != nil {
			return fmt.Errorf("--model: %w", err)
		}
		opt.Counter = counter
	}
	start := time.Now()
	rows, sum, err := sftdata.Build(ctx, opt)
	if err != nil {
		return err
	}
	sftdata.PrintSummary(e.stdout, sum)
	if len(rows) == 0 {
		return problemsError{"no rows left to write"}
	}
	w, err := sftdata.Write(rows, cfg.DataDir, out)
	if err != nil {
		return err
	}
	d, err := sftdata.Record(ctx, st, w, o, sum)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d rows, sha256 %s; dataset snapshot %d (%.1fs)\n", w.Path, w.Rows, w.SHA256, d.ID,
		time.Since(start).Seconds())
	return nil
}
