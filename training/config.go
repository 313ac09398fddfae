package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"rustexpert/store"
)

// Config is the run.json the worker reads (training/worker/config.py is its other half).
type Config struct {
	Model           string         `json:"model"`
	Tokenizer       string         `json:"tokenizer,omitempty"`
	Dataset         string         `json:"dataset"`
	EvalFraction    float64        `json:"eval_fraction"`
	OutputDir       string         `json:"output_dir"`
	ResumeFrom      string         `json:"resume_from,omitempty"`
	InitAdapter     string         `json:"init_adapter,omitempty"`
	RefAdapter      string         `json:"ref_adapter,omitempty"`
	Lora            Lora           `json:"lora"`
	Hyperparameters Hyper          `json:"hyperparameters"`
	TrainerArgs     map[string]any `json:"trainer_args,omitempty"`
	// GPUs > 1 starts one worker process per GPU through torchrun (data parallel).
	GPUs int `json:"gpus,omitempty"`
}

// Lora is the adapter's shape; TargetModules is "all-linear" or a list of module names.
type Lora struct {
	R             int     `json:"r"`
	Alpha         float64 `json:"alpha"`
	Dropout       float64 `json:"dropout"`
	TargetModules any     `json:"target_modules"`
	// Quantization "nf4" trains on a 4-bit NormalFloat base through bitsandbytes (QLoRA);
	// "" or "none" keeps the base in bf16/fp32.
	Quantization string `json:"quantization,omitempty"`
}

// Hyper is the optimisation settings, mapped by the worker onto TRL's SFTConfig / DPOConfig.
type Hyper struct {
	LearningRate          float64 `json:"learning_rate"`
	Epochs                float64 `json:"epochs"`
	MaxSteps              int     `json:"max_steps"`
	PerDeviceBatchSize    int     `json:"per_device_batch_size"`
	GradientAccumulation  int     `json:"gradient_accumulation"`
	WarmupRatio           float64 `json:"warmup_ratio"`
	LRScheduler           string  `json:"lr_scheduler"`
	MaxLength             int     `json:"max_length"`
	Beta                  float64 `json:"beta"`
	LossType              string  `json:"loss_type"`
	LoggingSteps          int     `json:"logging_steps"`
	SaveSteps             int     `json:"save_steps"`
	SaveTotalLimit        int     `json:"save_total_limit,omitempty"`
	EvalSteps             int     `json:"eval_steps,omitempty"`
	Seed                  int     `json:"seed"`
	BF16                  any     `json:"bf16"` // "auto", true or false
	GradientCheckpointing bool    `json:"gradient_checkpointing"`
	AttnImplementation    string  `json:"attn_implementation,omitempty"`
	// CompileLayers compiles each decoder layer in place (torch.compile), for the policy and
	// DPO's reference alike.
	CompileLayers bool `json:"compile_layers,omitempty"`
}

// Defaults returns the settings a new run of kind starts from: the LoRA recipes of TRL's
// examples (r 32, α 16, every linear projection), learning rate 2e-4 for SFT and 5e-6 for DPO,
// β 0.1 with the sigmoid loss, one epoch, batches of 2 × 8 accumulated, 10% cosine warm-up.
func Defaults(kind string) Config {
	lr := 2e-4
	if kind == "dpo" {
		lr = 5e-6
	}
	return Config{
		Lora: Lora{R: 32, Alpha: 16, Dropout: 0.05, TargetModules: "all-linear"},
		Hyperparameters: Hyper{
			LearningRate: lr, Epochs: 1, MaxSteps: -1, PerDeviceBatchSize: 2, GradientAccumulation: 8,
			WarmupRatio: 0.1, LRScheduler: "cosine", MaxLength: 1024, Beta: 0.1, LossType: "sigmoid",
			LoggingSteps: 1, SaveSteps: 100, Seed: 42, BF16: "auto",
		},
	}
}

// ParseConfig reads a run.json, refusing unknown fields.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("run.json: %w", err)
	}
	return c, nil
}

// JSON is the run.json text, indented.
func (c Config) JSON() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// Check returns every problem of the settings for a run of kind, each naming its field as
// the worker does (hyperparameters.learning_rate, lora.r, …). The worker checks again.
func (c Config) Check(kind string) []string {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	h, l := c.Hyperparameters, c.Lora
	if c.EvalFraction < 0 || c.EvalFraction > 0.5 {
		add("eval_fraction", "%g is outside [0, 0.5]", c.EvalFraction)
	}
	if c.GPUs < 0 || c.GPUs > 64 {
		add("gpus", "%d is outside [0, 64]", c.GPUs)
	}
	if l.R < 1 {
		add("lora.r", "%d must be at least 1", l.R)
	}
	if l.Alpha < 0 {
		add("lora.alpha", "%g must not be negative", l.Alpha)
	}
	if l.Dropout < 0 || l.Dropout > 0.9 {
		add("lora.dropout", "%g is outside [0, 0.9]", l.Dropout)
	}
	if l.Quantization != "" && l.Quantization != "none" && l.Quantization != "nf4" {
		add("lora.quantization", "%q is not none or nf4 (4-bit QLoRA)", l.Quantization)
	}
	if !validTargets(l.TargetModules) {
		add("lora.target_modules", `must be "all-linear" or a list of module names`)
	}
	if h.LearningRate <= 0 {
		add("hyperparameters.learning_rate", "%g must be above 0", h.LearningRate)
	}
	if h.MaxSteps == 0 || h.MaxSteps < -1 || (h.MaxSteps < 0 && h.Epochs <= 0) {
		add("hyperparameters.max_steps", "set max_steps > 0, or -1 with epochs > 0")
	}
	if h.Epochs < 0 {
		add("hyperparameters.epochs", "%g must not be negative", h.Epochs)
	}
	for _, f := range []struct {
		name string
		v    int
		lo   int
	}{{"per_device_batch_size", h.PerDeviceBatchSize, 1}, {"gradient_accumulation", h.GradientAccumulation, 1},
		{"max_length", h.MaxLength, 16}, {"logging_steps", h.LoggingSteps, 1}, {"save_steps", h.SaveSteps, 1},
		{"save_total_limit", h.SaveTotalLimit, 0}, {"eval_steps", h.EvalSteps, 0}, {"seed", h.Seed, 0}} {
		if f.v < f.lo {
			add("hyperparameters."+f.name, "%d must be at least %d", f.v, f.lo)
		}
	}
	if h.WarmupRatio < 0 || h.WarmupRatio > 0.99 {
		add("hyperparameters.warmup_ratio", "%g is outside [0, 0.99]", h.WarmupRatio)
	}
	if !slices.Contains([]string{"cosine", "linear", "constant", "constant_with_warmup"}, h.LRScheduler) {
		add("hyperparameters.lr_scheduler", "%q is not cosine, linear, constant or constant_with_warmup", h.LRScheduler)
	}
	if kind == "dpo" {
		if h.Beta <= 0 {
			add("hyperparameters.beta", "%g must be above 0", h.Beta)
		}
		if !slices.Contains([]string{"sigmoid", "hinge", "ipo", "robust"}, h.LossType) {
			add("hyperparameters.loss_type", "%q is not sigmoid, hinge, ipo or robust", h.LossType)
		}
	}
	if h.BF16 != "auto" && h.BF16 != true && h.BF16 != false {
		add("hyperparameters.bf16", `must be "auto", true or false`)
	}
	return errs
}

func validTargets(v any) bool {
	switch t := v.(type) {
	case string:
		return t == "all-linear"
	case []any:
		for _, x := range t {
			if s, ok := x.(string); !ok || s == "" {
				return false
			}
		}
		return len(t) > 0
	case []string:
		return len(t) > 0 && !slices.Contains(t, "")
	}
	return false
}

// Settable lists the names Set accepts without a section prefix.
func Settable() []string {
	var names []string
	for _, section := range []string{"hyperparameters", "lora", ""} {
		for name := range sectionFields(section) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// sectionFields returns the JSON field names of a section ("" is the top level, whose paths
// and nested objects are not settable this way).
func sectionFields(section string) map[string]bool {
	var v any
	switch section {
	case "hyperparameters":
		v = Hyper{SaveTotalLimit: 1, EvalSteps: 1, AttnImplementation: "x", CompileLayers: true}
	case "lora":
		v = Lora{Quantization: "x"}
	default:
		return map[string]bool{"eval_fraction": true}
	}
	b, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(b, &m)
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// Set changes one setting from a key=value pair of the command line. The key is a field name
// (learning_rate, r, beta, …), optionally with its section (lora.r, hyperparameters.beta), or
// trainer_args.NAME for a field of TRL's config classes. The value is read as JSON where it
// parses (numbers, true/false, lists), else as a string.
func (c *Config) Set(key, value string) error {
	key = strings.TrimSpace(key)
	section, name, hasSection := strings.Cut(key, ".")
	if !hasSection {
		section, name = "", key
		for _, s := range []string{"hyperparameters", "lora", ""} {
			if sectionFields(s)[key] {
				section = s
				break
			}
		}
	}
	v := parseValue(value)
	if section == "trainer_args" {
		if name == "" {
			return fmt.Errorf("set %s: name the trainer argument (trainer_args.NAME)", key)
		}
		if c.TrainerArgs == nil {
			c.TrainerArgs = map[string]any{}
		}
		c.TrainerArgs[name] = v
		return nil
	}
	if !sectionFields(section)[name] {
		return fmt.Errorf("set %s: unknown setting (known: %s, trainer_args.NAME)", key, strings.Join(Settable(), ", "))
	}
	return c.setField(section, name, v, key, value)
}

// setField writes v into the named field through the JSON form of the config, so that each
// field keeps its type; a value of the wrong type is refused with the field's name.
func (c *Config) setField(section, name string, v any, key, raw string) error {
	b, _ := json.Marshal(c)
	var m map[string]any
	json.Unmarshal(b, &m)
	target := m
	if section != "" {
		target, _ = m[section].(map[string]any)
	}
	target[name] = v
	b, _ = json.Marshal(m)
	var out Config
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("set %s: %q is not a valid value for this setting", key, raw)
	}
	*c = out
	return nil
}

func parseValue(s string) any {
	s = strings.TrimSpace(s)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// Request asks for a new run: what to train from and on, and the settings (Lora,
// Hyperparameters, EvalFraction and TrainerArgs of Settings; the paths are filled in).
type Request struct {
	Kind      string
	ParentID  int64
	DatasetID int64
	Name      string // the produced model's name; "" = v1 for SFT, v2 for DPO
	Settings  Config
	CreatedBy int64
}

// BuildConfig makes the run.json of a request for the run with the given id. The parent must
// be a built-in model; its base is the model to train (a GGUF file is passed as it is), and an
// adapter of the parent is where training starts (for DPO also the frozen reference). The
// dataset must be a snapshot of the run's kind. Problems are store.ErrInvalid, all listed.
func (r *Runner) BuildConfig(ctx context.Context, req Request, id int64) (Config, error) {
	cfg := req.Settings
	cfg.Model, cfg.Tokenizer, cfg.Dataset, cfg.OutputDir = "", "", "", ""
	cfg.ResumeFrom, cfg.InitAdapter, cfg.RefAdapter = "", "", ""
	var problems []string
	if req.Kind != store.RunSFT && req.Kind != store.RunDPO {
		problems = append(problems, fmt.Sprintf("kind: %q (want sft or dpo)", req.Kind))
	}
	if req.Name != "" {
		if err := store.CheckModelName(req.Name); err != nil {
			problems = append(problems, "name: "+strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": name: "))
		}
	}
	parent, err := r.store.Model(ctx, req.ParentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		problems = append(problems, "parent model: choose a registered model")
	case err != nil:
		return Config{}, err
	case parent.Provider != store.ProviderBuiltin || parent.Base == "":
		problems = append(problems, fmt.Sprintf("parent model: %s is served by an endpoint; training needs local weights (a built-in model)", parent.Name))
	default:
		cfg.Model = parent.Base
		if parent.Adapter != "" {
			cfg.InitAdapter = parent.Adapter
			if req.Kind == store.RunDPO {
				cfg.RefAdapter = parent.Adapter
			}
		}
	}
	ds, err := r.store.Dataset(ctx, req.DatasetID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		problems = append(problems, "dataset: choose a snapshot")
	case err != nil:
		return Config{}, err
	case ds.Kind != req.Kind:
		problems = append(problems, fmt.Sprintf("dataset: snapshot %d is %s; a %s run needs a %s snapshot", ds.ID, ds.Kind, req.Kind, req.Kind))
	default:
		cfg.Dataset = ds.Path
		if !filepath.IsAbs(ds.Path) {
			cfg.Dataset = filepath.Join(r.opt.DataDir, ds.Path)
		}
	}
	cfg.OutputDir = filepath.Join(r.RunDir(id), "output")
	problems = append(problems, cfg.Check(req.Kind)...)
	if len(problems) > 0 {
		return cfg, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// ConfigError lists every problem of a run request; it is store.ErrInvalid.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid: " + strings.Join(e.Problems, "; ")
}

// Is makes a ConfigError match store.ErrInvalid.
func (e *ConfigError) Is(target error) bool { return target == store.ErrInvalid }

// Preview is the run.json and command line a request would start, for the next run id.
func (r *Runner) Preview(ctx context.Context, req Request) (Config, []string, error) {
	id, err := r.store.NextRunID(ctx)
	if err != nil {
		return Config{}, nil, err
	}
	cfg, err := r.BuildConfig(ctx, req, id)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, r.Command(req.Kind, filepath.Join(r.RunDir(id), "run.json"), cfg.GPUs), nil
}

// Create stores a queued run for the request and wakes the runner.
func (r *Runner) Create(ctx context.Context, req Request) (store.Run, error) {
	if _, err := r.BuildConfig(ctx, req, 0); err != nil {
		return store.Run{}, err
	}
	in := store.RunInput{Kind: req.Kind, Name: req.Name, ParentID: req.ParentID, DatasetID: req.DatasetID, CreatedBy: req.CreatedBy}
	run, err := r.store.CreateRun(ctx, in, func(id int64) (string, string, error) {
		cfg, err := r.BuildConfig(ctx, req, id)
		if err != nil {
			return "", "", err
		}
		return string(cfg.JSON()), cfg.OutputDir, nil
	})
	if err != nil {
		return store.Run{}, err
	}
	r.Wake()
	r.publishState(ctx, run.ID)
	return run, nil
}
