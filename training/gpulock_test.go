package training

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

// A second runner on the same data folder stands for another process (a command line beside a
// server): flock locks of two opens conflict within one process too.
func TestOneRunAtATimeAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	e := newEnv(t, standInGated(filepath.Join(dir, "lock"), gate), nil)
	other := New(e.st, e.hub, slog.New(slog.NewTextHandler(io.Discard, nil)), e.runner.opt)

	first := e.create("sft", e.base.ID, e.sft, "")
	done := make(chan error, 1)
	go func() { _, err := e.runner.RunOne(context.Background(), first.ID); done <- err }()
	waitFor(t, "the first run's first step", func() bool { return e.run(first.ID).Step == 1 })

	second := e.create("sft", e.base.ID, e.sft, "")
	if _, err := other.RunOne(t.Context(), second.ID); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), gpuLockName) {
		t.Errorf("a second process's run while one trains: %v, want ErrBusy naming %s", err, gpuLockName)
	}
	if got := e.run(second.ID).Status; got != store.RunQueued {
		t.Errorf("the refused run is %s, want still queued", got)
	}
	// A process starting now must not take the first run for one left by a crash.
	if err := other.interruptLeftRuns(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.run(first.ID).Status; got != store.RunRunning {
		t.Errorf("the training run became %s when another process started, want running", got)
	}
	req := Request{Kind: "sft", ParentID: e.base.ID, DatasetID: e.sft.ID, Settings: Defaults("sft")}
	if _, err := other.StartEstimate(t.Context(), req, 3, 0, "ada"); !errors.Is(err, ErrBusy) {
		t.Errorf("an estimate in another process while a run trains: %v, want ErrBusy", err)
	}

	os.WriteFile(gate, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if run, err := other.RunOne(t.Context(), second.ID); err != nil || run.Status != store.RunDone {
		t.Fatalf("the second run once the first ended: %+v, %v", run, err)
	}
}
