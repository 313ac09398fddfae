package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
)

// runFixture registers a base model and an SFT snapshot and returns their ids.
func runFixture(t *testing.T, st *Store) (modelID, datasetID int64) {
	t.Helper()
	ctx := t.Context()
	m, err := st.CreateModel(ctx, ModelInput{Name: "base", Provider: ProviderBuiltin, Base: "/models/base.gguf", ChatTemplate: "chatml"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDataset(ctx, Dataset{Kind: "sft", OptionsJSON: "{}", StatsJSON: "{}", SHA256: "ab", Rows: 3, Path: "datasets/sft.jsonl"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID, d.ID
}

func createRun(t *testing.T, st *Store, in RunInput) Run {
	t.Helper()
	r, err := st.CreateRun(t.Context(), in, func(id int64) (string, string, error) {
		return fmt.Sprintf(`{"output_dir":"/runs/%d/output"}`, id), fmt.Sprintf("/runs/%d/output", id), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCreateRunFillsConfigFromID(t *testing.T) {
	st := openTest(t)
	model, ds := runFixture(t, st)
	r := createRun(t, st, RunInput{Kind: RunSFT, Name: "mine", ParentID: model, DatasetID: ds})
	want := fmt.Sprintf(`{"output_dir":"/runs/%d/output"}`, r.ID)
	if r.ConfigJSON != want || r.OutputDir != fmt.Sprintf("/runs/%d/output", r.ID) {
		t.Errorf("config %s, output %s; want the run's id in both", r.ConfigJSON, r.OutputDir)
	}
	if r.Status != RunQueued || r.ParentName != "base" || r.DatasetID != ds || r.Name != "mine" || r.Finished() {
		t.Errorf("created run = %+v", r)
	}
	next, err := st.NextRunID(t.Context())
	if err != nil || next != r.ID+1 {
		t.Errorf("NextRunID = %d, %v; want %d", next, err, r.ID+1)
	}
}

func TestCreateRunRefusesBadInput(t *testing.T) {
	st := openTest(t)
	model, ds := runFixture(t, st)
	for _, in := range []RunInput{
		{Kind: "ppo", ParentID: model, DatasetID: ds},
		{Kind: RunSFT, Name: "has space", ParentID: model, DatasetID: ds},
	} {
		_, err := st.CreateRun(t.Context(), in, func(int64) (string, string, error) { return "{}", "", nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", in, err)
		}
	}
	// A failing config callback leaves no row behind.
	_, err := st.CreateRun(t.Context(), RunInput{Kind: RunSFT, ParentID: model, DatasetID: ds},
		func(int64) (string, string, error) { return "", "", errors.New("no room") })
	if err == nil {
		t.Fatal("config error ignored")
	}
	if runs, _ := st.ListRuns(t.Context(), 10); len(runs) != 0 {
		t.Errorf("%d runs stored after a failed create", len(runs))
	}
}

func TestClaimRunTakesOldestQueuedFirst(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	model, ds := runFixture(t, st)
	a := createRun(t, st, RunInput{Kind: RunSFT, ParentID: model, DatasetID: ds})
	b := createRun(t, st, RunInput{Kind: RunDPO, ParentID: model, DatasetID: ds})
	c := createRun(t, st, RunInput{Kind: RunSFT, ParentID: model, DatasetID: ds})
	if err := st.CancelQueuedRun(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.ClaimRun(ctx, 0)
	if err != nil || !ok || got.ID != b.ID || got.Status != RunRunning || got.StartedAt.IsZero() {
		t.Fatalf("first claim = %+v, %v, %v; want run %d running", got, ok, err, b.ID)
	}
	if _, ok, _ := st.ClaimRun(ctx, b.ID); ok {
		t.Error("a running run was claimed again")
	}
	got, ok, _ = st.ClaimRun(ctx, c.ID)
	if !ok || got.ID != c.ID {
		t.Fatalf("claim by id = %+v, %v", got, ok)
	}
	if _, ok, _ := st.ClaimRun(ctx, 0); ok {
		t.Error("claimed with nothing queued")
	}
}

func TestRunMetricsBatchAndReplace(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	model, ds := runFixture(t, st)
	r := createRun(t, st, RunInput{Kind: RunDPO, ParentID: model, DatasetID: ds})
	batch := []MetricPoint{{"loss", 1, 0.69}, {"rewards/margins", 1, 0}, {"loss", 2, 0.6}}
	if err := st.AddRunMetrics(ctx, r.ID, batch); err != nil {
		t.Fatal(err)
	}
	// A resumed run logs step 2 again: the new value wins.
	if err := st.AddRunMetrics(ctx, r.ID, []MetricPoint{{"loss", 2, 0.55}, {"loss", 3, 0.5}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RunMetrics(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []MetricPoint{{"loss", 1, 0.69}, {"loss", 2, 0.55}, {"loss", 3, 0.5}, {"rewards/margins", 1, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
	if r, _ = st.Run(ctx, r.ID); r.Step != 3 {
		t.Errorf("step = %d, want 3", r.Step)
	}
	err = st.AddRunMetrics(ctx, r.ID, []MetricPoint{{"loss", 4, 0.4}, {"grad_norm", 4, math.NaN()}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("NaN metric: err = %v, want ErrInvalid", err)
	}
	if got, _ := st.RunMetrics(ctx, r.ID); len(got) != 4 {
		t.Errorf("a refused batch stored %d values, want the 4 from before", len(got))
	}
}

func TestFinishRunRegistersUniqueModel(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	model, ds := runFixture(t, st)
	if _, err := st.CreateModel(ctx, ModelInput{Name: "v1", Provider: ProviderBuiltin, Base: "/b"}); err != nil {
		t.Fatal(err)
	}
	r := createRun(t, st, RunInput{Kind: RunSFT, ParentID: model, DatasetID: ds})
	if _, _, err := st.ClaimRun(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.StartRunAttempt(ctx, r.ID, "cuda (NVIDIA H100)", 10, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRunCheckpoint(ctx, r.ID, 5, "/runs/1/output/checkpoint-5"); err != nil {
		t.Fatal(err)
	}
	in := ModelInput{Name: "v1", Provider: ProviderBuiltin, Base: "/models/base.gguf", Adapter: "/runs/1/output",
		ParentID: model, DatasetID: ds, Notes: "run 1"}
	err := st.FinishRun(ctx, r.ID, RunEnd{Status: RunDone, Step: 10, MetricsJSON: `{"train_loss":1.5}`, Model: &in})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = st.Run(ctx, r.ID)
	if r.Status != RunDone || r.ModelName != "v1-2" || r.Step != 10 || r.MaxSteps != 10 || r.Device != "cuda (NVIDIA H100)" ||
		r.Checkpoint != "/runs/1/output/checkpoint-5" || r.FinishedAt.IsZero() || r.MetricsJSON != `{"train_loss":1.5}` {
		t.Fatalf("finished run = %+v", r)
	}
	m, err := st.Model(ctx, r.ModelID)
	if err != nil || m.ParentID != model || m.DatasetID != ds || m.Adapter != "/runs/1/output" || m.Notes != "run 1" {
		t.Errorf("registered model = %+v, %v", m, err)
	}
	if err := st.FinishRun(ctx, r.ID, RunEnd{Status: RunFailed}); !errors.Is(err, ErrConflict) {
		t.Errorf("finishing a finished run: err = %v, want ErrConflict", err)
	}
	if of, err := st.RunOfModel(ctx, r.ModelID); err != nil || of.ID != r.ID || of.MetricsJSON != `{"train_loss":1.5}` {
		t.Errorf("RunOfModel(%d) = run %d, %v", r.ModelID, of.ID, err)
	}
	if _, err := st.RunOfModel(ctx, model); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunOfModel of a model no run made: err = %v, want ErrNotFound", err)
	}
}

func TestResumeAndInterrupt(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	model, ds := runFixture(t, st)
	r := createRun(t, st, RunInput{Kind: RunDPO, ParentID: model, DatasetID: ds})
	if err := st.RequeueRun(ctx, r.ID, "{}"); !errors.Is(err, ErrConflict) {
		t.Errorf("requeue of a queued run: err = %v, want ErrConflict", err)
	}
	st.ClaimRun(ctx, r.ID)
	if err := st.CancelQueuedRun(ctx, r.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("CancelQueuedRun on a running run: err = %v, want ErrConflict", err)
	}
	n, err := st.InterruptRunningRuns(ctx)
	if err != nil || n != 1 {
		t.Fatalf("InterruptRunningRuns = %d, %v", n, err)
	}
	r, _ = st.Run(ctx, r.ID)
	if r.Status != RunInterrupted || !r.Resumable() || r.Error == "" {
		t.Fatalf("after restart: %+v", r)
	}
	if err := st.RequeueRun(ctx, r.ID, `{"resume_from":"/c"}`); err != nil {
		t.Fatal(err)
	}
	r, _ = st.Run(ctx, r.ID)
	if r.Status != RunQueued || r.ConfigJSON != `{"resume_from":"/c"}` || r.Error != "" || !r.FinishedAt.IsZero() {
		t.Errorf("requeued run = %+v", r)
	}
}

func TestRunNotFound(t *testing.T) {
	st := openTest(t)
	if _, err := st.Run(context.Background(), 42); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}
