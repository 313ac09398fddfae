package training

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"rustexpert/store"
)

// realEnv is a testEnv whose runner starts the real worker (python -m worker from this folder)
// on the tiny fixture model; it skips without RUSTEXPERT_TRAIN_PYTHON.
func realEnv(t *testing.T) (*testEnv, store.Model) {
	t.Helper()
	py := trainPython(t)
	fix := t.TempDir()
	fixtures(t, py, fix)
	e := newEnv(t, "#!/bin/sh\nexit 99\n", func(o *Options) {
		o.Python, o.WorkerDir = py, "."
		o.Env = []string{"HF_HUB_OFFLINE=1"}
	})
	e.sft = e.snapshot("sft", sftRows(16))
	e.dpo = e.snapshot("dpo", dpoRows(16))
	tiny, err := e.st.CreateModel(t.Context(), store.ModelInput{Name: "tiny", Provider: store.ProviderBuiltin, Base: filepath.Join(fix, "model")})
	if err != nil {
		t.Fatal(err)
	}
	return e, tiny
}

// smallSettings trains a few steps of a small adapter.
func smallSettings(t *testing.T, kind string, maxSteps, saveSteps int) Config {
	t.Helper()
	c := Defaults(kind)
	for k, v := range map[string]string{"r": "8", "alpha": "16", "learning_rate": "0.01", "max_steps": fmt.Sprint(maxSteps),
		"per_device_batch_size": "4", "gradient_accumulation": "1", "save_steps": fmt.Sprint(saveSteps), "max_length": "128",
		"warmup_ratio": "0"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestRealWorkerSFTRegistersModel(t *testing.T) {
	e, tiny := realEnv(t)
	ctx := t.Context()
	queued, err := e.runner.Create(ctx, Request{Kind: "sft", ParentID: tiny.ID, DatasetID: e.sft.ID, Settings: smallSettings(t, "sft", 4, 2)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.runner.RunOne(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunDone {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	if run.Step != 4 || run.MaxSteps != 4 || run.Device == "" || run.ModelName != "v1" || run.MetricsJSON == "" {
		t.Errorf("done run = %+v", run)
	}
	m, err := e.st.Model(ctx, run.ModelID)
	if err != nil || m.Base != tiny.Base || m.ParentID != tiny.ID || m.DatasetID != e.sft.ID {
		t.Fatalf("registered model = %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(m.Adapter, "adapter_model.safetensors")); err != nil {
		t.Errorf("registered adapter %s: %v", m.Adapter, err)
	}
	points, _ := e.st.RunMetrics(ctx, run.ID)
	losses := 0
	for _, p := range points {
		if p.Name == "loss" {
			losses++
		}
	}
	if losses != 4 {
		t.Errorf("%d loss values stored, want one per step (4): %v", losses, points)
	}
}

func TestRealWorkerDPOCancelThenResume(t *testing.T) {
	e, tiny := realEnv(t)
	ctx := t.Context()
	queued, err := e.runner.Create(ctx, Request{Kind: "dpo", ParentID: tiny.ID, DatasetID: e.dpo.ID, Name: "pref", Settings: smallSettings(t, "dpo", 12, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.opt.OnEvent = func(id int64, ev Event) {
		if ev.Event == "metric" && ev.Step == 2 {
			go e.runner.Cancel(ctx, id)
		}
	}
	run, err := e.runner.RunOne(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunCanceled || run.Checkpoint == "" || run.Step < 2 || run.Step >= 12 {
		t.Fatalf("after cancel: %+v\nlog:\n%v", run, e.runner.LogTail(run.ID))
	}
	if _, err := os.Stat(filepath.Join(run.Checkpoint, "trainer_state.json")); err != nil {
		t.Fatalf("checkpoint %s: %v", run.Checkpoint, err)
	}
	stoppedAt := run.Step
	e.runner.opt.OnEvent = nil
	if err := e.runner.Resume(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	run, err = e.runner.RunOne(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunDone || run.Step != 12 || run.ModelName != "pref" {
		t.Fatalf("after resume: %s %s at step %d", run.Status, run.Error, run.Step)
	}
	points, _ := e.st.RunMetrics(ctx, run.ID)
	steps := map[int]bool{}
	for _, p := range points {
		if p.Name == "loss" {
			steps[p.Step] = true
		}
	}
	if len(steps) != 12 {
		t.Errorf("loss logged at %d distinct steps over both attempts, want 12 (stopped at %d)", len(steps), stoppedAt)
	}
}

func TestRealWorkerEstimate(t *testing.T) {
	e, tiny := realEnv(t)
	settings := smallSettings(t, "sft", -1, 100)
	settings.Hyperparameters.Epochs = 3 // 16 rows, 4 a step: 12 steps
	est, err := e.runner.Estimate(t.Context(), Request{Kind: "sft", ParentID: tiny.ID, DatasetID: e.sft.ID, Settings: settings}, 3, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if est.TrialSteps != 3 || est.TotalSteps != 12 || est.Device != "cpu" || est.SecondsPerStep <= 0 || est.StartSeconds <= 0 {
		t.Fatalf("estimate = %+v", est)
	}
	want := est.StartSeconds + 11*est.SecondsPerStep
	if math.Abs(est.Seconds-want) > 1e-9 || math.Abs(est.Cost-want/3600*2) > 1e-9 {
		t.Errorf("extrapolation %+v, want %.3f s", est, want)
	}
	if runs, _ := e.st.ListRuns(t.Context(), 10); len(runs) != 0 {
		t.Errorf("an estimate stored runs: %+v", runs)
	}
}
