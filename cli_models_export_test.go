package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
	"rustexpert/training"
)

// exportFixtures writes the worker's tiny random Llama (SmolLM2's tokenizer) and a random LoRA
// adapter for it with the real worker's Python, which RUSTEXPERT_TRAIN_PYTHON names.
func exportFixtures(t *testing.T) (python, model, adapter string) {
	t.Helper()
	python = os.Getenv("RUSTEXPERT_TRAIN_PYTHON")
	if python == "" {
		t.Skip("RUSTEXPERT_TRAIN_PYTHON is not set (make train-deps makes one): the export runs the real worker")
	}
	dir := t.TempDir()
	model, adapter = filepath.Join(dir, "model"), filepath.Join(dir, "adapter")
	script := "import sys\nfrom worker.tests import fixtures\nfixtures.write_model(sys.argv[1])\nfixtures.write_adapter(sys.argv[1], sys.argv[2])\n"
	cmd := exec.Command(python, "-c", script, model, adapter)
	cmd.Dir = "training"
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fixtures: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(adapter, "README.md"), []byte("## Recipe\nten steps of nothing in particular\n"), 0o644)
	return python, model, adapter
}

func TestModelsExportWritesAHubFolder(t *testing.T) {
	python, model, adapter := exportFixtures(t)
	data := t.TempDir()
	env := map[string]string{"RUSTEXPERT_DATA": data, "RUSTEXPERT_TRAIN_PYTHON": python, "RUSTEXPERT_MODELS": t.TempDir()}
	cli(t, env, "models", "add", "tiny", "--base", model)
	cli(t, env, "models", "add", "tiny-lora", "--base", model, "--adapter", adapter)

	out := filepath.Join(t.TempDir(), "export")
	msg := cli(t, env, "models", "export", "tiny-lora", "--out", out, "--base-id", "org/tiny")
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s missing (%s)", f, msg)
		}
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	for _, want := range []string{"base_model: org/tiny", "library_name: peft", "# tiny-lora", "ten steps of nothing"} {
		if !strings.Contains(string(card), want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}

	merged := filepath.Join(t.TempDir(), "merged")
	cli(t, env, "models", "export", "tiny-lora", "--out", merged, "--merged", "--dtype", "float32")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "README.md"} {
		if _, err := os.Stat(filepath.Join(merged, f)); err != nil {
			t.Errorf("merged: %s missing", f)
		}
	}
	// The merged folder is a plain model the built-in engine loads.
	cli(t, env, "models", "add", "tiny-merged", "--base", merged)

	if err := cliErr(t, env, "models", "export", "tiny", "--out", filepath.Join(t.TempDir(), "x"), "--merged"); !strings.Contains(err, "no adapter to merge") {
		t.Errorf("merging a model without adapter: %v", err)
	}
	if err := cliErr(t, env, "models", "export", "tiny-lora", "--out", out); !strings.Contains(err, "exists and is not empty") {
		t.Errorf("export over a full folder: %v", err)
	}
}

func TestModelCardNamesLineageAndData(t *testing.T) {
	card := training.ModelCard(training.ExportRequest{
		Model:  store.Model{Name: "v2", Base: "/m/base.gguf", Adapter: t.TempDir(), Notes: "run 3"},
		Parent: "v1", Dataset: &store.Dataset{ID: 4, Kind: "dpo", Rows: 120, SHA256: "abc"}, BaseModelID: "org/base", Merged: true,
	})
	for _, want := range []string{"base_model: org/base", "library_name: transformers", "# v2", "trained from: v1",
		"DPO snapshot 4, 120 rows, sha256 abc", "notes: run 3", "merged into its base"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
}

func TestModelCardGivesTheRunsRecipeAndFigures(t *testing.T) {
	cfg := training.Defaults("dpo")
	cfg.Lora.Quantization = "nf4"
	cfg.Hyperparameters.Beta = 0.2
	run := store.Run{ID: 7, Kind: "dpo", Device: "cuda (NVIDIA H100)", Step: 40, ConfigJSON: string(cfg.JSON()),
		MetricsJSON: `{"train_loss":0.61,"rewards/accuracies":0.75}`}
	card := training.ModelCard(training.ExportRequest{Model: store.Model{Name: "v2", Base: "/m/base.gguf"}, Run: &run})
	for _, want := range []string{"## Training", "DPO LoRA, run 7 on cuda (NVIDIA H100), 40 steps.",
		`- LoRA: r 32, α 16, dropout 0.05, target modules "all-linear", base quantization nf4`,
		"learning rate 5e-06 (cosine, warm-up 0.1), 2 × 8 sequences per step, max length 1024, seed 42",
		"- DPO: β 0.2, loss sigmoid", "| rewards/accuracies | 0.75 |", "| train_loss | 0.61 |"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if strings.Index(card, "rewards/accuracies") > strings.Index(card, "train_loss") {
		t.Errorf("metrics not sorted by name:\n%s", card)
	}
}
