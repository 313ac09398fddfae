package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"rustexpert/store"
	"rustexpert/web"
)

func (s *Server) handleAPIKeys(w http.ResponseWriter, r *http.Request) {
	vm, err := s.apiKeysPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.APIKeysView(vm))
}

func (s *Server) apiKeysPage(r *http.Request) (web.APIKeysPage, error) {
	keys, err := s.store.ListAPIKeys(r.Context())
	if err != nil {
		return web.APIKeysPage{}, err
	}
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		return web.APIKeysPage{}, err
	}
	vm := web.APIKeysPage{Nav: s.nav(r, "API keys"), Form: web.APIKeyForm{UserID: userFrom(r).ID}, BaseURL: s.apiBaseURL(r)}
	for _, u := range users {
		vm.Users = append(vm.Users, web.APIKeyUser{ID: u.ID, Name: u.Name})
	}
	for _, k := range keys {
		vm.Keys = append(vm.Keys, web.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, User: k.UserName,
			Created: formatJobTime(k.CreatedAt), LastUsed: formatJobTime(k.LastUsedAt), Revoked: formatJobTime(k.RevokedAt)})
	}
	return vm, nil
}

// apiBaseURL is the /v1 API's address as the browser that shows the page reaches this server.
func (s *Server) apiBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || s.cfg.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/v1"
}

// handleAPIKeyCreate makes a key and shows its secret on the answer, the only time it is shown.
func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) {
	form := web.APIKeyForm{Name: strings.TrimSpace(r.FormValue("name")), UserID: userFrom(r).ID}
	var err error
	if v := r.FormValue("user"); v != "" {
		if form.UserID, err = strconv.ParseInt(v, 10, 64); err != nil {
			err = fmt.Errorf("%w: user: %q is not a user id", store.ErrInvalid, v)
		}
	}
	var key store.APIKey
	var secret string
	if err == nil {
		key, secret, err = s.store.CreateAPIKey(r.Context(), form.Name, form.UserID)
	}
	if err != nil && !errors.Is(err, store.ErrInvalid) {
		s.error(w, r, err)
		return
	}
	vm, perr := s.apiKeysPage(r)
	if perr != nil {
		s.error(w, r, perr)
		return
	}
	if err != nil {
		vm.Form, vm.Errors = form, []web.FieldError{{Message: formMessage(err)}}
		s.render(w, r, http.StatusUnprocessableEntity, web.APIKeysView(vm))
		return
	}
	vm.NewKey, vm.NewName = secret, key.Name
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusCreated, web.APIKeysView(vm))
}

func (s *Server) handleAPIKeyRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, fmt.Errorf("API key id: %w", store.ErrNotFound))
		return
	}
	if err := s.store.RevokeAPIKey(r.Context(), id); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings/keys", http.StatusSeeOther)
}
