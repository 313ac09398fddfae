package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"rustexpert/inference"
	"rustexpert/store"
	"rustexpert/web"
)

// modelCheckTimeout bounds a connection test, so a dead endpoint answers quickly.
const modelCheckTimeout = 5 * time.Second

// envVarName is what an API key variable's name looks like; anything else (such as a pasted
// key) is refused so that secrets never land in the database.
var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func (s *Server) handleModelsPage(w http.ResponseWriter, r *http.Request) {
	vm, err := s.modelsPage(r, nil)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ModelsView(vm))
}

func (s *Server) modelsPage(r *http.Request, check *web.ModelCheck) (web.ModelsPage, error) {
	models, err := s.store.ListModels(r.Context())
	if err != nil {
		return web.ModelsPage{}, err
	}
	vm := web.ModelsPage{Nav: s.nav(r, "Models")}
	for _, m := range models {
		row := web.ModelRow{ID: m.ID, Name: m.Name, Provider: m.Provider, Endpoint: m.Endpoint, ServedName: m.ServedName,
			APIKeyEnv: m.APIKeyEnv, CreatedAt: formatJobTime(m.CreatedAt)}
		if check != nil && check.ModelID == m.ID {
			row.Check = check
		}
		vm.Models = append(vm.Models, row)
	}
	return vm, nil
}

func (s *Server) handleModelCreate(w http.ResponseWriter, r *http.Request) {
	form := web.ModelForm{Name: strings.TrimSpace(r.FormValue("name")), Endpoint: strings.TrimSpace(r.FormValue("endpoint")),
		ServedName: strings.TrimSpace(r.FormValue("served_name")), APIKeyEnv: strings.TrimSpace(r.FormValue("api_key_env"))}
	err := checkAPIKeyEnv(form.APIKeyEnv)
	if err == nil {
		_, err = s.store.CreateModel(r.Context(), store.ModelInput{Name: form.Name, Provider: store.ProviderOpenAI,
			Endpoint: form.Endpoint, ServedName: form.ServedName, APIKeyEnv: form.APIKeyEnv})
	}
	if err == nil {
		http.Redirect(w, r, "/models", http.StatusSeeOther)
		return
	}
	if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrConflict) {
		s.error(w, r, err)
		return
	}
	vm, perr := s.modelsPage(r, nil)
	if perr != nil {
		s.error(w, r, perr)
		return
	}
	vm.Form = form
	vm.Errors = []web.FieldError{{Message: formMessage(err)}}
	s.render(w, r, http.StatusUnprocessableEntity, web.ModelsView(vm))
}

func checkAPIKeyEnv(name string) error {
	if name == "" || envVarName.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%w: API key variable: give the name of an environment variable (like OPENAI_API_KEY), not the key itself", store.ErrInvalid)
}

// handleModelCheck asks the model's endpoint which models it serves.
func (s *Server) handleModelCheck(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, fmt.Errorf("model id: %w", store.ErrNotFound))
		return
	}
	m, err := s.store.Model(r.Context(), id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	check := checkModel(r.Context(), m)
	if isHTMX(r) {
		s.render(w, r, http.StatusOK, web.ModelCheckView(check))
		return
	}
	vm, err := s.modelsPage(r, &check)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ModelsView(vm))
}

func checkModel(ctx context.Context, m store.Model) web.ModelCheck {
	ctx, cancel := context.WithTimeout(ctx, modelCheckTimeout)
	defer cancel()
	key := ""
	if m.APIKeyEnv != "" {
		key = os.Getenv(m.APIKeyEnv)
	}
	// No retries: the person who pressed the button wants the first answer, not the fourth.
	client := inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint, APIKey: key, Timeout: modelCheckTimeout, MaxRetries: -1})
	served, err := client.Models(ctx)
	if err != nil {
		return web.ModelCheck{ModelID: m.ID, Error: err.Error()}
	}
	check := web.ModelCheck{ModelID: m.ID, Served: served}
	if !slices.Contains(served, m.ServedName) {
		check.Missing = m.ServedName
	}
	return check
}
