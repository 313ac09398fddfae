package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"rustexpert/store"
	"rustexpert/web"
)

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	vm, err := s.usersPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Added = r.URL.Query().Get("added")
	s.render(w, r, http.StatusOK, web.UsersView(vm))
}

func (s *Server) usersPage(r *http.Request) (web.UsersPage, error) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		return web.UsersPage{}, err
	}
	me := userFrom(r).ID
	vm := web.UsersPage{Nav: s.nav(r, "Users"), Add: web.UserForm{Role: store.RoleAnnotator}}
	for _, u := range users {
		vm.Users = append(vm.Users, web.UserRow{ID: u.ID, Name: u.Name, Role: u.Role,
			Created: u.CreatedAt.UTC().Format("2006-01-02"), IsSelf: u.ID == me})
	}
	return vm, nil
}

func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request) {
	form := web.UserForm{Name: r.FormValue("name"), Role: r.FormValue("role")}
	u, err := s.store.CreateUser(r.Context(), form.Name, r.FormValue("password"), form.Role)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		s.usersFormFailed(w, r, func(vm *web.UsersPage) {
			vm.Add = form
			vm.AddErrors = []web.FieldError{{Message: formMessage(err)}}
		})
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/users?added="+url.QueryEscape(u.Name), http.StatusSeeOther)
}

// handleUserRole changes a user's role; the last admin keeps theirs so that someone can
// still manage users.
func (s *Server) handleUserRole(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, fmt.Errorf("user id: %w", store.ErrNotFound))
		return
	}
	role := r.FormValue("role")
	err = s.checkKeepsAnAdmin(r, id, role)
	if err == nil {
		err = s.store.SetUserRole(r.Context(), id, role)
	}
	if errors.Is(err, store.ErrInvalid) {
		s.usersFormFailed(w, r, func(vm *web.UsersPage) {
			vm.RoleErrors = []web.FieldError{{Message: formMessage(err)}}
		})
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// checkKeepsAnAdmin refuses to take the admin role from the only admin.
func (s *Server) checkKeepsAnAdmin(r *http.Request, id int64, role string) error {
	if role == store.RoleAdmin {
		return nil
	}
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	admins, target := 0, false
	for _, u := range users {
		if u.IsAdmin() {
			admins++
			target = target || u.ID == id
		}
	}
	if target && admins == 1 {
		return fmt.Errorf("%w: the last admin must keep the admin role; make someone else admin first", store.ErrInvalid)
	}
	return nil
}

func (s *Server) usersFormFailed(w http.ResponseWriter, r *http.Request, set func(*web.UsersPage)) {
	vm, err := s.usersPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	set(&vm)
	s.render(w, r, http.StatusUnprocessableEntity, web.UsersView(vm))
}
