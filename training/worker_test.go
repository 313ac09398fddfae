package training

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// event is one JSON line from the worker's stdout.
type event struct {
	Event      string             `json:"event"`
	Step       int                `json:"step"`
	Path       string             `json:"path"`
	Output     string             `json:"output"`
	Checkpoint string             `json:"checkpoint"`
	Message    string             `json:"message"`
	Device     string             `json:"device"`
	Metrics    map[string]float64 `json:"metrics"`
	Sanity     *struct {
		FirstLoss float64 `json:"first_loss"`
		LN2       float64 `json:"ln2"`
	} `json:"sanity"`
}

// trainPython returns the interpreter named by RUSTEXPERT_TRAIN_PYTHON or skips.
func trainPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("RUSTEXPERT_TRAIN_PYTHON")
	if py == "" {
		t.Skip("RUSTEXPERT_TRAIN_PYTHON is not set: set it to a python with torch, transformers, peft, trl and datasets " +
			"(scripts/install-train-deps.sh makes one) to run the training worker tests")
	}
	return py
}

// fixtures writes a tiny random Llama with SmolLM2's tokenizer and small SFT/DPO datasets into dir.
func fixtures(t *testing.T, py, dir string) {
	t.Helper()
	cmd := exec.Command(py, "-m", "worker.tests.fixtures", dir)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building fixtures: %v\n%s", err, out)
	}
}

// writeConfig writes a DPO run.json for the fixtures in dir and returns its path.
func writeConfig(t *testing.T, dir string, maxSteps, saveSteps int) string {
	t.Helper()
	cfg := map[string]any{
		"model":      filepath.Join(dir, "model"),
		"dataset":    filepath.Join(dir, "dpo.jsonl"),
		"output_dir": filepath.Join(dir, "out"),
		"lora":       map[string]any{"r": 8, "alpha": 16},
		"hyperparameters": map[string]any{
			"learning_rate": 0.01, "max_steps": maxSteps, "per_device_batch_size": 4,
			"logging_steps": 1, "save_steps": saveSteps, "max_length": 128,
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "run.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startWorker launches python -m worker dpo in its own process group, as the app does.
func startWorker(t *testing.T, py, cfg string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(py, "-m", "worker", "dpo", "--config", cfg)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = &tailWriter{}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting worker: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return cmd, sc
}

// tailWriter keeps the last 4 KiB of the worker's stderr for failure messages.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > 4096 {
		w.b = w.b[len(w.b)-4096:]
	}
	return len(p), nil
}

func parseEvent(t *testing.T, line []byte) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(line, &e); err != nil || e.Event == "" {
		t.Fatalf("stdout line is not a protocol event: %q (%v)", line, err)
	}
	return e
}

// waitExit waits for the worker and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(3 * time.Minute):
		t.Fatal("worker did not exit within 3 minutes")
		return -1
	}
}

func TestWorkerDPOEvents(t *testing.T) {
	py := trainPython(t)
	dir := t.TempDir()
	fixtures(t, py, dir)
	cmd, sc := startWorker(t, py, writeConfig(t, dir, 4, 2))
	var events []event
	for sc.Scan() {
		events = append(events, parseEvent(t, sc.Bytes()))
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("worker exit code %d, events %+v\nstderr tail:\n%s", code, events, cmd.Stderr.(*tailWriter).b)
	}
	checkRun(t, events)
}

func checkRun(t *testing.T, events []event) {
	t.Helper()
	if len(events) == 0 || events[0].Event != "start" || events[0].Device == "" {
		t.Fatalf("first event is not start with a device: %+v", events)
	}
	var metrics, checkpoints []event
	for _, e := range events {
		switch e.Event {
		case "metric":
			metrics = append(metrics, e)
		case "checkpoint":
			checkpoints = append(checkpoints, e)
		}
	}
	if len(metrics) == 0 || metrics[0].Sanity == nil {
		t.Fatalf("first metric event has no sanity block: %+v", metrics)
	}
	if got := metrics[0].Sanity.FirstLoss; math.Abs(got-math.Ln2) > 1e-3 {
		t.Errorf("first DPO loss = %.5f, want ln 2 = %.5f", got, math.Ln2)
	}
	for _, name := range []string{"loss", "rewards/chosen", "rewards/margins", "rewards/accuracies", "logps/chosen"} {
		if _, ok := metrics[0].Metrics[name]; !ok {
			t.Errorf("metric %q missing from %v", name, metrics[0].Metrics)
		}
	}
	if len(checkpoints) != 2 || checkpoints[0].Step != 2 || checkpoints[1].Step != 4 {
		t.Errorf("checkpoints = %+v, want steps 2 and 4", checkpoints)
	}
	last := events[len(events)-1]
	if last.Event != "done" || last.Step != 4 {
		t.Fatalf("last event = %+v, want done at step 4", last)
	}
	if _, err := os.Stat(filepath.Join(last.Output, "adapter_model.safetensors")); err != nil {
		t.Errorf("done names %s but the adapter is not there: %v", last.Output, err)
	}
}

func TestWorkerSIGTERMToGroupSavesCheckpoint(t *testing.T) {
	py := trainPython(t)
	dir := t.TempDir()
	fixtures(t, py, dir)
	cmd, sc := startWorker(t, py, writeConfig(t, dir, 500, 1000))
	var events []event
	for sc.Scan() {
		e := parseEvent(t, sc.Bytes())
		events = append(events, e)
		if e.Event == "metric" && e.Step == 2 {
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
				t.Fatalf("SIGTERM to process group: %v", err)
			}
		}
	}
	if code := waitExit(t, cmd); code != 4 {
		t.Fatalf("exit code %d after SIGTERM, want 4; events %+v", code, events)
	}
	last := events[len(events)-1]
	if last.Event != "interrupted" || last.Checkpoint == "" {
		t.Fatalf("last event = %+v, want interrupted with a checkpoint", last)
	}
	state := filepath.Join(last.Checkpoint, "trainer_state.json")
	if _, err := os.Stat(state); err != nil {
		t.Errorf("checkpoint %s incomplete: %v", last.Checkpoint, err)
	}
	t.Logf("worker stopped at step %d, checkpoint %s", last.Step, last.Checkpoint)
}
