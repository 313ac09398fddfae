package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
	"rustexpert/training"
)

func TestSavedConfigSaveLoadAndDelete(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	form := a.form("dpo", a.dpo, map[string]string{"beta": "0.05", "lora.r": "16", "name": "v2-beta", "config_name": "beta sweep"})
	doc := parse(t, c.htmx(http.MethodPost, "/runs/configs", form))
	if got := testid(doc, "run-form-notice").Text(); got != `Saved as "beta sweep".` {
		t.Fatalf("notice = %q; problems %q", got, testid(doc, "run-form-problems").Text())
	}
	if got := testid(doc, "run-load-config").Find("option").Text(); !strings.Contains(got, "beta sweep (DPO)") {
		t.Errorf("load choices = %q", got)
	}
	if v, _ := testid(doc, "run-beta").Attr("value"); v != "0.05" {
		t.Errorf("the form after saving shows β %q", v)
	}
	rows, err := a.store.SavedConfigs(t.Context(), "")
	if err != nil || len(rows) != 1 {
		t.Fatalf("saved = %+v, %v", rows, err)
	}
	saved, err := training.ParseSaved(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	if saved.Settings.Hyperparameters.Beta != 0.05 || saved.Settings.Lora.R != 16 || saved.ParentID != a.base.ID ||
		saved.DatasetID != a.dpo.ID || saved.Name != "v2-beta" || saved.Settings.Dataset != "" || rows[0].CreatedByName != "ann" {
		t.Errorf("saved config = %+v by %q", saved, rows[0].CreatedByName)
	}
	id := strconv.FormatInt(rows[0].ID, 10)

	// Refusals come back in the form: a name in use, no name, settings a run would refuse.
	for _, c2 := range []struct {
		extra map[string]string
		want  string
	}{
		{map[string]string{"config_name": "BETA SWEEP"}, `a saved config is already named "BETA SWEEP"`},
		{map[string]string{"config_name": " "}, "config name: type a name"},
		{map[string]string{"config_name": "neg", "learning_rate": "-1"}, "hyperparameters.learning_rate: -1 must be above 0"},
		{map[string]string{"config_name": "sp", "name": "has space"}, "name: 1 to 64 characters"},
	} {
		doc := parse(t, c.htmx(http.MethodPost, "/runs/configs", a.form("dpo", a.dpo, c2.extra)))
		if got := testid(doc, "run-form-problems").Text(); !strings.Contains(got, c2.want) {
			t.Errorf("%v: problems %q, want %q", c2.extra, got, c2.want)
		}
	}
	if rows, _ := a.store.SavedConfigs(t.Context(), ""); len(rows) != 1 {
		t.Errorf("refused configs were saved: %d rows", len(rows))
	}

	list := c.page("/runs")
	row := testid(list, "saved-config-row")
	if row.Length() != 1 || !strings.Contains(row.Text(), "beta sweep") || !strings.Contains(row.Text(), "beta=0.05, lora.r=16") ||
		!strings.Contains(row.Text(), "ann") {
		t.Errorf("saved config row = %q", row.Text())
	}
	// Loading fills the form: as a page and as the select's fragment.
	for _, d := range []*goquery.Document{c.page("/runs?config=" + id), parse(t, c.htmx(http.MethodGet, "/runs/form?load_config="+id, nil))} {
		if got := testid(d, "run-config-note").Text(); !strings.Contains(got, "beta sweep") {
			t.Errorf("note = %q", got)
		}
		if v, _ := testid(d, "run-beta").Attr("value"); v != "0.05" {
			t.Errorf("loaded β = %q", v)
		}
		if v, _ := testid(d, "run-lora.r").Attr("value"); v != "16" {
			t.Errorf("loaded r = %q", v)
		}
		if got := testid(d, "run-kind").Find("option[selected]").AttrOr("value", ""); got != "dpo" {
			t.Errorf("loaded kind = %q", got)
		}
		if got := testid(d, "run-parent").Find("option[selected]").AttrOr("value", ""); got != strconv.FormatInt(a.base.ID, 10) {
			t.Errorf("loaded parent = %q", got)
		}
		if v, _ := testid(d, "run-name").Attr("value"); v != "v2-beta" {
			t.Errorf("loaded name = %q", v)
		}
	}
	if res := c.get("/runs?config=99"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown config: status %d", res.StatusCode)
	}

	viewer := a.login("vic", store.RoleViewer)
	if res := viewer.htmx(http.MethodPost, "/runs/configs", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer saving: status %d", res.StatusCode)
	}
	if res := viewer.postForm("/runs/configs/"+id+"/delete", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer deleting: status %d", res.StatusCode)
	}
	if res := c.postForm("/runs/configs/"+id+"/delete", url.Values{}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/runs" {
		t.Fatalf("delete: status %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if testid(c.page("/runs"), "saved-configs").Length() != 0 {
		t.Error("the deleted config is still listed")
	}
	if res := c.postForm("/runs/configs/"+id+"/delete", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: status %d, want 404", res.StatusCode)
	}
	audit, _ := a.store.ListAudit(t.Context(), store.AuditFilter{Action: "run_config."})
	if len(audit) != 2 || audit[0].Action != "run_config.delete" || audit[0].Actor != "ann" || audit[1].Target != "beta sweep" {
		t.Errorf("audit = %+v", audit)
	}
}

func TestSavedConfigStartsTheSameRun(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	parse(t, c.htmx(http.MethodPost, "/runs/configs", a.form("sft", a.sft, map[string]string{"learning_rate": "1e-4", "config_name": "slow"})))
	rows, _ := a.store.SavedConfigs(t.Context(), store.RunSFT)
	if len(rows) != 1 {
		t.Fatalf("saved %d configs", len(rows))
	}
	// The loaded form, posted as it is, starts a run with the saved settings.
	doc := c.page("/runs?config=" + strconv.FormatInt(rows[0].ID, 10))
	form := url.Values{}
	doc.Find("#new-run input[name], #new-run select[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		switch {
		case s.Is("select"):
			form.Set(name, s.Find("option[selected]").AttrOr("value", ""))
		case name != "csrf":
			form.Set(name, s.AttrOr("value", ""))
		}
	})
	if res := c.postForm("/runs", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("start from the loaded form: status %d", res.StatusCode)
	}
	run, err := a.store.Run(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := training.ParseConfig([]byte(run.ConfigJSON))
	if cfg.Hyperparameters.LearningRate != 1e-4 || run.Kind != store.RunSFT || run.DatasetID != a.sft.ID {
		t.Errorf("run from the saved config: lr %g, kind %s, dataset %d", cfg.Hyperparameters.LearningRate, run.Kind, run.DatasetID)
	}
}
