package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"rustexpert/bundled"
	"rustexpert/live"
	"rustexpert/store"
	"rustexpert/training"
)

const trainUsage = `Usage:
  rustexpert train sft|dpo --parent MODEL --dataset ID [--name NAME] [--set key=value ...] [--dry-run | --estimate]
  rustexpert train sft|dpo --config-name SAVED [--parent MODEL] [--dataset ID] [--name NAME] [--set key=value ...] [...]
  rustexpert train resume RUN_ID
  rustexpert train list
  rustexpert train configs list|show NAME|delete NAME

sft|dpo runs a LoRA fine-tune in the foreground, printing progress, and registers the adapter
as a model (default name v1 for SFT, v2 for DPO). --set changes a setting of run.json
(learning_rate, epochs, max_steps, beta, lora.r, …; repeat it); --dry-run prints run.json and
the worker's command line without starting anything; --estimate trains a few steps in a temporary
folder and predicts the full run's time, GPU memory and cost (--gpu-price per hour). Ctrl-C stops the worker after it saved a
checkpoint; "train resume" goes on from there. --config-name starts from a run config saved on the
/runs page (its settings, parent, dataset and model name; flags override them); "train configs"
lists, shows (as JSON) and deletes saved configs.`

// newTrainer builds the training runner from the configuration.
func newTrainer(st *store.Store, hub *live.Hub, log *slog.Logger, cfg Config, onEvent func(int64, training.Event)) *training.Runner {
	return training.New(st, hub, log, training.Options{Python: cfg.TrainPython, WorkerDir: cfg.TrainDir, DataDir: cfg.DataDir,
		Grace: cfg.TrainGrace, OnEvent: onEvent})
}

// train runs the train subcommands.
func (e *cliEnv) train(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{trainUsage}
	}
	switch args[0] {
	case "sft", "dpo":
		return e.trainRun(ctx, args[0], args[1:])
	case "resume":
		return e.trainResume(ctx, args[1:])
	case "list":
		return e.trainList(ctx, args[1:])
	case "configs":
		return e.trainConfigs(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, trainUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("train: unknown subcommand %q\n\n%s", args[0], trainUsage)}
	}
}

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string { return strings.Join(*s, " ") }

func (s *setFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q: want key=value", v)
	}
	*s = append(*s, v)
	return nil
}

func (e *cliEnv) trainRun(ctx context.Context, kind string, args []string) error {
	var cfg Config
	fs := e.flags("train "+kind, &cfg)
	e.trainFlags(fs, &cfg)
	parent := fs.String("parent", "", "registered model to train from (rustexpert models list)")
	datasetID := fs.Int64("dataset", 0, "dataset snapshot id of the same kind (rustexpert export)")
	name := fs.String("name", "", "name of the model the run registers (default v1 for sft, v2 for dpo)")
	dryRun := fs.Bool("dry-run", false, "print run.json and the command line, start nothing")
	estimate := fs.Bool("estimate", false, "train a few steps in a temporary folder and predict the full run's time, memory and cost; register nothing")
	estimateSteps := fs.Int("estimate-steps", training.EstimateSteps, "steps the --estimate trial trains")
	price := fs.Float64("gpu-price", e.envFloat("RUSTEXPERT_GPU_PRICE", 0), "price of the GPU per hour, for --estimate's cost")
	configName := fs.String("config-name", "", "start from this saved run config (train configs list); the other flags override it")
	var sets setFlags
	fs.Var(&sets, "set", "change a setting: key=value (repeatable), e.g. --set learning_rate=1e-4 --set lora.r=16")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	if *configName == "" && (*parent == "" || *datasetID == 0) {
		return usageError{"train " + kind + ": --parent and --dataset are required (or --config-name)\n\n" + trainUsage}
	}
	check := training.Defaults(kind)
	if err := applySets(&check, sets); err != nil { // flag mistakes before the database opens
		return err
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := bundled.Register(ctx, st, cfg.ModelsDir); err != nil {
		return err
	}
	req, m, err := trainRequest(ctx, st, kind, *configName, *parent, *datasetID, *name, sets)
	if err != nil {
		return err
	}
	p := &trainPrinter{w: e.stdout}
	runner := newTrainer(st, nil, log, cfg, p.event)
	if *estimate {
		est, err := runner.Estimate(ctx, req, *estimateSteps, *price, e.stderr)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, est)
		return nil
	}
	if *dryRun {
		rc, cmd, err := runner.Preview(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n# %s\n", rc.JSON(), strings.Join(cmd, " "))
		return nil
	}
	run, err := runner.Create(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "run %d: %s of %s on dataset %d (%s)\n", run.ID, kind, m.Name, req.DatasetID, runner.RunDir(run.ID))
	return e.finishRun(ctx, runner, run.ID)
}

// applySets changes settings by --set key=value flags.
func applySets(settings *training.Config, sets []string) error {
	for _, kv := range sets {
		k, v, _ := strings.Cut(kv, "=")
		if err := settings.Set(k, v); err != nil {
			return usageError{"--set " + err.Error()}
		}
	}
	return nil
}

// trainRequest is the request of train sft|dpo: the kind's defaults or the saved config named,
// then the flags; it returns the parent model too.
func trainRequest(ctx context.Context, st *store.Store, kind, configName, parent string, datasetID int64, name string, sets []string) (training.Request, store.Model, error) {
	req := training.Request{Kind: kind, Settings: training.Defaults(kind)}
	if configName != "" {
		row, err := st.SavedConfigNamed(ctx, configName)
		if err != nil {
			return req, store.Model{}, err
		}
		if row.Kind != kind {
			return req, store.Model{}, usageError{fmt.Sprintf("saved config %q is for %s runs: use train %s", row.Name, row.Kind, row.Kind)}
		}
		saved, err := training.ParseSaved(row)
		if err != nil {
			return req, store.Model{}, err
		}
		req = saved.Request(kind, 0, datasetID, 0)
	} else {
		req.DatasetID = datasetID
	}
	if name != "" {
		req.Name = name
	}
	if err := applySets(&req.Settings, sets); err != nil {
		return req, store.Model{}, err
	}
	var m store.Model
	var err error
	switch {
	case parent != "":
		m, err = st.ModelByName(ctx, parent)
	case req.ParentID != 0:
		m, err = st.Model(ctx, req.ParentID)
	default:
		return req, store.Model{}, usageError{fmt.Sprintf("saved config %q has no parent model: give --parent", configName)}
	}
	if err != nil {
		return req, store.Model{}, err
	}
	if req.DatasetID == 0 {
		return req, store.Model{}, usageError{fmt.Sprintf("saved config %q has no dataset: give --dataset", configName)}
	}
	req.ParentID = m.ID
	return req, m, nil
}

func (e *cliEnv) trainResume(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("train resume", &cfg)
	e.trainFlags(fs, &cfg)
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"train resume: give one run id\n\n" + trainUsage}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usageError{fmt.Sprintf("train resume: %q is not a run id", pos[0])}
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	p := &trainPrinter{w: e.stdout}
	runner := newTrainer(st, nil, log, cfg, p.event)
	if err := runner.Resume(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "run %d resumed\n", id)
	return e.finishRun(ctx, runner, id)
}

// finishRun runs a queued run in the foreground and reports how it ended.
func (e *cliEnv) finishRun(ctx context.Context, runner *training.Runner, id int64) error {
	run, err := runner.RunOne(ctx, id)
	if err != nil {
		return err
	}
	switch run.Status {
	case store.RunDone:
		fmt.Fprintf(e.stdout, "run %d done at step %d: model %s registered (id %d)\n", run.ID, run.Step, run.ModelName, run.ModelID)
		return nil
	case store.RunInterrupted, store.RunCanceled:
		fmt.Fprintf(e.stdout, "run %d %s at step %d; checkpoint %s\n", run.ID, run.Status, run.Step, orNone(run.Checkpoint))
		return problemsError{fmt.Sprintf("run %d %s; rustexpert train resume %d goes on from its last checkpoint", run.ID, run.Status, run.ID)}
	default:
		return problemsError{fmt.Sprintf("run %d %s: %s", run.ID, run.Status, run.Error)}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// trainPrinter prints a run's events as progress lines.
type trainPrinter struct {
	w        io.Writer
	maxSteps int
}

func (p *trainPrinter) event(id int64, e training.Event) {
	switch e.Event {
	case "start":
		p.maxSteps = e.MaxSteps
		fmt.Fprintf(p.w, "run %d started on %s: %d steps", id, e.DeviceText(), e.MaxSteps)
		if e.ResumedAt > 0 {
			fmt.Fprintf(p.w, ", resumed at step %d", e.ResumedAt)
		}
		fmt.Fprintln(p.w)
	case "metric":
		fmt.Fprintf(p.w, "step %d/%d%s\n", e.Step, p.maxSteps, formatMetrics(e.Metrics))
	case "checkpoint":
		fmt.Fprintf(p.w, "checkpoint at step %d: %s\n", e.Step, e.Path)
	case "interrupted":
		fmt.Fprintf(p.w, "stopped at step %d, checkpoint %s\n", e.Step, orNone(e.Checkpoint))
	case "error":
		fmt.Fprintf(p.w, "worker error: %s\n", e.Message)
	}
}

// formatMetrics lists a step's values, loss first, then by name.
func formatMetrics(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if (a == "loss") != (b == "loss") {
			if a == "loss" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "  %s %.4g", k, m[k])
	}
	return b.String()
}

func (e *cliEnv) trainList(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("train list", &cfg)
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, 1000)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tSTEP\tPARENT\tDATASET\tMODEL\tCREATED")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\n", r.ID, r.Kind, r.Status, r.Step, r.MaxSteps, r.ParentName, r.DatasetID,
			r.ModelName, r.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// trainConfigs runs "train configs list|show NAME|delete NAME" over the run configs saved on the
// /runs page.
func (e *cliEnv) trainConfigs(ctx context.Context, args []string) error {
	const usage = "usage: rustexpert train configs list | show NAME | delete NAME"
	if len(args) == 0 {
		return usageError{usage}
	}
	var cfg Config
	fs := e.flags("train configs "+args[0], &cfg)
	pos, err := e.parse(fs, &cfg, args[1:])
	if err != nil {
		return err
	}
	switch {
	case args[0] == "list" && len(pos) == 0:
	case (args[0] == "show" || args[0] == "delete") && len(pos) == 1:
	default:
		return usageError{usage}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		return e.trainConfigsList(ctx, st)
	case "show":
		row, err := st.SavedConfigNamed(ctx, pos[0])
		if err != nil {
			return err
		}
		saved, err := training.ParseSaved(row)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(struct {
			Name string `json:"config_name"`
			Kind string `json:"kind"`
			training.SavedConfig
		}{row.Name, row.Kind, saved}, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	default:
		row, err := st.SavedConfigNamed(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := st.DeleteSavedConfig(ctx, row.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "saved config %q deleted\n", row.Name)
		return nil
	}
}

func (e *cliEnv) trainConfigsList(ctx context.Context, st *store.Store) error {
	rows, err := st.SavedConfigs(ctx, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPARENT\tDATASET\tBY\tSAVED")
	for _, r := range rows {
		parent, dataset := "", ""
		if saved, err := training.ParseSaved(r); err == nil {
			if m, err := st.Model(ctx, saved.ParentID); err == nil {
				parent = m.Name
			}
			if saved.DatasetID != 0 {
				dataset = strconv.FormatInt(saved.DatasetID, 10)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, parent, dataset, r.CreatedByName, r.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
