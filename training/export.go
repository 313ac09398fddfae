package training

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"rustexpert/store"
)

// ExportRequest is a model to write as a Hugging Face folder.
type ExportRequest struct {
	Model       store.Model
	Parent      string         // name of the model it was trained from ("" for none)
	Dataset     *store.Dataset // the dataset that made it, when known
	Out         string         // a new (or empty) folder
	Merged      bool           // merge the adapter into the base weights
	DType       string         // bfloat16 (default), float16 or float32
	BaseModelID string         // hub id written as the adapter's base (default: the registry's base path)
	Run         *store.Run     // the run that trained it, when known: its recipe and final figures go in the card
}

// Lineage is an export request for m with what the registry knows of its making: the parent's
// name, the dataset and the run that trained it.
func Lineage(ctx context.Context, st *store.Store, m store.Model) ExportRequest {
	req := ExportRequest{Model: m}
	if m.ParentID != 0 {
		if p, err := st.Model(ctx, m.ParentID); err == nil {
			req.Parent = p.Name
		}
	}
	if m.DatasetID != 0 {
		if d, err := st.Dataset(ctx, m.DatasetID); err == nil {
			req.Dataset = &d
		}
	}
	if r, err := st.RunOfModel(ctx, m.ID); err == nil {
		req.Run = &r
	}
	return req
}

// exportConfig is export.json, read by `python3 -m worker export`.
type exportConfig struct {
	Model       string `json:"model"`
	Adapter     string `json:"adapter,omitempty"`
	OutputDir   string `json:"output_dir"`
	Merged      bool   `json:"merged"`
	Card        string `json:"card"`
	DType       string `json:"dtype"`
	BaseModelID string `json:"base_model_id,omitempty"`
}

// Export writes req.Model (a built-in model: base weights and optional LoRA adapter) as a
// complete Hugging Face folder — merged weights or the adapter, the tokenizer and a model card
// (README.md) — by running the worker's export command with python from workerDir. It returns
// the files written; the worker's log goes to logw.
func Export(ctx context.Context, python, workerDir string, req ExportRequest, logw io.Writer) ([]string, error) {
	if err := checkExport(req); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(req.Out)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rustexpert-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	card := filepath.Join(tmp, "README.md")
	if err := os.WriteFile(card, []byte(ModelCard(req)), 0o644); err != nil {
		return nil, err
	}
	cfg := exportConfig{Model: req.Model.Base, Adapter: req.Model.Adapter, OutputDir: out, Merged: req.Merged,
		Card: card, DType: req.DType, BaseModelID: req.BaseModelID}
	if cfg.DType == "" {
		cfg.DType = "bfloat16"
	}
	path := filepath.Join(tmp, "export.json")
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	return runExport(ctx, python, workerDir, path, logw)
}

// checkExport refuses what the worker cannot export: a model served by an endpoint, or a merge
// without an adapter. Both are store.ErrInvalid.
func checkExport(req ExportRequest) error {
	if req.Model.Provider != store.ProviderBuiltin {
		return fmt.Errorf("%w: model %s: only built-in models (weights on this machine) can be exported", store.ErrInvalid, req.Model.Name)
	}
	if req.Merged && req.Model.Adapter == "" {
		return fmt.Errorf("%w: model %s has no adapter to merge (export it without merging)", store.ErrInvalid, req.Model.Name)
	}
	return nil
}

// runExport runs the worker and reads its events: the done event lists the files, an error
// event carries the reason.
func runExport(ctx context.Context, python, workerDir, configPath string, logw io.Writer) ([]string, error) {
	env := append(os.Environ(), "PYTHONUNBUFFERED=1", "HF_HUB_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	cmd := workerCommand(ctx, []string{python, "-m", "worker", "export", "--config", configPath}, workerDir, env, logw, 0)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	runErr := cmd.Run()
	var files []string
	var failure string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event   string   `json:"event"`
			Files   []string `json:"files"`
			Message string   `json:"message"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch ev.Event {
		case "done":
			files = ev.Files
		case "error":
			failure = ev.Message
		}
	}
	if failure != "" {
		return nil, errors.New(failure)
	}
	if runErr != nil {
		return nil, fmt.Errorf("export worker (%s -m worker export): %w", python, runErr)
	}
	return files, nil
}

// workerCommand is a worker process in its own process group, in dir with env, its stderr to
// logw. Canceling ctx signals the whole group: SIGTERM (the worker checkpoints), then SIGKILL
// after grace; grace 0 kills at once. The worker dies with this process, as in runWorker:
// SIGKILL from the kernel (Pdeathsig) and the end of its stdin pipe (StopOnStdinEOF).
func workerCommand(ctx context.Context, args []string, dir string, env []string, logw io.Writer, grace time.Duration) *exec.Cmd {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env, cmd.Stderr = dir, env, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if _, err := cmd.StdinPipe(); err == nil { // closed by Wait; without it stdin is /dev/null
		cmd.Env = append(env[:len(env):len(env)], StopOnStdinEOF+"=1")
	}
	signal := syscall.SIGKILL
	if grace > 0 {
		signal = syscall.SIGTERM
		cmd.WaitDelay = grace
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, signal) }
	return cmd
}

// ModelCard is the README.md of an exported model: hub metadata, what it is, its lineage and
// data, then the card kept with its adapter (README.md in the adapter folder), if any.
func ModelCard(req ExportRequest) string {
	m := req.Model
	var b strings.Builder
	b.WriteString("---\n")
	if req.BaseModelID != "" {
		fmt.Fprintf(&b, "base_model: %s\n", req.BaseModelID)
	}
	if m.Adapter != "" && !req.Merged {
		b.WriteString("library_name: peft\n")
	} else {
		b.WriteString("library_name: transformers\n")
	}
	b.WriteString("tags:\n  - rust\n  - code\n")
	if m.Adapter != "" {
		b.WriteString("  - lora\n")
	}
	b.WriteString("---\n\n")
	fmt.Fprintf(&b, "# %s\n\n", m.Name)
	switch {
	case m.Adapter != "" && req.Merged:
		b.WriteString("A LoRA fine-tune merged into its base weights (W + (α/r)·B·A).\n\n")
	case m.Adapter != "":
		b.WriteString("A LoRA adapter; load it with peft on top of the base model named above.\n\n")
	}
	fmt.Fprintf(&b, "- base weights: `%s`\n", filepath.Base(m.Base))
	if req.Parent != "" {
		fmt.Fprintf(&b, "- trained from: %s\n", req.Parent)
	}
	if d := req.Dataset; d != nil {
		fmt.Fprintf(&b, "- dataset: %s snapshot %d, %d rows, sha256 %s\n", strings.ToUpper(d.Kind), d.ID, d.Rows, d.SHA256)
	}
	if m.Notes != "" {
		fmt.Fprintf(&b, "- notes: %s\n", m.Notes)
	}
	if req.Run != nil {
		writeRecipe(&b, *req.Run)
	}
	if m.Adapter != "" {
		if own, err := os.ReadFile(filepath.Join(m.Adapter, "README.md")); err == nil {
			b.WriteString("\n")
			b.Write(own)
		}
	}
	return b.String()
}

// writeRecipe adds the run's recipe (its run.json settings) and final figures to a card.
func writeRecipe(b *strings.Builder, run store.Run) {
	fmt.Fprintf(b, "\n## Training\n\n%s LoRA, run %d", strings.ToUpper(run.Kind), run.ID)
	if run.Device != "" {
		fmt.Fprintf(b, " on %s", run.Device)
	}
	fmt.Fprintf(b, ", %d steps.\n\n", run.Step)
	if cfg, err := ParseConfig([]byte(run.ConfigJSON)); err == nil {
		l, h := cfg.Lora, cfg.Hyperparameters
		quant := "none"
		if l.Quantization != "" {
			quant = l.Quantization
		}
		targets, _ := json.Marshal(l.TargetModules)
		fmt.Fprintf(b, "- LoRA: r %d, α %g, dropout %g, target modules %s, base quantization %s\n", l.R, l.Alpha, l.Dropout, targets, quant)
		fmt.Fprintf(b, "- optimisation: learning rate %g (%s, warm-up %g), %d × %d sequences per step, max length %d, seed %d\n",
			h.LearningRate, h.LRScheduler, h.WarmupRatio, h.PerDeviceBatchSize, h.GradientAccumulation, h.MaxLength, h.Seed)
		if run.Kind == store.RunDPO {
			fmt.Fprintf(b, "- DPO: β %g, loss %s\n", h.Beta, h.LossType)
		}
	}
	var metrics map[string]any
	if json.Unmarshal([]byte(run.MetricsJSON), &metrics) != nil || len(metrics) == 0 {
		return
	}
	names := make([]string, 0, len(metrics))
	for k := range metrics {
		names = append(names, k)
	}
	slices.Sort(names)
	b.WriteString("\nFinal figures:\n\n| metric | value |\n|---|---|\n")
	for _, k := range names {
		fmt.Fprintf(b, "| %s | %v |\n", k, metrics[k])
	}
}
