package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"rustexpert/dataset"
	"rustexpert/live"
	"rustexpert/store"
)

// These tests drive the Runner with STAND-IN workers: small shell scripts written by each test
// that take the worker's command line (python -m worker KIND --config run.json) and print
// protocol events the way the real worker does. They test the Go side (event parsing, process
// groups, queue order, cancel, the dataset check) without torch. The real worker is driven by
// the tests in realworker_test.go when RUSTEXPERT_TRAIN_PYTHON is set.

// standInPreamble reads output_dir and resume_from from the run.json the runner wrote ($5).
const standInPreamble = `#!/bin/sh
# stand-in for "python -m worker KIND --config run.json"
cfg="$5"
kind="$3"
out=$(sed -n 's/^  "output_dir": "\(.*\)",*$/\1/p' "$cfg")
resume=$(sed -n 's/^  "resume_from": "\(.*\)",*$/\1/p' "$cfg")
`

// standInDone trains three steps, saves a checkpoint at step 2 and an adapter, then reports done.
const standInDone = standInPreamble + `
echo '{"event":"start","kind":"'$kind'","max_steps":3,"resumed_at_step":0,"device":"cpu","gpus":0}'
echo 'a stray line on stdout'
echo 'loading the stand-in model' >&2
for s in 1 2 3; do
  echo '{"event":"metric","step":'$s',"epoch":0.5,"metrics":{"loss":1.'$s',"learning_rate":0.0002,"grad_norm":null}}'
  if [ $s = 2 ]; then
    mkdir -p "$out/checkpoint-2" && echo '{}' > "$out/checkpoint-2/trainer_state.json"
    echo '{"event":"checkpoint","step":2,"path":"'$out'/checkpoint-2"}'
  fi
done
echo '{"r":8}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":3,"metrics":{"train_loss":1.2,"train_runtime":0.1}}'
`

// testEnv is a store, a data folder with a base model and SFT/DPO snapshots, and a runner.
type testEnv struct {
	t       *testing.T
	st      *store.Store
	hub     *live.Hub
	runner  *Runner
	dataDir string
	base    store.Model
	sft     store.Dataset
	dpo     store.Dataset
}

func newEnv(t *testing.T, script string, edit func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &testEnv{t: t, st: st, hub: live.NewHub(256), dataDir: filepath.Join(dir, "data")}
	e.base, err = st.CreateModel(t.Context(), store.ModelInput{Name: "base", Provider: store.ProviderBuiltin,
		Base: filepath.Join(dir, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"), ChatTemplate: "chatml"})
	if err != nil {
		t.Fatal(err)
	}
	e.sft = e.snapshot("sft", sftRows(8))
	e.dpo = e.snapshot("dpo", dpoRows(8))
	python := filepath.Join(dir, "stand-in-python")
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opt := Options{Python: python, DataDir: e.dataDir, Grace: 10 * time.Second}
	if edit != nil {
		edit(&opt)
	}
	e.runner = New(st, e.hub, slog.New(slog.NewTextHandler(io.Discard, nil)), opt)
	return e
}

// topics are the questions and a good and a bad answer of the test datasets.
var topics = [][3]string{
	{"How do I borrow a String as &str?", "Write `&s` or `s.as_str()`.", "Call `s.clone()` first."},
	{"What does `?` do in Rust?", "It returns early with the error, converting it via `From`.", "It ignores errors."},
	{"How do I iterate with an index?", "Use `for (i, x) in xs.iter().enumerate()`.", "Use a C-style for loop."},
	{"How do I read a file to a string?", "`std::fs::read_to_string(path)?`", "Use `File::open` and read bytes by hand."},
}

func question(i int) string { return fmt.Sprintf("%s (%d)", topics[i%len(topics)][0], i) }

func sftRows(n int) []dataset.SFTRow {
	var rows []dataset.SFTRow
	for i := range n {
		q := question(i)
		rows = append(rows, dataset.SFTRow{Messages: []dataset.Message{{Role: "user", Content: q},
			{Role: "assistant", Content: topics[i%len(topics)][1]}}, PromptID: dataset.PromptID(q), Model: "m", Category: "basics"})
	}
	return rows
}

func dpoRows(n int) []dataset.DPORow {
	var rows []dataset.DPORow
	for i := range n {
		q := question(i)
		rows = append(rows, dataset.DPORow{Prompt: []dataset.Message{{Role: "user", Content: q}},
			Chosen:   []dataset.Message{{Role: "assistant", Content: topics[i%len(topics)][1]}},
			Rejected: []dataset.Message{{Role: "assistant", Content: topics[i%len(topics)][2]}},
			PromptID: dataset.PromptID(q), ChosenModel: "a", RejectedModel: "b", Annotator: "alice", Category: "basics"})
	}
	return rows
}

// snapshot writes rows under the data folder and records them as a snapshot.
func (e *testEnv) snapshot(kind string, rows any) store.Dataset {
	e.t.Helper()
	var buf bytes.Buffer
	n, sha, err := dataset.WriteJSONL(&buf, rows)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.snapshotFile(kind, buf.Bytes(), n, sha)
}

func (e *testEnv) snapshotFile(kind string, body []byte, n int, sha string) store.Dataset {
	e.t.Helper()
	rel := filepath.Join("datasets", fmt.Sprintf("%s-%d.jsonl", kind, time.Now().UnixNano()))
	path := filepath.Join(e.dataDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		e.t.Fatal(err)
	}
	d, err := e.st.CreateDataset(e.t.Context(), store.Dataset{Kind: kind, OptionsJSON: "{}", StatsJSON: "{}", SHA256: sha, Rows: n, Path: rel}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *testEnv) create(kind string, parent int64, ds store.Dataset, name string) store.Run {
	e.t.Helper()
	run, err := e.runner.Create(e.t.Context(), Request{Kind: kind, ParentID: parent, DatasetID: ds.ID, Name: name, Settings: Defaults(kind)})
	if err != nil {
		e.t.Fatal(err)
	}
	return run
}

func (e *testEnv) run(id int64) store.Run {
	e.t.Helper()
	run, err := e.st.Run(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return run
}

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		want string
	}{
		{`{"event":"start","max_steps":10,"resumed_at_step":4,"device":"cuda","gpu_name":"NVIDIA H100"}`, true, "start 0 max 10 at 4 cuda (NVIDIA H100)"},
		{`{"event":"metric","step":3,"metrics":{"loss":0.5,"grad_norm":null,"epoch":"x"}}`, true, "metric 3 map[loss:0.5]"},
		{`{"event":"checkpoint","step":2,"path":"/o/checkpoint-2"}`, true, "checkpoint 2 /o/checkpoint-2"},
		{`{"event":"error","message":"NaN loss"}`, true, "error NaN loss"},
		{`  {"event":"done","output":"/o","step":9}  `, true, "done 9 /o"},
		{`{"step":1}`, false, ""},
		{`{"event":`, false, ""},
		{`Loading checkpoint shards: 100%`, false, ""},
		{`["event"]`, false, ""},
		{``, false, ""},
	} {
		e, ok := ParseEvent([]byte(tc.line))
		if ok != tc.ok {
			t.Errorf("%q: ok = %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		var got string
		switch e.Event {
		case "start":
			got = fmt.Sprintf("start %d max %d at %d %s", e.Step, e.MaxSteps, e.ResumedAt, e.DeviceText())
		case "metric":
			got = fmt.Sprintf("metric %d %v", e.Step, e.Metrics)
		case "checkpoint":
			got = fmt.Sprintf("checkpoint %d %s", e.Step, e.Path)
		case "error":
			got = "error " + e.Message
		case "done":
			got = fmt.Sprintf("done %d %s", e.Step, e.Output)
		}
		if got != tc.want {
			t.Errorf("%q: parsed as %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestStandInRunRegistersModel(t *testing.T) {
	e := newEnv(t, standInDone, nil)
	ctx := t.Context()
	if _, err := e.st.CreateModel(ctx, store.ModelInput{Name: "v1", Provider: store.ProviderBuiltin, Base: "/elsewhere"}); err != nil {
		t.Fatal(err)
	}
	queued := e.create("sft", e.base.ID, e.sft, "")
	updates, stop := e.hub.Subscribe(Topic(queued.ID))
	defer stop()
	run, err := e.runner.RunOne(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.runner.RunDir(run.ID), "output")
	if run.Status != store.RunDone || run.Step != 3 || run.MaxSteps != 3 || run.Device != "cpu" ||
		run.Checkpoint != filepath.Join(out, "checkpoint-2") || run.MetricsJSON != `{"train_loss":1.2,"train_runtime":0.1}` {
		t.Fatalf("run after done = %+v", run)
	}
	if run.ModelName != "v1-2" {
		t.Errorf("model name %q, want v1-2 (v1 is taken)", run.ModelName)
	}
	m, err := e.st.Model(ctx, run.ModelID)
	if err != nil || m.Base != e.base.Base || m.Adapter != out || m.ParentID != e.base.ID || m.DatasetID != e.sft.ID ||
		m.Notes != fmt.Sprintf("run %d", run.ID) || m.ChatTemplate != "chatml" || m.Provider != store.ProviderBuiltin {
		t.Errorf("registered model = %+v, %v", m, err)
	}
	points, _ := e.st.RunMetrics(ctx, run.ID)
	if got := fmt.Sprint(points); got != "[{learning_rate 1 0.0002} {learning_rate 2 0.0002} {learning_rate 3 0.0002} {loss 1 1.1} {loss 2 1.2} {loss 3 1.3}]" {
		t.Errorf("stored metrics = %s (grad_norm null must be left out)", got)
	}
	log, _ := os.ReadFile(filepath.Join(e.runner.RunDir(run.ID), "worker.log"))
	for _, want := range []string{"loading the stand-in model", "stdout: a stray line on stdout", "-m worker sft --config"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("worker.log lacks %q:\n%s", want, log)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(e.runner.RunDir(run.ID), "run.json"))
	if err != nil || string(cfg) != run.ConfigJSON {
		t.Errorf("run.json on disk differs from the stored config (%v)", err)
	}
	kinds := map[string]int{}
	var last Update
	for len(updates) > 0 {
		json.Unmarshal(<-updates, &last)
		kinds[last.Type]++
	}
	if kinds["metric"] != 3 || kinds["log"] == 0 || last.Type != "state" || last.State.Status != store.RunDone || last.State.ModelName != "v1-2" {
		t.Errorf("published %v, last %+v", kinds, last)
	}
}

func TestBadDatasetNeverReachesWorker(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "worker-started")
	e := newEnv(t, "#!/bin/sh\ntouch "+marker+"\n", nil)
	bad := e.snapshotFile("sft", []byte(`{"messages":[{"role":"user","content":"hi"}]}`+"\n"+`{"messages":[]}`+"\n"), 2, "x")
	queued := e.create("sft", e.base.ID, bad, "")
	run, err := e.runner.RunOne(t.Context(), queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunFailed || !strings.Contains(run.Error, "did not validate as sft") ||
		!strings.Contains(run.Error, `line 1, field "messages": last message must have role assistant`) {
		t.Errorf("run = %s: %s", run.Status, run.Error)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the worker was started for a dataset that does not validate")
	}
	// A snapshot file that is gone fails the same way.
	os.Remove(filepath.Join(e.dataDir, e.sft.Path))
	queued = e.create("sft", e.base.ID, e.sft, "")
	if run, _ = e.runner.RunOne(t.Context(), queued.ID); run.Status != store.RunFailed || !strings.Contains(run.Error, "no such file") {
		t.Errorf("missing dataset: %s: %s", run.Status, run.Error)
	}
}

func TestWorkerFailureKeepsItsMessageAndLog(t *testing.T) {
	e := newEnv(t, standInPreamble+`
echo 'Traceback: something broke' >&2
echo '{"event":"error","message":"config run.json: field hyperparameters.foo is unknown"}'
exit 2
`, nil)
	queued := e.create("dpo", e.base.ID, e.dpo, "")
	run, _ := e.runner.RunOne(t.Context(), queued.ID)
	if run.Status != store.RunFailed || !strings.HasPrefix(run.Error, "config run.json: field hyperparameters.foo is unknown") ||
		!strings.Contains(run.Error, "Traceback: something broke") {
		t.Errorf("run = %s: %q", run.Status, run.Error)
	}
	e2 := newEnv(t, "#!/bin/sh\nexit 3\n", nil)
	queued = e2.create("dpo", e2.base.ID, e2.dpo, "")
	run, _ = e2.runner.RunOne(t.Context(), queued.ID)
	if run.Status != store.RunFailed || !strings.Contains(run.Error, "exited with code 3 (a required Python package is missing)") {
		t.Errorf("exit 3 without an event: %q", run.Error)
	}
}

// standInTerm reports a checkpoint on SIGTERM and exits 4, as the worker does; resumed (with
// resume_from in run.json) it finishes. It counts its starts in $out/starts.
const standInTerm = standInPreamble + `
mkdir -p "$out"
echo x >> "$out/starts"
if [ -n "$resume" ]; then
  echo '{"event":"start","max_steps":100,"resumed_at_step":7,"device":"cpu"}'
  echo '{"event":"metric","step":8,"metrics":{"loss":0.4}}'
  echo '{"r":8}' > "$out/adapter_config.json"
  echo '{"event":"done","output":"'$out'","step":100,"metrics":{}}'
  exit 0
fi
trap 'mkdir -p "$out/checkpoint-7"; echo "{}" > "$out/checkpoint-7/trainer_state.json";
  echo "{\"event\":\"checkpoint\",\"step\":7,\"path\":\"$out/checkpoint-7\"}";
  echo "{\"event\":\"interrupted\",\"step\":7,\"checkpoint\":\"$out/checkpoint-7\"}"; exit 4' TERM
echo '{"event":"start","max_steps":100,"resumed_at_step":0,"device":"cpu"}'
echo '{"event":"metric","step":7,"metrics":{"loss":0.6}}'
while true; do sleep 0.05; done
`

// cancelOn makes the runner cancel a run when the event named arrives.
func (e *testEnv) cancelOn(name string) {
	e.runner.opt.OnEvent = func(id int64, ev Event) {
		if ev.Event == name {
			go e.runner.Cancel(context.Background(), id)
		}
	}
}

func TestCancelThenResume(t *testing.T) {
	e := newEnv(t, standInTerm, nil)
	e.cancelOn("metric")
	queued := e.create("sft", e.base.ID, e.sft, "mine")
	run, err := e.runner.RunOne(t.Context(), queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(e.runner.RunDir(run.ID), "output", "checkpoint-7")
	if run.Status != store.RunCanceled || run.Checkpoint != ckpt || run.Step != 7 || !run.Resumable() {
		t.Fatalf("after cancel: %+v", run)
	}
	if err := e.runner.Resume(t.Context(), run.ID); err != nil {
		t.Fatal(err)
	}
	cfg, _ := ParseConfig([]byte(e.run(run.ID).ConfigJSON))
	if cfg.ResumeFrom != ckpt {
		t.Errorf("resume_from = %q, want %q", cfg.ResumeFrom, ckpt)
	}
	e.runner.opt.OnEvent = nil
	run, err = e.runner.RunOne(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunDone || run.ModelName != "mine" || run.Step != 100 {
		t.Errorf("after resume: %+v", run)
	}
	if err := e.runner.Resume(t.Context(), run.ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("resume of a done run: err = %v, want ErrConflict", err)
	}
}

func TestShutdownInterruptsRun(t *testing.T) {
	e := newEnv(t, standInTerm, nil)
	queued := e.create("dpo", e.base.ID, e.dpo, "")
	ctx, stop := context.WithCancel(t.Context())
	e.runner.opt.OnEvent = func(_ int64, ev Event) {
		if ev.Event == "metric" {
			stop()
		}
	}
	run, err := e.runner.RunOne(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunInterrupted || !strings.HasSuffix(run.Checkpoint, "checkpoint-7") {
		t.Errorf("after shutdown: %s at %q", run.Status, run.Checkpoint)
	}
}

func TestCancelKillsTheWholeProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// This stand-in ignores SIGTERM and leaves a child in its process group: both must be
	// gone after the grace period.
	script := standInPreamble + `
trap '' TERM
sleep 600 &
echo $! > ` + pidFile + `
echo '{"event":"start","max_steps":10,"resumed_at_step":0,"device":"cpu"}'
while true; do sleep 0.05; done
`
	e := newEnv(t, script, func(o *Options) { o.Grace = 200 * time.Millisecond })
	e.cancelOn("start")
	queued := e.create("sft", e.base.ID, e.sft, "")
	run, err := e.runner.RunOne(t.Context(), queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunCanceled {
		t.Errorf("status %s, want canceled", run.Status)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// SIGKILL is delivered asynchronously: give the kernel a moment to end the child.
	for deadline := time.Now().Add(10 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the worker's child %d outlived the cancel", pid)
	}
	if !strings.Contains(strings.Join(e.runner.LogTail(run.ID), "\n"), "SIGKILL") {
		t.Errorf("log tail does not tell of the SIGKILL: %q", e.runner.LogTail(run.ID))
	}
}

func TestQueueRunsOneAtATimeInOrder(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "busy")
	order := filepath.Join(t.TempDir(), "order")
	// The stand-in fails when another worker is running (its lock file exists).
	script := standInPreamble + `
if [ -e ` + lock + ` ]; then echo '{"event":"error","message":"two workers at once"}'; exit 1; fi
touch ` + lock + `
pwd >> ` + order + `
sleep 0.1
mkdir -p "$out" && echo '{}' > "$out/adapter_config.json"
rm ` + lock + `
echo '{"event":"done","output":"'$out'","step":1}'
`
	e := newEnv(t, script, nil)
	a := e.create("sft", e.base.ID, e.sft, "")
	b := e.create("dpo", e.base.ID, e.dpo, "")
	c := e.create("sft", e.base.ID, e.sft, "")
	d := e.create("sft", e.base.ID, e.sft, "")
	if err := e.runner.Cancel(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.runner.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for !e.run(d.ID).Finished() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	got, _ := os.ReadFile(order)
	var want strings.Builder
	for _, r := range []store.Run{a, c, d} {
		dir, _ := filepath.EvalSymlinks(e.runner.RunDir(r.ID))
		want.WriteString(dir + "\n")
	}
	if string(got) != want.String() {
		t.Errorf("worker folders in start order:\n%s\nwant:\n%s", got, want.String())
	}
	for _, r := range []store.Run{a, c, d} {
		if st := e.run(r.ID).Status; st != store.RunDone {
			t.Errorf("run %d: %s (%s)", r.ID, st, e.run(r.ID).Error)
		}
	}
	if st := e.run(b.ID).Status; st != store.RunCanceled {
		t.Errorf("canceled queued run %d is %s", b.ID, st)
	}
}

func TestRestartMarksRunningRunsInterrupted(t *testing.T) {
	e := newEnv(t, standInDone, nil)
	queued := e.create("sft", e.base.ID, e.sft, "")
	// A process claimed it and died.
	if _, ok, err := e.st.ClaimRun(t.Context(), queued.ID); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// A fresh runner (a restarted app) must not run it, only mark it.
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.runner.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for e.run(queued.ID).Status == store.RunRunning && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	run := e.run(queued.ID)
	if run.Status != store.RunInterrupted || !run.Resumable() {
		t.Errorf("after restart: %s", run.Status)
	}
}

// alive reports whether a process exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
