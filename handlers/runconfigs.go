package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"rustexpert/store"
	"rustexpert/training"
	"rustexpert/web"
)

// handleRunConfigSave saves the form's settings under the name typed ("Save as…"), checked as a
// run's are, and answers with the form again: its list of saved configs updated, or the problems.
func (s *Server) handleRunConfigSave(w http.ResponseWriter, r *http.Request) {
	req, problems := runRequest(r)
	form := formFrom(r)
	name := strings.TrimSpace(r.FormValue("config_name"))
	saved := training.SaveRequest(req)
	if name == "" {
		problems = append(problems, "config name: type a name to save these settings under")
	} else if err := store.CheckSavedConfigName(name); err != nil {
		problems = append(problems, formMessage(err))
	}
	problems = append(problems, saved.Check(req.Kind)...)
	if len(problems) == 0 {
		_, err := s.store.CreateSavedConfig(r.Context(), store.SavedConfigInput{Name: name, Kind: req.Kind, JSON: saved.JSON(),
			CreatedBy: userFrom(r).ID})
		switch {
		case err == nil:
			form.Notice, form.ConfigName = fmt.Sprintf("Saved as %q.", name), ""
		case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict):
			problems = append(problems, formMessage(err))
		default:
			s.error(w, r, err)
			return
		}
	}
	form.Problems = problems
	f, err := s.runForm(r.Context(), req.Kind, req.Settings, form)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.RunFormView(f, s.nav(r, "").CSRFToken))
}

// handleRunConfigDelete deletes a saved config and goes back to /runs.
func (s *Server) handleRunConfigDelete(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, fmt.Errorf("saved config id %q: %w", chi.URLParam(r, "id"), store.ErrNotFound))
		return
	}
	if err := s.store.DeleteSavedConfig(r.Context(), id); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/runs", http.StatusSeeOther)
}

// savedConfigForm loads a saved config (id as text) into the form: its kind, settings, and the
// parent, dataset and model name it was saved with.
func (s *Server) savedConfigForm(ctx context.Context, idText string) (string, training.Config, web.RunForm, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return "", training.Config{}, web.RunForm{}, fmt.Errorf("saved config id %q: %w", idText, store.ErrNotFound)
	}
	row, err := s.store.SavedConfig(ctx, id)
	if err != nil {
		return "", training.Config{}, web.RunForm{}, err
	}
	saved, err := training.ParseSaved(row)
	if err != nil {
		return "", training.Config{}, web.RunForm{}, err
	}
	form := web.RunForm{FromConfig: row.Name, Name: saved.Name}
	if saved.ParentID != 0 {
		form.ParentID = strconv.FormatInt(saved.ParentID, 10)
	}
	if saved.DatasetID != 0 {
		form.DatasetID = strconv.FormatInt(saved.DatasetID, 10)
	}
	return row.Kind, saved.Settings, form, nil
}

// savedConfigOptions are the saved configs as the form's "Load saved config" choices.
func savedConfigOptions(rows []store.SavedConfig) []web.RunOption {
	out := make([]web.RunOption, 0, len(rows))
	for _, c := range rows {
		out = append(out, web.RunOption{ID: c.ID, Label: fmt.Sprintf("%s (%s)", c.Name, strings.ToUpper(c.Kind))})
	}
	return out
}

// savedConfigRows are the saved configs as the list under the form shows them.
func savedConfigRows(rows []store.SavedConfig) []web.SavedConfigRow {
	out := make([]web.SavedConfigRow, 0, len(rows))
	for _, c := range rows {
		row := web.SavedConfigRow{ID: c.ID, Name: c.Name, Kind: c.Kind, By: c.CreatedByName, Created: formatJobTime(c.CreatedAt)}
		if saved, err := training.ParseSaved(c); err == nil {
			row.Summary = settingsSummary(c.Kind, saved.Settings)
		} else {
			row.Summary = err.Error()
		}
		out = append(out, row)
	}
	return out
}

// settingsSummary lists the form's settings that differ from the kind's defaults.
func settingsSummary(kind string, cfg training.Config) string {
	defaults := training.Defaults(kind)
	var parts []string
	for _, fl := range runFields {
		if fl.dpoOnly && kind != store.RunDPO {
			continue
		}
		if v := settingValue(cfg, fl.key); v != settingValue(defaults, fl.key) {
			parts = append(parts, fl.key+"="+v)
		}
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ", ")
}
