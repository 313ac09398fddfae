package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
	"rustexpert/training"
)

// saveConfig stores a run config as the /runs page saves it.
func saveConfig(t *testing.T, env map[string]string, name, kind string, saved training.SavedConfig) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(env["RUSTEXPERT_DATA"], "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateSavedConfig(t.Context(), store.SavedConfigInput{Name: name, Kind: kind, JSON: saved.JSON()}); err != nil {
		t.Fatal(err)
	}
}

func TestTrainFromSavedConfigAndConfigsCommands(t *testing.T) {
	env := trainEnv(t)
	settings := training.Defaults("dpo")
	settings.Hyperparameters.Beta, settings.Lora.R = 0.05, 8
	saveConfig(t, env, "beta sweep", "dpo", training.SavedConfig{ParentID: 1, DatasetID: 1, Name: "pref", Settings: settings})
	saveConfig(t, env, "bare", "sft", training.SavedConfig{Settings: training.Defaults("sft")})

	list := cli(t, env, "train", "configs", "list")
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "bare") ||
		!strings.Contains(lines[2], "beta sweep  dpo   base") {
		t.Errorf("configs list:\n%s", list)
	}
	var shown struct {
		Name     string          `json:"config_name"`
		Kind     string          `json:"kind"`
		ParentID int64           `json:"parent_id"`
		Settings training.Config `json:"settings"`
	}
	if err := json.Unmarshal([]byte(cli(t, env, "train", "configs", "show", "BETA SWEEP")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Name != "beta sweep" || shown.Kind != "dpo" || shown.ParentID != 1 || shown.Settings.Hyperparameters.Beta != 0.05 {
		t.Errorf("configs show = %+v", shown)
	}

	// The saved parent, dataset and name; a flag overrides a setting.
	out := cli(t, env, "train", "dpo", "--config-name", "beta sweep", "--set", "lora.r=4", "--dry-run")
	body, _, _ := strings.Cut(out, "\n# ")
	cfg, err := training.ParseConfig([]byte(body))
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if cfg.Hyperparameters.Beta != 0.05 || cfg.Lora.R != 4 || cfg.Model != "/models/base.gguf" || !strings.HasSuffix(cfg.Dataset, "dpo.jsonl") {
		t.Errorf("run.json from the saved config: %+v", cfg)
	}
	run := cli(t, env, "train", "dpo", "--config-name", "beta sweep")
	if !strings.Contains(run, "run 1: dpo of base on dataset 1") || !strings.Contains(run, "model pref registered") {
		t.Errorf("run from the saved config:\n%s", run)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "sft", "--config-name", "beta sweep"}, `saved config "beta sweep" is for dpo runs: use train dpo`},
		{[]string{"train", "sft", "--config-name", "bare", "--dataset", "1"}, `saved config "bare" has no parent model: give --parent`},
		{[]string{"train", "sft", "--config-name", "bare", "--parent", "base"}, `saved config "bare" has no dataset: give --dataset`},
		{[]string{"train", "dpo", "--config-name", "nothing"}, `saved config "nothing": not found`},
		{[]string{"train", "configs", "show"}, "usage: rustexpert train configs"},
		{[]string{"train", "configs", "drop", "bare"}, "usage: rustexpert train configs"},
	} {
		if msg := cliErr(t, env, c.args...); !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not say %q", c.args, msg, c.want)
		}
	}

	if out := cli(t, env, "train", "configs", "delete", "bare"); !strings.Contains(out, `saved config "bare" deleted`) {
		t.Errorf("delete: %s", out)
	}
	if list := cli(t, env, "train", "configs", "list"); strings.Contains(list, "bare") {
		t.Errorf("deleted config still listed:\n%s", list)
	}
	if msg := cliErr(t, env, "train", "configs", "delete", "bare"); !strings.Contains(msg, "not found") {
		t.Errorf("second delete: %s", msg)
	}
}
