package training

import (
	"errors"
	"strings"
	"testing"

	"rustexpert/store"
)

func TestSavedConfigRoundTrip(t *testing.T) {
	settings := Defaults("dpo")
	settings.Model, settings.Dataset, settings.OutputDir, settings.InitAdapter = "/m/base.gguf", "/d/dpo.jsonl", "/runs/1/output", "/m/v1"
	settings.Hyperparameters.Beta = 0.05
	settings.TrainerArgs = map[string]any{"max_prompt_length": 512.0}
	saved := SaveRequest(Request{Kind: "dpo", ParentID: 3, DatasetID: 4, Name: "v2-small", Settings: settings})
	text := saved.JSON()
	for _, path := range []string{"/m/base.gguf", "/d/dpo.jsonl", "/runs/1/output", "/m/v1"} {
		if strings.Contains(text, path) {
			t.Errorf("saved JSON keeps the path %s: %s", path, text)
		}
	}
	back, err := ParseSaved(store.SavedConfig{Name: "beta", Kind: "dpo", JSON: text})
	if err != nil {
		t.Fatal(err)
	}
	req := back.Request("dpo", 0, 9, 7)
	if req.ParentID != 3 || req.DatasetID != 9 || req.Name != "v2-small" || req.CreatedBy != 7 ||
		req.Settings.Hyperparameters.Beta != 0.05 || req.Settings.TrainerArgs["max_prompt_length"] != 512.0 || req.Settings.Model != "" {
		t.Errorf("request from the saved config = %+v", req)
	}
}

func TestSavedConfigChecksLikeARun(t *testing.T) {
	s := SaveRequest(Request{Kind: "sft", Name: "has space", Settings: Defaults("sft")})
	s.Settings.Lora.R = 0
	got := strings.Join(s.Check("sft"), "; ")
	for _, want := range []string{"name: 1 to 64 characters", "lora.r: 0 must be at least 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	if p := SaveRequest(Request{Kind: "sft", Settings: Defaults("sft")}).Check("sft"); len(p) != 0 {
		t.Errorf("defaults without parent or dataset: %v", p)
	}
	_, err := ParseSaved(store.SavedConfig{Name: "odd", Kind: "sft", JSON: `{"settings":{},"colour":"blue"}`})
	if err == nil || !strings.Contains(err.Error(), `saved config "odd"`) || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: %v", err)
	}
	_, err = ParseSaved(store.SavedConfig{Name: "zero", Kind: "sft", JSON: `{"settings":{}}`})
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "hyperparameters.learning_rate") {
		t.Errorf("empty settings: %v, want the run's checks", err)
	}
}
