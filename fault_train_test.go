package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rustexpert/store"
)

// faultWorker is a STAND-IN for "python -m worker KIND --config run.json" (the GPU worker cannot
// run in these tests). Like the real worker (training/worker/parent.py) it kills its process
// group when its stdin ends, if RUSTEXPERT_STOP_ON_STDIN_EOF=1. Started fresh, it leaves a
// helper process in its group (as a data loader does), reports three steps and a checkpoint at
// step 3, then trains on (sleeps). Resumed (resume_from in run.json), it notes the path it was
// given and trains steps 4 to 6 to the end.
const faultWorker = `#!/bin/sh
cfg="$5"
out=$(sed -n 's/^  "output_dir": "\(.*\)",*$/\1/p' "$cfg")
resume=$(sed -n 's/^  "resume_from": "\(.*\)",*$/\1/p' "$cfg")
mkdir -p "$out"
if [ "$RUSTEXPERT_STOP_ON_STDIN_EOF" = 1 ]; then
  exec 3<&0
  ( cat <&3 >/dev/null; echo ended > "$out/stdin-ended"; kill -KILL 0 ) >/dev/null 2>&1 &
fi
if [ -n "$resume" ]; then
  echo "$resume" > "$out/resumed-from"
  echo '{"event":"start","max_steps":6,"resumed_at_step":3,"device":"cpu"}'
  for s in 4 5 6; do echo '{"event":"metric","step":'$s',"metrics":{"loss":0.'$((10-s))'}}'; done
  echo '{"r":8}' > "$out/adapter_config.json"
  echo '{"event":"done","output":"'$out'","step":6,"metrics":{"train_loss":0.5}}'
  exit 0
fi
sleep 600 >/dev/null 2>&1 &
echo $! > "$out/helper.pid"
echo '{"event":"start","max_steps":6,"resumed_at_step":0,"device":"cpu"}'
for s in 1 2 3; do echo '{"event":"metric","step":'$s',"metrics":{"loss":0.'$((10-s))'}}'; done
mkdir -p "$out/checkpoint-3" && echo '{}' > "$out/checkpoint-3/trainer_state.json"
echo $$ > "$out/worker.pid"
echo '{"event":"checkpoint","step":3,"path":"'$out'/checkpoint-3"}'
while true; do sleep 1; done
`

// TestSIGKILLDuringTrainingRunLeavesNoWorkerAndResumes kills the server while a training run's
// worker trains: the worker and every process of its group die with the server, the restarted
// server marks the run interrupted with its metrics and checkpoint intact, and resuming starts
// the worker again from that checkpoint to the end.
func TestSIGKILLDuringTrainingRunLeavesNoWorkerAndResumes(t *testing.T) {
	env := trainEnv(t) // a base model, a DPO snapshot, a stand-in python
	env["RUSTEXPERT_PASSWORD"] = "correct horse battery"
	if err := os.WriteFile(env["RUSTEXPERT_TRAIN_PYTHON"], []byte(faultWorker), 0o755); err != nil {
		t.Fatal(err)
	}
	cli(t, env, "users", "add", "--admin", "alice")
	dir := env["RUSTEXPERT_DATA"]
	serverEnv := []string{"RUSTEXPERT_TRAIN_PYTHON=" + env["RUSTEXPERT_TRAIN_PYTHON"], "RUSTEXPERT_MODELS=" + env["RUSTEXPERT_MODELS"]}

	srv := startServerWith(t, dir, serverEnv)
	b := login(t, srv.base)
	res := b.post("/runs", url.Values{"kind": {"dpo"}, "parent": {"1"}, "dataset": {"1"}, "name": {"fault"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/runs/1" {
		t.Fatalf("start run: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	out := filepath.Join(dir, "runs", "1", "output")
	run := waitRun(t, dir, 1, func(r store.Run) bool { return r.Checkpoint != "" })
	worker, helper := readPID(t, filepath.Join(out, "worker.pid")), readPID(t, filepath.Join(out, "helper.pid"))
	t.Cleanup(func() { // when the test failed: leave no stand-in behind
		if alive(worker) {
			syscall.Kill(-worker, syscall.SIGKILL)
		}
		if alive(helper) {
			syscall.Kill(helper, syscall.SIGKILL)
		}
	})
	if !alive(worker) || !alive(helper) {
		t.Fatalf("the stand-in worker stopped before the kill (worker alive %v, helper alive %v)", alive(worker), alive(helper))
	}
	if _, err := os.Stat(filepath.Join(out, "stdin-ended")); err == nil {
		t.Fatal("the worker's stdin ended while the server was running")
	}
	metricsBefore := runMetrics(t, dir, 1)
	if run.Status != store.RunRunning || run.Step != 3 || metricsBefore != "[{loss 1 0.9} {loss 2 0.8} {loss 3 0.7}]" {
		t.Fatalf("before the kill: %s step %d, metrics %s", run.Status, run.Step, metricsBefore)
	}

	srv.kill(t)
	for _, pid := range []int{worker, helper} {
		if !gone(pid, 10*time.Second) {
			t.Errorf("process %d of the worker's group outlived the SIGKILLed server", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "stdin-ended")); err != nil {
		t.Errorf("the worker's stdin did not end with the server: %v", err)
	}

	srv = startServerWith(t, dir, serverEnv)
	run = waitRun(t, dir, 1, func(r store.Run) bool { return r.Status != store.RunRunning })
	ckpt := filepath.Join(out, "checkpoint-3")
	if run.Status != store.RunInterrupted || !run.Resumable() || run.Checkpoint != ckpt || run.Step != 3 {
		t.Fatalf("after the restart: %s, step %d, checkpoint %q", run.Status, run.Step, run.Checkpoint)
	}
	if got := runMetrics(t, dir, 1); got != metricsBefore {
		t.Errorf("metrics after the restart %s, want %s", got, metricsBefore)
	}
	b = login(t, srv.base)
	if res := b.post("/runs/1/resume", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", res.StatusCode)
	}
	run = waitRun(t, dir, 1, store.Run.Finished)
	if run.Status != store.RunDone || run.Step != 6 || run.ModelName != "fault" {
		t.Fatalf("after the resume: %s step %d model %q: %s", run.Status, run.Step, run.ModelName, run.Error)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "resumed-from")); strings.TrimSpace(string(got)) != ckpt {
		t.Errorf("the resumed worker was given %q, want %q", got, ckpt)
	}
	want := "[{loss 1 0.9} {loss 2 0.8} {loss 3 0.7} {loss 4 0.6} {loss 5 0.5} {loss 6 0.4}]"
	if got := runMetrics(t, dir, 1); got != want {
		t.Errorf("metrics after the resume %s, want %s", got, want)
	}
}

// waitRun polls the database until run id satisfies ok (at most 20 s) and returns it.
func waitRun(t *testing.T, dir string, id int64, ok func(store.Run) bool) store.Run {
	t.Helper()
	var run store.Run
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		withStore(t, dir, func(st *store.Store) { run, err = st.Run(t.Context(), id) })
		if err == nil && ok(run) {
			return run
		}
	}
	t.Fatalf("run %d never got there: %s step %d checkpoint %q error %q", id, run.Status, run.Step, run.Checkpoint, run.Error)
	return run
}

func runMetrics(t *testing.T, dir string, id int64) string {
	t.Helper()
	var got string
	withStore(t, dir, func(st *store.Store) {
		points, err := st.RunMetrics(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		got = fmt.Sprint(points)
	})
	return got
}

// withStore opens the data folder's database beside the running server for fn.
func withStore(t *testing.T, dir string, fn func(*store.Store)) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(dir, "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// alive reports whether a process exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// gone waits up to d for pid to end; a process that left the group was reparented, so only its
// end is awaited, never reaped here.
func gone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
