package handlers

import (
	"errors"
	"net/http"

	"rustexpert/store"
	"rustexpert/web"
)

// handleAccount shows the user's own account page.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, "", nil)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, notice string, errs []web.FieldError) {
	n, err := s.store.CountUserSessions(r.Context(), userFrom(r).ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, status, web.AccountView(web.AccountPage{Nav: s.nav(r, ""), Sessions: n, Notice: notice, Errors: errs}))
}

// handlePasswordChange sets a new password after checking the current one; it keeps this session
// and ends the user's others. Wrong current passwords count as failed logins of the name.
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	keys := loginKeys(u.Name, clientIP(r))
	if wait, locked := s.limits.logins.locked(keys...); locked {
		s.renderAccount(w, r, http.StatusTooManyRequests, "", []web.FieldError{{Field: "current password",
			Message: "too many wrong passwords; try again in " + roundUp(wait)}})
		return
	}
	next := r.FormValue("new")
	if next != r.FormValue("again") {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, "", []web.FieldError{{Field: "new password", Message: "the two new passwords differ"}})
		return
	}
	token := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		token = c.Value
	}
	err := s.store.ChangePassword(r.Context(), u.ID, r.FormValue("current"), next, token)
	switch {
	case errors.Is(err, store.ErrUnauthorized):
		s.limits.logins.fail(keys...)
		s.renderAccount(w, r, http.StatusUnprocessableEntity, "", []web.FieldError{{Field: "current password", Message: "wrong password"}})
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict):
		s.renderAccount(w, r, http.StatusUnprocessableEntity, "", []web.FieldError{{Message: formMessage(err)}})
	case err != nil:
		s.error(w, r, err)
	default:
		s.renderAccount(w, r, http.StatusOK, "Your password is changed; your other sessions are logged out.", nil)
	}
}

// handleLogoutEverywhere ends every session of the user, this one too.
func (s *Server) handleLogoutEverywhere(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.DeleteUserSessions(r.Context(), userFrom(r).ID); err != nil {
		s.error(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
