package training

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/store"
)

// standInGated is a STAND-IN worker for estimates, runs and exports. It holds a lock file while
// it works and fails when another worker holds it (two workers on one GPU); it trains three
// steps and waits after the first until the gate file exists. An export copies the card and
// reports its files.
func standInGated(lock, gate string) string {
	return standInPreamble + `
if [ "$kind" = export ]; then
  card=$(sed -n 's/^  "card": "\(.*\)",*$/\1/p' "$cfg")
  echo 'exporting' >&2
  while [ ! -e ` + gate + ` ]; do sleep 0.02; done
  mkdir -p "$out" && cp "$card" "$out/README.md" && echo '{}' > "$out/adapter_config.json"
  echo '{"event":"done","output":"'$out'","files":["README.md","adapter_config.json"]}'
  exit 0
fi
if [ -e ` + lock + ` ]; then echo '{"event":"error","message":"two workers at once"}'; exit 1; fi
touch ` + lock + `
trap 'rm -f ` + lock + `' EXIT
echo 'stand-in: loading' >&2
echo '{"event":"start","kind":"'$kind'","max_steps":3,"resumed_at_step":0,"device":"cpu","gpus":0}'
echo '{"event":"metric","step":1,"metrics":{"loss":1.0}}'
while [ ! -e ` + gate + ` ]; do sleep 0.02; done
echo '{"event":"metric","step":2,"metrics":{"loss":0.9}}'
echo '{"event":"metric","step":3,"metrics":{"loss":0.8}}'
mkdir -p "$out" && echo '{}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":3,"metrics":{"train_loss":0.9,"peak_memory_gib":1.5}}'
`
}

// waitFor polls cond until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *testEnv) estimateTask() Task {
	t, ok := e.runner.EstimateTask()
	if !ok {
		e.t.Fatal("no estimate task")
	}
	return t
}

func TestEstimateTaskHoldsTheGPU(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	e := newEnv(t, standInGated(filepath.Join(dir, "lock"), gate), nil)
	if _, ok := e.runner.EstimateTask(); ok {
		t.Fatal("an estimate task before any started")
	}
	settings := Defaults("sft")
	settings.Hyperparameters.MaxSteps = 40
	req := Request{Kind: "sft", ParentID: e.base.ID, DatasetID: e.sft.ID, Settings: settings}
	task, err := e.runner.StartEstimate(t.Context(), req, 3, 1.8, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if !task.Running() || task.Kind != TaskEstimate || task.By != "ada" || task.What != "SFT of base on dataset 1" || task.Steps != 3 || task.Step != 0 {
		t.Errorf("started task = %+v", task)
	}
	waitFor(t, "the first trial step", func() bool { return e.estimateTask().Step == 1 })
	if got := e.estimateTask(); got.Steps != 3 || !got.Running() {
		t.Errorf("progress = %d of %d, running %v", got.Step, got.Steps, got.Running())
	}

	// While it runs: no second estimate, and no run starts (RunOne says why; the queue loop waits).
	if _, err := e.runner.StartEstimate(t.Context(), req, 3, 0, "bob"); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "another estimate") {
		t.Errorf("second estimate: %v, want ErrBusy", err)
	}
	if _, err := e.runner.Estimate(t.Context(), req, 3, 0, nil); !errors.Is(err, ErrBusy) {
		t.Errorf("estimate beside the task: %v, want ErrBusy", err)
	}
	queued := e.create("sft", e.base.ID, e.sft, "")
	if _, err := e.runner.RunOne(t.Context(), queued.ID); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "an estimate is using the GPU") {
		t.Errorf("RunOne during an estimate: %v, want ErrBusy", err)
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.runner.Run(ctx) }()
	defer func() { stop(); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // room for the queue loop to (wrongly) claim the run
	if st := e.run(queued.ID).Status; st != store.RunQueued {
		t.Errorf("run %d is %s while the estimate holds the GPU", queued.ID, st)
	}

	os.WriteFile(gate, nil, 0o644)
	waitFor(t, "the estimate's end", func() bool { return !e.estimateTask().Running() })
	got := e.estimateTask()
	if got.Error != "" || got.Estimate == nil {
		t.Fatalf("estimate ended with %q, log %q", got.Error, got.Log)
	}
	if est := *got.Estimate; est.TrialSteps != 3 || est.TotalSteps != 40 || est.Device != "cpu" || est.PeakGiB != 1.5 || est.Hourly != 1.8 || got.Step != 3 {
		t.Errorf("estimate = %+v (step %d)", est, got.Step)
	}
	if !strings.Contains(strings.Join(got.Log, "\n"), "stand-in: loading") {
		t.Errorf("log = %q", got.Log)
	}
	// The run waited and then ran alone (the stand-in fails when two workers overlap).
	waitFor(t, "the queued run", func() bool { return e.run(queued.ID).Finished() })
	if r := e.run(queued.ID); r.Status != store.RunDone {
		t.Errorf("queued run ended %s: %s", r.Status, r.Error)
	}
}

func TestEstimateRefusedWhileARunTrains(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	e := newEnv(t, standInGated(filepath.Join(dir, "lock"), gate), nil)
	run := e.create("dpo", e.base.ID, e.dpo, "")
	done := make(chan error, 1)
	go func() { _, err := e.runner.RunOne(context.Background(), run.ID); done <- err }()
	waitFor(t, "the run's first step", func() bool { return e.run(run.ID).Step == 1 })
	req := Request{Kind: "dpo", ParentID: e.base.ID, DatasetID: e.dpo.ID, Settings: Defaults("dpo")}
	_, err := e.runner.StartEstimate(t.Context(), req, 3, 0, "ada")
	if !errors.Is(err, ErrBusy) || !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "run 1 is training") {
		t.Errorf("estimate during a run: %v, want ErrBusy naming run 1", err)
	}
	if _, ok := e.runner.EstimateTask(); ok {
		t.Error("a refused estimate left a task")
	}
	os.WriteFile(gate, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A bad request is refused before anything starts, with every problem.
	bad := req
	bad.Settings.Hyperparameters.LearningRate = -1
	bad.DatasetID = e.sft.ID
	var ce *ConfigError
	if _, err := e.runner.StartEstimate(t.Context(), bad, 3, 0, "ada"); !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Errorf("bad request: %v, want a ConfigError with 2 problems", err)
	}
}

func TestEstimateTaskCancelAndFailure(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, standInGated(filepath.Join(dir, "lock"), filepath.Join(dir, "never")), func(o *Options) { o.Grace = time.Second })
	req := Request{Kind: "sft", ParentID: e.base.ID, DatasetID: e.sft.ID, Settings: Defaults("sft")}
	if _, err := e.runner.StartEstimate(t.Context(), req, 3, 0, "ada"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first trial step", func() bool { return e.estimateTask().Step == 1 })
	if !e.runner.CancelEstimate() {
		t.Fatal("CancelEstimate found nothing to cancel")
	}
	waitFor(t, "the canceled estimate's end", func() bool { return !e.estimateTask().Running() })
	if got := e.estimateTask(); got.Error != "canceled" || got.Estimate != nil {
		t.Errorf("canceled estimate = %+v", got)
	}
	if e.runner.CancelEstimate() {
		t.Error("CancelEstimate of an ended estimate")
	}

	// The GPU is free again; a worker that fails leaves its message.
	failing := standInPreamble + `
echo 'Traceback: no CUDA' >&2
echo '{"event":"error","message":"a CUDA GPU is needed (torch.cuda.is_available() is false)"}'
exit 1
`
	os.WriteFile(e.runner.opt.Python, []byte(failing), 0o755)
	task, err := e.runner.StartEstimate(t.Context(), req, 3, 0, "ada")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed estimate's end", func() bool { return !e.estimateTask().Running() })
	got := e.estimateTask()
	if got.ID != task.ID || got.ID != 2 || got.Error != "a CUDA GPU is needed (torch.cuda.is_available() is false)" ||
		!strings.Contains(strings.Join(got.Log, "\n"), "Traceback: no CUDA") {
		t.Errorf("failed estimate = %+v", got)
	}
}

func TestExportTaskWritesTheFolderInTheBackground(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	e := newEnv(t, standInGated(filepath.Join(dir, "lock"), gate), nil)
	adapter := filepath.Join(dir, "adapter")
	m, err := e.st.CreateModel(t.Context(), store.ModelInput{Name: "v1", Provider: store.ProviderBuiltin, Base: e.base.Base, Adapter: adapter, ParentID: e.base.ID})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "exports", "v1-adapter")
	task, err := e.runner.StartExport(t.Context(), ExportRequest{Model: m, Parent: "base", Out: out}, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if !task.Running() || task.Dir != out || task.What != "v1 (adapter)" {
		t.Errorf("started export = %+v", task)
	}
	_, err = e.runner.StartExport(t.Context(), ExportRequest{Model: m, Out: out + "2"}, "bob")
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "one export at a time") {
		t.Errorf("second export: %v, want ErrBusy", err)
	}
	os.WriteFile(gate, nil, 0o644)
	waitFor(t, "the export's end", func() bool { got, _ := e.runner.ExportTask(); return !got.Running() })
	got, _ := e.runner.ExportTask()
	if got.Error != "" || strings.Join(got.Files, ",") != "README.md,adapter_config.json" {
		t.Fatalf("export = %+v", got)
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(card), "# v1") || !strings.Contains(string(card), "trained from: base") {
		t.Errorf("card:\n%s", card)
	}
	_, err = e.runner.StartExport(t.Context(), ExportRequest{Model: e.base, Merged: true, Out: out + "3"}, "ada")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "no adapter to merge") {
		t.Errorf("merging a model without adapter: %v", err)
	}
}

func TestLineBufferKeepsTheLastLines(t *testing.T) {
	b := &lineBuffer{keep: 3}
	b.Write([]byte("one\ntwo\r"))
	b.Write([]byte("three\n\nfour\nfi"))
	if got := strings.Join(b.lines(), "|"); got != "two|three|four|fi" {
		t.Errorf("lines = %q", got)
	}
	b.Write([]byte("ve\nsix\nseven\neight\n"))
	if got := strings.Join(b.lines(), "|"); got != "six|seven|eight" {
		t.Errorf("lines = %q", got)
	}
}
