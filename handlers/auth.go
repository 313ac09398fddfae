package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"rustexpert/store"
	"rustexpert/web"
)

// A session ends sessionTTL after its login, or sessionIdle after its last use; a request moves
// the idle deadline on when that gains more than sessionTouch (so not every request writes).
const (
	sessionCookie = "rx_session"
	sessionTTL    = 14 * 24 * time.Hour
	sessionIdle   = 3 * 24 * time.Hour
	sessionTouch  = time.Hour
)

type ctxKey int

const sessionKey ctxKey = 0

func sessionFrom(ctx context.Context) (store.Session, bool) {
	s, ok := ctx.Value(sessionKey).(store.Session)
	return s, ok
}

// userFrom is the request's user: its session's, else an anonymous visitor's own row (ID 0 until the
// visitor has changed something; see public.go), else the zero user.
func userFrom(r *http.Request) store.User {
	if s, ok := sessionFrom(r.Context()); ok {
		return s.User
	}
	v, _ := visitorFrom(r.Context())
	return store.User{ID: v.userID}
}

func (s *Server) nav(r *http.Request, active string) web.Nav {
	sess, ok := sessionFrom(r.Context())
	if !ok {
		v, _ := visitorFrom(r.Context())
		if v.token != "" {
			return web.Nav{Active: active, CSRFToken: v.csrfToken()}
		}
		return web.Nav{Active: active}
	}
	return web.Nav{Active: active, UserName: sess.User.Name, Role: sess.User.Role, CSRFToken: sess.CSRFToken}
}

// loadSession puts the session of the request's cookie, if any, into the context.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err == nil && c.Value != "" {
			sess, err := s.store.SessionByToken(r.Context(), c.Value)
			if err == nil {
				s.touchSession(r, c.Value, sess)
				ctx := store.WithActor(r.Context(), store.Actor{UserID: sess.User.ID, Name: sess.User.Name})
				r = r.WithContext(context.WithValue(ctx, sessionKey, sess))
			} else if !errors.Is(err, store.ErrUnauthorized) {
				s.error(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// touchSession moves the session's idle deadline on, never past its absolute end. A failure only
// leaves the old deadline in place.
func (s *Server) touchSession(r *http.Request, token string, sess store.Session) {
	now := s.limits.now()
	until := now.Add(sessionIdle)
	if end := sess.StartedAt.Add(sessionTTL); until.After(end) {
		until = end
	}
	if until.Sub(sess.ExpiresAt) <= sessionTouch {
		return
	}
	if err := s.store.ExtendSession(context.WithoutCancel(r.Context()), token, until); err != nil && !errors.Is(err, store.ErrUnauthorized) {
		s.log.Warn("extend session", slog.Int64("user_id", sess.User.ID), slog.Any("error", err))
	}
}

// checkCSRF refuses state-changing requests of a session that do not carry its CSRF token
// (X-CSRF-Token header for HTMX, a "csrf" form field for plain forms). Cross-origin
// browser requests are refused outright by Go's CrossOriginProtection as a second layer.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := sessionFrom(r.Context())
		if ok && !isSafeMethod(r.Method) {
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.FormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRFToken)) != 1 {
				var tooBig *http.MaxBytesError
				if err := r.ParseMultipartForm(32 << 20); errors.As(err, &tooBig) {
					s.error(w, r, err)
					return
				}
				http.Error(w, "invalid or missing CSRF token; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	}))
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sessionFrom(r.Context()); !ok {
			n, err := s.store.CountUsers(r.Context())
			if err == nil && n == 0 {
				http.Redirect(w, r, "/setup", http.StatusSeeOther)
				return
			}
			s.error(w, r, store.ErrUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requireEditor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !userFrom(r).CanEdit() {
			http.Error(w, "your role does not allow changes", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !userFrom(r).IsAdmin() {
			http.Error(w, "only admins may do this", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if n, err := s.store.CountUsers(r.Context()); err == nil && n == 0 {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, web.LoginView(web.LoginPage{Next: safeNext(r.URL.Query().Get("next"))}))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	name, next := r.FormValue("name"), safeNext(r.FormValue("next"))
	keys := loginKeys(name, clientIP(r))
	if wait, locked := s.limits.logins.locked(keys...); locked {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.render(w, r, http.StatusTooManyRequests, web.LoginView(web.LoginPage{Name: name, Next: next,
			Errors: []web.FieldError{{Message: "too many failed logins; try again in " + roundUp(wait)}}}))
		return
	}
	u, err := s.store.Authenticate(r.Context(), name, r.FormValue("password"))
	if errors.Is(err, store.ErrUnauthorized) {
		s.limits.logins.fail(keys...)
		s.render(w, r, http.StatusUnauthorized, web.LoginView(web.LoginPage{Name: name, Next: next,
			Errors: []web.FieldError{{Message: "wrong name or password"}}}))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.limits.logins.succeed(keys[0])
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	token, err := s.store.CreateSession(r.Context(), u.ID, sessionIdle)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
	return nil
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.store.DeleteSession(r.Context(), c.Value); err != nil {
			s.error(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) handleSetupForm(w http.ResponseWriter, r *http.Request) {
	if n, err := s.store.CountUsers(r.Context()); err != nil || n > 0 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, web.SetupView(web.SetupPage{}))
}

// handleSetup creates the first admin; it is closed once any user exists.
func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	if n, err := s.store.CountUsers(r.Context()); err != nil || n > 0 {
		http.Error(w, "setup is closed: an admin exists already", http.StatusForbidden)
		return
	}
	name := r.FormValue("name")
	u, err := s.store.CreateUser(store.WithActor(r.Context(), store.Actor{Name: "setup"}), name, r.FormValue("password"), store.RoleAdmin)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		s.render(w, r, http.StatusUnprocessableEntity, web.SetupView(web.SetupPage{Name: name,
			Errors: []web.FieldError{{Message: userMessage(err, "invalid")}}}))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/prompts", http.StatusSeeOther)
}
