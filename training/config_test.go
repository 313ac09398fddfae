package training

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

func TestDefaultsFollowTheReference(t *testing.T) {
	sft, dpo := Defaults("sft"), Defaults("dpo")
	if sft.Hyperparameters.LearningRate != 2e-4 || dpo.Hyperparameters.LearningRate != 5e-6 {
		t.Errorf("learning rates %g / %g, want 2e-4 (SFT) and 5e-6 (DPO)", sft.Hyperparameters.LearningRate, dpo.Hyperparameters.LearningRate)
	}
	h := dpo.Hyperparameters
	if h.Beta != 0.1 || h.LossType != "sigmoid" || h.Epochs != 1 || h.PerDeviceBatchSize*h.GradientAccumulation != 16 ||
		dpo.Lora.R != 32 || dpo.Lora.Alpha != 16 || dpo.Lora.TargetModules != "all-linear" {
		t.Errorf("DPO defaults = %+v", dpo)
	}
	for _, kind := range []string{"sft", "dpo"} {
		if p := Defaults(kind).Check(kind); len(p) > 0 {
			t.Errorf("%s defaults do not pass Check: %v", kind, p)
		}
	}
}

func TestSetAndCheck(t *testing.T) {
	c := Defaults("dpo")
	for _, kv := range [][2]string{
		{"learning_rate", "1e-5"}, {"lora.r", "8"}, {"alpha", "16"}, {"beta", "0.05"}, {"max_steps", "20"},
		{"hyperparameters.bf16", "false"}, {"target_modules", `["q_proj","v_proj"]`}, {"eval_fraction", "0.1"},
		{"lr_scheduler", "linear"}, {"trainer_args.report_to", "none"}, {"attn_implementation", "sdpa"},
		{"quantization", "nf4"},
	} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%s, %s): %v", kv[0], kv[1], err)
		}
	}
	h := c.Hyperparameters
	if h.LearningRate != 1e-5 || c.Lora.R != 8 || h.Beta != 0.05 || h.MaxSteps != 20 || h.BF16 != false ||
		c.EvalFraction != 0.1 || h.LRScheduler != "linear" || c.TrainerArgs["report_to"] != "none" || h.AttnImplementation != "sdpa" ||
		c.Lora.Quantization != "nf4" {
		t.Errorf("after Set: %+v", c)
	}
	if p := c.Check("dpo"); len(p) > 0 {
		t.Errorf("Check: %v", p)
	}
	for _, kv := range [][2]string{{"learnig_rate", "1"}, {"lora.r", "eight"}, {"model", "/x"}, {"trainer_args.", "1"}} {
		if err := c.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%s, %s) accepted", kv[0], kv[1])
		}
	}
	if c.Lora.R != 8 {
		t.Errorf("a refused Set changed lora.r to %d", c.Lora.R)
	}
	bad := Defaults("dpo")
	bad.Hyperparameters.LearningRate = 0
	bad.Hyperparameters.LossType = "kto"
	bad.Lora.TargetModules = []any{}
	bad.Lora.Quantization = "int4"
	got := strings.Join(bad.Check("dpo"), "\n")
	for _, want := range []string{"hyperparameters.learning_rate: 0 must be above 0", `hyperparameters.loss_type: "kto"`, "lora.target_modules",
		`lora.quantization: "int4" is not none or nf4`} {
		if !strings.Contains(got, want) {
			t.Errorf("Check lacks %q:\n%s", want, got)
		}
	}
	if p := bad.Check("sft"); strings.Contains(strings.Join(p, " "), "loss_type") {
		t.Errorf("SFT is checked for DPO settings: %v", p)
	}
}

func TestParseConfigRoundTrip(t *testing.T) {
	c := Defaults("sft")
	c.Model, c.Dataset, c.OutputDir = "/m", "/d.jsonl", "/o"
	back, err := ParseConfig(c.JSON())
	if err != nil || string(back.JSON()) != string(c.JSON()) {
		t.Errorf("round trip: %v\n%s\n%s", err, c.JSON(), back.JSON())
	}
	if _, err := ParseConfig([]byte(`{"model":"/m","colour":"red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: err = %v", err)
	}
}

func TestBuildConfigPaths(t *testing.T) {
	e := newEnv(t, standInDone, nil)
	ctx := t.Context()
	v1, err := e.st.CreateModel(ctx, store.ModelInput{Name: "v1", Provider: store.ProviderBuiltin, Base: e.base.Base,
		Adapter: "/models/v1", ParentID: e.base.ID})
	if err != nil {
		t.Fatal(err)
	}
	// DPO from v1: the base stays the model, v1's adapter is the start and the reference.
	cfg, err := e.runner.BuildConfig(ctx, Request{Kind: "dpo", ParentID: v1.ID, DatasetID: e.dpo.ID, Settings: Defaults("dpo")}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model != e.base.Base || !strings.HasSuffix(cfg.Model, ".gguf") || cfg.InitAdapter != "/models/v1" || cfg.RefAdapter != "/models/v1" ||
		cfg.Dataset != filepath.Join(e.runner.opt.DataDir, e.dpo.Path) || cfg.OutputDir != filepath.Join(e.runner.opt.DataDir, "runs", "7", "output") {
		t.Errorf("DPO from v1: %s", cfg.JSON())
	}
	// SFT from the base: no adapters.
	cfg, err = e.runner.BuildConfig(ctx, Request{Kind: "sft", ParentID: e.base.ID, DatasetID: e.sft.ID, Settings: Defaults("sft")}, 8)
	if err != nil || cfg.InitAdapter != "" || cfg.RefAdapter != "" || cfg.Model != e.base.Base {
		t.Errorf("SFT from base: %v %s", err, cfg.JSON())
	}
	remote, _ := e.st.CreateModel(ctx, store.ModelInput{Name: "remote", Endpoint: "http://127.0.0.1:1/v1"})
	bad := Defaults("dpo")
	bad.Hyperparameters.Beta = -1
	_, err = e.runner.BuildConfig(ctx, Request{Kind: "dpo", ParentID: remote.ID, DatasetID: e.sft.ID, Name: "a b", Settings: bad}, 9)
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrInvalid) || len(ce.Problems) != 4 {
		t.Fatalf("bad request: err = %v, want 4 problems", err)
	}
	for i, want := range []string{"name:", "parent model: remote is served by an endpoint", "dataset: snapshot", "hyperparameters.beta"} {
		if !strings.HasPrefix(ce.Problems[i], want) {
			t.Errorf("problem %d = %q, want prefix %q", i, ce.Problems[i], want)
		}
	}
	cfg, cmd, err := e.runner.Preview(ctx, Request{Kind: "sft", ParentID: e.base.ID, DatasetID: e.sft.ID, Settings: Defaults("sft")})
	if err != nil || strings.Join(cmd[1:], " ") != "-m worker sft --config "+filepath.Join(e.runner.RunDir(1), "run.json") ||
		cfg.OutputDir != filepath.Join(e.runner.RunDir(1), "output") {
		t.Errorf("preview: %v %q %s", err, cmd, cfg.OutputDir)
	}
}

func TestCommandStartsOneWorkerPerGPU(t *testing.T) {
	r := New(nil, nil, nil, Options{Python: "py"})
	one := strings.Join(r.Command("sft", "run.json", 1), " ")
	if one != "py -m worker sft --config run.json" {
		t.Errorf("one GPU: %q", one)
	}
	two := strings.Join(r.Command("dpo", "run.json", 2), " ")
	if two != "py -m torch.distributed.run --standalone --nproc_per_node 2 -m worker dpo --config run.json" {
		t.Errorf("two GPUs: %q", two)
	}
	c := Defaults("sft")
	c.GPUs = -1
	if p := strings.Join(c.Check("sft"), "; "); !strings.Contains(p, "gpus: -1 is outside") {
		t.Errorf("negative gpus not refused: %q", p)
	}
}

func TestTotalSteps(t *testing.T) {
	c := Defaults("sft") // 2 × 8 a step, one epoch
	for _, tc := range []struct {
		rows, gpus, maxSteps int
		epochs, eval         float64
		want                 int
	}{
		{rows: 160, epochs: 1, want: 10},
		{rows: 161, epochs: 1, want: 11},
		{rows: 160, epochs: 2.5, want: 25},
		{rows: 160, epochs: 1, gpus: 2, want: 5},
		{rows: 200, epochs: 1, eval: 0.2, want: 10},
		{rows: 200, epochs: 3, maxSteps: 7, want: 7},
	} {
		c.GPUs, c.EvalFraction = tc.gpus, tc.eval
		c.Hyperparameters.Epochs, c.Hyperparameters.MaxSteps = tc.epochs, tc.maxSteps
		if got := TotalSteps(c, tc.rows); got != tc.want {
			t.Errorf("%+v: %d steps, want %d", tc, got, tc.want)
		}
	}
}
