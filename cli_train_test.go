package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/dataset"
	"rustexpert/store"
)

// standInWorker is a STAND-IN for "python -m worker KIND --config run.json": it prints the
// protocol events of a two-step run and writes an adapter file, without torch.
const standInWorker = `#!/bin/sh
out=$(sed -n 's/^  "output_dir": "\(.*\)",*$/\1/p' "$5")
mkdir -p "$out"
echo '{"event":"start","max_steps":2,"resumed_at_step":0,"device":"cpu"}'
echo '{"event":"metric","step":1,"metrics":{"loss":0.6931,"rewards/margins":0}}'
echo '{"event":"metric","step":2,"metrics":{"loss":0.5,"rewards/margins":0.25}}'
echo '{"r":8}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":2,"metrics":{"train_loss":0.6}}'
`

// trainEnv is a data folder with a registered base model, a DPO snapshot and a stand-in worker.
func trainEnv(t *testing.T) map[string]string {
	t.Helper()
	data := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(data, "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateModel(t.Context(), store.ModelInput{Name: "base", Provider: store.ProviderBuiltin, Base: "/models/base.gguf"}); err != nil {
		t.Fatal(err)
	}
	var rows []dataset.DPORow
	for _, q := range []string{"What does `?` do?", "How do I borrow a String as &str?"} {
		rows = append(rows, dataset.DPORow{Prompt: q, Chosen: "Good answer.", Rejected: "Bad answer.", PromptID: dataset.PromptID(q)})
	}
	var buf bytes.Buffer
	n, sha, _ := dataset.WriteJSONL(&buf, rows)
	os.MkdirAll(filepath.Join(data, "datasets"), 0o755)
	os.WriteFile(filepath.Join(data, "datasets", "dpo.jsonl"), buf.Bytes(), 0o644)
	if _, err := st.CreateDataset(t.Context(), store.Dataset{Kind: "dpo", OptionsJSON: "{}", StatsJSON: "{}", SHA256: sha, Rows: n,
		Path: filepath.Join("datasets", "dpo.jsonl")}, 0); err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(t.TempDir(), "stand-in-python")
	os.WriteFile(python, []byte(standInWorker), 0o755)
	return map[string]string{"RUSTEXPERT_DATA": data, "RUSTEXPERT_TRAIN_PYTHON": python, "RUSTEXPERT_MODELS": t.TempDir()}
}

func TestTrainDryRunPrintsRunJSON(t *testing.T) {
	env := trainEnv(t)
	out := cli(t, env, "train", "dpo", "--parent", "base", "--dataset", "1", "--set", "beta=0.05", "--set", "lora.r=8", "--dry-run")
	body, cmd, _ := strings.Cut(out, "\n# ")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatalf("dry run did not print run.json: %v\n%s", err, out)
	}
	hp := cfg["hyperparameters"].(map[string]any)
	if cfg["model"] != "/models/base.gguf" || hp["beta"] != 0.05 || hp["learning_rate"] != 5e-6 || cfg["lora"].(map[string]any)["r"] != 8.0 {
		t.Errorf("run.json = %s", body)
	}
	if !strings.HasPrefix(cmd, env["RUSTEXPERT_TRAIN_PYTHON"]+" -m worker dpo --config ") {
		t.Errorf("command line = %q", cmd)
	}
	if list := cli(t, env, "train", "list"); strings.Count(list, "\n") != 1 {
		t.Errorf("a dry run stored a run:\n%s", list)
	}
}

func TestTrainRunsInForegroundAndRegisters(t *testing.T) {
	env := trainEnv(t)
	out := cli(t, env, "train", "dpo", "--parent", "base", "--dataset", "1", "--name", "pref")
	for _, want := range []string{"run 1: dpo of base on dataset 1", "run 1 started on cpu: 2 steps",
		"step 1/2  loss 0.6931  rewards/margins 0", "step 2/2  loss 0.5  rewards/margins 0.25", "run 1 done at step 2: model pref registered"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	list := cli(t, env, "train", "list")
	if !strings.Contains(list, "done") || !strings.Contains(list, "2/2") || !strings.Contains(list, "pref") {
		t.Errorf("train list:\n%s", list)
	}
	if models := cli(t, env, "models", "list"); !strings.Contains(models, "pref") {
		t.Errorf("models list lacks the trained model:\n%s", models)
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	env := trainEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "sft", "--parent", "base", "--dataset", "1"}, "snapshot 1 is dpo; a sft run needs a sft snapshot"},
		{[]string{"train", "dpo", "--parent", "nobody", "--dataset", "1"}, "nobody"},
		{[]string{"train", "dpo", "--parent", "base", "--dataset", "1", "--set", "betta=1"}, "unknown setting"},
		{[]string{"train", "dpo", "--parent", "base"}, "--parent and --dataset are required"},
		{[]string{"train", "ppo"}, "unknown subcommand"},
	} {
		if msg := cliErr(t, env, c.args...); !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not say %q", c.args, msg, c.want)
		}
	}
}

func TestTrainEstimatePredictsWithoutRegistering(t *testing.T) {
	env := trainEnv(t)
	env["RUSTEXPERT_GPU_PRICE"] = "3.6"
	out := cli(t, env, "train", "dpo", "--parent", "base", "--dataset", "1", "--set", "epochs=50", "--estimate")
	// 2 rows, 16 a step → 1 step an epoch, 50 epochs; the stand-in worker reports 2 steps and no GPU.
	for _, want := range []string{"50 steps at", "2-step trial on cpu", "cost", "at 3.60 per hour"} {
		if !strings.Contains(out, want) {
			t.Errorf("estimate lacks %q: %s", want, out)
		}
	}
	if list := cli(t, env, "train", "list"); strings.Contains(list, "dpo") {
		t.Errorf("an estimate left a run behind:\n%s", list)
	}
	if models := cli(t, env, "models", "list"); strings.Contains(models, "v2") {
		t.Errorf("an estimate registered a model:\n%s", models)
	}
}
