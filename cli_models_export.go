package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"rustexpert/bundled"
	"rustexpert/store"
	"rustexpert/training"
)

// modelsExport writes a registered built-in model as a Hugging Face folder (adapter or merged
// weights, tokenizer, model card) through the training worker's export command.
func (e *cliEnv) modelsExport(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("models export", &cfg)
	e.trainFlags(fs, &cfg)
	out := fs.String("out", "", "folder to write (new or empty)")
	merged := fs.Bool("merged", false, "merge the adapter into the base weights (a plain transformers model)")
	dtype := fs.String("dtype", "bfloat16", "weights' type: bfloat16, float16 or float32")
	baseID := fs.String("base-id", "", "hub id of the base model for the card and adapter_config.json (default: the bundled base's id)")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usageError{"usage: rustexpert models export NAME --out DIR [--merged] [--dtype bfloat16] [--base-id ORG/NAME]"}
	}
	st, m, err := openWithModel(ctx, cfg, pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	req := exportRequest(ctx, st, m, cfg.ModelsDir)
	req.Out, req.Merged, req.DType = *out, *merged, *dtype
	if *baseID != "" {
		req.BaseModelID = *baseID
	}
	files, err := training.Export(ctx, cfg.TrainPython, cfg.TrainDir, req, e.stderr)
	if err != nil {
		return problemsError{fmt.Sprintf("export %s: %v", pos[0], err)}
	}
	fmt.Fprintf(e.stdout, "exported %s to %s: %s\n", pos[0], *out, strings.Join(files, ", "))
	return nil
}

// exportRequest gathers a model's lineage from the registry (training.Lineage); the bundled base's hub id is
// filled in when the model stands on it.
func exportRequest(ctx context.Context, st *store.Store, m store.Model, modelsDir string) training.ExportRequest {
	req := training.Lineage(ctx, st, m)
	if abs, err := filepath.Abs(filepath.Join(modelsDir, filepath.FromSlash(bundled.Base.Path))); err == nil && abs == m.Base {
		req.BaseModelID = bundled.Base.HubID
	}
	return req
}
