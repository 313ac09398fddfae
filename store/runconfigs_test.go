package store

import (
	"errors"
	"strings"
	"testing"
)

func TestSavedConfigSaveListReadDelete(t *testing.T) {
	st := openTest(t)
	ada, err := st.CreateUser(t.Context(), "ada", "password123", RoleAnnotator)
	if err != nil {
		t.Fatal(err)
	}
	ctx := as(t, ada)
	small, err := st.CreateSavedConfig(ctx, SavedConfigInput{Name: " small lr ", Kind: RunSFT, JSON: `{"settings":{"lora":{"r":8}}}`, CreatedBy: ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	if small.Name != "small lr" || small.Kind != RunSFT || small.CreatedByName != "ada" || small.CreatedAt.IsZero() ||
		small.JSON != `{"settings":{"lora":{"r":8}}}` {
		t.Errorf("saved = %+v", small)
	}
	if _, err := st.CreateSavedConfig(ctx, SavedConfigInput{Name: "Beta sweep", Kind: RunDPO, JSON: `{}`, CreatedBy: ada.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = st.CreateSavedConfig(ctx, SavedConfigInput{Name: "SMALL LR", Kind: RunDPO, JSON: `{}`})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `already named "SMALL LR"`) {
		t.Errorf("a name in another case: %v, want ErrConflict", err)
	}

	all, err := st.SavedConfigs(t.Context(), "")
	if err != nil || len(all) != 2 || all[0].Name != "Beta sweep" || all[1].Name != "small lr" {
		t.Fatalf("all configs = %+v, %v; want Beta sweep then small lr", all, err)
	}
	dpo, err := st.SavedConfigs(t.Context(), RunDPO)
	if err != nil || len(dpo) != 1 || dpo[0].Kind != RunDPO {
		t.Errorf("dpo configs = %+v, %v", dpo, err)
	}
	byName, err := st.SavedConfigNamed(t.Context(), "Small LR")
	if err != nil || byName.ID != small.ID {
		t.Errorf("by name in another case = %+v, %v", byName, err)
	}
	if _, err := st.SavedConfigNamed(t.Context(), "nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}

	if err := st.DeleteSavedConfig(ctx, small.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SavedConfig(t.Context(), small.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("read after delete: %v", err)
	}
	if err := st.DeleteSavedConfig(ctx, small.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	saves, deletes := auditRows(t, st, "run_config.save"), auditRows(t, st, "run_config.delete")
	if len(saves) != 2 || len(deletes) != 1 || deletes[0].Target != "small lr" || deletes[0].Actor != "ada" {
		t.Errorf("audit: %d saves, deletes %+v", len(saves), deletes)
	}
}

func TestSavedConfigRefusesBadInput(t *testing.T) {
	st := openTest(t)
	for _, c := range []struct {
		in   SavedConfigInput
		want string
	}{
		{SavedConfigInput{Name: "", Kind: RunSFT, JSON: `{}`}, "1 to 64 characters"},
		{SavedConfigInput{Name: strings.Repeat("x", 65), Kind: RunSFT, JSON: `{}`}, "1 to 64 characters"},
		{SavedConfigInput{Name: "tab\there", Kind: RunSFT, JSON: `{}`}, "control characters"},
		{SavedConfigInput{Name: "ok", Kind: "ppo", JSON: `{}`}, `kind "ppo"`},
		{SavedConfigInput{Name: "ok", Kind: RunSFT, JSON: `[1]`}, "not an object"},
		{SavedConfigInput{Name: "ok", Kind: RunSFT, JSON: `{"a":`}, "not an object"},
		{SavedConfigInput{Name: "ok", Kind: RunSFT, JSON: `{"a":"` + strings.Repeat("x", 70000) + `"}`}, "bytes (at most"},
	} {
		_, err := st.CreateSavedConfig(t.Context(), c.in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q/%s: %v, want ErrInvalid saying %q", c.in.Name, c.in.Kind, err, c.want)
		}
	}
	if all, _ := st.SavedConfigs(t.Context(), ""); len(all) != 0 {
		t.Errorf("refused configs were stored: %+v", all)
	}
}
