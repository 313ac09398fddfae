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
	names := map[int64]string{}
	for _, m := range models {
		names[m.ID] = m.Name
	}
	for _, m := range models {
		row := web.ModelRow{ID: m.ID, Name: m.Name, Provider: m.Provider, Endpoint: m.Endpoint, ServedName: m.ServedName,
			APIKeyEnv: m.APIKeyEnv, Base: m.Base, Adapter: m.Adapter, ChatTemplate: m.ChatTemplate,
			ContextLength: m.ContextLength, Parent: names[m.ParentID], CreatedAt: formatJobTime(m.CreatedAt)}
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
	s.modelAdded(w, r, err, func(vm *web.ModelsPage) {
		vm.Form = form
		vm.Errors = []web.FieldError{{Message: formMessage(err)}}
	})
}

// modelAdded ends an add-model form: back to the list after a success, the page with the form as
// typed and its error (422) after a refusal.
func (s *Server) modelAdded(w http.ResponseWriter, r *http.Request, err error, refused func(vm *web.ModelsPage)) {
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
	refused(&vm)
	s.render(w, r, http.StatusUnprocessableEntity, web.ModelsView(vm))
}

// handleLocalModelCreate registers a model for the built-in engine after loading it once, so a
// missing file, an unsupported architecture or an adapter for another base is refused here.
func (s *Server) handleLocalModelCreate(w http.ResponseWriter, r *http.Request) {
	form := web.LocalModelForm{Name: strings.TrimSpace(r.FormValue("name")), Base: strings.TrimSpace(r.FormValue("base")),
		Adapter: strings.TrimSpace(r.FormValue("adapter")), ChatTemplate: r.FormValue("template"),
		Context: strings.TrimSpace(r.FormValue("context"))}
	in := store.ModelInput{Name: form.Name, Provider: store.ProviderBuiltin, Base: form.Base, Adapter: form.Adapter,
		ChatTemplate: form.ChatTemplate}
	err := parseContext(form.Context, &in.ContextLength)
	if err == nil {
		err = s.loadLocal(in)
	}
	if err == nil {
		_, err = s.store.CreateModel(r.Context(), in)
	}
	s.modelAdded(w, r, err, func(vm *web.ModelsPage) {
		vm.Local = form
		vm.LocalErrors = []web.FieldError{{Message: formMessage(err)}}
	})
}

func parseContext(text string, dst *int) error {
	if text == "" {
		return nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return fmt.Errorf("%w: context limit: %q is not a whole number of tokens", store.ErrInvalid, text)
	}
	*dst = n
	return nil
}

// loadLocal loads a local model through the engine pool; a model that does not load is the
// form's error.
func (s *Server) loadLocal(in store.ModelInput) error {
	if in.Base == "" {
		return fmt.Errorf("%w: weights: give a GGUF file or a Hugging Face folder", store.ErrInvalid)
	}
	if s.cfg.GeneratorFor == nil {
		return errors.New("this server cannot load local models")
	}
	_, err := s.cfg.GeneratorFor(store.Model{Name: in.Name, Provider: store.ProviderBuiltin, Base: in.Base,
		Adapter: in.Adapter, ChatTemplate: in.ChatTemplate, ContextLength: in.ContextLength})
	if err != nil {
		return fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	return nil
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
	check := s.checkModel(r.Context(), m)
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

// describer is a loaded local model that can say what it is.
type describer interface{ Describe() string }

func (s *Server) checkModel(ctx context.Context, m store.Model) web.ModelCheck {
	if m.Provider == store.ProviderBuiltin {
		return s.checkLocal(m)
	}
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

// checkLocal loads a built-in model (or finds it loaded) and describes it.
func (s *Server) checkLocal(m store.Model) web.ModelCheck {
	if s.cfg.GeneratorFor == nil {
		return web.ModelCheck{ModelID: m.ID, Error: "this server cannot load local models"}
	}
	gen, err := s.cfg.GeneratorFor(m)
	if err != nil {
		return web.ModelCheck{ModelID: m.ID, Error: err.Error()}
	}
	check := web.ModelCheck{ModelID: m.ID, Loaded: "ready"}
	if d, ok := gen.(describer); ok {
		check.Loaded = d.Describe()
	}
	return check
}
